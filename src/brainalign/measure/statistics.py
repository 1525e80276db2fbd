"""Statistics across subjects or models: mean/SEM, paired t, sign-flip permutation, cluster-based
permutation over time (MNE), FDR. Observations (subjects, models) are always axis 0."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
import pandas as pd

from brainalign.errors import ValidationError

ALTERNATIVES = ("two-sided", "greater", "less")


def _observations(values: Any, what: str = "values", minimum: int = 2) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0 or len(array) < minimum:
        raise ValidationError(f"{what}: need >= {minimum} observations along axis 0, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValidationError(f"{what}: contains NaN/inf; drop incomplete subjects first")
    return array


def mean_sem(values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean over axis 0 (ddof=1): ``(n_obs, ...) -> (...), (...)``."""
    array = _observations(values)
    return array.mean(axis=0), array.std(axis=0, ddof=1) / np.sqrt(len(array))


def paired_t(a: ArrayLike, b: ArrayLike, alternative: str = "two-sided") -> tuple[np.ndarray, np.ndarray]:
    """Paired t-test of ``a`` vs ``b`` over axis 0 (``scipy.stats.ttest_rel``): t and p, shape ``(...)``."""
    from scipy import stats

    if alternative not in ALTERNATIVES:
        raise ValidationError(f"alternative: {alternative!r} is not one of {ALTERNATIVES}")
    first, second = _observations(a, "a"), _observations(b, "b")
    if first.shape != second.shape:
        raise ValidationError(f"a and b: shapes {first.shape} and {second.shape} differ; pair the same subjects")
    result = stats.ttest_rel(first, second, axis=0, alternative=alternative)
    return np.asarray(result.statistic), np.asarray(result.pvalue)


def sign_flip_test(
    differences: ArrayLike, n_permutations: int = 10000, alternative: str = "two-sided", seed: int = 0
) -> np.ndarray:
    """Sign-flip permutation test of mean(differences) = 0 over axis 0: p-values ``(...)``.

    differences: ``(n_obs, ...)`` (e.g. aligned - base per subject). All ``2**n_obs`` sign patterns
    are used when that is <= ``n_permutations`` (exact test); otherwise ``n_permutations`` random
    patterns plus the observed one, ``p = (1 + #(null >= observed)) / (1 + n_permutations)``.
    """
    if alternative not in ALTERNATIVES:
        raise ValidationError(f"alternative: {alternative!r} is not one of {ALTERNATIVES}")
    array = _observations(differences, "differences")
    n = len(array)
    flat = array.reshape(n, -1)
    exact = 2**n <= n_permutations
    if exact:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.float64)
    else:
        signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(n_permutations, n))
    null = signs @ flat / n  # (n_patterns, n_tests)
    observed = flat.mean(axis=0)
    tolerance = 1e-12 * np.maximum(1.0, np.abs(observed))
    if alternative == "two-sided":
        hits = np.abs(null) >= np.abs(observed) - tolerance
    elif alternative == "greater":
        hits = null >= observed - tolerance
    else:
        hits = null <= observed + tolerance
    counts = hits.sum(axis=0)
    p = counts / len(signs) if exact else (1 + counts) / (1 + len(signs))
    return p.reshape(array.shape[1:])


def cluster_test(
    values: ArrayLike,
    times: ArrayLike | None = None,
    threshold: float | None = None,
    n_permutations: int = 1000,
    tail: int = 1,
    seed: int = 0,
    chance: float = 0.0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Cluster-based sign-flip permutation test over time, one sample (MNE
    ``permutation_cluster_1samp_test``) of ``values - chance``.

    values: ``(n_subjects, n_times)`` (e.g. similarity time courses, or aligned - base). tail: 1 tests
    > chance, -1 < chance, 0 both. threshold: t threshold forming clusters (MNE's default: the t
    of p < 0.05 for the tail). Returns ``(clusters, significant)``: a DataFrame with one row per
    cluster (``start``, ``stop`` time indices inclusive, ``t_start``/``t_stop`` in the units of
    ``times`` when given, ``mass``, ``p``) and a boolean ``(n_times,)`` mask of time points in clusters
    with p < 0.05.
    """
    from mne.stats import permutation_cluster_1samp_test

    array = _observations(values, "values", minimum=3)
    if array.ndim != 2:
        raise ValidationError(f"values: expected (n_subjects, n_times), got shape {array.shape}")
    t_obs, clusters, p_values, _ = permutation_cluster_1samp_test(
        array - chance, threshold=threshold, n_permutations=n_permutations, tail=tail, rng=seed,
        out_type="mask", verbose=False,
    )
    rows = []
    significant = np.zeros(array.shape[1], dtype=bool)
    for cluster, p in zip(clusters, p_values):
        mask = np.zeros(array.shape[1], dtype=bool)
        mask[cluster] = True  # MNE gives a boolean mask or, for 1-D data, a tuple with one slice
        indices = np.flatnonzero(mask)
        row = {"start": int(indices[0]), "stop": int(indices[-1]), "mass": float(t_obs[mask].sum()), "p": float(p)}
        if times is not None:
            row.update(t_start=float(np.asarray(times)[indices[0]]), t_stop=float(np.asarray(times)[indices[-1]]))
        rows.append(row)
        if p < 0.05:
            significant |= mask
    columns = ["start", "stop", "mass", "p"] + (["t_start", "t_stop"] if times is not None else [])
    return pd.DataFrame(rows, columns=columns), significant


def fdr(p_values: ArrayLike, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg FDR over all given p-values (any shape): ``(reject, corrected_p)``."""
    from mne.stats import fdr_correction

    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0 or np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValidationError("p_values: need finite p-values in [0, 1]")
    reject, corrected = fdr_correction(p.ravel(), alpha=alpha, method="indep")
    return reject.reshape(p.shape), corrected.reshape(p.shape)
