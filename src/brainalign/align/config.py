"""Training and sweep configs (YAML, validated with pydantic).

A training config names the base model, the data (the simulated observer or response files + stimuli)
and the training settings; a sweep config adds lists of subjects x betas x controls x seeds. Unknown
keys and values outside the allowed sets raise :class:`~brainalign.errors.ConfigError` naming the key,
the bad value and the allowed values. Relative paths are relative to the working directory; in file
paths ``{subject}`` is replaced by the subject name (so one sweep config covers every subject).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, Union

from pydantic import Field, model_validator

from brainalign.align.controls import Control
from brainalign.config import Seed
from brainalign.config import Strict as _Strict
from brainalign.config import load_config
from brainalign.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from brainalign.models.device import Acceleration


DEFAULT_EPOCHS = {"eeg": 30, "fmri": 5, "simulated": 30}


class PretrainConfig(_Strict):
    """Classification pre-training of the base model on the simulated observer's pretrain images (a
    stand-in for ImageNet pre-training), by default to a plateau of the held-out accuracy."""

    epochs: int = Field(40, ge=1, description="pre-training epochs (the most, when patience is set)")
    patience: Optional[int] = Field(
        3, ge=1, description="stop when the held-out accuracy has not improved for this many epochs and keep "
        "the best epoch's weights (None: train all epochs)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    batch_size: int = Field(32, ge=1)


class ModelConfig(_Strict):
    """The base model to align."""

    name: str = Field("cornet_s", description="cornet_s | cornet_z | any torchvision classifier name")
    weights: Optional[str] = Field(None, description="weights file (.pth/.pt/.safetensors) or a known name")
    num_classes: Optional[int] = Field(None, ge=1, description="classifier outputs (default: the model's)")
    layers: Optional[list[str]] = Field(None, description="read-out layers for the head (default: all)")
    pretrain: Optional[PretrainConfig] = Field(None, description="pre-train on the simulated categories first")


class TargetConfig(_Strict):
    """What the encoder head predicts: a per-image vector built from the responses by
    :func:`brainalign.align.targets.fit_targets` (the one place targets are built).

    Steps, in order: keep ``channels`` and the samples in ``window`` (EEG) or the voxels of ``roi``
    (fMRI); average the repetitions of each image; project onto ``pca_components`` principal components;
    z-score. The PCA and the z-score are fitted on the **training** images only and the same
    transform is applied to held-out images. Default: every feature of the responses, z-scored.
    """

    channels: Optional[Union[list[str], str]] = Field(
        None, description="EEG channels: a list of names (kept in that order) or a regular expression "
        "matched at the start of each name (kept in file order), e.g. '^(O|P)' (default: all)")
    window: Optional[tuple[float, float]] = Field(
        None, description="EEG time window in seconds, [start, stop): start inclusive, stop exclusive "
        "(default: every sample)")
    roi: Optional[str] = Field(None, description="fMRI region the target (and its PCA) is built from, e.g. VC")
    average_repetitions: Literal[True] = Field(
        True, description="one target per image: the mean over its repetitions (the papers' rule)")
    pca_components: Optional[int] = Field(
        None, ge=1, description="project onto this many principal components fitted on the training images")
    zscore: bool = Field(
        True, description="standardise each target feature (channel x time point, voxel or component) "
        "across images with the training images' mean and standard deviation")

    @model_validator(mode="after")
    def _window_ordered(self) -> "TargetConfig":
        if self.window is not None and not self.window[0] < self.window[1]:
            raise ValueError(f"window {list(self.window)} must be [start, stop) in seconds with start < stop")
        if isinstance(self.channels, list) and len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a name twice; give each channel once")
        return self


class DataConfig(_Strict):
    """Where the images and the neural responses come from, and the target built from them."""

    source: Literal["simulated", "files"] = "simulated"
    simulate: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of data.simulate")
    subject: Optional[str] = Field(None, description="subject to align to (simulated: default the first)")
    train_responses: Optional[str] = Field(None, description="Responses file (.npz) for training")
    train_stimuli: Optional[str] = Field(None, description="image folder or CSV for the training images")
    test_responses: Optional[str] = Field(None, description="Responses file for held-out evaluation")
    test_stimuli: Optional[str] = Field(None, description="image folder or CSV for the held-out images")
    image_size: int = Field(224, ge=32, description="image side in pixels")
    target: TargetConfig = Field(default_factory=TargetConfig, description="what the head predicts")

    @model_validator(mode="after")
    def _files_named(self) -> "DataConfig":
        if self.source == "files":
            missing = [key for key in ("train_responses", "train_stimuli") if getattr(self, key) is None]
            if missing:
                raise ValueError(f"source 'files' needs {missing} (paths of a Responses file and of the images)")
            if (self.test_responses is None) != (self.test_stimuli is None):
                raise ValueError("give both test_responses and test_stimuli, or neither")
        return self

class TrainingConfig(_Strict):
    """Optimisation settings; defaults from the papers (Adam, lr 2e-5, batch 16)."""

    epochs: Optional[int] = Field(None, ge=1, description="default: 30 for EEG/simulated, 5 for fMRI")
    batch_size: int = Field(16, ge=2)
    lr: float = Field(2e-5, gt=0)
    beta: float = Field(1.0, ge=0, description="weight of the neural terms (MSE + contrastive)")
    control: Control = Field("none", description="none | a control model (brainalign.align.controls)")
    unpaired_seed: Seed = Field(0, description="seed of the response shuffle in control_unpaired")
    unpaired_shuffle: Literal["every_epoch", "fixed"] = Field(
        "every_epoch", description="control_unpaired: draw a new shuffle of the image-response pairs every epoch "
        "(from unpaired_seed, the run's seed and the epoch: no image keeps a fixed target, so nothing image-specific "
        "can be learned) or one fixed shuffle for the whole run (from unpaired_seed: each image keeps one wrong "
        "target, which a network can memorise)")
    contrastive: bool = True
    correlation: Literal["spearman", "pearson"] = "spearman"
    soft_rank_strength: float = Field(0.1, gt=0, description="soft-rank temperature (row-std units)")
    amp: Literal["none", "bf16", "fp16"] = Field(
        "none", description="mixed precision: bf16 (CPU or CUDA) or fp16 (CUDA only, with loss scaling)")
    compile: bool = Field(False, description="torch.compile the forward pass on CUDA (ignored on the CPU)")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    eval_batch_size: int = Field(64, ge=1)
    keep_checkpoints: Optional[int] = Field(None, ge=1, description="keep the newest N epochs (default: all)")

    def torch_device(self) -> "torch.device":
        """The device ``device`` names (:func:`brainalign.models.device.resolve_device`)."""
        return _training_device(self.device)

    def acceleration(self) -> "Acceleration":
        """How training uses the device (:class:`brainalign.models.device.Acceleration`)."""
        from brainalign.errors import ValidationError
        from brainalign.models.device import Acceleration

        try:
            return Acceleration(self.torch_device(), amp=self.amp, compile=self.compile)
        except ValidationError as error:
            raise ConfigError(f"training.amp: {error}") from None


class TrainConfig(_Strict):
    """One alignment run: one base model, one subject, one beta/control, one seed."""

    out_dir: str = Field("runs/train", description="run directory")
    seed: Seed = 0
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    progress: bool = True


class JobResources(_Strict):
    """What each sweep job asks of a Ray cluster (the local backend runs one job at a time and ignores it)."""

    num_cpus: float = Field(1.0, gt=0, description="CPU cores per job (Ray sets the job's OMP threads from it)")
    num_gpus: float = Field(
        0.0, ge=0, description="GPUs per job; a fraction (e.g. 0.25) lets several jobs share one GPU")

    @model_validator(mode="after")
    def _whole_gpus_above_one(self) -> "JobResources":
        if self.num_gpus > 1 and not float(self.num_gpus).is_integer():
            raise ValueError(f"num_gpus={self.num_gpus}: above 1 a job takes whole GPUs (e.g. 2); fractions "
                             "only below 1 (e.g. 0.5 to share a GPU)")
        return self


class SweepConfig(_Strict):
    """Independent runs over subjects x betas x controls x seeds, each in ``out_dir/<job name>``."""

    out_dir: str = "runs/sweep"
    resources: JobResources = Field(default_factory=JobResources, description="per job, on Ray")
    subjects: Optional[list[str]] = Field(None, min_length=1, description="default: every simulated subject / data.subject")
    betas: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: [1.0], min_length=1, description="weights of the neural terms, each >= 0")
    controls: list[Control] = Field(default_factory=lambda: list[Control](["none"]), min_length=1)
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1)
    workers: int = Field(1, ge=1, description="local backend: jobs trained at once, each in its own process "
                                               "with an equal share of the cores as torch threads")
    control_keep_checkpoints: Optional[int] = Field(
        None, ge=1, description="keep the newest N epochs of the control runs (default: train.training."
                                "keep_checkpoints); a study's trajectory reads only the aligned runs' epochs")
    train: TrainConfig = Field(default_factory=TrainConfig, description="template of every job")


def load_train_config(path: str | os.PathLike[str]) -> TrainConfig:
    """Read and validate a training config file."""
    return load_config(TrainConfig, path)


def load_sweep_config(path: str | os.PathLike[str]) -> SweepConfig:
    """Read and validate a sweep config file."""
    return load_config(SweepConfig, path)


class ScratchModelConfig(_Strict):
    """The architecture trained from random initialisation (no weights are loaded)."""

    name: str = Field("cornet_z", description="cornet_s | cornet_z | any torchvision classifier name")
    num_classes: Optional[int] = Field(None, ge=2, description="classifier outputs (default: from the labels)")


class ScratchDataConfig(_Strict):
    """The classification task: the simulated observer's pretraining images (held-out accuracy on its
    ``val_stimuli``), or labelled image files."""

    source: Literal["simulated", "files"] = "simulated"
    simulate: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of data.simulate")
    train_images: Optional[str] = Field(None, description="files: class folder tree or path,label CSV to train on")
    val_images: Optional[str] = Field(None, description="files: held-out labelled images (same classes) for accuracy")
    class_index: Optional[str] = Field(None, description="files: class-index file mapping class names to labels")
    image_size: int = Field(224, ge=32, description="image side in pixels")

    @model_validator(mode="after")
    def _files_named(self) -> "ScratchDataConfig":
        if self.source == "files" and (self.train_images is None or self.val_images is None):
            raise ValueError("source 'files' needs train_images and val_images (labelled image folders or CSVs)")
        return self


class ScratchOptimizerConfig(_Strict):
    """Optimisation of a training from scratch; defaults: SGD with momentum and a cosine learning rate, as
    usual for ImageNet ResNets (the learning rate is a function of the step, so resuming needs no state)."""

    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.1, gt=0, description="peak learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    weight_decay: float = Field(1e-4, ge=0)
    lr_schedule: Literal["constant", "cosine"] = Field("cosine", description="cosine: decays to 0 at the last step")
    batch_size: int = Field(256, ge=2)
    eval_batch_size: int = Field(64, ge=1)
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")

    def torch_device(self) -> "torch.device":
        """The device ``device`` names (:func:`brainalign.models.device.resolve_device`)."""
        return _training_device(self.device)


class CheckpointScheduleConfig(_Strict):
    """When a training from scratch saves a checkpoint: step 0 (the untrained network), ``count``
    log-spaced points from ``first`` to ``epochs`` and any ``extra`` epochs, each rounded to the nearest
    optimisation step (points that round to the same step are saved once)."""

    epochs: float = Field(16.0, gt=0, description="training length in epochs")
    count: int = Field(10, ge=1, description="log-spaced checkpoints from first to epochs")
    first: float = Field(1.0, gt=0, description="first checkpoint after epoch 0, in epochs (< 1: sub-epoch checkpoints)")
    extra: list[float] = Field(default_factory=list, description="further checkpoint epochs (fractions allowed)")

    @model_validator(mode="after")
    def _inside_training(self) -> "CheckpointScheduleConfig":
        if self.first > self.epochs:
            raise ValueError(f"first={self.first} is after the end of training (epochs={self.epochs})")
        outside = [epoch for epoch in self.extra if not 0 < epoch <= self.epochs]
        if outside:
            raise ValueError(f"extra epochs {outside} lie outside (0, epochs={self.epochs}]")
        return self


class ScratchTrainConfig(_Strict):
    """One training from random initialisation: one architecture, one classification task, one seed."""

    out_dir: str = Field("runs/scratch", description="run directory")
    seed: Seed = Field(0, description="initialisation seed (also orders the training images)")
    model: ScratchModelConfig = Field(default_factory=ScratchModelConfig)
    data: ScratchDataConfig = Field(default_factory=ScratchDataConfig)
    training: ScratchOptimizerConfig = Field(default_factory=ScratchOptimizerConfig)
    schedule: CheckpointScheduleConfig = Field(default_factory=CheckpointScheduleConfig)
    progress: bool = True


def _training_device(name: str) -> "torch.device":
    """``training.device`` as a ``torch.device``; a bad name raises :class:`ConfigError` naming the key."""
    from brainalign.errors import ValidationError
    from brainalign.models.device import resolve_device

    try:
        return resolve_device(name)
    except ValidationError as error:
        raise ConfigError(f"training.device: {error}") from None
