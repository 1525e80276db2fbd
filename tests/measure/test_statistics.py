"""Statistics: mean/SEM, paired t, sign-flip permutation, MNE cluster test over time, FDR."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from brainalign.errors import ValidationError
from brainalign.measure.statistics import cluster_test, fdr, mean_sem, paired_t, sign_flip_test


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
