"""Neural responses: one array plus the metadata that names its axes.

``data`` is ``(n_stimuli, n_repetitions, *feature_shape)``:

- EEG (``modality="eeg"``): ``feature_shape = (n_channels, n_times)``; ``channels`` names axis 2,
  ``times`` (seconds, increasing) labels axis 3, ``sfreq`` in Hz.
- fMRI (``modality="fmri"``): ``feature_shape = (n_voxels,)``; ``rois`` maps a region name to the
  voxel indices (into axis 2) it holds; regions may overlap (e.g. ``VC`` = all visual voxels).
- simulated: either layout.

Rows follow ``stimulus_ids`` (unique strings). Values must be finite; pass ``allow_nan=True`` when
NaN marks missing repetitions (e.g. unequal repetition counts padded with NaN); averages then skip
them. Every operation returns a new object; the array is never modified in place.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from brainalign.errors import DataFormatError, ValidationError
from brainalign.inputs import (
    READ_ERRORS,
    existing_file,
    json_object,
    npy_header,
    numeric_dtype,
    reading,
    required_fields,
)
from brainalign.runs import atomic_write_with, json_default

if TYPE_CHECKING:
    from brainalign.data.stimuli import Stimuli

MODALITIES = ("eeg", "fmri", "simulated")
_FORMAT = "brainalign.Responses/1"


class Responses:
    """Neural responses to an ordered set of stimuli (see the module docstring for the layout)."""

    def __init__(
        self,
        data: Any,
        stimulus_ids: Sequence[str],
        modality: str,
        subject: str = "",
        channels: Sequence[str] | None = None,
        times: Sequence[float] | np.ndarray | None = None,
        sfreq: float | None = None,
        rois: Mapping[str, Sequence[int] | np.ndarray] | None = None,
        allow_nan: bool = False,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        self.data = _check_data(data, allow_nan)
        self.stimulus_ids = _check_ids(stimulus_ids, self.data.shape[0])
        if modality not in MODALITIES:
            raise ValidationError(f"modality={modality!r} is not one of {MODALITIES}; pass one of them")
        self.modality = modality
        self.subject = str(subject)
        self.allow_nan = bool(allow_nan)
        self.channels = None if channels is None else _check_channels(channels, self.data)
        self.times = None if times is None else _check_times(times, self.data)
        if sfreq is not None and not (np.isfinite(sfreq) and sfreq > 0):
            raise ValidationError(f"sfreq={sfreq!r} must be a positive sampling rate in Hz (e.g. 100.0)")
        self.sfreq = None if sfreq is None else float(sfreq)
        self.rois = None if rois is None else _check_rois(rois, self.data)
        self.info: dict[str, Any] = dict(info or {})
        _check_modality_layout(self)

    # ------------------------------------------------------------------ shape
    @property
    def n_stimuli(self) -> int:
        return self.data.shape[0]

    @property
    def n_repetitions(self) -> int:
        return self.data.shape[1]

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[2:])

    def __len__(self) -> int:
        return self.n_stimuli

    def __repr__(self) -> str:
        return (
            f"Responses(modality={self.modality!r}, subject={self.subject!r}, n_stimuli={self.n_stimuli}, "
            f"n_repetitions={self.n_repetitions}, feature_shape={self.feature_shape})"
        )

    def _replace(self, **changes: Any) -> "Responses":
        fields: dict[str, Any] = dict(
            data=self.data, stimulus_ids=self.stimulus_ids, modality=self.modality, subject=self.subject,
            channels=self.channels, times=self.times, sfreq=self.sfreq, rois=self.rois,
            allow_nan=self.allow_nan, info=self.info,
        )
        fields.update(changes)
        return Responses(**fields)

    # ------------------------------------------------------------- selection
    def average_repetitions(self) -> "Responses":
        """Mean over repetitions (NaN-aware when ``allow_nan``); result has ``n_repetitions == 1``."""
        mean = np.nanmean(self.data, axis=1, keepdims=True) if self.allow_nan else self.data.mean(1, keepdims=True)
        if not np.all(np.isfinite(mean)):
            raise ValidationError(
                "average_repetitions: some stimulus/feature has no finite repetition (all NaN); "
                "drop those stimuli with subset() first"
            )
        return self._replace(data=mean.astype(self.data.dtype, copy=False), allow_nan=False)

    def select_times(self, start: float, stop: float) -> "Responses":
        """Keep time points ``start <= t < stop`` (seconds, half-open)."""
        if self.times is None:
            raise ValidationError("select_times needs times; these responses have none (times=None)")
        keep = time_window(self.times, start, stop)
        if not keep.any():
            raise ValidationError(
                f"select_times({start}, {stop}) keeps no time point; times span "
                f"{self.times[0]:.3f}..{self.times[-1]:.3f} s (give seconds, not ms)"
            )
        return self._replace(data=self.data[..., keep], times=self.times[keep])

    def select_channels(self, names: Sequence[str]) -> "Responses":
        """Keep the named channels, in the order given."""
        if self.channels is None:
            raise ValidationError("select_channels needs channel names; these responses have none (channels=None)")
        names = [str(name) for name in names]
        missing = [name for name in names if name not in self.channels]
        if missing:
            raise ValidationError(
                f"channel(s) {missing} not in the responses; available channels: {self.channels}"
            )
        index = [self.channels.index(name) for name in names]
        return self._replace(data=self.data[:, :, index], channels=names)

    def select_roi(self, name: str) -> "Responses":
        """Keep the voxels of region ``name``; the result has one region of that name."""
        return self.select_rois([name])

    def select_rois(self, names: Sequence[str]) -> "Responses":
        """Keep the voxels of the named regions (their union, in voxel order) and only these regions."""
        if not self.rois:
            raise ValidationError("select_rois needs rois; these responses have none (rois=None)")
        missing = [name for name in names if name not in self.rois]
        if missing:
            raise ValidationError(f"roi(s) {missing} not in the responses; available rois: {sorted(self.rois)}")
        voxels = np.unique(np.concatenate([self.rois[name] for name in names]))
        rois = {name: np.searchsorted(voxels, self.rois[name]) for name in names}
        return self._replace(data=self.data[:, :, voxels], rois=rois)

    def subset(self, stimulus_ids: Sequence[str]) -> "Responses":
        """Rows for ``stimulus_ids``, in that order."""
        index = self._indices(stimulus_ids)
        return self._replace(data=self.data[index], stimulus_ids=[self.stimulus_ids[i] for i in index])

    def _indices(self, stimulus_ids: Sequence[str]) -> list[int]:
        position = {sid: i for i, sid in enumerate(self.stimulus_ids)}
        wanted = [str(sid) for sid in stimulus_ids]
        missing = [sid for sid in wanted if sid not in position]
        if missing:
            raise ValidationError(
                f"{len(missing)} stimulus id(s) have no responses (first: {missing[:5]}); "
                f"use ids from responses.stimulus_ids"
            )
        return [position[sid] for sid in wanted]

    def match_stimuli(self, stimuli: Stimuli | Sequence[str]) -> "Responses":
        """Reorder to ``stimuli.ids`` (a Stimuli or a list of ids); every id must be on both sides.

        Raises when a response has no image or an image has no response, naming a few of them.
        """
        from brainalign.data.stimuli import Stimuli

        ids = [str(sid) for sid in (stimuli.ids if isinstance(stimuli, Stimuli) else stimuli)]
        known = set(ids)
        without_image = [sid for sid in self.stimulus_ids if sid not in known]
        if without_image:
            raise ValidationError(
                f"{len(without_image)} stimulus id(s) in the responses have no image in the stimuli "
                f"(first: {without_image[:5]}); add the images or drop them with responses.subset(...)"
            )
        return self.subset(ids)

    # ------------------------------------------------------------ numerics
    def flatten(self) -> np.ndarray:
        """``(n_stimuli, n_features)`` float array; repetitions are averaged first (NaN-aware)."""
        averaged = self.average_repetitions() if self.n_repetitions > 1 or self.allow_nan else self
        return averaged.data.reshape(self.n_stimuli, -1)

    # ------------------------------------------------------------------ I/O
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one ``.npz`` (no pickle) holding the array and all metadata; atomic. Returns the path."""
        meta = {
            "format": _FORMAT, "modality": self.modality, "subject": self.subject,
            "sfreq": self.sfreq, "allow_nan": self.allow_nan, "info": self.info,
            "roi_names": None if self.rois is None else list(self.rois),
        }
        arrays: dict[str, Any] = {
            "data": self.data,
            "stimulus_ids": np.array(self.stimulus_ids, dtype=str),
            "meta": np.array(json.dumps(meta, default=json_default)),
        }
        if self.channels is not None:
            arrays["channels"] = np.array(self.channels, dtype=str)
        if self.times is not None:
            arrays["times"] = self.times
        for i, voxels in enumerate((self.rois or {}).values()):
            arrays[f"roi_{i}"] = voxels
        target = Path(path)
        if target.suffix != ".npz":
            raise ValidationError(f"Responses.save: {target} must end in .npz")
        return atomic_write_with(target, lambda temp: np.savez_compressed(temp, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Responses":
        """Read a file written by :meth:`save` (never unpickles)."""
        layout, data = _read_file(Path(path), with_data=True)
        try:
            return cls(
                data=data, stimulus_ids=layout.stimulus_ids, modality=layout.modality, subject=layout.subject,
                channels=layout.channels, times=layout.times, sfreq=layout.sfreq, rois=layout.rois,
                allow_nan=layout.allow_nan, info=layout.info,
            )
        except ValidationError as error:
            raise DataFormatError(f"responses file {path} holds invalid responses ({error}); fix the file: "
                                  f"{_RECREATE}") from None


@dataclass(frozen=True)
class ResponsesLayout:
    """What a Responses file holds, read without decompressing its data array (cheap checks before work).

    ``shape`` is the data array's ``(n_stimuli, n_repetitions, *feature_shape)``; the other fields are
    those of :class:`Responses`.
    """

    path: Path
    shape: tuple[int, ...]
    stimulus_ids: list[str]
    modality: str
    subject: str
    channels: list[str] | None
    times: np.ndarray | None
    sfreq: float | None
    rois: dict[str, np.ndarray] | None
    allow_nan: bool
    info: dict[str, Any]

    @property
    def n_stimuli(self) -> int:
        return self.shape[0]

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[2:])


def read_layout(path: str | os.PathLike[str]) -> ResponsesLayout:
    """The :class:`ResponsesLayout` of a file written by :meth:`Responses.save` (ids, axes, shape; no data)."""
    return _read_file(Path(path), with_data=False)[0]


_RECREATE = ("re-create it with brainalign (convert-things-eeg2, convert-kamitani, simulate) or "
             "Responses(...).save in Python")
_META_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": str, "modality": str, "subject": str, "sfreq": (int, float, type(None)), "allow_nan": bool,
    "info": dict, "roi_names": (list, type(None)),
}


def _read_file(source: Path, with_data: bool) -> tuple[ResponsesLayout, np.ndarray | None]:
    """Every array of a Responses ``.npz`` but ``data`` (read only when ``with_data``) and its shape."""
    existing_file(source, "responses file")
    with reading(source, "responses file", _RECREATE), np.load(source, allow_pickle=False) as archive:
        if "meta" not in archive.files or "data" not in archive.files or "stimulus_ids" not in archive.files:
            raise DataFormatError(
                f"responses file {source} lacks the arrays data/stimulus_ids/meta of a Responses file "
                f"(it has {sorted(archive.files)[:8]}); {_RECREATE}"
            )
        arrays = {key: archive[key] for key in archive.files if key != "data"}
        data = archive["data"] if with_data else None
        shape, dtype = (data.shape, data.dtype) if data is not None else _stored_header(archive.zip, "data.npy")
    numeric_dtype(dtype, f"responses file {source}: array 'data'", _RECREATE)
    meta = _meta(source, arrays["meta"])
    roi_names = meta["roi_names"]
    missing = [f"roi_{i}" for i in range(len(roi_names or [])) if f"roi_{i}" not in arrays]
    if missing or arrays["stimulus_ids"].ndim != 1:
        problem = f"lacks the arrays {missing}" if missing else "has stimulus_ids that are not a list"
        raise DataFormatError(f"responses file {source} {problem}; {_RECREATE}")
    layout = ResponsesLayout(
        path=source, shape=tuple(int(n) for n in shape), stimulus_ids=[str(i) for i in arrays["stimulus_ids"].tolist()],
        modality=meta["modality"], subject=meta["subject"],
        channels=arrays["channels"].tolist() if "channels" in arrays else None, times=arrays.get("times"),
        sfreq=meta["sfreq"], rois=None if roi_names is None else {str(name): arrays[f"roi_{i}"] for i, name in enumerate(roi_names)},
        allow_nan=meta["allow_nan"], info=meta["info"],
    )
    return layout, data


def _meta(source: Path, stored: np.ndarray) -> dict[str, Any]:
    """The checked ``meta`` record of a Responses file (a JSON string array)."""
    where = f"responses file {source}: array 'meta'"
    if stored.dtype.kind != "U" or stored.ndim != 0:
        raise DataFormatError(f"{where} is not a JSON string (dtype {stored.dtype}); {_RECREATE}")
    meta = json_object(str(stored), where, _RECREATE)
    if meta.get("format") != _FORMAT:
        raise DataFormatError(f"{source} has format {meta.get('format')!r}, expected {_FORMAT!r}; {_RECREATE}")
    required_fields(meta, _META_FIELDS, where, _RECREATE)
    return meta


def _stored_header(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype of the ``.npy`` ``member`` of a zip archive, from its header (nothing else is
    decompressed)."""
    with archive.open(member) as handle:
        return npy_header(handle)


def time_window(times: np.ndarray, start: float, stop: float) -> np.ndarray:
    """Boolean mask of the samples with ``start <= t < stop`` (seconds; a time within 1 ns of an edge
    counts as on it, so float error in stored times does not move a sample across the edge)."""
    return (times >= start - 1e-9) & (times < stop - 1e-9)


def is_responses_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is an ``.npz`` whose ``meta`` says it was written by :meth:`Responses.save`
    (only ``meta`` is read; a damaged Responses file is still one, and :meth:`Responses.load` says what
    is wrong with it)."""
    try:
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)  # a .npy is mapped, not read
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return False
        with loaded as archive:
            meta = json.loads(str(archive["meta"])) if "meta" in archive.files else None
    except READ_ERRORS:
        return False
    return isinstance(meta, dict) and meta.get("format") == _FORMAT


# ---------------------------------------------------------------- validation
def _check_data(data: Any, allow_nan: bool) -> np.ndarray:
    if hasattr(data, "detach"):  # torch tensor
        data = data.detach().cpu().numpy()
    array = np.asarray(data)
    if array.dtype.kind not in "fiub":
        raise ValidationError(f"data has dtype {array.dtype}; pass a numeric array")
    if array.ndim < 3:
        raise ValidationError(
            f"data has shape {array.shape}; expected (n_stimuli, n_repetitions, *feature_shape) with at "
            f"least 3 axes (add a repetition axis with data[:, None] for averaged responses)"
        )
    if array.shape[0] == 0 or array.shape[1] == 0 or 0 in array.shape[2:]:
        raise ValidationError(f"data has an empty axis (shape {array.shape}); every axis needs at least one entry")
    if array.dtype.kind != "f":
        array = array.astype(np.float32)
    if np.isinf(array).any():
        raise ValidationError("data contains inf; replace or drop those values")
    if not allow_nan and np.isnan(array).any():
        where = np.argwhere(np.isnan(array))[0].tolist()
        raise ValidationError(
            f"data contains NaN (first at index {where}); drop those stimuli, or pass allow_nan=True if "
            f"NaN marks missing repetitions"
        )
    return array


def _check_ids(stimulus_ids: Sequence[str], n_stimuli: int) -> list[str]:
    ids = [str(sid) for sid in stimulus_ids]
    if len(ids) != n_stimuli:
        raise ValidationError(
            f"stimulus_ids has {len(ids)} entries but data has {n_stimuli} stimuli (axis 0); give one id per row"
        )
    if len(set(ids)) != len(ids):
        duplicates = sorted(sid for sid, count in Counter(ids).items() if count > 1)
        raise ValidationError(
            f"stimulus_ids are not unique (duplicated: {duplicates[:5]}); average or rename repeated stimuli"
        )
    return ids


def _check_channels(channels: Sequence[str], data: np.ndarray) -> list[str]:
    names = [str(name) for name in channels]
    if data.ndim != 4 or len(names) != data.shape[2]:
        raise ValidationError(
            f"channels has {len(names)} names but data has shape {data.shape}; EEG data must be "
            f"(n_stimuli, n_repetitions, n_channels, n_times) with one name per channel"
        )
    if len(set(names)) != len(names):
        raise ValidationError(f"channels are not unique: {names}")
    return names


def _check_times(times: Any, data: np.ndarray) -> np.ndarray:
    values = np.asarray(times, dtype=np.float64).ravel()
    if len(values) != data.shape[-1]:
        raise ValidationError(
            f"times has {len(values)} entries but the last data axis has {data.shape[-1]}; give one time "
            f"(seconds) per sample"
        )
    if not np.all(np.isfinite(values)) or np.any(np.diff(values) <= 0):
        raise ValidationError("times must be finite and strictly increasing (seconds)")
    return values


def _check_rois(rois: Mapping[str, Any], data: np.ndarray) -> dict[str, np.ndarray]:
    if data.ndim != 3:
        raise ValidationError(
            f"rois need data shaped (n_stimuli, n_repetitions, n_voxels); got {data.shape}"
        )
    checked = {}
    for name, voxels in rois.items():
        index = np.asarray(voxels)
        if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu":
            raise ValidationError(f"rois[{name!r}] must be a non-empty 1-D integer array of voxel indices")
        if index.min() < 0 or index.max() >= data.shape[2]:
            raise ValidationError(
                f"rois[{name!r}] has voxel indices outside 0..{data.shape[2] - 1} (the voxel axis of data)"
            )
        checked[str(name)] = index.astype(np.int64)
    return checked


def _check_modality_layout(responses: Responses) -> None:
    if responses.modality == "eeg" and (responses.channels is None or responses.times is None):
        raise ValidationError(
            "EEG responses need channels (names of axis 2) and times (seconds, axis 3); pass both"
        )
    if responses.modality == "fmri" and len(responses.feature_shape) != 1:
        raise ValidationError(
            f"fMRI responses must be (n_stimuli, n_repetitions, n_voxels); got feature_shape {responses.feature_shape}"
        )
