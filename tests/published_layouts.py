"""Miniature copies of the published dataset layouts, written by the tests themselves.

- THINGS-EEG2 (Gifford et al. 2022, OSF): ``preprocessed_data/sub-XX/preprocessed_eeg_{training,test}.npy``
  (``np.save`` of a dict: ``preprocessed_eeg_data`` images x repetitions x channels x times, ``ch_names``,
  ``times`` -0.2 .. 0.79 s at 100 Hz), ``image_set/image_metadata.npy`` (dict of
  ``{train,test}_img_{concepts,files}``) and ``image_set/{training,test}_images/<concept>/<file>.jpg``.
- Kamitani lab (Shen et al. 2019, figshare): ``sub-XX_perceptionNaturalImage{Training,Test}_original_VC.h5``,
  bdpy BData with ``VoxelData``, ``ROI_V1`` ... ``ROI_hV4`` ... ``ROI_VC`` voxel marks and the
  ``stimulus_id`` label column (``1443537.022563`` = ImageNet ``n01443537_22563``), one row per trial;
  images in ``images/{training,test}/<ImageNet id>.JPEG``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from brainalign.data.channels import THINGS_EEG2_CHANNELS

THINGS_TIMES = np.round(np.arange(-20, 80) / 100, 2)  # -0.2 .. 0.79 s, 100 Hz, as published
EXTRA_CHANNELS = ("Fz", "Cz")  # a file with more channels than the target: the 17 must be picked out


def write_things_eeg2(root: Path, subjects: Sequence[str] = ("sub-01",), n_train: int = 6, n_test: int = 4,
                      train_reps: int = 4, test_reps: int = 80, channels: Sequence[str] | None = None,
                      image_size: int = 32, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Write the published layout under ``root``; return ``{subject: {"training"|"test": data}}``.

    Default channels: the 17 O/P channels in reverse file order plus Fz and Cz (19).
    """
    rng = np.random.default_rng(seed)
    channels = list(channels) if channels is not None else [*reversed(THINGS_EEG2_CHANNELS), *EXTRA_CHANNELS]
    metadata = {
        "train_img_concepts": [f"{i // 2 + 1:05d}_concept{i // 2}" for i in range(n_train)],
        "train_img_files": [f"concept{i // 2}_{i % 2 + 1:02d}b.jpg" for i in range(n_train)],
        "test_img_concepts": [f"{i + 1:05d}_test{i}" for i in range(n_test)],
        "test_img_files": [f"test{i}_01s.jpg" for i in range(n_test)],
    }
    image_set = root / "image_set"
    for split, folder in (("train", "training_images"), ("test", "test_images")):
        for concept, name in zip(metadata[f"{split}_img_concepts"], metadata[f"{split}_img_files"]):
            (image_set / folder / concept).mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(image_set / folder / concept / name)
    np.save(image_set / "image_metadata.npy", metadata)  # a pickled dict, as published
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for subject in subjects:
        folder = root / "preprocessed_data" / subject
        folder.mkdir(parents=True)
        arrays[subject] = {}
        for split, n, reps in (("training", n_train, train_reps), ("test", n_test, test_reps)):
            data = rng.normal(size=(n, reps, len(channels), len(THINGS_TIMES))).astype(np.float32)
            np.save(folder / f"preprocessed_eeg_{split}.npy",
                    {"preprocessed_eeg_data": data, "ch_names": channels, "times": THINGS_TIMES})
            arrays[subject][split] = data
    return arrays


def imagenet_labels(n: int, start: float = 1518878.010042) -> list[float]:
    """``n`` distinct Kamitani-style stimulus_id labels (synset . image number / 1e6)."""
    return [round(start + i * 1e-6, 6) for i in range(n)]


SHEN_ROIS = {"V1": (0, 6), "V2": (6, 12), "V3": (12, 16), "hV4": (16, 20), "LOC": (20, 26), "FFA": (26, 28)}


def write_shen_file(path: Path, labels: Sequence[float], reps: int, n_voxels: int = 30,
                    rois: dict[str, tuple[int, int]] | None = None, vc_voxels: int | None = None,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One Shen 2019 ``..._original_VC.h5`` (bdpy BData; trials shuffled, not grouped by image); returns
    the voxels ``(n_trials, n_voxels)`` and labels ``(n_trials,)`` in row order. ``vc_voxels`` (default
    all but the last 2) are ROI_VC."""
    import bdpy

    rng = np.random.default_rng(seed)
    trial_labels = np.tile(np.asarray(labels, dtype=float), reps)
    rng.shuffle(trial_labels)
    voxels = rng.normal(size=(len(trial_labels), n_voxels))
    bdata = bdpy.BData()
    bdata.add(voxels, "VoxelData")
    for roi, (start, stop) in (SHEN_ROIS if rois is None else rois).items():
        marks = np.full(n_voxels, np.nan)
        marks[start:stop] = 1
        bdata.add_metadata(f"ROI_{roi}", marks, f"1 = {roi} voxel", where="VoxelData")
    vc = np.full(n_voxels, np.nan)
    vc[: n_voxels - 2 if vc_voxels is None else vc_voxels] = 1
    bdata.add_metadata("ROI_VC", vc, "1 = visual cortex voxel", where="VoxelData")
    bdata.add(np.repeat(np.arange(1, reps + 1), len(labels))[:, None].astype(float), "Run")
    bdata.add(trial_labels[:, None], "stimulus_id")
    path.parent.mkdir(parents=True, exist_ok=True)
    bdata.save(str(path))
    return voxels, trial_labels


def write_imagenet_images(folder: Path, ids: Sequence[str], image_size: int = 32, seed: int = 0) -> None:
    """``folder/<id>.JPEG`` random images (the Shen/GOD images are ImageNet files named by their id)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for stimulus_id in ids:
        pixels = rng.integers(0, 256, size=(image_size, image_size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{stimulus_id}.JPEG", format="JPEG")
