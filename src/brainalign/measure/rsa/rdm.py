"""RDMs from features: correlation / cosine / euclidean dissimilarities as chunked Gram products."""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from brainalign.data.rdms import RDMs, descriptor_frame
from brainalign.errors import ValidationError

METRICS = ("correlation", "euclidean", "sqeuclidean", "cosine")


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
        extra = descriptor_frame(descriptors, len(names))
        frame = pd.concat([pd.DataFrame({"layer": names}), extra.drop(columns="layer", errors="ignore")], axis=1)
    else:
        ndim = features.ndim
        blocks = list(features) if ndim == 3 else [features]
        frame = descriptor_frame(descriptors, len(blocks))
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
