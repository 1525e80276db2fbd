"""Kamitani-lab fMRI in bdpy ``BData`` HDF5 files (Horikawa & Kamitani 2017 "Generic Object Decoding";
Shen et al. 2019 "Deep image reconstruction"), as ReAlnet-fMRI uses it.

A BData file holds one 2-D ``dataset`` (rows = fMRI samples, columns = voxels and per-sample
values) and ``metadata`` rows marking which columns belong to which key: ``VoxelData``,
``ROI_V1``, ``ROI_V2``, ``ROI_V3``, ``ROI_V4`` (``ROI_hV4`` in Shen 2019), ``ROI_LOC``, ``ROI_VC``
(whole visual cortex), the stimulus ``Label`` (e.g. ``1443537.022563`` = ImageNet image
``n01443537_22563``) and, in the GOD files, ``DataType`` (1 = training, 2 = test perception,
3 = imagery). Shen 2019 ships training and test in separate files without ``DataType``.

:func:`load_kamitani_fmri` returns one row per image (repetitions averaged by default) with the
union of the chosen ROIs' voxels and ``rois`` pointing into it. :class:`VoxelPCA` reduces the
whole-visual-cortex voxels to 1024 components fitted on the training split only; save it beside
the data so the test split uses the same projection.
"""
from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from brainalign.data.responses import Responses
from brainalign.errors import DataFormatError, MissingDatasetError, ValidationError
from brainalign.runs import atomic_write_with

ROIS = ("V1", "V2", "V3", "V4", "LOC", "VC")
ROI_KEYS = {"V4": ("ROI_V4", "ROI_hV4")}
LABEL_KEYS = ("Label", "stimulus_id", "image_index")
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
    bdata = _read_bdata(Path(path))
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
        raise DataFormatError(f"{path} has no stimulus label column (looked for {LABEL_KEYS}; keys: {keys})")
    labels = bdata.select(label_key).ravel()[rows]
    columns = {roi: _roi_columns(bdata, keys, roi, Path(path)) for roi in rois}
    voxel_columns = np.unique(np.concatenate(list(columns.values())))
    voxels = bdata.dataset[np.ix_(rows, voxel_columns)]
    ids, data = _group_repetitions(labels, voxels)
    if metadata_dir is not None:
        known = known_imagenet_ids(metadata_dir)
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise DataFormatError(
                f"{len(unknown)} label(s) of {path} are not in the GOD image lists of {metadata_dir} (first: {unknown[:5]}); "
                f"is {label_key!r} the ImageNet label column?"
            )
    responses = Responses(
        data, ids, "fmri", subject=subject or Path(path).stem,
        rois={roi: np.searchsorted(voxel_columns, cols) for roi, cols in columns.items()},
        allow_nan=bool(np.isnan(data).any()),
        info={"source": str(path), "split": split, "label_key": label_key},
    )
    return responses.average_repetitions() if average else responses


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
    raise ValidationError(f"ROI {roi!r} is not in {path}; available ROIs: {available}")


def _group_repetitions(labels: np.ndarray, voxels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Rows -> ``(ids, (n_images, max_reps, n_voxels))``; missing repetitions are NaN."""
    if not np.all(np.isfinite(labels)):
        raise DataFormatError("the stimulus label column holds NaN/inf; every fMRI sample needs an image label")
    ids_per_row = np.array([imagenet_id(label) for label in labels])
    unique_ids, inverse, counts = np.unique(ids_per_row, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    repetition = np.arange(len(labels)) - np.repeat(np.cumsum(counts) - counts, counts)
    data = np.full((len(unique_ids), counts.max(), voxels.shape[1]), np.nan, dtype=np.float32)
    data[inverse[order], repetition] = voxels[order]
    return unique_ids.tolist(), data


class VoxelPCA:
    """PCA of voxel patterns fitted on training responses; applies the same projection to any split.

    ``mean``: ``(n_voxels,)``; ``components``: ``(n_components, n_voxels)``; ``explained_variance_ratio``.
    """

    def __init__(self, mean: np.ndarray, components: np.ndarray, explained_variance_ratio: np.ndarray,
                 info: dict[str, Any] | None = None) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.components = np.asarray(components, dtype=np.float64)
        self.explained_variance_ratio = np.asarray(explained_variance_ratio, dtype=np.float64)
        self.info = dict(info or {})

    @classmethod
    def fit(cls, train: Responses, n_components: int = 1024, roi: str | None = "VC", seed: int = 0) -> "VoxelPCA":
        """Fit on the repetition-averaged ``train`` responses (of ``roi`` when given)."""
        from sklearn.decomposition import PCA

        patterns = (train.select_roi(roi) if roi else train).flatten()
        limit = min(patterns.shape)
        if n_components > limit:
            raise ValidationError(
                f"n_components={n_components} exceeds min(n_images, n_voxels) = {limit} of the training data; "
                f"choose n_components <= {limit}"
            )
        pca = PCA(n_components=n_components, random_state=seed).fit(patterns)
        return cls(pca.mean_, pca.components_, pca.explained_variance_ratio_,
                   info={"roi": roi, "fitted_on": train.info.get("source", train.subject), "n_images": len(train)})

    def transform(self, responses: Responses) -> Responses:
        """Project every repetition: ``(n, reps, n_voxels) -> (n, reps, n_components)``, one ROI ``PCA``."""
        roi = self.info.get("roi")
        source = responses.select_roi(roi) if roi and responses.rois and roi in responses.rois else responses
        if source.feature_shape != self.mean.shape:
            raise ValidationError(
                f"responses have {source.feature_shape[0]} voxels but the PCA was fitted on {self.mean.shape[0]}; "
                f"use the same subject, ROI and voxel selection as for fitting"
            )
        projected = (source.data - self.mean) @ self.components.T
        return Responses(
            projected.astype(np.float32), source.stimulus_ids, "fmri", subject=source.subject,
            rois={"PCA": np.arange(len(self.components))}, allow_nan=source.allow_nan,
            info={**source.info, "pca": self.info},
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``mean``, ``components`` and ``explained_variance_ratio`` to one ``.npz`` (atomic)."""
        arrays = {"mean": self.mean, "components": self.components,
                  "explained_variance_ratio": self.explained_variance_ratio,
                  "roi": np.array(self.info.get("roi") or ""), "fitted_on": np.array(str(self.info.get("fitted_on", "")))}
        return atomic_write_with(path, lambda temp: np.savez(temp, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "VoxelPCA":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return cls(archive["mean"], archive["components"], archive["explained_variance_ratio"],
                           info={"roi": str(archive["roi"]) or None, "fitted_on": str(archive["fitted_on"])})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise DataFormatError(f"{path} is not a VoxelPCA file ({error}); re-create it with VoxelPCA.save") from None
