"""Statistics across subjects or models: mean/SEM, paired t with effect size and confidence interval,
sign-flip permutation, cluster-based permutation over time (MNE), multiple-comparison corrections, a
bootstrap interval for a ratio of means. Observations (subjects, models) are always axis 0. Every test
is two-sided unless ``alternative``/``tail`` says otherwise."""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
import pandas as pd

from brainalign.errors import ValidationError

ALTERNATIVES = ("two-sided", "greater", "less")
CORRECTIONS = ("holm", "fdr_bh", "bonferroni", "none")


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
    tail: int = 0,
    seed: int = 0,
    chance: float = 0.0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Cluster-based sign-flip permutation test over time, one sample (MNE
    ``permutation_cluster_1samp_test``) of ``values - chance``.

    values: ``(n_subjects, n_times)`` (e.g. similarity time courses, or aligned - base). tail: 0 (the
    default) tests both directions, 1 only > chance, -1 only < chance; the two-sided test is the one of
    the ReAlnet authors' analysis code (NeuroRA ``clusterbased_permutation_1d_2sided``: a paired t per
    time point at p < 0.05 forms clusters, cluster p < 0.05 over 1000 permutations). threshold: t
    threshold forming clusters (MNE's default: the t of p < 0.05 for the tail). Returns ``(clusters, significant)``: a DataFrame with one row per
    cluster (``start``, ``stop`` time indices inclusive, ``t_start``/``t_stop`` in the units of
    ``times`` when given, ``mass``, ``p``) and a boolean ``(n_times,)`` mask of time points in clusters
    with p < 0.05.
    """
    from mne.stats import permutation_cluster_1samp_test

    array = _observations(values, "values", minimum=3)
    if array.ndim != 2:
        raise ValidationError(f"values: expected (n_subjects, n_times), got shape {array.shape}")
    with warnings.catch_warnings():  # a null time course has no cluster: not worth a warning
        warnings.filterwarnings("ignore", message="No clusters found", category=RuntimeWarning)
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


@dataclass(frozen=True)
class PairedDifference:
    """A paired comparison of two conditions across ``n`` observations (subjects).

    ``mean`` (of a - b), ``sem``, the t confidence interval ``ci_low``..``ci_high`` of the mean at
    ``confidence``, Cohen's d_z (mean / SD of the differences), t, the p-value for ``alternative``, and
    ``n_better`` (observations with a > b)."""

    n: int
    mean: float
    sem: float
    ci_low: float
    ci_high: float
    confidence: float
    cohens_dz: float
    t: float
    p_value: float
    alternative: str
    n_better: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_difference(a: ArrayLike, b: ArrayLike | None = None, alternative: str = "two-sided",
                      confidence: float = 0.95) -> PairedDifference:
    """Paired t-test of ``a`` vs ``b`` (1-D, one value per subject; ``b=None``: ``a`` holds the differences)
    with the mean difference, its t confidence interval and Cohen's d_z (the values of
    ``scipy.stats.ttest_rel``, computed from the t distribution directly: ~20x faster, for tests repeated
    over many targets)."""
    from scipy import stats

    if alternative not in ALTERNATIVES:
        raise ValidationError(f"alternative: {alternative!r} is not one of {ALTERNATIVES}")
    if not 0.0 < confidence < 1.0:
        raise ValidationError(f"confidence: {confidence} must lie between 0 and 1, e.g. 0.95")
    first = _observations(a, "a")
    differences = first if b is None else first - _paired(first, _observations(b, "b"))
    if differences.ndim != 1:
        raise ValidationError(f"a: expected one value per subject (1-D), got shape {differences.shape}")
    n = len(differences)
    mean = float(differences.mean())
    sd = float(differences.std(ddof=1))
    sem = float(sd / np.sqrt(n))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
    if sd > 0:
        t = mean / sem
        tail = {"two-sided": 2.0 * stats.t.sf(abs(t), n - 1), "greater": stats.t.sf(t, n - 1),
                "less": stats.t.cdf(t, n - 1)}
        p_value = float(min(1.0, tail[alternative]))
    else:
        t, p_value = _degenerate_t(mean), float(mean == 0.0 or _against(mean, alternative))
    return PairedDifference(n=n, mean=mean, sem=sem, ci_low=mean - half, ci_high=mean + half, confidence=confidence,
                            cohens_dz=mean / sd if sd > 0 else _degenerate_t(mean), t=t, p_value=p_value,
                            alternative=alternative, n_better=int((differences > 0).sum()))


def _paired(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    if first.shape != second.shape:
        raise ValidationError(f"a and b: shapes {first.shape} and {second.shape} differ; pair the same subjects")
    return second


def _degenerate_t(mean: float) -> float:
    """t (and d_z) of differences without spread: 0 for a zero mean, else +-inf."""
    return 0.0 if mean == 0.0 else float(np.copysign(np.inf, mean))


def _against(mean: float, alternative: str) -> bool:
    """Whether a spread-free mean lies on the side the alternative does not predict (p = 1)."""
    return (alternative == "greater" and mean < 0) or (alternative == "less" and mean > 0)


def correct_p(p_values: ArrayLike, method: str = "holm") -> np.ndarray:
    """Adjusted p-values of one family of tests (any shape; NaN entries are left out and stay NaN).

    ``holm`` (Holm-Bonferroni step-down, family-wise error), ``bonferroni``, ``fdr_bh``
    (Benjamini-Hochberg, ``scipy.stats.false_discovery_control``) or ``none``. Holm is written out here:
    neither scipy nor MNE provides it (statsmodels' ``multipletests`` gives the same values; a test checks).
    """
    from scipy import stats

    if method not in CORRECTIONS:
        raise ValidationError(f"correction: {method!r} is not one of {CORRECTIONS}")
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.isfinite(p)
    values = p[valid]
    if values.size == 0 or method == "none":
        out[valid] = values
        return out
    if np.any((values < 0) | (values > 1)):
        raise ValidationError("p_values: need p-values in [0, 1]")
    if method == "bonferroni":
        adjusted = np.minimum(values * values.size, 1.0)
    elif method == "fdr_bh":
        adjusted = stats.false_discovery_control(values, method="bh")
    else:
        order = np.argsort(values, kind="stable")
        steps = values[order] * (values.size - np.arange(values.size))
        adjusted = np.empty_like(values)
        adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    out[valid] = adjusted
    return out


def ratio_of_means(model: ArrayLike, reference: ArrayLike, confidence: float = 0.95, n_boot: int = 2000,
                   seed: int = 0) -> tuple[float, float, float]:
    """Improvement ratio of the group means ``(mean(model) - mean(reference)) / mean(reference)`` and its
    percentile bootstrap interval at ``confidence`` (subjects resampled with replacement, pairs kept).

    model, reference: one value per subject ``(n,)``. Returns ``(ratio, low, high)``; NaN when the
    reference mean is 0.
    """
    first = _observations(model, "model")
    second = _paired(first, _observations(reference, "reference"))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(first), size=(n_boot, len(first)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (first.mean() - second.mean()) / second.mean()
        boot_reference = second[draws].mean(axis=1)
        boot = (first[draws].mean(axis=1) - boot_reference) / boot_reference
    boot = boot[np.isfinite(boot)]
    if not np.isfinite(ratio) or boot.size == 0:
        return float(ratio), float("nan"), float("nan")
    low, high = np.quantile(boot, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return float(ratio), float(low), float(high)
