"""Differentiable (soft-rank) Spearman correlation.

torchsort is not used: it is not installed here (building it pulls a CUDA torch). The soft ranks are
our own pairwise-sigmoid ranks, tested against ``scipy.stats.spearmanr``:

    r_i = 0.5 + sum_j sigmoid((z_i - z_j) / strength)

where ``z`` is the row standardised to mean 0 and standard deviation 1 (so ``strength`` is in units of
the row's standard deviation and the result does not depend on the data's scale). The ``j = i`` term
adds 0.5, so as ``strength -> 0`` each r_i tends to 1 + (#values below z_i) + 0.5 (#other values tied
with z_i): scipy's 1-based average-tie ranks. Every rank depends smoothly on every value, so the
gradient is non-zero (a hard rank has zero gradient almost everywhere and silently disables a loss).
Memory is O(d^2) per row; rows are processed in chunks of at most ``_CHUNK_ELEMENTS`` pair terms.
"""
from __future__ import annotations

import torch

from brainalign.errors import ValidationError

DEFAULT_STRENGTH = 0.1
_CHUNK_ELEMENTS = 2**24  # pair terms per chunk (64 MB in float32)


def soft_rank(values: torch.Tensor, strength: float = DEFAULT_STRENGTH) -> torch.Tensor:
    """Soft 1-based ranks of each row: ``values (n, d) -> (n, d)``; exact average ranks as strength -> 0."""
    _check_strength(strength)
    standardised = _standardise(values)
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // max(1, standardised.shape[-1] ** 2))
    chunks = [
        0.5 + torch.sigmoid((chunk[:, :, None] - chunk[:, None, :]) / strength).sum(dim=-1)
        for chunk in standardised.split(rows_per_chunk, dim=0)
    ]
    return torch.cat(chunks, dim=0) if chunks else standardised


def soft_spearman(x: torch.Tensor, y: torch.Tensor, strength: float = DEFAULT_STRENGTH) -> torch.Tensor:
    """Soft-rank Spearman correlation of every row of ``x (n, d)`` with every row of ``y (m, d)`` -> ``(n, m)``.

    Differentiable in both arguments; converges to ``scipy.stats.spearmanr`` as ``strength -> 0``.
    The ``n x m`` correlations are one matrix product of the standardised soft ranks.
    """
    _check_pair(x, y)
    return pearson_matrix(_soft_rank_tracked(x, strength), _soft_rank_tracked(y, strength))


def _soft_rank_tracked(values: torch.Tensor, strength: float) -> torch.Tensor:
    """Soft ranks, keeping the (n, d, d) autograd buffers only when ``values`` needs a gradient."""
    with torch.set_grad_enabled(torch.is_grad_enabled() and values.requires_grad):
        return soft_rank(values, strength)


def pearson_matrix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every row of ``x (n, d)`` with every row of ``y (m, d)`` -> ``(n, m)``."""
    _check_pair(x, y)
    d = x.shape[-1]
    return _standardise(x) @ _standardise(y).T / d


def _standardise(values: torch.Tensor) -> torch.Tensor:
    """Rows to mean 0, (population) standard deviation 1; a constant row becomes all zeros."""
    centred = values - values.mean(dim=-1, keepdim=True)
    scale = centred.pow(2).mean(dim=-1, keepdim=True).add(1e-12).sqrt()
    return centred / scale


def _check_strength(strength: float) -> None:
    if not strength > 0:
        raise ValidationError(f"strength must be > 0 (soft-rank temperature in row-std units), got {strength}")


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValidationError(
            f"x and y must be 2-D with the same number of columns, got shapes {tuple(x.shape)} and "
            f"{tuple(y.shape)}; pass predictions (n, d) and targets (m, d)"
        )
    if x.shape[1] < 2:
        raise ValidationError(f"correlations need at least 2 values per row, got {x.shape[1]}")
