"""The RDMs data type and its files: a stack of representational dissimilarity matrices on one ordered
stimulus set.

An :class:`RDMs` object holds ``dissimilarities`` of shape ``(n_rdms, n_pairs)``: the upper
triangles (diagonal excluded) of square RDMs in scipy ``squareform`` order (row-major:
``(0,1), (0,2), ..., (0,n-1), (1,2), ...``), the ordered ``stimulus_ids`` that index rows/columns,
``descriptors``: a pandas DataFrame with one row per RDM (columns such as ``layer``, ``time``,
``roi``, ``subject``, ``model``; any columns are allowed), the ``dissimilarity_measure`` they hold
(``"correlation"``, ``"decoding_accuracy"``, ...; None when unknown) and ``stimulus_descriptors``, one
row per stimulus (e.g. ``concept``), as rsatoolbox's ``dissimilarity_measure`` and ``pattern_descriptors``,
and the :class:`~brainalign.provenance.Provenance` of the model RDMs computed from features (None otherwise).
Computing RDMs from features lives in :mod:`brainalign.measure.rsa.rdm`.

:meth:`RDMs.load` is the one reader of every supported RDM file:

- ``.npz`` written by :meth:`RDMs.save` (everything above round-trips);
- ``.npy``: ``(n, n)``, ``(..., n, n)`` (leading axes flattened in C order) or condensed upper
  triangles ``(n_pairs,)`` / ``(n_rdms, n_pairs)`` (``scipy.spatial.distance.squareform`` order);
- other ``.npz``: ``key`` selects one array; by default every numeric array shaped ``(..., n, n)`` is
  taken. Names come from a string array ``<key>_names`` or ``<first word of key>_names`` (e.g.
  ``model_rdms`` + ``model_names``), else ``key`` / ``key[i]``;
- ``.mat``: rsatoolbox-MATLAB struct arrays with fields ``RDM`` and ``name`` (e.g. Kriegeskorte
  2008 ``92_brainRDMs.mat``), or numeric variables ``(n, n)`` / ``(n, n, n_rdms)`` (MATLAB stacks
  on the last axis) / condensed vectors.

Plain arrays carry no stimulus ids (they are ``"0"..."n-1"``) nor a measure; their names go in the
descriptor column ``name``. Names in the RSA toolbox's MATLAB form ``<roi> | <subject> | Session: <k>``
(``hIT | BE | Session: 1``) also give the columns ``roi``, ``subject`` and ``session``, so the 92-image
file's 8 RDMs are 4 subjects (the unit of ``brainalign rsa``) with 2 sessions each.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from brainalign.errors import DataFormatError, ValidationError
from brainalign.inputs import about, existing_file, json_object, load_array, reading, required_fields
from brainalign.provenance import Provenance
from brainalign.runs import atomic_path

Descriptors = Union[pd.DataFrame, Mapping[str, Any], Sequence[Mapping[str, Any]], None]
"""One descriptor row per RDM (or stimulus): a DataFrame, a dict of columns (scalars broadcast), or a list of dicts."""
RDMsOrArray = Union["RDMs", np.ndarray]
"""RDMs, or condensed upper triangles ``(n_rdms, n_pairs)`` / ``(n_pairs,)`` on the same stimuli in the same order."""

_FORMAT = "brainalign.RDMs"
_FORMAT_VERSION = 2  # 2 adds dissimilarity_measure and stimulus_descriptors; version 1 files still load


def n_stimuli_from_pairs(n_pairs: int) -> int:
    """Number of stimuli ``n`` with ``n * (n - 1) / 2 == n_pairs``; raises if there is none."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs:
        raise ValidationError(
            f"dissimilarities: {n_pairs} values per RDM is not n*(n-1)/2 for any n; pass condensed "
            f"upper triangles (scipy squareform order) or square matrices via RDMs.from_matrices"
        )
    return n


def descriptor_frame(descriptors: Descriptors, n_rows: int, what: str = "RDM") -> pd.DataFrame:
    """One descriptor row per RDM (or per ``what``) from None, a DataFrame, a list of dicts, or a dict
    (scalars are broadcast to every row, lists give one value per row)."""
    if descriptors is None or (isinstance(descriptors, pd.DataFrame) and descriptors.shape[1] == 0):
        return pd.DataFrame(index=range(n_rows))
    try:
        if isinstance(descriptors, Mapping):
            frame = pd.DataFrame(dict(descriptors), index=range(n_rows))
        else:
            frame = pd.DataFrame(descriptors).reset_index(drop=True)
    except ValueError as error:
        raise ValidationError(f"descriptors: {error}; pass one value per {what} for every column") from None
    if len(frame) != n_rows:
        raise ValidationError(
            f"descriptors: {len(frame)} rows for {n_rows} {what}s; pass one descriptor row (dict) per {what}"
        )
    return frame


@dataclass
class RDMs:
    """A stack of RDMs on the same stimuli.

    dissimilarities: ``(n_rdms, n_pairs)`` float64, condensed upper triangles (squareform order).
    stimulus_ids: ordered ids of the ``n_stimuli`` rows/columns (``n_pairs = n(n-1)/2``).
    descriptors: DataFrame with one row per RDM (a list of dicts or a dict of columns is accepted).
    dissimilarity_measure: what the values are (``"correlation"`` = 1 - Pearson r, ``"euclidean"``,
    ``"decoding_accuracy"``, ...); None when unknown (e.g. a plain array from a file).
    stimulus_descriptors: DataFrame with one row per stimulus, in ``stimulus_ids`` order.
    provenance: where model RDMs came from (model, weights + sha256, seed, preprocessing, layers, version);
    None for RDMs of responses or files that do not record it.
    """

    dissimilarities: np.ndarray
    stimulus_ids: list[str] = field(default_factory=list)
    descriptors: pd.DataFrame = field(default_factory=pd.DataFrame)
    dissimilarity_measure: str | None = None
    stimulus_descriptors: pd.DataFrame = field(default_factory=pd.DataFrame)
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        values = np.asarray(self.dissimilarities, dtype=np.float64)
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2:
            raise ValidationError(
                f"dissimilarities: expected shape (n_rdms, n_pairs), got {values.shape}; "
                f"use RDMs.from_matrices for square (n_rdms, n, n) arrays"
            )
        if not np.all(np.isfinite(values)):
            raise ValidationError("dissimilarities: contain NaN or inf; remove or impute them first")
        n = n_stimuli_from_pairs(values.shape[1])
        ids = [str(i) for i in (self.stimulus_ids if len(self.stimulus_ids) else range(n))]
        if len(ids) != n:
            raise ValidationError(f"stimulus_ids: {len(ids)} ids for RDMs on {n} stimuli; pass one id per stimulus")
        if len(set(ids)) != n:
            raise ValidationError("stimulus_ids: ids are not unique; every stimulus needs its own id")
        self.dissimilarities = values
        self.stimulus_ids = ids
        self.descriptors = descriptor_frame(self.descriptors, values.shape[0])
        self.stimulus_descriptors = descriptor_frame(self.stimulus_descriptors, n, "stimulus")

    # ---- shape -------------------------------------------------------------------------------
    @property
    def n_rdms(self) -> int:
        return self.dissimilarities.shape[0]

    @property
    def n_pairs(self) -> int:
        return self.dissimilarities.shape[1]

    @property
    def n_stimuli(self) -> int:
        return len(self.stimulus_ids)

    @property
    def has_stimulus_ids(self) -> bool:
        """False when the ids are only positions ``"0".."n-1"`` (RDMs read from a plain array, which says
        nothing about which stimulus is which row)."""
        return self.stimulus_ids != [str(i) for i in range(self.n_stimuli)]

    def __len__(self) -> int:
        return self.n_rdms

    def __repr__(self) -> str:
        columns = ", ".join(map(str, self.descriptors.columns)) or "none"
        return (f"RDMs(n_rdms={self.n_rdms}, n_stimuli={self.n_stimuli}, measure={self.dissimilarity_measure}, "
                f"descriptors=[{columns}])")

    def _with(self, dissimilarities: np.ndarray, stimulus_ids: Sequence[str] | None = None,
              descriptors: Any = None, stimulus_descriptors: Any = None) -> "RDMs":
        """New RDMs keeping this one's measure and provenance (and, unless given, ids and descriptors)."""
        return RDMs(dissimilarities, list(self.stimulus_ids if stimulus_ids is None else stimulus_ids),
                    self.descriptors if descriptors is None else descriptors, self.dissimilarity_measure,
                    self.stimulus_descriptors if stimulus_descriptors is None else stimulus_descriptors,
                    self.provenance)

    # ---- construction / conversion ------------------------------------------------------------
    @classmethod
    def from_matrices(
        cls,
        matrices: np.ndarray,
        stimulus_ids: Sequence[str] | None = None,
        descriptors: Descriptors = None,
        atol: float = 1e-6,
        dissimilarity_measure: str | None = None,
        stimulus_descriptors: Descriptors = None,
    ) -> "RDMs":
        """Build from square RDMs ``(n_rdms, n, n)`` or one ``(n, n)``; checks symmetry (``atol``).

        The diagonal is dropped; a non-zero diagonal is allowed (e.g. decoding RDMs), but not stored.
        """
        square = np.asarray(matrices, dtype=np.float64)
        if square.ndim == 2:
            square = square[None]
        if square.ndim != 3 or square.shape[1] != square.shape[2]:
            raise ValidationError(f"matrices: expected shape (n_rdms, n, n) or (n, n), got {square.shape}")
        if not np.allclose(square, square.transpose(0, 2, 1), atol=atol, equal_nan=True):
            raise ValidationError("matrices: not symmetric; pass dissimilarity matrices with M[i, j] == M[j, i]")
        rows, cols = np.triu_indices(square.shape[1], k=1)
        return cls(square[:, rows, cols], list(stimulus_ids) if stimulus_ids is not None else [], descriptors,
                   dissimilarity_measure, stimulus_descriptors)

    def matrices(self) -> np.ndarray:
        """Square RDMs ``(n_rdms, n_stimuli, n_stimuli)`` with a zero diagonal."""
        n = self.n_stimuli
        rows, cols = np.triu_indices(n, k=1)
        square = np.zeros((self.n_rdms, n, n))
        square[:, rows, cols] = self.dissimilarities
        square[:, cols, rows] = self.dissimilarities
        return square

    # ---- selection ----------------------------------------------------------------------------
    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> "RDMs":
        """Select RDMs by position (int, slice, index list or boolean mask); returns RDMs."""
        positions = np.arange(self.n_rdms)[index]
        positions = np.atleast_1d(positions)
        return self._with(self.dissimilarities[positions], descriptors=self.descriptors.iloc[positions])

    def select(self, **criteria: Any) -> "RDMs":
        """RDMs whose descriptors match every ``column=value`` (a list/tuple/set value matches any member)."""
        mask = np.ones(self.n_rdms, dtype=bool)
        for column, value in criteria.items():
            if column not in self.descriptors.columns:
                raise ValidationError(
                    f"select: no descriptor column {column!r}; available: {list(self.descriptors.columns)}"
                )
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            mask &= self.descriptors[column].isin(values).to_numpy()
        return self[mask]

    def subset_stimuli(self, stimulus_ids: Sequence[str]) -> "RDMs":
        """RDMs restricted to (and reordered by) ``stimulus_ids``."""
        lookup = {sid: i for i, sid in enumerate(self.stimulus_ids)}
        missing = [sid for sid in stimulus_ids if str(sid) not in lookup]
        if missing:
            raise ValidationError(f"stimulus_ids: {missing[:5]} not in these RDMs; pick ids from rdms.stimulus_ids")
        order = np.array([lookup[str(sid)] for sid in stimulus_ids])
        rows, cols = np.triu_indices(len(order), k=1)
        square = self.matrices()[:, order[rows], order[cols]]
        stimulus_descriptors = self.stimulus_descriptors.iloc[order].reset_index(drop=True)
        return self._with(square, [self.stimulus_ids[i] for i in order], stimulus_descriptors=stimulus_descriptors)

    def match_stimuli(self, stimulus_ids: Sequence[str]) -> "RDMs":
        """These RDMs on ``stimulus_ids`` in that order: reordered/subset by id, or, when these RDMs
        carry default ids ("0".."n-1", e.g. from a bare array) and the counts agree, relabelled."""
        ids = [str(i) for i in stimulus_ids]
        if self.stimulus_ids == ids:
            return self
        if set(ids) <= set(self.stimulus_ids):
            return self.subset_stimuli(ids)
        if self.stimulus_ids == [str(i) for i in range(len(ids))]:
            return self._with(self.dissimilarities, ids)
        raise ValidationError(
            f"stimulus_ids: these RDMs' ids (first {self.stimulus_ids[:3]}) do not cover the requested ids "
            f"(first {ids[:3]}); build both on the same stimuli"
        )

    @staticmethod
    def concat(stacks: Iterable["RDMs"]) -> "RDMs":
        """Stack several RDMs objects on the same stimuli (same ids, same order) into one."""
        stacks = list(stacks)
        if not stacks:
            raise ValidationError("concat: no RDMs given; pass at least one RDMs object")
        ids = stacks[0].stimulus_ids
        for other in stacks[1:]:
            if other.stimulus_ids != ids:
                raise ValidationError(
                    "concat: RDMs are on different stimuli or orders; use subset_stimuli(ids) to align them first"
                )
        measures = {s.dissimilarity_measure for s in stacks}
        if len(measures) > 1:
            raise ValidationError(f"concat: RDMs of different dissimilarity measures {sorted(map(str, measures))}; "
                                  "stack RDMs of one measure")
        joined = stacks[0]._with(
            np.concatenate([s.dissimilarities for s in stacks]),
            descriptors=pd.concat([s.descriptors for s in stacks], ignore_index=True),
        )
        if any(s.provenance != joined.provenance for s in stacks):
            joined.provenance = None  # RDMs of several sources: each one's record stays in its own file
        return joined

    # ---- files -----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one ``.npz`` atomically: ``dissimilarities`` plus a JSON string ``meta`` holding
        ``stimulus_ids``, ``descriptors`` and ``stimulus_descriptors`` (records), the
        ``dissimilarity_measure`` and the ``provenance``. Readable with ``np.load(path)`` (no pickle)."""
        target = Path(path)
        meta = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "stimulus_ids": self.stimulus_ids,
            "dissimilarity_measure": self.dissimilarity_measure,
            "provenance": None if self.provenance is None else self.provenance.to_dict(),
            **_frame_meta("descriptors", self.descriptors),
            **_frame_meta("stimulus_descriptors", self.stimulus_descriptors),
        }
        with atomic_path(target, suffix=".npz") as temp:
            np.savez(temp, dissimilarities=self.dissimilarities, meta=np.array(json.dumps(meta)))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], key: str | None = None) -> "RDMs":
        """Read any supported RDM file (see the module docstring); ``key`` picks one array/variable of a
        plain ``.npz``/``.mat``. Raises :class:`DataFormatError` / :class:`ValidationError` naming the
        file and what is wrong (not an RDM, not symmetric, a similarity matrix, truncated)."""
        source = existing_file(path, "RDM file")
        suffix = source.suffix.lower()
        readers = {".npy": _read_npy, ".npz": _read_npz, ".mat": _read_mat}
        if suffix not in readers:
            raise DataFormatError(f"RDM file {source} has suffix {suffix!r}; use .npz, .npy or .mat")
        with reading(source, "RDM file", _RECREATE), about(source):
            stacks = readers[suffix](source, key)
        if isinstance(stacks, RDMs):
            return stacks
        if not stacks:
            raise DataFormatError(f"RDM file {source} holds no square matrices or condensed RDMs of numbers"
                                  + (f" under key {key!r}" if key else "")
                                  + "; give RDMs as (n, n) or (n_rdms, n, n) matrices or condensed upper triangles")
        sizes = {matrices.shape[-1] for matrices, _ in stacks}
        if len(sizes) > 1:
            raise DataFormatError(f"{source} holds RDMs of different sizes {sorted(sizes)}; pick one with key=...")
        matrices = np.concatenate([m for m, _ in stacks]).astype(np.float64)
        names = [name for _, stack_names in stacks for name in stack_names]
        _validate(matrices, names, source)
        rows, cols = np.triu_indices(matrices.shape[-1], k=1)
        return cls(matrices[:, rows, cols], descriptors=_name_descriptors(names))


_TOOLBOX_NAME = re.compile(r"^\s*(?P<roi>[^|]+?)\s*\|\s*(?P<subject>[^|]+?)\s*\|\s*Session:\s*(?P<session>\d+)\s*$")


def _name_descriptors(names: list[str]) -> dict[str, list[Any]]:
    """``{"name": names}``, plus ``roi``, ``subject``, ``session`` when every name has the RSA toolbox's
    MATLAB form ``<roi> | <subject> | Session: <k>``."""
    parsed = [_TOOLBOX_NAME.match(name) for name in names]
    if not names or not all(parsed):
        return {"name": names}
    matches = [match for match in parsed if match is not None]
    return {"name": names, "roi": [match["roi"] for match in matches],
            "subject": [match["subject"] for match in matches], "session": [int(match["session"]) for match in matches]}


def is_rdms_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is an RDMs file written by :meth:`RDMs.save` (read without loading the RDMs)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"])) if "meta" in archive.files else None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError, AttributeError):
        return False
    return isinstance(meta, dict) and meta.get("format") == _FORMAT


def _frame_meta(name: str, frame: pd.DataFrame) -> dict[str, Any]:
    """A descriptor frame as JSON records plus its column order."""
    return {name: json.loads(frame.to_json(orient="records")), f"{name}_columns": [str(c) for c in frame.columns]}


def _frame(meta: dict[str, Any], name: str) -> pd.DataFrame | None:
    frame = pd.DataFrame(meta.get(name, []), columns=meta.get(f"{name}_columns"))
    return frame if len(frame) else None


def _saved_rdms(path: Path, archive: Mapping[str, np.ndarray]) -> RDMs:
    """The RDMs of a file written by :meth:`RDMs.save` (format version 1 or 2)."""
    meta = json_object(str(archive["meta"]), f"RDM file {path}: array 'meta'", _RECREATE)
    if meta.get("format") != _FORMAT or "dissimilarities" not in archive:
        raise DataFormatError(
            f"{path} is not an RDMs file (format {meta.get('format')!r}); compute RDMs from responses with "
            "`brainalign rdm` (brainalign.measure.neural_rdms), or re-create the file with RDMs.save"
        )
    required_fields(meta, {"stimulus_ids": list}, f"RDM file {path}: array 'meta'", _RECREATE)
    record = meta.get("provenance")
    return RDMs(archive["dissimilarities"], meta["stimulus_ids"], _frame(meta, "descriptors"),
                meta.get("dissimilarity_measure"), _frame(meta, "stimulus_descriptors"),
                None if record is None else Provenance.from_dict(record, str(path)))


_RECREATE = "re-create or download it again"


def _as_stack(array: np.ndarray, name: str, names: Any = None, matlab: bool = False) -> tuple[np.ndarray, list[str]] | None:
    """Square stack ``(k, n, n)`` and names from a numeric array, or None if it is not an RDM array."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiu" or array.size < 1:
        return None
    if array.ndim >= 2 and array.shape[-1] == array.shape[-2] and array.shape[-1] > 1:
        stack = array.reshape(-1, *array.shape[-2:])
    elif matlab and array.ndim == 3 and array.shape[0] == array.shape[1]:
        stack = np.moveaxis(array, -1, 0)
    elif array.ndim in (1, 2) and _condensed_size(array.shape[-1]):
        from scipy.spatial.distance import squareform

        stack = np.stack([squareform(row, checks=False) for row in np.atleast_2d(array)])
    else:
        return None
    if names is not None and np.asarray(names).size == len(stack):
        labels = [str(n) for n in np.asarray(names).reshape(-1)]
    else:
        labels = [name] if len(stack) == 1 else [f"{name}[{i}]" for i in range(len(stack))]
    return stack, labels


def _condensed_size(n_pairs: int) -> int:
    """n with n(n-1)/2 == n_pairs (n >= 3), else 0."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    return n if n >= 3 and n * (n - 1) // 2 == n_pairs else 0


Stacks = list[tuple[np.ndarray, list[str]]]


def _read_npy(path: Path, key: str | None) -> Stacks:
    stack = _as_stack(load_array(path, "RDM file", _RECREATE), path.stem)
    return [stack] if stack else []


def _read_npz(path: Path, key: str | None) -> Stacks | RDMs:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if "meta" in arrays and key is None:  # a brainalign file: RDMs, or another type said by name
        return _saved_rdms(path, arrays)
    if key is not None and key not in arrays:
        raise DataFormatError(f"{path} has no array {key!r}; arrays: {sorted(arrays)}")
    stacks = []
    for name in [key] if key else list(arrays):
        names = arrays.get(f"{name}_names", arrays.get(f"{name.split('_')[0]}_names"))
        stack = _as_stack(arrays[name], name, names)
        if stack:
            stacks.append(stack)
    return stacks


def _read_mat(path: Path, key: str | None) -> Stacks:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        content = loadmat(path, squeeze_me=True, struct_as_record=False)
    # what scipy's reader raises on damaged files (found by fuzzing it): beside its own error, index, name
    # (UnboundLocalError) and arithmetic (ZeroDivisionError) errors from inside the parser
    except (MatReadError, TypeError, NotImplementedError, IndexError, NameError, ArithmeticError) as error:
        raise DataFormatError(f"{path} is not a readable MATLAB file ({error})") from None
    variables = {name: value for name, value in content.items() if not name.startswith("__")}
    if key is not None and key not in variables:
        raise DataFormatError(f"{path} has no variable {key!r}; variables: {sorted(variables)}")
    stacks = []
    for name in [key] if key else list(variables):
        value = variables[name]
        structs = [item for item in np.atleast_1d(value).ravel() if hasattr(item, "_fieldnames")]
        if structs and all("RDM" in item._fieldnames for item in structs):
            matrices = np.stack([np.asarray(item.RDM, dtype=np.float64) for item in structs])
            labels = [str(getattr(item, "name", f"{name}[{i}]")) for i, item in enumerate(structs)]
            stacks.append((matrices, labels))
        else:
            stack = _as_stack(value, name, matlab=True) if isinstance(value, np.ndarray) else None
            if stack:
                stacks.append(stack)
    return stacks


def _validate(matrices: np.ndarray, names: list[str], source: Path) -> None:
    """Raise unless every matrix is a finite, symmetric RDM with a zero diagonal; zero the diagonal."""
    for matrix, name in zip(matrices, names):
        off_diagonal = matrix[~np.eye(len(matrix), dtype=bool)]
        if not np.all(np.isfinite(off_diagonal)):
            raise ValidationError(f"RDM {name!r} in {source} has NaN/inf dissimilarities; fill or drop those stimuli")
        scale = max(np.abs(off_diagonal).max(), 1e-12)
        if not np.allclose(matrix, matrix.T, atol=1e-5 * scale, equal_nan=True):
            raise ValidationError(f"RDM {name!r} in {source} is not symmetric; is it an RDM (dissimilarities)?")
        diagonal = np.diag(matrix)
        if np.any(np.abs(np.nan_to_num(diagonal)) > 1e-4 * scale):  # float32 rounding leaves ~1e-6
            raise ValidationError(
                f"RDM {name!r} in {source} has a non-zero diagonal; is it a similarity matrix? "
                f"convert with 1 - similarity"
            )
        np.fill_diagonal(matrix, 0.0)
