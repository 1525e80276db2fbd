"""The images and neural targets of one alignment run, read from a :class:`DataConfig`."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from brainalign.align.config import DataConfig
from brainalign.align.targets import TargetTransform, check_pattern, check_pca, fit_targets, pattern_size
from brainalign.data import Responses, Stimuli
from brainalign.cores import available_cores
from brainalign.data.image_cache import ImageCache, normalise, prefetch
from brainalign.data.responses import read_layout
from brainalign.errors import ConfigError, MissingDatasetError, ValidationError
from brainalign.inputs import for_field

if TYPE_CHECKING:
    from brainalign.data.simulation import SimulatedDataset

PRELOAD_LIMIT_BYTES = 2**30  # image sets smaller than this are decoded once and kept in memory


@dataclass(frozen=True)
class AlignmentData:
    """Training (and optional held-out) images with their neural targets, rows in stimulus order.

    ``train_targets``: ``(n_train, n_targets)`` float32 built by ``target`` (:mod:`brainalign.align.targets`,
    fitted on the training images only); ``test_targets`` likewise for ``test_stimuli``. ``test_responses``:
    the held-out responses as recorded (every repetition, unstandardised, rows = ``test_stimuli``), for
    evaluation RDMs. ``modality``: ``"eeg"`` or ``"fmri"`` (the simulated observer's EEG-like or fMRI-like
    layout), as in the responses file otherwise. ``pretrain_*`` are the simulated observer's
    classification images and int labels, ``val_*`` its held-out labelled images of the same categories
    (never trained on); all None for file data.
    """

    train_stimuli: Stimuli
    train_targets: np.ndarray
    test_stimuli: Stimuli | None
    test_targets: np.ndarray | None
    modality: str
    subject: str
    target: TargetTransform
    test_responses: Responses | None = None
    pretrain_stimuli: Stimuli | None = None
    pretrain_labels: np.ndarray | None = None
    val_stimuli: Stimuli | None = None
    val_labels: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.train_targets.shape[1])


class ImageBank:
    """Normalised images of a :class:`Stimuli` at one size.

    Sets that fit in ``preload_limit`` bytes as float32 (default :data:`PRELOAD_LIMIT_BYTES`) are decoded
    once and kept in memory; larger sets of image files are read from the uint8 image cache
    (:class:`brainalign.data.image_cache.ImageCache`, built on first use) and normalised per batch on the
    device; larger in-memory sets are normalised per batch.
    """

    def __init__(self, stimuli: Stimuli, size: int, preload_limit: int | None = None) -> None:
        self.stimuli = stimuli
        self.size = size
        limit = PRELOAD_LIMIT_BYTES if preload_limit is None else preload_limit
        fits = len(stimuli) * 3 * size * size * 4 <= limit
        self.images = stimuli.load(size=size) if fits else None
        self.cache = ImageCache.open(stimuli, size) if not fits and stimuli.paths is not None else None

    def __len__(self) -> int:
        return len(self.stimuli)

    def get(self, indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Images ``indices`` as float32 ``(len(indices), 3, size, size)`` on the CPU, ImageNet-normalised."""
        index = torch.as_tensor(indices, dtype=torch.long)
        if self.images is not None:
            return self.images[index]
        if self.cache is not None:
            return normalise(self.cache.gather(index), torch.device("cpu"))
        return self.stimuli.load([int(i) for i in index], size=self.size)

    def batches(
        self,
        index_batches: Sequence[torch.Tensor],
        device: torch.device,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> Iterator[torch.Tensor]:
        """Images of each of ``index_batches`` in turn, float32 ``(len(batch), 3, size, size)`` on ``device``
        in ``memory_format``. Cached and large sets are gathered by background threads
        (:func:`~brainalign.data.image_cache.prefetch`) while the caller computes on the previous batch: on
        the CPU they also make the floats (one thread per core), on a GPU they hand pinned uint8 batches to
        :func:`~brainalign.data.image_cache.normalise`, which makes the floats on the GPU."""
        if self.images is not None:
            images = self.images
            for batch in index_batches:
                yield images[batch].to(device, non_blocking=True).contiguous(memory_format=memory_format)
            return
        if self.cache is None:
            for loaded in prefetch(self.get, index_batches):
                yield loaded.to(device).contiguous(memory_format=memory_format)
            return
        cache = self.cache
        if device.type == "cpu":  # the background threads make the floats too, on every core

            def ready(batch: torch.Tensor) -> torch.Tensor:
                return normalise(cache.gather(batch), device, memory_format)

            yield from prefetch(ready, index_batches, workers=available_cores())
            return

        def pinned(batch: torch.Tensor) -> torch.Tensor:
            return cache.gather(batch).pin_memory()

        for pixels in prefetch(pinned, index_batches):  # uint8 over the bus, floats made on the GPU
            yield normalise(pixels, device, memory_format)


def load_alignment_data(config: DataConfig) -> AlignmentData:
    """Read the run's images and responses (simulated observer or files) and build the targets
    (``config.target``; :func:`brainalign.align.targets.fit_targets`)."""
    if config.source == "simulated":
        return _simulated(config)
    return _from_files(config)


def check_alignment_data(config: DataConfig, subjects: Sequence[str]) -> None:
    """Check, before anything is written or computed, that every subject's files can give the target:
    paths exist, response ids match the images, and the target's channels, window, region and PCA fit
    the files (read without their data arrays). Raises one error naming the file and the fix."""
    if config.source == "simulated":
        for subject in subjects or [""]:
            load_alignment_data(config.model_copy(update={"subject": subject or config.subject}))
        return
    for subject in subjects or [config.subject or ""]:
        for split in ("train", "test") if config.test_responses is not None else ("train",):
            stimuli, path, key = _split_files(config, subject, split)
            with for_field(key):
                layout = read_layout(path)
            _matched_ids(layout.stimulus_ids, stimuli, f"{key} {path}", f"data.{split}_stimuli")
            check_pattern(layout, config.target, f"{key} {path}")
            if split == "train":
                check_pca(layout.n_stimuli, pattern_size(layout, config.target), config.target, f"{key} {path}")


def held_out_ids(config: DataConfig, subject: str) -> list[str]:
    """Stimulus ids of ``subject``'s held-out images (the simulated observer's test images, or the images of
    ``data.test_stimuli``), read without any responses; [] when the config names no held-out images."""
    if config.source == "simulated":
        return list(simulated_observer(config.simulate).test_stimuli.ids)
    if config.test_stimuli is None:
        return []
    return list(_split_files(config, subject, "test")[0].ids)


def _simulated(config: DataConfig) -> AlignmentData:
    dataset = simulated_observer(config.simulate)
    subject = config.subject or dataset.subjects[0]
    if subject not in dataset.subjects:
        raise ConfigError(f"data.subject={subject!r} is not a simulated subject; choose one of {dataset.subjects}")
    train = dataset.train[subject].match_stimuli(dataset.train_stimuli)
    test = dataset.test[subject].match_stimuli(dataset.test_stimuli)
    target = fit_targets(train, config.target, f"simulated subject {subject} (training images)")
    return AlignmentData(
        train_stimuli=dataset.train_stimuli,
        train_targets=target.apply(train),
        test_stimuli=dataset.test_stimuli,
        test_targets=target.apply(test, f"simulated subject {subject} (held-out images)"),
        modality="fmri" if train.rois else "eeg",  # fMRI-like or EEG-like (sets the default epochs)
        subject=subject,
        target=target,
        test_responses=test,
        pretrain_stimuli=dataset.pretrain_stimuli,
        pretrain_labels=np.asarray(dataset.pretrain_labels, dtype=np.int64),
        val_stimuli=dataset.val_stimuli,
        val_labels=np.asarray(dataset.val_labels, dtype=np.int64),
    )


def simulated_observer(options: Mapping[str, Any]) -> SimulatedDataset:
    """``brainalign.data.simulate(**options)`` (``data.simulate`` of a config), memoised per process so
    sweep jobs and the evaluation share one observer."""
    return _simulate_cached(json.dumps(dict(options), sort_keys=True))


@functools.lru_cache(maxsize=4)
def _simulate_cached(options_json: str) -> SimulatedDataset:
    """The memo of :func:`simulated_observer`, keyed by the options as canonical JSON."""
    from brainalign.data.simulation import simulate

    try:
        return simulate(**json.loads(options_json))
    except (TypeError, ValidationError) as error:
        raise ConfigError(f"data.simulate: {error}; see help(brainalign.data.simulate) for the options") from None


def _from_files(config: DataConfig) -> AlignmentData:
    subject = config.subject or ""
    train_stimuli, train, train_source = _split(config, subject, "train")
    target = fit_targets(train, config.target, train_source)
    test_stimuli = test = test_targets = None
    if config.test_responses is not None:
        test_stimuli, test, test_source = _split(config, subject, "test")
        test_targets = target.apply(test, test_source)
    return AlignmentData(
        train_stimuli=train_stimuli,
        train_targets=target.apply(train, train_source),
        test_stimuli=test_stimuli,
        test_targets=test_targets,
        modality=train.modality,
        subject=train.subject or subject,
        target=target,
        test_responses=test,
    )


def _split(config: DataConfig, subject: str, split: str) -> tuple[Stimuli, Responses, str]:
    """``(images, responses in image order, "data.<split>_responses <path>")`` of one split."""
    stimuli, path, key = _split_files(config, subject, split)
    with for_field(key):
        responses = Responses.load(path)
    source = f"{key} {path}"
    order = _matched_ids(responses.stimulus_ids, stimuli, source, f"data.{split}_stimuli")
    return stimuli, responses.subset(order), source


def _split_files(config: DataConfig, subject: str, split: str) -> tuple[Stimuli, Path, str]:
    key = f"data.{split}_responses"
    with for_field(f"data.{split}_stimuli"):
        stimuli = _stimuli(_path(getattr(config, f"{split}_stimuli"), subject, f"data.{split}_stimuli"))
    return stimuli, _path(getattr(config, f"{split}_responses"), subject, key), key


def _matched_ids(response_ids: Sequence[str], stimuli: Stimuli, source: str, stimuli_key: str) -> list[str]:
    """The image ids in stimulus order; raise when an image has no response or a response no image."""
    known = set(response_ids)
    folder = stimuli.paths[0].parent if stimuli.paths else "the images"
    without_response = [sid for sid in stimuli.ids if sid not in known]
    shown = set(stimuli.ids)
    without_image = [sid for sid in response_ids if sid not in shown]
    if without_response or without_image:
        raise ValidationError(
            f"the stimulus ids of {source} do not match the images of {stimuli_key} ({folder}): "
            f"{len(without_image)} response id(s) have no image (first: {without_image[:3]}) and "
            f"{len(without_response)} image(s) have no response (first: {without_response[:3]}). Image ids are "
            f"paths relative to the image folder without suffix (concept/stem in sub-folders), or the id column "
            f"of a stimulus CSV; point {stimuli_key} at the images of these responses, or list exactly them in a CSV"
        )
    return list(stimuli.ids)


def _path(template: str | None, subject: str, key: str) -> Path:
    path = Path(str(template).replace("{subject}", subject))
    if not path.exists():
        raise MissingDatasetError(
            f"{key}: {path} does not exist; download the dataset (see `brainalign fetch --list`) or fix the path"
        )
    return path


def _stimuli(path: Path) -> Stimuli:
    return Stimuli.from_folder(path) if path.is_dir() else Stimuli.from_csv(path)
