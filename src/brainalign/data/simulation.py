"""The simulated observer: procedural images seen by a hidden brain, recorded as EEG- or fMRI-like data.

``simulate(seed=0)`` builds, in a few seconds and fully deterministically:

- categories = colour x texture x shape combinations (see :mod:`brainalign.data.procedural`);
  training and test categories are disjoint. With ``novel_test_values`` (the default) one colour and
  one shape never occur in any training, pre-training or held-out labelled image, and half of the
  test categories carry one of them (a harder generalisation, as THINGS test concepts are new
  objects); the other test categories recombine colours, textures and shapes seen in training;
- ``pretrain_stimuli`` + ``pretrain_labels``: further images of the training categories with class
  labels, to pre-train the base model briefly (a stand-in for ImageNet);
- ``val_stimuli`` + ``val_labels``: a held-out labelled classification set of the training categories
  (images used neither in pre-training nor in alignment): held-out accuracy, early stopping of
  pre-training, adversarial attacks on unseen images;
- a hidden brain (:mod:`brainalign.data.hidden_brain`, four stages of increasing depth) whose
  stage features are mixed into

  * EEG-like responses ``(n, repetitions, 17 channels, 20 times)`` at 100 Hz, 0-190 ms: every
    stage's 8 principal components (fitted on the training images) drive 8 sources with focal
    scalp topographies, peaking later for deeper stages (``STAGE_LATENCIES``), plus a small
    stimulus-independent evoked response; or
  * fMRI-like responses ``(n, repetitions, 5 * n_voxels)`` with ROIs V1, V2, V3, V4, LOC
    (weights over stages in ``ROI_STAGE_WEIGHTS``) and VC (all voxels);

- several subjects, each with an individual brain: the shared stage codes seen through a
  subject-specific mixing (:func:`brainalign.data.hidden_brain.individual_features`, strength
  ``individual_brains``; 0 = identical brains), so each subject's representational geometry differs
  from the others' in a controlled way; individual recordings of it (``individual_differences``:
  topographies/voxel weights, latencies, gains); and Gaussian trial noise at ``snr`` (single-trial
  variance of the stimulus-driven signal over the noise variance). A subject's brain depends on the
  seed and the subject's number only: ``modality="eeg"`` and ``"fmri"`` with the same seed record the
  same brains viewing the same images (cross-modal evaluation);
- ``ground_truth``: the shared and every subject's stage features, noise-free signals and generative factors.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

import numpy as np

from brainalign.data.channels import THINGS_EEG2_CHANNELS, channel_positions
from brainalign.data.hidden_brain import STAGES, HiddenBrain, individual_features, principal_axes
from brainalign.data.labelled import LabelledImages
from brainalign.data.procedural import COLOURS, SHAPES, TEXTURES, Category, all_categories, render
from brainalign.data.responses import Responses
from brainalign.data.stimuli import Stimuli
from brainalign.errors import ValidationError

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image as PILImage

SFREQ = 100.0
TIMES = np.arange(20) / SFREQ  # 0 .. 0.19 s, the ReAlnet window
STAGE_LATENCIES = {"early": 0.07, "mid": 0.095, "high": 0.12, "object": 0.15}  # peak (s)
STAGE_WIDTHS = {"early": 0.018, "mid": 0.022, "high": 0.028, "object": 0.035}  # Gaussian sd (s)
# Where each stage's sources sit on the scalp: early ones occipital-medial, deeper ones lateral/parietal.
STAGE_ANCHORS = {"early": (0.0, -0.78), "mid": (0.0, -0.65), "high": (0.35, -0.6), "object": (0.45, -0.5)}
TOPOGRAPHY_WIDTH = 0.12  # sd of a source's scalp pattern (head radius ~1): focal enough to keep sources apart
SOURCES_PER_STAGE = 8  # each stage drives the EEG through its 8 principal components (a low-dimensional code)
STAGE_GAINS = {"early": 1.0, "mid": 1.0, "high": 1.0, "object": 1.5}  # variance of each stage's sources
ROIS = ("V1", "V2", "V3", "V4", "LOC")
ROI_STAGE_WEIGHTS = {
    "V1": {"early": 1.0},
    "V2": {"early": 0.6, "mid": 0.4},
    "V3": {"mid": 0.7, "high": 0.3},
    "V4": {"mid": 0.3, "high": 0.7},
    "LOC": {"high": 0.3, "object": 0.7},
}


@dataclass
class GroundTruth:
    """What the simulation knows and a real experiment never does.

    ``train_features`` / ``test_features``: {stage: (n, d)} z-scored features of the shared brain;
    ``subject_train_features`` / ``subject_test_features``: {subject: {stage: (n, d)}} each subject's
    individual brain (equal to the shared features when ``individual_brains`` is 0);
    ``train_signal`` / ``test_signal``: {subject: (n, *feature_shape)} noise-free responses;
    ``train_factors`` / ``test_factors``: generative factors of every image (see ``procedural.render``).
    """

    stages: tuple[str, ...]
    train_features: dict[str, np.ndarray]
    test_features: dict[str, np.ndarray]
    train_signal: dict[str, np.ndarray]
    test_signal: dict[str, np.ndarray]
    train_factors: dict[str, np.ndarray]
    test_factors: dict[str, np.ndarray]
    subject_train_features: dict[str, dict[str, np.ndarray]]
    subject_test_features: dict[str, dict[str, np.ndarray]]

    def feature_rdms(self, split: str = "test", subject: str | None = None) -> dict[str, np.ndarray]:
        """{stage: (n, n)} correlation-distance RDMs (1 - Pearson r) of the hidden stages of the shared
        brain, or of ``subject``'s individual brain."""
        if subject is None:
            features = self.train_features if split == "train" else self.test_features
        else:
            features = (self.subject_train_features if split == "train" else self.subject_test_features)[subject]
        return {stage: 1.0 - np.corrcoef(values) for stage, values in features.items()}


@dataclass
class SimulatedDataset:
    """Everything :func:`simulate` makes. ``pretrain_labels[i]`` and ``val_labels[i]`` index ``train_categories``."""

    train_stimuli: Stimuli
    test_stimuli: Stimuli
    subjects: list[str]
    train: dict[str, Responses]
    test: dict[str, Responses]
    pretrain_stimuli: Stimuli
    pretrain_labels: np.ndarray
    train_categories: list[str]
    test_categories: list[str]
    ground_truth: GroundTruth
    val_stimuli: Stimuli
    val_labels: np.ndarray
    unseen_values: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def val_set(self) -> LabelledImages:
        """The held-out labelled classification images of the training categories (labels index
        ``train_categories``; never used in pre-training or alignment)."""
        return LabelledImages(stimuli=self.val_stimuli, labels=self.val_labels)

    def save(self, out_dir: str | os.PathLike[str], force: bool = False) -> Path:
        """Write the dataset as ordinary files into the run folder ``out_dir`` (:func:`brainalign.runs.open_run`:
        a new or empty folder, or with ``force`` a simulate run to redo); ``DONE`` marks it complete.

        Layout: ``images/<id>.png``; ``{train,test,pretrain,val}_stimuli.csv`` (id, path, concept; the
        pretrain and val tables add ``label``, so ``load_labelled_images(".../val_stimuli.csv")`` reads
        the held-out labelled set); ``responses/<subject>_{train,test}.npz`` (``Responses.load``);
        ``ground_truth.npz`` (``<split>/<stage>``: shared features; ``<subject>/<split>/<stage>``: the
        subject's individual brain, float32); ``simulation.json`` (parameters, held-out values);
        ``classes.json`` (the training categories in label order, a class index for accuracy).
        """
        from brainalign.runs import mark_finished, open_run

        target = Path(out_dir)
        with open_run(target, "simulate", force=force, resumable=False):
            _write_dataset(self, target)
            mark_finished(target, {"seed": self.params.get("seed")})
        return target


def simulate(
    seed: int = 0,
    modality: str = "eeg",
    n_subjects: int = 3,
    n_train_categories: int = 16,
    n_test_categories: int = 8,
    train_per_category: int = 20,
    test_per_category: int = 10,
    pretrain_per_category: int = 40,
    val_per_category: int = 10,
    train_repetitions: int = 4,
    test_repetitions: int = 20,
    snr: float = 0.5,
    signal_weight: float = 1.0,
    individual_brains: float = 0.5,
    individual_differences: float = 0.3,
    novel_test_values: bool = True,
    image_size: int = 64,
    n_voxels: int = 100,
) -> SimulatedDataset:
    """Build a simulated experiment (see the module docstring). Same arguments -> identical output.

    ``modality``: ``"eeg"`` (responses ``(n, reps, 17, 20)``) or ``"fmri"`` (``(n, reps, 5 * n_voxels)``).
    ``snr``: single-trial signal variance / noise variance (``inf`` = noise-free).
    ``signal_weight``: multiplies the stimulus-driven signal; 0 gives responses that carry no information
    about the images (noise and, for EEG, the stimulus-independent evoked response): a null for alignment.
    ``individual_brains``: SD of the log-weights of each subject's mixing of the stage codes (0 =
    identical brains; at 0.5 the noise-free stage RDMs of two subjects correlate about 0.5 (early) to
    0.7 (object), their noise-free EEG-like response RDMs about 0.7, against 0.86 from the recording
    differences alone).
    ``individual_differences``: of the recordings: 0 = identical topographies/latencies/gains (EEG) or
    voxel weights (fMRI), 1 = unrelated ones.
    ``novel_test_values``: hold one colour and one shape out of every training category (see above).
    ``val_per_category``: held-out labelled images per training category (drawn from their own random
    stream, so changing it leaves every other output unchanged).
    Defaults: 320 training images (16 categories), 80 test images (8 new categories), 640 pretraining
    images, 160 held-out labelled images, 64 px.
    """
    params: dict[str, Any] = dict(locals())  # every argument, recorded in simulation.json
    _check_arguments(params)
    rng = np.random.default_rng(seed)
    train_categories, test_categories, unseen = _split_categories(
        n_train_categories, n_test_categories, rng, novel_test_values)
    train_list = [c for c in train_categories for _ in range(train_per_category)]
    test_list = [c for c in test_categories for _ in range(test_per_category)]
    pretrain_list = [c for c in train_categories for _ in range(pretrain_per_category)]
    train_images, train_factors = render(train_list, image_size, rng)
    test_images, test_factors = render(test_list, image_size, rng)
    pretrain_images, _ = render(pretrain_list, image_size, rng)
    val_list = [c for c in train_categories for _ in range(val_per_category)]
    val_images, _ = render(val_list, image_size, np.random.default_rng([seed, 3]))

    brain = HiddenBrain.create(seed)
    train_features, stats = brain.features(train_images, train_factors)
    test_features, _ = brain.features(test_images, test_factors, stats)

    subjects = [f"sub-{i + 1:02d}" for i in range(n_subjects)]
    if modality == "eeg":  # the sources: the shared brain's principal components (common anatomy)
        axes = {stage: _principal_axes(train_features[stage], SOURCES_PER_STAGE) for stage in STAGES}
        observer: Callable[..., _EEGObserver | _FMRIObserver] = partial(_EEGObserver, stage_axes=axes)
    else:
        observer = _FMRIObserver
    train_ids = [f"train_{i:04d}" for i in range(len(train_list))]
    test_ids = [f"test_{i:04d}" for i in range(len(test_list))]
    train, test, train_signal, test_signal = {}, {}, {}, {}
    subject_train, subject_test = {}, {}
    shared_axes = principal_axes(train_features)
    for index, subject in enumerate(subjects):
        subject_train[subject], subject_test[subject] = individual_features(
            train_features, test_features, shared_axes, individual_brains, np.random.default_rng([seed, 2000 + index]))
        recorder = observer(rng=np.random.default_rng([seed, 1000 + index]), params=params,
                            train_features=subject_train[subject])
        train_signal[subject] = recorder.signal(subject_train[subject])
        test_signal[subject] = recorder.signal(subject_test[subject])
        train[subject] = recorder.record(train_signal[subject], train_ids, train_repetitions, subject)
        test[subject] = recorder.record(test_signal[subject], test_ids, test_repetitions, subject)

    names = [c.name for c in train_categories]
    return SimulatedDataset(
        train_stimuli=Stimuli.from_array(train_images, ids=train_ids, concepts=[c.name for c in train_list]),
        test_stimuli=Stimuli.from_array(test_images, ids=test_ids, concepts=[c.name for c in test_list]),
        subjects=subjects,
        train=train,
        test=test,
        pretrain_stimuli=Stimuli.from_array(
            pretrain_images, ids=[f"pretrain_{i:04d}" for i in range(len(pretrain_list))],
            concepts=[c.name for c in pretrain_list],
        ),
        pretrain_labels=np.repeat(np.arange(n_train_categories), pretrain_per_category),
        train_categories=names,
        test_categories=[c.name for c in test_categories],
        ground_truth=GroundTruth(
            stages=STAGES, train_features=train_features, test_features=test_features,
            train_signal=train_signal, test_signal=test_signal,
            train_factors=train_factors, test_factors=test_factors,
            subject_train_features=subject_train, subject_test_features=subject_test,
        ),
        val_stimuli=Stimuli.from_array(
            val_images, ids=[f"val_{i:04d}" for i in range(len(val_list))], concepts=[c.name for c in val_list],
        ),
        val_labels=np.repeat(np.arange(n_train_categories), val_per_category),
        unseen_values=unseen,
        params=params,
    )


def _check_arguments(arguments: dict[str, Any]) -> None:
    if not isinstance(arguments["seed"], (int, np.integer)) or not 0 <= arguments["seed"] < 2**32:
        raise ValidationError(f"seed={arguments['seed']!r} must be an integer in 0..{2**32 - 1}")
    if arguments["modality"] not in ("eeg", "fmri"):
        raise ValidationError(f"modality={arguments['modality']!r}; choose 'eeg' or 'fmri'")
    for name in ("n_subjects", "n_train_categories", "n_test_categories", "train_per_category", "test_per_category",
                 "train_repetitions", "test_repetitions", "n_voxels"):
        if int(arguments[name]) < 1:
            raise ValidationError(f"{name}={arguments[name]} must be at least 1")
    for name in ("pretrain_per_category", "val_per_category"):
        if arguments[name] < 0:
            raise ValidationError(f"{name}={arguments[name]} must be >= 0")
    if arguments["train_per_category"] < 2 or arguments["test_per_category"] < 2:
        raise ValidationError("train_per_category and test_per_category must be >= 2 (within-category variation)")
    total = len(COLOURS) * len(TEXTURES) * len(SHAPES)
    if arguments["n_train_categories"] + arguments["n_test_categories"] > total // 2:
        raise ValidationError(
            f"n_train_categories + n_test_categories must be <= {total // 2} (there are {total} categories)"
        )
    if arguments["novel_test_values"] and arguments["n_test_categories"] < 2:
        raise ValidationError("novel_test_values needs n_test_categories >= 2 (novel and recombined ones), "
                              "or set novel_test_values=False")
    if not 0 <= arguments["signal_weight"] <= 1:
        raise ValidationError(f"signal_weight={arguments['signal_weight']} must lie in [0, 1] (0 = pure noise responses)")
    if not arguments["snr"] > 0:
        raise ValidationError(f"snr={arguments['snr']} must be > 0 (use float('inf') for noise-free data)")
    if not 0 <= arguments["individual_differences"] <= 1:
        raise ValidationError("individual_differences must lie in [0, 1]")
    if not 0 <= arguments["individual_brains"] <= 3:
        raise ValidationError(f"individual_brains={arguments['individual_brains']} must lie in [0, 3] (0 = identical brains)")
    if arguments["image_size"] < 32:
        raise ValidationError(f"image_size={arguments['image_size']} must be >= 32 pixels")


def _split_categories(
    n_train: int, n_test: int, rng: np.random.Generator, novel: bool,
) -> tuple[list[Category], list[Category], dict[str, str]]:
    """Disjoint random train/test categories and the values held out of training (``{}`` unless ``novel``).

    Without ``novel`` every test colour/texture/shape also occurs in training. With it, one colour and
    one shape occur in no training category; ``n_test // 2`` test categories carry one of them, the
    others recombine values seen in training.
    """
    every = all_categories()
    categories = [every[i] for i in rng.permutation(len(every))]
    unseen: dict[str, str] = {}
    if novel:
        colour, shape = int(rng.integers(len(COLOURS))), int(rng.integers(len(SHAPES)))
        unseen = {"colour": list(COLOURS)[colour], "shape": SHAPES[shape]}
        familiar = [c for c in categories if c.colour != colour and c.shape != shape]
        novel_categories = [c for c in categories if c.colour == colour or c.shape == shape]
    else:
        familiar, novel_categories = categories, []
    train = familiar[:n_train]
    seen = {(attr, getattr(c, attr)) for c in train for attr in ("colour", "texture", "shape")}
    rest = familiar[n_train:]
    covered = [c for c in rest if all((a, getattr(c, a)) in seen for a in ("colour", "texture", "shape"))]
    others = [c for c in rest if c not in covered]
    n_novel = n_test // 2 if novel else 0
    return train, (novel_categories[:n_novel] + covered + others)[:n_test], unseen


class _EEGObserver:
    """One subject's EEG: the subject's stage features projected on the shared brain's 8 principal axes
    per stage (fitted on the training images) -> sources -> 17 channels x 20 time points."""

    def __init__(
        self, rng: np.random.Generator, params: dict[str, Any], train_features: dict[str, np.ndarray],
        stage_axes: dict[str, np.ndarray],
    ) -> None:
        shared = np.random.default_rng([params["seed"], 99])  # the brain's anatomy, common to all subjects
        individual = params["individual_differences"]
        positions = channel_positions()
        self.projections, self.patterns = {}, {}
        for stage in STAGES:
            projection = stage_axes[stage] * np.sqrt(STAGE_GAINS[stage])
            centres = np.array(STAGE_ANCHORS[stage]) + shared.normal(0, 0.3, (SOURCES_PER_STAGE, 2))
            centres[::2, 0] *= -1  # both hemispheres
            centres = centres + individual * rng.normal(0, 0.25, centres.shape)
            distance2 = ((positions[None] - centres[:, None]) ** 2).sum(-1)  # (sources, channels)
            topography = np.exp(-distance2 / (2 * TOPOGRAPHY_WIDTH**2)) * shared.choice([-1.0, 1.0], (SOURCES_PER_STAGE, 1))
            topography = topography + individual * 0.3 * rng.normal(0, 1, topography.shape)
            latency = STAGE_LATENCIES[stage] + shared.normal(0, 0.008, SOURCES_PER_STAGE)
            latency = latency + individual * rng.normal(0, 0.012)
            time_course = np.exp(-((TIMES[None] - latency[:, None]) ** 2) / (2 * STAGE_WIDTHS[stage] ** 2))
            gain = np.exp(individual * rng.normal(0, 0.3, SOURCES_PER_STAGE))
            self.projections[stage] = projection * gain
            self.patterns[stage] = topography[:, :, None] * time_course[:, None, :]  # (sources, channels, times)
        self.evoked = sum(pattern.sum(0) for pattern in self.patterns.values())  # stimulus-independent ERP
        self.scale = 1.0 / np.sqrt(self._driven(train_features).var(0).mean())
        self.noise_sd = 1.0 / np.sqrt(params["snr"])
        self.signal_weight = params["signal_weight"]
        self.rng = rng

    def _driven(self, features: dict[str, np.ndarray]) -> np.ndarray:
        sources = np.concatenate([features[s] @ self.projections[s] for s in STAGES], axis=1)  # (n, sources)
        patterns = np.concatenate([self.patterns[s] for s in STAGES])  # (sources, channels, times)
        return (sources @ patterns.reshape(len(patterns), -1)).reshape(len(sources), *patterns.shape[1:])

    def signal(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """Noise-free responses ``(n, 17, 20)``; the stimulus-driven part has mean variance ``signal_weight**2``
        on training images."""
        return ((self._driven(features) * self.signal_weight + 0.5 * self.evoked) * self.scale).astype(np.float32)

    def record(self, signal: np.ndarray, ids: list[str], repetitions: int, subject: str) -> Responses:
        noise = self.rng.standard_normal((signal.shape[0], repetitions, *signal.shape[1:]), dtype=np.float32)
        return Responses(
            signal[:, None] + self.noise_sd * noise, ids, "simulated", subject=subject,
            channels=THINGS_EEG2_CHANNELS, times=TIMES, sfreq=SFREQ,
        )


def _principal_axes(features: np.ndarray, k: int) -> np.ndarray:
    """``(d, k)`` top principal axes of training ``features`` (n, d), scaled so the k scores have total
    variance 1. With fewer than k non-zero components the rest are silent (zero) sources."""
    centred = features - features.mean(0)
    variances, axes = np.linalg.eigh(centred.T @ centred / len(features))  # ascending; d x d is small
    top = np.clip(variances[::-1][:k], 0, None)
    chosen = axes[:, ::-1][:, :k] * (top > 1e-12 * max(top.max(), 1e-30))
    return chosen / np.sqrt(max(top.sum(), 1e-12))


class _FMRIObserver:
    """One subject's fMRI: every ROI's voxels are random mixtures of its stages' features."""

    def __init__(self, rng: np.random.Generator, params: dict[str, Any], train_features: dict[str, np.ndarray]) -> None:
        shared = np.random.default_rng([params["seed"], 98])
        individual = params["individual_differences"]
        n_voxels = params["n_voxels"]
        self.weights: dict[str, dict[str, np.ndarray]] = {}
        for roi in ROIS:
            self.weights[roi] = {}
            for stage, share in ROI_STAGE_WEIGHTS[roi].items():
                width = train_features[stage].shape[1]
                common = shared.normal(0, 1, (width, n_voxels))
                own = rng.normal(0, 1, (width, n_voxels))
                mixed = np.sqrt(1 - individual) * common + np.sqrt(individual) * own
                self.weights[roi][stage] = mixed * np.sqrt(share / width)
        self.rois = {roi: np.arange(i * n_voxels, (i + 1) * n_voxels) for i, roi in enumerate(ROIS)}
        self.rois["VC"] = np.arange(len(ROIS) * n_voxels)
        self.noise_sd = 1.0 / np.sqrt(params["snr"])
        self.signal_weight = params["signal_weight"]
        self.scale = 1.0 / np.sqrt(self._driven(train_features).var(0).mean())
        self.rng = rng

    def _driven(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate(
            [sum(features[stage] @ w for stage, w in self.weights[roi].items()) for roi in ROIS], axis=1
        )

    def signal(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """Noise-free responses ``(n, 5 * n_voxels)``; mean voxel variance ``signal_weight**2`` on training images."""
        return (self._driven(features) * self.scale * self.signal_weight).astype(np.float32)

    def record(self, signal: np.ndarray, ids: list[str], repetitions: int, subject: str) -> Responses:
        noise = self.rng.standard_normal((signal.shape[0], repetitions, signal.shape[1]), dtype=np.float32)
        return Responses(signal[:, None] + self.noise_sd * noise, ids, "simulated", subject=subject, rois=self.rois)


def _write_dataset(dataset: SimulatedDataset, folder: Path) -> None:
    from PIL import Image

    from brainalign.runs import atomic_write_text, atomic_write_with
    splits = {"train": dataset.train_stimuli, "test": dataset.test_stimuli, "pretrain": dataset.pretrain_stimuli,
              "val": dataset.val_stimuli}
    labels = {"pretrain": dataset.pretrain_labels, "val": dataset.val_labels}
    for split, stimuli in splits.items():
        pixels = (cast("torch.Tensor", stimuli.images).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        rows = ["id,path,concept" + (",label" if split in labels else "")]
        for index, (stimulus_id, concept) in enumerate(zip(stimuli.ids, stimuli.concepts or [""] * len(stimuli))):
            atomic_write_with(folder / "images" / f"{stimulus_id}.png",
                              partial(_save_png, Image.fromarray(pixels[index])))
            label = f",{labels[split][index]}" if split in labels else ""
            rows.append(f"{stimulus_id},images/{stimulus_id}.png,{concept}{label}")
        atomic_write_text(folder / f"{split}_stimuli.csv", "\n".join(rows) + "\n")
    for subject in dataset.subjects:
        dataset.train[subject].save(folder / "responses" / f"{subject}_train.npz")
        dataset.test[subject].save(folder / "responses" / f"{subject}_test.npz")
    truth = dataset.ground_truth
    features: dict[str, Any] = {**{f"train/{s}": v for s, v in truth.train_features.items()},
                                **{f"test/{s}": v for s, v in truth.test_features.items()}}
    for split, every in (("train", truth.subject_train_features), ("test", truth.subject_test_features)):
        features.update({f"{subject}/{split}/{s}": v.astype(np.float32)
                         for subject, stages in every.items() for s, v in stages.items()})
    atomic_write_with(folder / "ground_truth.npz", lambda temp: np.savez_compressed(temp, **features))
    summary = {
        "params": dataset.params, "subjects": dataset.subjects,
        "train_categories": dataset.train_categories, "test_categories": dataset.test_categories,
        "unseen_values": dataset.unseen_values, "stages": list(truth.stages),
    }
    atomic_write_text(folder / "simulation.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(folder / "classes.json", json.dumps(dataset.train_categories) + "\n")


def _save_png(image: "PILImage", path: Path) -> None:
    image.save(path, format="PNG")
