"""Statistics: mean/SEM, paired t, sign-flip permutation, MNE cluster test over time, FDR."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from brainalign.errors import ValidationError
from brainalign.measure.statistics import (
    cluster_test,
    correct_p,
    fdr,
    mean_sem,
    paired_difference,
    paired_t,
    ratio_of_means,
    sign_flip_test,
)


def test_mean_sem_and_paired_t_match_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((10, 5)) + 0.5, rng.standard_normal((10, 5))
    mean, sem = mean_sem(a)
    np.testing.assert_allclose(mean, a.mean(0))
    np.testing.assert_allclose(sem, stats.sem(a, axis=0))
    t, p = paired_t(a, b, alternative="greater")
    reference = stats.ttest_rel(a, b, alternative="greater")
    np.testing.assert_allclose(t, reference.statistic)
    np.testing.assert_allclose(p, reference.pvalue)
    with pytest.raises(ValidationError, match="shapes"):
        paired_t(a, b[:, :3])


def test_sign_flip_exact_and_random() -> None:
    differences = np.array([[1.0, 0.1], [2.0, -0.2], [1.5, 0.05], [0.5, -0.1], [1.2, 0.2]])
    p = sign_flip_test(differences, alternative="greater")
    # exact test: all 32 sign patterns; only the all-positive pattern reaches the first column's mean
    assert p[0] == pytest.approx(1 / 32)
    assert p[1] > 0.3
    rng = np.random.default_rng(1)
    null_data = rng.standard_normal((14, 200))
    p_random = sign_flip_test(null_data, n_permutations=2000, seed=3)
    assert 0.35 < p_random.mean() < 0.65  # uniform under the null
    assert p_random.min() >= 1 / 2001


def test_cluster_test_finds_the_effect_window() -> None:
    rng = np.random.default_rng(2)
    values = rng.standard_normal((12, 30)) * 0.5
    values[:, 10:18] += 1.5
    clusters, significant = cluster_test(values, times=np.arange(30) * 0.01, n_permutations=200)
    assert significant[11:17].all() and not significant[:8].any() and not significant[21:].any()
    best = clusters.sort_values("p").iloc[0]
    assert best["p"] < 0.05 and best["start"] <= 11 and best["stop"] >= 16
    assert best["t_start"] == pytest.approx(best["start"] * 0.01)


def test_fdr_matches_benjamini_hochberg() -> None:
    p = np.array([[0.001, 0.01], [0.03, 0.5]])
    reject, corrected = fdr(p, alpha=0.05)
    np.testing.assert_allclose(corrected.ravel(), stats.false_discovery_control(p.ravel(), method="bh"))
    assert reject.tolist() == [[True, True], [True, False]]


def test_cluster_test_is_two_sided_by_default() -> None:
    rng = np.random.default_rng(4)
    values = rng.standard_normal((12, 30)) * 0.5
    values[:, 10:18] -= 1.5  # a negative effect: found two-sided, not by the one-sided test for > 0
    assert cluster_test(values, n_permutations=200)[1][11:17].all()
    assert not cluster_test(values, n_permutations=200, tail=1)[1].any()


def test_paired_difference_matches_scipy_with_ci_and_effect_size() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.3, 0.1, 9), rng.normal(0.25, 0.1, 9)
    result = paired_difference(a, b)
    reference = stats.ttest_rel(a, b)
    assert result.p_value == pytest.approx(reference.pvalue) and result.t == pytest.approx(reference.statistic)
    interval = stats.t.interval(0.95, 8, loc=(a - b).mean(), scale=stats.sem(a - b))
    assert (result.ci_low, result.ci_high) == pytest.approx(interval)
    assert result.cohens_dz == pytest.approx((a - b).mean() / (a - b).std(ddof=1))
    assert result.n_better == int((a > b).sum()) and result.alternative == "two-sided"
    assert paired_difference(a, b, "greater").p_value == pytest.approx(stats.ttest_rel(a, b, alternative="greater").pvalue)


def test_corrections_match_statsmodels() -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001, np.nan])
    for method, name in (("holm", "holm"), ("bonferroni", "bonferroni"), ("fdr_bh", "fdr_bh")):
        expected = multitest.multipletests(p[:-1], method=name)[1]
        np.testing.assert_allclose(correct_p(p, method)[:-1], expected)
        assert np.isnan(correct_p(p, method)[-1])
    np.testing.assert_allclose(correct_p(p, "none"), p)
    with pytest.raises(ValidationError, match="correction"):
        correct_p(p, "sidak")


def test_ratio_of_means_and_its_bootstrap_interval() -> None:
    reference = np.array([0.2, 0.25, 0.3, 0.22, 0.28])
    ratio, low, high = ratio_of_means(reference * 1.1, reference)
    assert ratio == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    noisy = reference * 1.1 + np.array([0.02, -0.02, 0.01, -0.01, 0.0])
    ratio, low, high = ratio_of_means(noisy, reference)
    assert low < ratio < high


def _simulated_p_values(effect: float, n_subjects: int = 8, repeats: int = 400, seed: int = 0) -> np.ndarray:
    """Two-sided paired p-values of repeated simulated studies with a planted per-subject effect."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.3, 0.05, (repeats, n_subjects))
    aligned = base + effect + rng.normal(0.0, 0.02, (repeats, n_subjects))
    return np.array([paired_difference(a, b).p_value for a, b in zip(aligned, base)])


def test_planted_effect_is_found_and_the_null_holds_alpha() -> None:
    assert (_simulated_p_values(0.03) < 0.05).mean() > 0.95  # a planted effect: found nearly always
    null = _simulated_p_values(0.0)
    assert 0.025 < (null < 0.05).mean() < 0.08  # no effect: false positives near alpha = 0.05
    assert 0.4 < np.median(null) < 0.6  # p uniform under the null


def test_cluster_test_false_positive_rate_over_simulated_nulls() -> None:
    rng = np.random.default_rng(6)
    hits = [cluster_test(rng.standard_normal((10, 20)), n_permutations=200, seed=k)[1].any() for k in range(120)]
    assert 0.01 <= np.mean(hits) <= 0.11  # family-wise over time points, near alpha = 0.05
