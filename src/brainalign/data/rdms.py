"""The RDMs data type: a stack of representational dissimilarity matrices on one ordered stimulus set.

An :class:`RDMs` object holds ``dissimilarities`` of shape ``(n_rdms, n_pairs)``: the upper
triangles (diagonal excluded) of square RDMs in scipy ``squareform`` order (row-major:
``(0,1), (0,2), ..., (0,n-1), (1,2), ...``), the ordered ``stimulus_ids`` that index rows/columns,
and ``descriptors``: a pandas DataFrame with one row per RDM (columns such as ``layer``, ``time``,
``roi``, ``subject``, ``model``; any columns are allowed). Computing RDMs from features lives in
:mod:`brainalign.measure.rsa.rdm`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.errors import DataFormatError, ValidationError
from brainalign.runs import atomic_path

_FORMAT_VERSION = 1


def n_stimuli_from_pairs(n_pairs: int) -> int:
    """Number of stimuli ``n`` with ``n * (n - 1) / 2 == n_pairs``; raises if there is none."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs:
        raise ValidationError(
            f"dissimilarities: {n_pairs} values per RDM is not n*(n-1)/2 for any n; pass condensed "
            f"upper triangles (scipy squareform order) or square matrices via RDMs.from_matrices"
        )
    return n


def descriptor_frame(descriptors: Any, n_rdms: int) -> pd.DataFrame:
    """One descriptor row per RDM from None, a DataFrame, a list of dicts, or a dict (scalars are
    broadcast to every RDM, lists give one value per RDM)."""
    if descriptors is None or (isinstance(descriptors, pd.DataFrame) and descriptors.shape[1] == 0):
        return pd.DataFrame(index=range(n_rdms))
    try:
        if isinstance(descriptors, Mapping):
            frame = pd.DataFrame(dict(descriptors), index=range(n_rdms))
        else:
            frame = pd.DataFrame(descriptors).reset_index(drop=True)
    except ValueError as error:
        raise ValidationError(f"descriptors: {error}; pass one value per RDM for every column") from None
    if len(frame) != n_rdms:
        raise ValidationError(
            f"descriptors: {len(frame)} rows for {n_rdms} RDMs; pass one descriptor row (dict) per RDM"
        )
    return frame


@dataclass
class RDMs:
    """A stack of RDMs on the same stimuli.

    dissimilarities: ``(n_rdms, n_pairs)`` float64, condensed upper triangles (squareform order).
    stimulus_ids: ordered ids of the ``n_stimuli`` rows/columns (``n_pairs = n(n-1)/2``).
    descriptors: DataFrame with one row per RDM (a list of dicts or a dict of columns is accepted).
    """

    dissimilarities: np.ndarray
    stimulus_ids: list[str] = field(default_factory=list)
    descriptors: pd.DataFrame = field(default_factory=pd.DataFrame)

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

    def __len__(self) -> int:
        return self.n_rdms

    def __repr__(self) -> str:
        columns = ", ".join(map(str, self.descriptors.columns)) or "none"
        return f"RDMs(n_rdms={self.n_rdms}, n_stimuli={self.n_stimuli}, descriptors=[{columns}])"

    # ---- construction / conversion ------------------------------------------------------------
    @classmethod
    def from_matrices(
        cls,
        matrices: np.ndarray,
        stimulus_ids: Sequence[str] | None = None,
        descriptors: Any = None,
        atol: float = 1e-6,
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
        return cls(square[:, rows, cols], list(stimulus_ids) if stimulus_ids is not None else [], descriptors)

    def matrices(self) -> np.ndarray:
        """Square RDMs ``(n_rdms, n_stimuli, n_stimuli)`` with a zero diagonal."""
        n = self.n_stimuli
        rows, cols = np.triu_indices(n, k=1)
        square = np.zeros((self.n_rdms, n, n))
        square[:, rows, cols] = self.dissimilarities
        square[:, cols, rows] = self.dissimilarities
        return square

    def to_rsatoolbox(self, dissimilarity_measure: str | None = None) -> Any:
        """Convert to an ``rsatoolbox.rdm.RDMs`` (descriptors become rdm_descriptors, ids a pattern descriptor)."""
        from rsatoolbox.rdm import RDMs as RsaRDMs

        rdm_descriptors = {column: list(self.descriptors[column]) for column in self.descriptors.columns}
        return RsaRDMs(
            self.dissimilarities.copy(),
            dissimilarity_measure=dissimilarity_measure,
            rdm_descriptors=rdm_descriptors or None,
            pattern_descriptors={"stimulus_id": list(self.stimulus_ids)},
        )

    @classmethod
    def from_rsatoolbox(cls, rsa_rdms: Any, id_descriptor: str = "stimulus_id") -> "RDMs":
        """Convert from an ``rsatoolbox.rdm.RDMs``; ids come from pattern descriptor ``id_descriptor``
        (or ``index``, else 0..n-1); rdm_descriptors other than ``index`` become descriptor columns."""
        patterns = rsa_rdms.pattern_descriptors
        ids = patterns.get(id_descriptor, patterns.get("index", range(rsa_rdms.n_cond)))
        descriptors = {k: list(v) for k, v in rsa_rdms.rdm_descriptors.items() if k != "index"}
        frame = pd.DataFrame(descriptors) if descriptors else None
        return cls(np.asarray(rsa_rdms.get_vectors()), [str(i) for i in ids], frame)

    # ---- selection ----------------------------------------------------------------------------
    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> "RDMs":
        """Select RDMs by position (int, slice, index list or boolean mask); returns RDMs."""
        positions = np.arange(self.n_rdms)[index]
        positions = np.atleast_1d(positions)
        return RDMs(self.dissimilarities[positions], self.stimulus_ids, self.descriptors.iloc[positions])

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
        square = self.matrices()[:, order][:, :, order]
        return RDMs.from_matrices(square, [self.stimulus_ids[i] for i in order], self.descriptors)

    def match_stimuli(self, stimulus_ids: Sequence[str]) -> "RDMs":
        """These RDMs on ``stimulus_ids`` in that order: reordered/subset by id, or, when these RDMs
        carry default ids ("0".."n-1", e.g. from a bare array) and the counts agree, relabelled."""
        ids = [str(i) for i in stimulus_ids]
        if self.stimulus_ids == ids:
            return self
        if set(ids) <= set(self.stimulus_ids):
            return self.subset_stimuli(ids)
        if self.stimulus_ids == [str(i) for i in range(len(ids))]:
            return RDMs(self.dissimilarities, ids, self.descriptors)
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
        return RDMs(
            np.concatenate([s.dissimilarities for s in stacks]),
            ids,
            pd.concat([s.descriptors for s in stacks], ignore_index=True),
        )

    # ---- files -----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write one ``.npz`` atomically: ``dissimilarities`` plus a JSON string ``meta`` holding
        ``stimulus_ids`` and ``descriptors`` (records). Readable with ``np.load(path)`` (no pickle)."""
        target = Path(path)
        meta = {
            "format": "brainalign.RDMs",
            "version": _FORMAT_VERSION,
            "stimulus_ids": self.stimulus_ids,
            "descriptors": json.loads(self.descriptors.to_json(orient="records")),
            "descriptor_columns": [str(c) for c in self.descriptors.columns],
        }
        with atomic_path(target, suffix=".npz") as temp:
            np.savez(temp, dissimilarities=self.dissimilarities, meta=np.array(json.dumps(meta)))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "RDMs":
        """Read an ``.npz`` written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                values = archive["dissimilarities"]
                meta = json.loads(str(archive["meta"]))
        except (OSError, KeyError, ValueError) as error:
            raise DataFormatError(
                f"{path}: not an RDMs file written by RDMs.save ({error}); re-create it with RDMs.save"
            ) from None
        frame = pd.DataFrame(meta["descriptors"], columns=meta.get("descriptor_columns"))
        return cls(values, meta["stimulus_ids"], frame if len(frame) else None)
