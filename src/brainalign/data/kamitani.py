"""Kamitani-lab fMRI in bdpy ``BData`` HDF5 files (Horikawa & Kamitani 2017 "Generic Object Decoding";
Shen et al. 2019 "Deep image reconstruction"), as ReAlnet-fMRI uses it.

A BData file holds one 2-D ``dataset`` (rows = fMRI samples, columns = voxels and per-sample
values) and ``metadata`` rows marking which columns belong to which key: ``VoxelData``,
``ROI_V1``, ``ROI_V2``, ``ROI_V3``, ``ROI_V4`` (``ROI_hV4`` in Shen 2019), ``ROI_LOC``, ``ROI_VC``
(whole visual cortex), the stimulus ``Label`` (e.g. ``1443537.022563`` = ImageNet image
``n01443537_22563``; the column is ``stimulus_id`` in Shen 2019 and GOD files, ``Label`` in some
others) and, in the GOD files, ``DataType`` (1 = training, 2 = test perception, 3 = imagery). Shen
2019 ships training and test in separate files (``sub-01_perceptionNaturalImageTraining_original_VC.h5``,
``..._perceptionNaturalImageTest_original_VC.h5``), 1200 training images x 5 repetitions and 50 test
images x 24 repetitions.

:func:`load_kamitani_fmri` returns one row per image (repetitions averaged by default) with the
union of the chosen ROIs' voxels and ``rois`` pointing into it. :func:`convert_kamitani` (CLI
``brainalign convert-kamitani``) writes each split of a file as a Responses ``.npz`` with every
repetition and the regions V1, V2, V3, V4, LOC and VC. The ReAlnet-fMRI target (PCA of VC to 1024
dimensions, fitted on the training images) is built from it by :mod:`brainalign.align.targets`.
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from brainalign.data.responses import Responses
from brainalign.errors import DataFormatError, MissingDatasetError, ValidationError

ROIS = ("V1", "V2", "V3", "V4", "LOC", "VC")
ROI_KEYS = {"V4": ("ROI_V4", "ROI_hV4")}
LABEL_KEYS = ("stimulus_id", "Label")
DATATYPES = {"train": 1, "test": 2, "imagery": 3}
ID_FILES = ("imageID_training.csv", "imageID_test.csv")


def imagenet_id(label: float) -> str:
    """``1443537.022563 -> "n01443537_22563"`` (synset number . image number / 1e6)."""
    synset = int(np.floor(label))
    return f"n{synset:08d}_{int(round((label - synset) * 1e6))}"


def known_imagenet_ids(metadata_dir: str | os.PathLike[str]) -> dict[str, str]:
    """``{imagenet id: split file}`` listed in the GOD metadata folder (``imageID_*.csv``)."""
    ids: dict[str, str] = {}
    for name in ID_FILES:
        path = Path(metadata_dir) / name
        if not path.is_file():
            raise MissingDatasetError(f"{path} does not exist; pass the folder holding {', '.join(ID_FILES)}")
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                ids[Path(row[1]).stem] = name
    return ids


def load_kamitani_fmri(
    path: str | os.PathLike[str],
    split: str | None = "train",
    rois: Sequence[str] = ROIS,
    average: bool = True,
    metadata_dir: str | os.PathLike[str] | None = None,
    subject: str | None = None,
) -> Responses:
    """fMRI responses ``(n_images, repetitions, n_voxels)`` from one BData HDF5 file.

    ``split``: ``"train"``/``"test"``/``"imagery"`` selects rows by ``DataType`` when the file has it
    (``None`` = all rows). ``rois``: region names (``V1``...``LOC``, ``VC``); voxels are their union
    in file order. Rows are grouped by image (ids sorted); unequal repetition counts are NaN-padded
    (``allow_nan``) unless ``average``. ``metadata_dir``: check every image id against the GOD id
    lists (e.g. ``shared/data/god_kamitani_stimulus_metadata``).
    """
    responses = _load_split(_read_bdata(Path(path)), Path(path), split, rois, subject, metadata_dir)
    return responses.average_repetitions() if average else responses


def convert_kamitani(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    split: str | None = None,
    rois: Sequence[str] = ROIS,
    subject: str | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the splits of one or more BData files of a subject as ``out_dir/<split>.npz`` Responses
    (every repetition, the union of ``rois``' voxels with each region's indices); return the written paths.

    ``split``: which split to write. A GOD file (with ``DataType``) gives ``train`` and ``test`` by
    default; a file without ``DataType`` (Shen 2019) is one split, named by ``split`` or by its file name
    (``...Training...`` -> ``train``, ``...Test...`` -> ``test``), so a subject's Training and Test files
    convert together. ``subject`` defaults to the file name's ``sub-XX`` prefix (else its stem). Every
    file and split is read and checked before the first file is written; ``out_dir`` is a run folder
    (:func:`brainalign.runs.open_run`: new or empty, or with ``force`` a conversion to redo).
    """
    from brainalign.runs import check_run_dir, mark_finished, open_run

    check_run_dir(out_dir, "convert-kamitani", force=force, resumable=False)
    sources = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(path) for path in paths]
    if split is not None and split not in DATATYPES:
        raise ValidationError(f"split={split!r}; choose one of {sorted(DATATYPES)}")
    loaded: dict[str, Responses] = {}
    for source in sources:
        for label, responses in _file_splits(source, split, rois, subject).items():
            if label in loaded:
                raise ValidationError(
                    f"{source} and {loaded[label].info['source']} both give the {label} split; convert one "
                    f"subject's Training and Test files together, or name the split with --split"
                )
            loaded[label] = responses
    with open_run(out_dir, "convert-kamitani", force=force, resumable=False):
        written = [responses.save(Path(out_dir) / f"{label}.npz") for label, responses in loaded.items()]
        mark_finished(out_dir, {"splits": list(loaded)})
    return written


def _file_splits(source: Path, split: str | None, rois: Sequence[str], subject: str | None) -> dict[str, Responses]:
    """``{split: every repetition of its rows}`` of one BData file (see :func:`convert_kamitani`)."""
    bdata = _read_bdata(source)
    if "DataType" in list(bdata.metadata.key):
        present = set(np.unique(bdata.select("DataType").ravel()).tolist())
        splits = [split] if split else [name for name in ("train", "test") if DATATYPES[name] in present]
        rows: dict[str, str | None] = {name: name for name in splits}
        if not rows:
            raise DataFormatError(f"{source} has no training (DataType 1) or test (DataType 2) rows; pass --split imagery")
    else:
        rows = {split or _split_from_name(source): None}
    name = subject or _subject_from_name(source)
    return {label: _load_split(bdata, source, selector, rois, name, None) for label, selector in rows.items()}


def _load_split(bdata: Any, path: Path, split: str | None, rois: Sequence[str], subject: str | None,
                metadata_dir: str | os.PathLike[str] | None) -> Responses:
    """Every repetition of ``split``'s rows of an open BData file (see :func:`load_kamitani_fmri`)."""
    keys = list(bdata.metadata.key)
    rows = np.ones(bdata.dataset.shape[0], dtype=bool)
    if split is not None and "DataType" in keys:
        if split not in DATATYPES:
            raise ValidationError(f"split={split!r}; choose one of {sorted(DATATYPES)} or None")
        rows = bdata.select("DataType").ravel() == DATATYPES[split]
        if not rows.any():
            raise DataFormatError(f"{path} has no rows with DataType {DATATYPES[split]} ({split})")
    label_key = next((key for key in LABEL_KEYS if key in keys), None)
    if label_key is None:
        raise DataFormatError(
            f"{path} has no stimulus label column (looked for {list(LABEL_KEYS)}; its keys: {keys}); is it a "
            f"Kamitani-lab BData file of an image experiment?"
        )
    labels = bdata.select(label_key).ravel()[rows]
    columns = {roi: _roi_columns(bdata, keys, roi, path) for roi in rois}
    voxel_columns = np.unique(np.concatenate(list(columns.values())))
    voxels = bdata.dataset[np.ix_(rows, voxel_columns)]
    ids, data = _group_repetitions(labels, voxels, path, label_key)
    if metadata_dir is not None:
        known = known_imagenet_ids(metadata_dir)
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise DataFormatError(
                f"{len(unknown)} label(s) of {path} are not in the GOD image lists of {metadata_dir} (first: {unknown[:5]}); "
                f"is {label_key!r} the ImageNet label column?"
            )
    return Responses(
        data, ids, "fmri", subject=subject or Path(path).stem,
        rois={roi: np.searchsorted(voxel_columns, cols) for roi, cols in columns.items()},
        allow_nan=bool(np.isnan(data).any()),
        info={"source": str(path), "split": split, "label_key": label_key, "dataset": "Kamitani-lab BData"},
    )


def _split_from_name(path: Path) -> str:
    name = path.name.lower()
    for word, split in (("training", "train"), ("test", "test"), ("imagery", "imagery")):
        if word in name:
            return split
    raise ValidationError(
        f"{path} has no DataType column and its name does not say Training or Test; pass --split train or "
        f"--split test (split=...)"
    )


def _subject_from_name(path: Path) -> str:
    found = re.match(r"sub-\d+", path.name)
    return found.group(0) if found else path.stem


def _read_bdata(path: Path) -> Any:
    if not path.is_file():
        raise MissingDatasetError(
            f"{path} does not exist; download the Kamitani-lab fMRI files (see `brainalign fetch --list`)"
        )
    import bdpy

    try:
        return bdpy.BData(str(path))
    except (OSError, KeyError, ValueError) as error:
        raise DataFormatError(f"{path} is truncated or not a bdpy BData HDF5 file ({error}); download it again") from None


def _roi_columns(bdata: Any, keys: list[str], roi: str, path: Path) -> np.ndarray:
    for key in ROI_KEYS.get(roi, (f"ROI_{roi}",)):
        if key in keys:
            marks = np.asarray(bdata.get_metadata(key), dtype=float)
            columns = np.flatnonzero(marks == 1)
            if columns.size == 0:
                raise DataFormatError(f"{path}: ROI {key} marks no voxel")
            return columns
    available = [key[4:] for key in keys if key.startswith("ROI_")]
    raise ValidationError(
        f"ROI {roi!r} is not in {path} (no metadata key {' or '.join(ROI_KEYS.get(roi, (f'ROI_{roi}',)))}); "
        f"available ROIs: {available}; choose from these (CLI: --roi)"
    )


def _group_repetitions(labels: np.ndarray, voxels: np.ndarray, path: Path, label_key: str) -> tuple[list[str], np.ndarray]:
    """Rows -> ``(ids, (n_images, max_reps, n_voxels))``; missing repetitions are NaN."""
    if not np.all(np.isfinite(labels)):
        raise DataFormatError(f"{path}: the stimulus label column {label_key!r} holds NaN/inf; every fMRI sample "
                              f"needs an image label")
    ids_per_row = np.array([imagenet_id(label) for label in labels])
    unique_ids, inverse, counts = np.unique(ids_per_row, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    repetition = np.arange(len(labels)) - np.repeat(np.cumsum(counts) - counts, counts)
    data = np.full((len(unique_ids), counts.max(), voxels.shape[1]), np.nan, dtype=np.float32)
    data[inverse[order], repetition] = voxels[order]
    return unique_ids.tolist(), data
