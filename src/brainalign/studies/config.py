"""Study configs (YAML, validated with pydantic): which data, which alignment sweep, which analyses.

A study config has these parts:

- ``name``, ``title``, ``out_dir``, ``seed``;
- ``datasets``: what must be on disk before anything runs (name, path, where to get it, the download
  command); a missing one raises :class:`~brainalign.errors.MissingDatasetError` saying all that;
- ``alignment``: a sweep (:class:`brainalign.config.SweepConfig`: subjects x betas x controls x seeds
  and the training template), run by :func:`brainalign.align.run_sweep` into ``RUN_DIR/alignment``;
- ``evaluation``: which analyses run on the held-out stimuli (see :class:`EvaluationConfig`);
- ``cross_evaluation`` (optional): other datasets/modalities every model is also scored on
  (see :class:`CrossDataset` and :mod:`brainalign.studies.analyses.cross`); their files are checked like ``datasets``.

Unknown keys and bad values raise :class:`~brainalign.errors.ConfigError` naming the key.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import Field, model_validator

from brainalign.align.config import SweepConfig
from brainalign.config import Seed
from brainalign.config import Strict as _Strict
from brainalign.config import load_config, parse_config
from brainalign.errors import ConfigError, DataFormatError, MissingDatasetError
from brainalign.inputs import for_field


class DatasetRequirement(_Strict):
    """A dataset the study reads, and how a user gets it."""

    name: str = Field(..., description="short name, e.g. things-eeg2")
    path: str = Field(..., description="where the study expects it (file or folder)")
    source: str = Field(..., description="where it comes from (publication and repository)")
    fetch: str = Field(..., description="the command that downloads it, e.g. brainalign fetch things-eeg2")


class RobustnessConfig(_Strict):
    """FGSM top-1 accuracy of every model at each epsilon, on a labelled image set: ``images`` (an
    ImageNet-style folder tree or a ``path,label`` CSV, with ``class_index``), or, when ``images`` is not
    given, the simulated observer's labelled images that no model was aligned on."""

    epsilons: list[float] = Field(default_factory=lambda: [0.0, 0.002, 0.004, 0.008, 0.016], min_length=2)
    attack: Literal["fgsm"] = "fgsm"
    images: Optional[str] = Field(None, description="labelled images: class folder tree or path,label CSV")
    class_index: Optional[str] = Field(None, description="class index file (e.g. imagenet_class_index.json)")


class EvaluationConfig(_Strict):
    """Analyses of the held-out stimuli of every subject."""

    layers: Optional[list[str]] = Field(None, description="model layers compared (default: the model's)")
    image_size: int = Field(224, ge=32, description="image side in pixels for feature extraction")
    rdm_metric: Literal["correlation", "euclidean", "cosine"] = "correlation"
    compare_method: Literal["spearman", "pearson", "kendall_tau_a"] = "spearman"
    headline_layer: Optional[str] = Field(
        None, description="layer of the summary similarity (default: the last compared layer)"
    )
    timecourses: bool = Field(True, description="EEG: similarity per layer and time point")
    timecourse_rdm: Literal["correlation", "decoding"] = Field(
        "correlation", description="EEG RDM per time point: 1 - Pearson over channels, or pairwise decoding"
    )
    decoding_classifier: Literal["lda", "shared_lda", "ncm"] = Field(
        "shared_lda", description="classifier of the decoding RDMs (brainalign.measure.decoding_rdms)"
    )
    significance: Literal["cluster", "fdr"] = Field(
        "cluster", description="time points where a model differs from its references: cluster permutation "
        "test, or t-tests with FDR over time points (few subjects)"
    )
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="direction of every test (model vs reference); one-sided only when set here"
    )
    correction: Literal["holm", "fdr_bh", "bonferroni", "none"] = Field(
        "holm", description="multiple-comparison correction within each family (one model on one readout)"
    )
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="level of the confidence intervals")
    noise_ceiling: bool = Field(True, description="lower/upper noise ceiling of every neural target")
    rois: Union[bool, list[str]] = Field(
        True, description="fMRI: similarity per ROI (best layer): every region of the held-out responses (true), "
        "none (false), or the listed regions, e.g. [V1, V2, V3, V4, LOC]")
    variability: bool = Field(True, description="individual variability between the aligned models")
    ground_truth: bool = Field(True, description="simulated observer: every layer vs every hidden stage of the "
                               "subject's brain (noise-free; brainalign.studies.analyses.ground_truth)")
    trajectory: bool = Field(True, description="similarity and accuracy at every saved epoch")
    dimensions: Optional[str] = Field(
        None, description="object-dimension analysis of the headline layer: 'simulated' (the observer's "
        "generative factors) or a CSV of stimulus id + one column per dimension"
    )
    predictions: int = Field(4, ge=0, description="example images whose predicted responses are drawn")
    permutations: int = Field(1000, ge=100, description="permutations of the cluster test over time")
    robustness: Optional[RobustnessConfig] = None


class CrossDataset(_Strict):
    """A dataset of another recording or modality that every model (base, aligned, controls, of every
    training subject) is also scored on: fMRI -> best layer per ROI, EEG -> each layer's RSA time course
    on decoding RDMs (see :mod:`brainalign.studies.analyses.cross`). Either files (``responses`` and
    ``stimuli``) or ``simulated``: the study's simulated observer recorded in ``modality`` (the same images
    and hidden brains as the alignment data, so each subject's models also meet that subject's other
    recording: ``same_subjects``)."""

    name: str = Field(..., description="short name, e.g. shen2019 (the dataset column of cross_similarity.csv)")
    modality: Literal["fmri", "eeg"]
    responses: Optional[str] = Field(None, description="Responses .npz (Responses.save); may hold {subject}")
    subjects: list[str] = Field(default_factory=list, description="fills {subject} in responses")
    stimuli: Optional[str] = Field(None, description="the images: a folder, or a CSV with columns id, path")
    simulated: Optional[dict[str, Any]] = Field(
        None, description="instead of files: the alignment data's simulated observer (its data.simulate) recorded "
        "in this modality, with these further simulate options (e.g. {n_voxels: 50}; {} for none)")
    rois: Optional[list[str]] = Field(None, description="fMRI: the regions scored (default: every region of the files)")
    image_size: Optional[int] = Field(None, ge=32, description="image side in pixels (default: evaluation.image_size)")
    timecourse_rdm: Literal["decoding", "correlation"] = Field(
        "decoding", description="EEG: RDM per time point by pairwise decoding (the papers') or correlation")
    decoding_classifier: Optional[Literal["lda", "shared_lda", "ncm"]] = Field(
        None, description="EEG decoding classifier (default: evaluation.decoding_classifier)")
    source: str = Field("see the study config", description="where the data come from")
    fetch: str = Field("see the study config", description="the command or steps that get the data")

    @model_validator(mode="after")
    def _files_or_simulated(self) -> "CrossDataset":
        if self.simulated is not None:
            given = [key for key in ("responses", "stimuli") if getattr(self, key) is not None]
            if given or self.subjects:
                raise ValueError(f"a simulated entry reads no files: drop {given + (['subjects'] if self.subjects else [])}"
                                 " (its subjects are the alignment data's)")
            if "modality" in self.simulated or "seed" in self.simulated:
                raise ValueError("simulated: modality and seed come from the entry and the alignment data; drop them")
            return self
        if self.responses is None or self.stimuli is None:
            raise ValueError("give responses and stimuli (files), or simulated: {} (the simulated observer)")
        if "{subject}" in self.responses and not self.subjects:
            raise ValueError(f"responses {self.responses!r} holds {{subject}} but subjects is empty; "
                             "list them, e.g. subjects: [sub-01, sub-02]")
        return self

    @property
    def same_subjects(self) -> bool:
        """Whether the entry's subjects are the study's own (another recording of the same brains)."""
        return self.simulated is not None

    def response_paths(self) -> list[tuple[str, str]]:
        """(subject, path) of every responses file; subject is '' when the path has no {subject}; none for a
        simulated entry."""
        if self.responses is None:
            return []
        if "{subject}" not in self.responses:
            return [("", self.responses)]
        return [(subject, self.responses.replace("{subject}", subject)) for subject in self.subjects]

    def requirements(self) -> list[DatasetRequirement]:
        """The files this entry reads, as dataset requirements (for :func:`check_datasets`)."""
        if self.stimuli is None:
            return []
        paths = [path for _, path in self.response_paths()] + [self.stimuli]
        return [DatasetRequirement(name=f"{self.name} (cross-evaluation)", path=path, source=self.source,
                                   fetch=self.fetch) for path in paths]


class StudyConfig(_Strict):
    """One study: data requirements, the alignment sweep, and the evaluation."""

    name: str
    title: Optional[str] = None
    out_dir: str = "runs/study"
    seed: Seed = 0
    datasets: list[DatasetRequirement] = Field(default_factory=list)
    alignment: SweepConfig = Field(default_factory=SweepConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    cross_evaluation: list[CrossDataset] = Field(default_factory=list)

    @model_validator(mode="after")
    def _simulated_cross_needs_simulated_data(self) -> "StudyConfig":
        simulated = [cross.name for cross in self.cross_evaluation if cross.simulated is not None]
        if simulated and self.alignment.train.data.source != "simulated":
            raise ValueError(f"cross_evaluation {simulated}: simulated entries need alignment.train.data.source: "
                             "simulated (they record the same simulated brains in another modality)")
        return self


def load_study_config(path: str | os.PathLike[str]) -> StudyConfig:
    """Read and validate a study config YAML file."""
    return load_config(StudyConfig, path)


def parse_study_config(raw: dict, source: str = "study config") -> StudyConfig:
    """Validate a dict as a study config."""
    return parse_config(StudyConfig, raw, source)


def check_datasets(config: StudyConfig) -> None:
    """Raise one MissingDatasetError listing every required dataset (and cross-evaluation file) that is
    not on disk."""
    missing = [dataset for dataset in config.datasets if not Path(dataset.path).exists()]
    missing += [item for cross in config.cross_evaluation for item in cross.requirements()
                if not Path(item.path).exists() and not any(_inside(item.path, other.path) for other in missing)]
    raise_missing_datasets(config.name, missing)


def raise_missing_datasets(study: str, missing: list[DatasetRequirement]) -> None:
    """Raise one MissingDatasetError for study ``study`` listing each of ``missing`` with where to get it
    and the download command; nothing when ``missing`` is empty."""
    if not missing:
        return
    lines = [
        f"  - {dataset.name}: expected at {dataset.path}\n      get it from: {dataset.source}\n"
        f"      download with: {dataset.fetch}"
        for dataset in missing
    ]
    raise MissingDatasetError(
        f"study {study!r} needs {len(missing)} dataset(s) that are not on disk:\n" + "\n".join(lines)
        + "\nDownload them, or edit the paths under `datasets:` (and the data paths) in the config."
    )


def check_regions(config: StudyConfig) -> None:
    """Raise one DataFormatError when a held-out or cross-evaluation responses file lacks a region that
    ``evaluation.rois`` or a ``cross_evaluation`` entry's ``rois`` lists (files read without their data)."""
    from brainalign.data.responses import read_layout

    data = config.alignment.train.data
    checks: list[tuple[str, list[str], str]] = []
    if isinstance(config.evaluation.rois, list) and data.source == "files" and data.test_responses:
        subjects = config.alignment.subjects or [data.subject or ""]
        checks += [("evaluation.rois", config.evaluation.rois, data.test_responses.replace("{subject}", subject))
                   for subject in subjects]
    checks += [(f"cross_evaluation {cross.name!r} rois", cross.rois, path)
               for cross in config.cross_evaluation if cross.rois for _, path in cross.response_paths()]
    for key, rois, path in checks:
        regions = read_layout(path).rois or {}
        missing = [roi for roi in rois if roi not in regions]
        if missing:
            raise DataFormatError(f"{key}: {path} has no region(s) {missing} (it has {sorted(regions)}); list regions "
                                  f"of the file, or convert it again with these regions (brainalign convert-kamitani --roi)")


def check_evaluation(config: StudyConfig) -> None:
    """Raise one :class:`ConfigError` naming the key, before anything is written or trained, when the
    evaluation could not run: the training data name no held-out images and responses,
    ``evaluation.layers`` names a layer the model lacks, ``evaluation.headline_layer`` is not a compared
    layer, or ``evaluation.dimensions`` names a CSV that cannot be read (its rows are matched to the
    held-out images by :func:`brainalign.studies.analyses.dimensions.dimension_targets`). The model's layers
    come from an untrained model of the configured architecture (nothing is downloaded)."""
    from brainalign.errors import BrainAlignError
    from brainalign.models.registry import build_model
    from brainalign.align.data import held_out_ids
    from brainalign.studies.analyses.dimensions import dimension_rows, read_dimension_table

    data = config.alignment.train.data
    if data.source == "files" and data.test_responses is None:
        raise ConfigError("alignment.train.data names no test_responses and test_stimuli; a study evaluates every "
                          "model on held-out images and responses: add both")
    model = config.alignment.train.model
    try:
        options: dict[str, Any] = {} if model.num_classes is None else {"num_classes": model.num_classes}
        layers = build_model(model.name, **options).check_layers(config.evaluation.layers)
    except BrainAlignError as error:
        key = "evaluation.layers" if config.evaluation.layers else "alignment.train.model.name"
        raise ConfigError(f"{key}: {error}") from None
    headline = config.evaluation.headline_layer
    if headline is not None and headline not in layers:
        raise ConfigError(f"evaluation.headline_layer {headline!r} is not one of the compared layers {layers} "
                          "(evaluation.layers, default the model's read-out layers); name one of them, or leave it "
                          f"out for the last ({layers[-1]})")
    source = config.evaluation.dimensions
    if source not in (None, "simulated"):
        with for_field("evaluation.dimensions"):
            table = read_dimension_table(source)
        for subject in config.alignment.subjects or [data.subject or ""]:
            dimension_rows(table, held_out_ids(data, subject), source)


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (a missing listed dataset already covers it)."""
    return Path(path) == Path(folder) or Path(folder) in Path(path).parents


SCRATCH_STUDY: Literal["scratch_trajectory"] = "scratch_trajectory"


def _raw_yaml(path: str | os.PathLike[str]) -> dict[str, object]:
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}  # the ordinary loader reports unreadable files
    return raw if isinstance(raw, dict) else {}


def is_scratch_study(path: str | os.PathLike[str]) -> bool:
    """Whether the YAML config at ``path`` is a training-from-scratch study (``study: scratch_trajectory``)."""
    return _raw_yaml(path).get("study") == SCRATCH_STUDY


def planned_run(path: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None) -> tuple[str, str | None]:
    """The kind of run (``study`` or ``scratch_study``) the config at ``path`` starts and its folder (``out_dir``,
    else the config's ``out_dir``; None when neither names one), read from the raw YAML so that the command
    line checks the folder before its heavy imports."""
    raw = _raw_yaml(path)
    folder = out_dir if out_dir is not None else raw.get("out_dir")
    kind = "scratch_study" if raw.get("study") == SCRATCH_STUDY else "study"
    return kind, str(folder) if isinstance(folder, (str, os.PathLike)) else None
