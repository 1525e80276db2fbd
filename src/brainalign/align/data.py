"""The images and neural targets of one alignment run, read from a :class:`DataConfig`."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from brainalign.align.config import DataConfig
from brainalign.data import Responses, Stimuli
from brainalign.errors import ConfigError, MissingDatasetError

PRELOAD_LIMIT_BYTES = 2**30  # image sets smaller than this are decoded once and kept in memory


@dataclass(frozen=True)
class AlignmentData:
    """Training (and optional held-out) images with their neural targets, rows in stimulus order.

    ``train_targets``: ``(n_train, n_features)`` float32 (z-scored with the training mean/std when the
    config says so); ``test_targets`` likewise for ``test_stimuli``. ``modality``: ``"eeg"`` or ``"fmri"``
    (the simulated observer's EEG-like or fMRI-like layout), as in the responses file otherwise. ``pretrain_*`` are the simulated
    observer's classification images and int labels, ``val_*`` its held-out labelled images of the same
    categories (never trained on); all None for file data.
    """

    train_stimuli: Stimuli
    train_targets: np.ndarray
    test_stimuli: Stimuli | None
    test_targets: np.ndarray | None
    modality: str
    subject: str
    pretrain_stimuli: Stimuli | None = None
    pretrain_labels: np.ndarray | None = None
    val_stimuli: Stimuli | None = None
    val_labels: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.train_targets.shape[1])


class ImageBank:
    """Normalised images of a :class:`Stimuli` at one size, decoded once when they fit in memory."""

    def __init__(self, stimuli: Stimuli, size: int, preload_limit: int = PRELOAD_LIMIT_BYTES) -> None:
        self.stimuli = stimuli
        self.size = size
        fits = len(stimuli) * 3 * size * size * 4 <= preload_limit
        self.images = stimuli.load(size=size) if fits else None

    def __len__(self) -> int:
        return len(self.stimuli)

    def get(self, indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Images ``indices`` as float32 ``(len(indices), 3, size, size)``, ImageNet-normalised."""
        if self.images is not None:
            return self.images[torch.as_tensor(indices, dtype=torch.long)]
        return self.stimuli.load([int(i) for i in indices], size=self.size)


def load_alignment_data(config: DataConfig) -> AlignmentData:
    """Read the run's images and responses (simulated observer or files) and build the targets."""
    if config.source == "simulated":
        return _simulated(config)
    return _from_files(config)


def _simulated(config: DataConfig) -> AlignmentData:
    dataset = simulate_cached(json.dumps(config.simulate, sort_keys=True))
    subject = config.subject or dataset.subjects[0]
    if subject not in dataset.subjects:
        raise ConfigError(f"data.subject={subject!r} is not a simulated subject; choose one of {dataset.subjects}")
    train = dataset.train[subject].match_stimuli(dataset.train_stimuli)
    test = dataset.test[subject].match_stimuli(dataset.test_stimuli)
    train_targets, test_targets = _targets(train, test, config.zscore)
    return AlignmentData(
        train_stimuli=dataset.train_stimuli,
        train_targets=train_targets,
        test_stimuli=dataset.test_stimuli,
        test_targets=test_targets,
        modality="fmri" if train.rois else "eeg",  # fMRI-like or EEG-like (sets the default epochs)
        subject=subject,
        pretrain_stimuli=dataset.pretrain_stimuli,
        pretrain_labels=np.asarray(dataset.pretrain_labels, dtype=np.int64),
        val_stimuli=dataset.val_stimuli,
        val_labels=np.asarray(dataset.val_labels, dtype=np.int64),
    )


@functools.lru_cache(maxsize=4)
def simulate_cached(options_json: str) -> Any:
    """``brainalign.data.simulate(**options)`` memoised per process (sweep jobs share one observer)."""
    from brainalign.data import simulate

    try:
        return simulate(**json.loads(options_json))
    except TypeError as error:
        raise ConfigError(f"data.simulate: {error}; see help(brainalign.data.simulate) for the options") from None


def _from_files(config: DataConfig) -> AlignmentData:
    subject = config.subject or ""
    train_stimuli = _stimuli(_path(config.train_stimuli, subject, "data.train_stimuli"))
    train = Responses.load(_path(config.train_responses, subject, "data.train_responses")).match_stimuli(train_stimuli)
    test_stimuli = test = None
    if config.test_responses is not None:
        test_stimuli = _stimuli(_path(config.test_stimuli, subject, "data.test_stimuli"))
        test = Responses.load(_path(config.test_responses, subject, "data.test_responses")).match_stimuli(test_stimuli)
    train_targets, test_targets = _targets(train, test, config.zscore)
    return AlignmentData(
        train_stimuli=train_stimuli,
        train_targets=train_targets,
        test_stimuli=test_stimuli,
        test_targets=test_targets,
        modality=train.modality,
        subject=train.subject or subject,
    )


def _targets(train: Responses, test: Responses | None, zscore: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Repetition-averaged, flattened ``(n, n_features)`` float32 targets, z-scored on the training stats."""
    if zscore:
        mean, std = train.feature_stats()
        train = train.standardize(mean, std)
        test = None if test is None else test.standardize(mean, std)
    train_targets = train.flatten().astype(np.float32)
    test_targets = None if test is None else test.flatten().astype(np.float32)
    return train_targets, test_targets


def _path(template: str | None, subject: str, key: str) -> Path:
    path = Path(str(template).replace("{subject}", subject))
    if not path.exists():
        raise MissingDatasetError(
            f"{key}: {path} does not exist; download the dataset (see `brainalign data --help`) or fix the path"
        )
    return path


def _stimuli(path: Path) -> Stimuli:
    return Stimuli.from_folder(path) if path.is_dir() else Stimuli.from_csv(path)
