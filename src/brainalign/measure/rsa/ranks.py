"""Rank machinery shared by the RSA comparisons: average ranks (scipy ``rankdata`` semantics), dense
ranks, tie counts and vectorised inversion counts, all over whole stacks of vectors at once."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=8)
def arange_cached(n: int, dtype: str) -> np.ndarray:
    """Read-only ``np.arange(n)`` (int64) or ``np.arange(1, n + 1)`` (float64: 1-based positions)."""
    values = np.arange(n, dtype=np.int64) if dtype == "index" else np.arange(1.0, n + 1)
    values.flags.writeable = False
    return values


def sorted_order(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``values (n_rows, n)``: the index order that sorts it, and whether the row needs
    exact tie handling.

    One SIMD integer sort per row of keys packing the value's order-preserving bits (truncated) with
    the element index. ``order`` is exact for every row whose ``suspect`` flag is False: there, all
    neighbours differ in the kept bits, so the row is tie-free. Suspect rows (ties or near-ties)
    must be ranked by :func:`rank_rows_exact`.
    """
    n = values.shape[1]
    index_bits = max(1, int(np.ceil(np.log2(max(n, 2)))))
    keys = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    if keys.min() < 0:  # for values >= 0 the bit patterns already sort like the values
        keys ^= (keys >> 63) & np.int64(0x7FFFFFFFFFFFFFFF)  # order-preserving float -> int
    keys &= np.int64(~((1 << index_bits) - 1))
    keys |= arange_cached(n, "index")
    keys.sort(axis=1)
    unsigned = keys.view(np.uint64)
    suspect = ((unsigned[:, 1:] ^ unsigned[:, :-1]) < np.uint64(1 << index_bits)).any(axis=1)
    keys &= np.int64((1 << index_bits) - 1)
    return keys, suspect


def rank_rows(values: np.ndarray, chunk_elements: int = 1 << 17) -> np.ndarray:
    """Average ranks (1-based, ties averaged like ``scipy.stats.rankdata``) along the last axis.

    values: ``(n_rows, n)``. Tie-free rows are ranked from :func:`sorted_order` (a SIMD integer sort
    and a scatter); rows with ties or near-ties by :func:`rank_rows_exact`. Works on blocks of rows
    of about ``chunk_elements`` values so temporaries stay in cache.
    """
    values = np.asarray(values, dtype=np.float64)
    ranks = np.empty(values.shape)
    _scatter_ranks(values, ranks, arange_cached(values.shape[1], "position"), chunk_elements, rank_rows_exact)
    return ranks


def standardised_ranks(values: np.ndarray, out: np.ndarray | None = None, what: str = "rdms",
                       chunk_elements: int = 1 << 17) -> np.ndarray:
    """Average ranks of each row of ``values (n_rows, n)`` centred to mean 0 and scaled to norm 1 (the
    rows whose dot products are Spearman correlations), written into ``out`` (float64, same shape).

    No rank matrix is made: a tie-free row's standardised ranks are a permutation of fixed values,
    scattered straight into ``out``; rows with ties are ranked exactly and standardised. Raises
    :class:`ValidationError` naming ``what`` for constant rows (their correlation is undefined).
    """
    from brainalign.errors import ValidationError

    values = np.asarray(values, dtype=np.float64)
    n = values.shape[1]
    if n < 2:
        raise ValidationError(f"{what}: RDMs of {n} value(s) have no correlation; use RDMs of >= 3 stimuli")
    out = np.empty(values.shape) if out is None else out
    positions = (arange_cached(n, "position") - (n + 1) / 2.0) / np.sqrt(n * (n * n - 1) / 12.0)

    def exact(rows: np.ndarray) -> np.ndarray:
        centred = rank_rows_exact(rows)
        centred -= centred.mean(axis=1, keepdims=True)
        norms = np.sqrt(np.einsum("ij,ij->i", centred, centred))
        if np.any(norms == 0):
            raise ValidationError(f"{what}: constant RDM(s), so correlations are undefined; drop constant RDMs")
        return centred / norms[:, None]

    _scatter_ranks(values, out, positions, chunk_elements, exact)
    return out


def _scatter_ranks(values: np.ndarray, out: np.ndarray, positions: np.ndarray, chunk_elements: int,
                   exact: Any) -> None:
    """Per block of rows: ``positions`` scattered in each tie-free row's sort order into ``out``; rows
    with ties or near-ties replaced by ``exact(rows)``."""
    n_rows, n = values.shape
    step = max(1, chunk_elements // max(n, 1))
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        order, suspect = sorted_order(values[rows])
        block = out[rows]
        np.put(block, order + (np.arange(len(order)) * n)[:, None], positions)  # flat scatter
        if suspect.any():
            block[suspect] = exact(values[rows][suspect] + 0.0)


def rank_rows_exact(values: np.ndarray) -> np.ndarray:
    """Average ranks like ``scipy.stats.rankdata(values, axis=1)``: a stable argsort per row, then
    one vectorised pass over tie groups of the whole stack (groups never span rows)."""
    n_rows, n = values.shape
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    new_group = np.ones((n_rows, n), dtype=bool)
    new_group[:, 1:] = sorted_values[:, 1:] != sorted_values[:, :-1]
    flat_group = np.cumsum(new_group.ravel()) - 1  # group id of each sorted element
    counts = np.bincount(flat_group)
    starts = np.cumsum(counts) - counts  # flat position of each group's first element
    average = starts + (counts - 1) / 2.0
    sorted_ranks = average[flat_group].reshape(n_rows, n) - (np.arange(n_rows) * n)[:, None] + 1.0
    ranks = np.empty((n_rows, n))
    np.put_along_axis(ranks, order, sorted_ranks, axis=1)
    return ranks


def dense_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense integer ranks (0-based, ties share a rank) per row and the number of tied pairs per row."""
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    new_group = np.ones(values.shape, dtype=bool)
    new_group[:, 1:] = sorted_values[:, 1:] != sorted_values[:, :-1]
    dense = np.empty(values.shape, dtype=np.int64)
    np.put_along_axis(dense, order, np.cumsum(new_group, axis=1) - 1, axis=1)
    return dense, tie_pairs(new_group)


def tie_pairs(new_group: np.ndarray) -> np.ndarray:
    """Number of tied pairs per row, sum of t(t-1)/2 over runs, from run-start flags ``(rows, n)``."""
    rows, n = new_group.shape
    flat = new_group.copy()
    flat[:, 0] = True
    starts = np.flatnonzero(flat.ravel())
    lengths = np.diff(np.append(starts, rows * n))
    pairs = lengths * (lengths - 1) // 2
    return np.bincount(starts // n, weights=pairs, minlength=rows).astype(np.int64)


def count_inversions(y: np.ndarray) -> np.ndarray:
    """Strict inversions ``#{i < j: y_i > y_j}`` per row of an int array ``(rows, n)`` (values >= 0).

    Bottom-up merge count: at width w every sorted left block is merged with its right neighbour;
    for each right element the number of larger left elements is ``w - #(left <= it)``, found with
    one ``searchsorted`` over all blocks of all rows at once (blocks are offset to be disjoint).
    """
    rows, n = y.shape
    size = 1 << max(0, int(np.ceil(np.log2(max(n, 1)))))
    big = np.int64(y.max(initial=0) + 1)
    data = np.full((rows, size), big, dtype=np.int64)  # padding at the end adds no inversions
    data[:, :n] = y
    span = big + 1
    inversions = np.zeros(rows, dtype=np.int64)
    width = 1
    while width < size:
        blocks = data.reshape(rows, size // (2 * width), 2, width)
        n_blocks = rows * (size // (2 * width))
        offsets = (np.arange(n_blocks, dtype=np.int64) * span).reshape(rows, -1, 1)
        left = (blocks[:, :, 0, :] + offsets).ravel()
        right = blocks[:, :, 1, :] + offsets
        position = np.searchsorted(left, right.ravel(), side="right").reshape(right.shape)
        not_greater = position - (np.arange(n_blocks, dtype=np.int64) * width).reshape(rows, -1, 1)
        inversions += (width - not_greater).sum(axis=(1, 2))
        data = np.sort(blocks.reshape(rows, -1, 2 * width), axis=2).reshape(rows, size)
        width *= 2
    return inversions
