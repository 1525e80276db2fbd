"""RSA: RDM comparisons as whole matrices, and the noise ceiling (Nili et al. 2014).

Comparisons are whole matrices: every RDM of ``a`` against every RDM of ``b`` in one call.

Spearman ranks each RDM once (ties get average ranks, as ``scipy.stats.rankdata``), then all
correlations are one matrix product of centred, normalised rank vectors. Pearson is the same on
the raw values. Kendall tau-a counts discordant pairs with a vectorised bottom-up merge count
(O(n_pairs log^2 n_pairs) per comparison, no loop over pairs) and corrects for ties exactly as
``scipy.stats.kendalltau``/rsatoolbox's ``tau-a``: ``(n_c - n_d) / (n (n - 1) / 2)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from brainalign.data.rdms import RDMsOrArray
from brainalign.errors import ValidationError
from brainalign.measure.rsa.ranks import (arange_cached, count_inversions, dense_ranks, rank_rows, rank_rows_exact,
                                         sorted_order, standardised_ranks, tie_pairs)

METHODS = ("spearman", "pearson", "kendall_tau_a")
_GATHER_ROWS = 8  # up to this many b rows, Spearman gathers zb in each a row's sort order (no ranks)


def as_vectors(rdms: RDMsOrArray) -> np.ndarray:
    """Condensed dissimilarities ``(n_rdms, n_pairs)`` float64 from RDMs, a 1-D or 2-D array."""
    values = getattr(rdms, "dissimilarities", rdms)
    values = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2:
        raise ValidationError(
            f"rdms: expected RDMs or an array (n_rdms, n_pairs) of condensed upper triangles, got shape {values.shape}"
        )
    return values


def _standardise(values: np.ndarray, what: str) -> np.ndarray:
    centred = values - values.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", centred, centred))
    if np.any(norms == 0):
        raise ValidationError(
            f"{what}: RDM(s) {np.flatnonzero(norms == 0)[:5].tolist()} are constant, so correlations are "
            f"undefined; drop constant RDMs"
        )
    centred /= norms[:, None]
    return centred


def _zscored(values: np.ndarray, method: str, what: str, chunk_elements: int = 1 << 21) -> np.ndarray:
    """Rows centred to mean 0 and norm 1 (Spearman: their ranks, scattered straight into the result),
    Pearson in blocks of about ``chunk_elements`` values (large temporaries in this VM are slow to page in)."""
    if method == "spearman":
        return standardised_ranks(values, what=what)
    result = np.empty_like(values)
    step = max(1, chunk_elements // values.shape[1])
    for start in range(0, len(values), step):
        result[start:start + step] = _standardise(values[start:start + step], what)
    return result


def compare(a: RDMsOrArray, b: RDMsOrArray | None = None, method: str = "spearman") -> np.ndarray:
    """Similarity of every RDM in ``a`` with every RDM in ``b``: ndarray ``(a.n_rdms, b.n_rdms)``.

    a, b: :class:`~brainalign.measure.RDMs` or arrays ``(n_rdms, n_pairs)`` / ``(n_pairs,)`` of
    condensed upper triangles on the same stimuli in the same order (``b=None`` compares ``a``
    with itself). method: ``"spearman"`` (RSA similarity of the papers), ``"pearson"`` or
    ``"kendall_tau_a"``. Values equal scipy and rsatoolbox ('spearman', 'corr', 'tau-a') to ~1e-12.
    Each RDM is ranked once; the correlations are one matrix product per block of ``a``.
    """
    if method not in METHODS:
        raise ValidationError(f"method: {method!r} is not one of {METHODS}")
    _check_same_stimuli(a, b)
    va = as_vectors(a)
    vb = va if b is None else as_vectors(b)
    if va.shape[1] != vb.shape[1]:
        raise ValidationError(
            f"rdms: a has {va.shape[1]} pairs per RDM, b has {vb.shape[1]}; compare RDMs on the same stimuli"
        )
    if method == "kendall_tau_a":
        return kendall_tau_a(va, vb)
    zb = _zscored(vb, method, "b" if b is not None else "a")
    if b is None:
        return np.clip(zb @ zb.T, -1.0, 1.0)
    result = np.empty((len(va), len(vb)))
    # a few b rows: cache-sized blocks of a (~1 MB) gathered against zb; otherwise ~128 MB blocks of
    # standardised a rows, so each block is one efficient GEMM with all of zb
    gather = method == "spearman" and len(zb) <= _GATHER_ROWS
    step = max(1, (1 << 17 if gather else 1 << 24) // va.shape[1])
    for start in range(0, len(va), step):
        result[start:start + step] = _correlate_block(va[start:start + step], zb, method)
    return np.clip(result, -1.0, 1.0)


def _correlate_block(block: np.ndarray, zb: np.ndarray, method: str) -> np.ndarray:
    """Correlations ``(len(block), len(zb))`` of raw rows with standardised rows ``zb``.

    Spearman: a tie-free row's ranks are a permutation of 1..n (centred norm sqrt(n(n^2-1)/12)) and
    zb's rows sum to 0, so centring drops out: rho = sum_pos (pos + 1) zb[order[pos]] / norm. For a
    few zb rows that is a gather from the (cache-resident) zb rows, with no rank matrix at all; for
    more, the block's standardised ranks (:func:`standardised_ranks`) times zb. Rows with ties are
    ranked exactly and standardised.
    """
    if method != "spearman":
        return _standardise(block, "a") @ zb.T
    n = block.shape[1]
    norm = np.sqrt(n * (n * n - 1) / 12.0)
    if len(zb) <= _GATHER_ROWS:
        order, suspect = sorted_order(block)
        positions = arange_cached(n, "position")
        out = np.stack([np.take(row, order) @ positions for row in zb], axis=1) / norm
        if suspect.any():
            out[suspect] = _standardise(rank_rows_exact(block[suspect] + 0.0), "a") @ zb.T
        return out
    return standardised_ranks(block, what="a") @ zb.T


def _check_same_stimuli(a: Any, b: Any) -> None:
    ids_a, ids_b = getattr(a, "stimulus_ids", None), getattr(b, "stimulus_ids", None)
    if ids_a is not None and ids_b is not None and list(ids_a) != list(ids_b):
        raise ValidationError(
            "rdms: a and b are on different stimuli or in a different order; use rdms.subset_stimuli(ids) first"
        )


def kendall_tau_a(va: np.ndarray, vb: np.ndarray, max_elements: int = 2**24) -> np.ndarray:
    """Kendall tau-a ``(n_a, n_b)`` between rows of ``va (n_a, n)`` and ``vb (n_b, n)``.

    Each row is ranked once to integers; for every (a, b) combination the b-ranks are ordered by
    (a-rank, b-rank) and the discordant pairs are counted by a bottom-up merge count that runs on
    all combinations of a chunk at once. ``max_elements`` bounds the working set (combinations x n).
    """
    n = va.shape[1]
    dense_a, ties_a = dense_ranks(va)
    dense_b, ties_b = dense_ranks(vb)
    total = n * (n - 1) // 2
    n_a, n_b = len(va), len(vb)
    result = np.empty((n_a, n_b))
    order_a = np.argsort(dense_a, axis=1, kind="stable")
    sorted_a = np.take_along_axis(dense_a, order_a, axis=1)
    rows_per_chunk = max(1, max_elements // max(1, n * n_b))
    for start in range(0, n_a, rows_per_chunk):
        stop = min(n_a, start + rows_per_chunk)
        # y[i, j] = b_j's ranks in the order of a_i's ranks; then sort within a-ties by y
        key_a = np.repeat(sorted_a[start:stop], n_b, axis=0)
        y = np.take_along_axis(dense_b[None], order_a[start:stop, None, :], axis=2).reshape(-1, n)
        combined = key_a * np.int64(n + 1) + y
        combined.sort(axis=1)
        y = combined % np.int64(n + 1)
        joint_new = np.ones_like(combined, dtype=bool)
        joint_new[:, 1:] = combined[:, 1:] != combined[:, :-1]
        joint_ties = tie_pairs(joint_new)
        discordant = count_inversions(y)
        tied = np.repeat(ties_a[start:stop], n_b) + np.tile(ties_b, stop - start) - joint_ties
        result[start:stop] = ((total - tied - 2 * discordant) / total).reshape(stop - start, n_b)
    return np.clip(result, -1.0, 1.0)


def pooled_rdm_vectors(vectors: np.ndarray, method: str) -> np.ndarray:
    """Per-RDM values averaged to the best-fitting group RDM under ``method``: ``(n_rdms, n_pairs)``
    transformed (ranks for Spearman/Kendall, z-scores for Pearson) so their mean is the pooled RDM."""
    if method in ("spearman", "kendall_tau_a"):
        return rank_rows(vectors)
    centred = vectors - vectors.mean(axis=1, keepdims=True)
    return centred / centred.std(axis=1, keepdims=True)


def noise_ceiling(rdms: RDMsOrArray, method: str = "spearman") -> tuple[float, float]:
    """Lower and upper bound of the noise ceiling for subject RDMs ``(n_subjects, n_pairs)``.

    upper = mean over subjects of compare(mean of all subjects' RDMs, subject RDM);
    lower = the same with the mean of the *other* subjects (leave one out). RDMs are pooled as
    rsatoolbox does: average ranks (Spearman, Kendall tau-a) or average z-scores (Pearson).
    Equals ``rsatoolbox.inference.boot_noise_ceiling(rdms, method)`` ('spearman', 'corr', 'tau-a').
    """
    if method not in METHODS:
        raise ValidationError(f"method: {method!r} is not one of {METHODS}")
    vectors = as_vectors(rdms)
    n = len(vectors)
    if n < 2:
        raise ValidationError(f"rdms: the noise ceiling needs >= 2 subject RDMs, got {n}")
    transformed = pooled_rdm_vectors(vectors, method)
    total = transformed.sum(axis=0)
    leave_one_out = (total[None, :] - transformed) / (n - 1)
    upper = compare(total / n, vectors, method)[0]
    if method == "kendall_tau_a":
        lower = np.array([compare(leave_one_out[i], vectors[i], method)[0, 0] for i in range(n)])
    else:
        lower = paired_correlations(leave_one_out, vectors, method)
    return float(lower.mean()), float(upper.mean())


def paired_correlations(a: np.ndarray, b: np.ndarray, method: str = "spearman") -> np.ndarray:
    """Row-wise Spearman/Pearson correlation of ``a[i]`` with ``b[i]``; a, b: ``(n, n_pairs)`` -> ``(n,)``."""
    if method == "spearman":
        a, b = rank_rows(a), rank_rows(b)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return np.einsum("ij,ij->i", a, b) / np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
