"""RDM stacks and their computation from features.

An :class:`RDMs` object holds ``dissimilarities`` of shape ``(n_rdms, n_pairs)``: the upper
triangles (diagonal excluded) of square RDMs in scipy ``squareform`` order (row-major:
``(0,1), (0,2), ..., (0,n-1), (1,2), ...``), the ordered ``stimulus_ids`` that index rows/columns,
and ``descriptors``: a pandas DataFrame with one row per RDM (columns such as ``layer``, ``time``,
``roi``, ``subject``, ``model``; any columns are allowed).
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.errors import DataFormatError, ValidationError
from brainalign.runs import atomic_path

METRICS = ("correlation", "euclidean", "sqeuclidean", "cosine")
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


def _descriptor_frame(descriptors: Any, n_rdms: int) -> pd.DataFrame:
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
        self.descriptors = _descriptor_frame(self.descriptors, values.shape[0])

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


def compute_rdms(
    features: Any,
    metric: str = "correlation",
    descriptors: Any = None,
    stimulus_ids: Sequence[str] | None = None,
    device: str = "cpu",
    dtype: Any = None,
    chunk_features: int | None = None,
) -> RDMs:
    """RDMs from features.

    features: ``(n_stimuli, n_features)`` array/tensor, or a dict ``{name: (n_stimuli, ...)}`` (one
    RDM per entry, trailing axes flattened; the name goes in descriptor column ``layer``), or a
    stack ``(n_rdms, n_stimuli, n_features)``.
    metric: ``"correlation"`` (1 - Pearson r, the papers' choice), ``"euclidean"`` (plain L2 distance;
    note rsatoolbox's "euclidean" is the squared distance divided by n_features), ``"sqeuclidean"``
    or ``"cosine"`` (1 - cosine similarity).
    descriptors: one dict per RDM (merged over the ``layer`` column for dict input).
    dtype: torch dtype of the matrix products (default float32); accumulation across feature
    chunks is float64, and the data are shifted by their float64 row means before the products
    (compensated two-pass centring), so float32 results agree with float64 to ~1e-6 even at
    200,000 features. Memory: ``O(n_stimuli * chunk_features + n_stimuli**2)``; chunk_features
    defaults to about 2**24 values per chunk.
    """
    if metric not in METRICS:
        raise ValidationError(f"metric: {metric!r} is not one of {METRICS}")
    if isinstance(features, Mapping):
        names = list(features)
        blocks = [features[name] for name in names]
        extra = _descriptor_frame(descriptors, len(names))
        frame = pd.concat([pd.DataFrame({"layer": names}), extra.drop(columns="layer", errors="ignore")], axis=1)
    else:
        ndim = features.ndim
        blocks = list(features) if ndim == 3 else [features]
        frame = _descriptor_frame(descriptors, len(blocks))
    rows = [gram_dissimilarities(block, metric, device=device, dtype=dtype, chunk_features=chunk_features)
            for block in blocks]
    n = {r.shape[0] for r in rows}
    if len(n) != 1:
        raise ValidationError(f"features: entries have different numbers of stimuli {sorted(n)}; use the same stimuli")
    return RDMs(np.stack(rows), list(stimulus_ids) if stimulus_ids is not None else [], frame)


def gram_dissimilarities(
    features: Any,
    metric: str = "correlation",
    device: str = "cpu",
    dtype: Any = None,
    chunk_features: int | None = None,
) -> np.ndarray:
    """Condensed dissimilarities ``(n_pairs,)`` float64 of one feature matrix ``(n_stimuli, ...)``.

    ``chunk_features`` defaults to about 2**24 values per chunk (64 MB in float32)."""
    import torch

    dtype = torch.float32 if dtype is None else dtype
    if not torch.is_tensor(features):
        features = np.asarray(features)
    n = features.shape[0]
    data = features.reshape(n, -1)
    n_features = data.shape[1]
    if n < 2 or n_features < 1:
        raise ValidationError(f"features: need >= 2 stimuli and >= 1 feature, got shape {tuple(features.shape)}")
    chunk_features = chunk_features or max(1024, (1 << 24) // n)

    def as_tensor(block: Any) -> Any:
        if torch.is_tensor(block):
            return block.to(device=device, dtype=dtype)
        with warnings.catch_warnings():  # read-only memmaps: the block is only read, never written
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(np.asarray(block)).to(device=device, dtype=dtype)

    if metric in ("euclidean", "sqeuclidean"):
        # distances are translation invariant: centre each feature across stimuli (exact shift).
        gram = torch.zeros((n, n), dtype=torch.float64, device=device)
        for start in range(0, n_features, chunk_features):
            block = as_tensor(data[:, start:start + chunk_features])
            block = block - block.mean(dim=0, dtype=torch.float64).to(dtype)
            gram += (block @ block.T).to(torch.float64)
        diag = torch.diagonal(gram)
        squared = torch.clamp(diag[:, None] + diag[None, :] - 2 * gram, min=0)
        return _condensed(squared if metric == "sqeuclidean" else torch.sqrt(squared))
    # Shift s = row means estimated from 16 evenly spaced windows of <= 256 features (any s works:
    # it is compensated exactly below; it only has to remove the bulk of the offset so that the
    # products of Y = X - s 1^T do not cancel). One pass: each chunk of Y is written into a reused
    # buffer whose extra last row is all ones, so one GEMM gives Y Y^T and the row sums Y 1
    # together; the chunk products are accumulated in float64.
    window = min(256, n_features)
    starts = np.linspace(0, n_features - window, num=min(16, n_features), dtype=int)
    shift = torch.cat([as_tensor(data[:, a:a + window]) for a in np.unique(starts)], dim=1)
    shift = shift.to(torch.float64).mean(dim=1).to(dtype)
    shift_used = shift.to(torch.float64)
    augmented = torch.zeros((n + 1, n + 1), dtype=torch.float64, device=device)
    buffer = torch.empty((n + 1, min(chunk_features, n_features)), dtype=dtype, device=device)
    buffer[n] = 1.0
    for start in range(0, n_features, chunk_features):
        block = as_tensor(data[:, start:start + chunk_features])
        rows = buffer[:, : block.shape[1]]
        torch.sub(block, shift[:, None], out=rows[:n])
        augmented += (rows @ rows.T).to(torch.float64)
    gram, residual_sum = augmented[:n, :n], augmented[:n, n]
    if not torch.isfinite(gram).all():
        raise ValidationError("features: contain NaN or inf; remove or impute them before computing RDMs")
    if metric == "cosine":
        # X X^T = Y Y^T + s (Y1)^T + (Y1) s^T + F s s^T
        raw = (gram + torch.outer(shift_used, residual_sum) + torch.outer(residual_sum, shift_used)
               + n_features * torch.outer(shift_used, shift_used))
        norms = torch.sqrt(torch.clamp(torch.diagonal(raw), min=0))
        _check_nonzero(norms, "cosine", "all-zero feature rows")
        return _condensed(1.0 - raw / torch.outer(norms, norms))
    # centred Gram: Z Z^T = Y Y^T - F d d^T with d = Y 1 / F (the small residual mean after the shift)
    residual_mean = residual_sum / n_features
    centred = gram - n_features * torch.outer(residual_mean, residual_mean)
    norms = torch.sqrt(torch.clamp(torch.diagonal(centred), min=0))
    _check_nonzero(norms, "correlation", "constant feature rows (zero variance)")
    return _condensed(1.0 - centred / torch.outer(norms, norms))


def _condensed(square: Any) -> np.ndarray:
    """Upper triangle (squareform order) of a square torch matrix, as float64 numpy."""
    import torch

    n = square.shape[0]
    rows, cols = torch.triu_indices(n, n, offset=1, device=square.device)
    return square[rows, cols].cpu().numpy().astype(np.float64)


def _check_nonzero(norms: Any, metric: str, what: str) -> None:
    bad = (norms <= 0).nonzero().flatten().tolist()
    if bad:
        raise ValidationError(
            f"features: {metric} distance is undefined for {what} at stimulus rows {bad[:5]}; "
            f"drop those stimuli or use metric='euclidean'"
        )
