"""compare() and noise_ceiling() against scipy and rsatoolbox (synthetic ties and the real 92-image RDMs)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from brainalign.errors import ValidationError
from brainalign.interop import to_rsatoolbox
from brainalign.data import RDMs
from brainalign.measure import compare, noise_ceiling
from brainalign.measure.rsa.ranks import rank_rows

RSA_NAMES = {"spearman": "spearman", "pearson": "corr", "kendall_tau_a": "tau-a"}


def _tau_a_reference(x: np.ndarray, y: np.ndarray) -> float:
    i, j = np.triu_indices(len(x), 1)
    return float((np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])).sum() / len(i))


def test_rank_rows_matches_scipy_with_ties_and_signed_zeros() -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((20, 300))
    values[:5] = np.round(values[:5], 1)
    values[5] = 0.0
    values[5, ::2] = -0.0
    values[6, ::3] = np.nextafter(1.0, 2.0)
    values[6, 1::3] = 1.0
    np.testing.assert_array_equal(rank_rows(values), stats.rankdata(values, axis=1))


@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall_tau_a"])
def test_compare_matches_scipy_with_ties(method: str) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 20, (3, 120)).astype(float)
    b = rng.standard_normal((4, 120))
    b[0] = np.round(b[0], 1)
    reference_fn = {
        "spearman": lambda x, y: stats.spearmanr(x, y)[0],
        "pearson": lambda x, y: stats.pearsonr(x, y)[0],
        "kendall_tau_a": _tau_a_reference,
    }[method]
    expected = np.array([[reference_fn(x, y) for y in b] for x in a])
    result = compare(a, b, method)
    assert result.shape == (3, 4)
    np.testing.assert_allclose(result, expected, atol=1e-12)
    np.testing.assert_allclose(compare(a, None, method), compare(a, a, method), atol=1e-12)


def test_compare_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValidationError, match="pairs per RDM"):
        compare(np.zeros((1, 10)), np.zeros((1, 6)))
    with pytest.raises(ValidationError, match="method"):
        compare(np.ones((1, 6)), np.ones((1, 6)), "cosine")
    a = RDMs(np.random.default_rng(0).random(6), list("abcd"))
    with pytest.raises(ValidationError, match="different stimuli"):
        compare(a, RDMs(a.dissimilarities, list("dcba")))


@pytest.fixture(scope="module")
def hit_rdms(shared_data):
    archive = np.load(shared_data / "kriegeskorte2008_92images" / "rdms_92.npz")
    subjects = RDMs.from_matrices(archive["hIT_subject_session"].reshape(8, 92, 92),
                                  descriptors={"subject": np.repeat(np.arange(4), 2)})
    models = RDMs.from_matrices(archive["model_rdms"], descriptors={"model": list(archive["model_names"])})
    return subjects, models


@pytest.mark.shared_data
@pytest.mark.parametrize("method", ["spearman", "pearson", "kendall_tau_a"])
def test_real_92_image_rdms_match_rsatoolbox(hit_rdms, method: str) -> None:
    rsatoolbox = pytest.importorskip("rsatoolbox")
    subjects, models = hit_rdms
    expected = rsatoolbox.rdm.compare(to_rsatoolbox(models), to_rsatoolbox(subjects), RSA_NAMES[method])
    np.testing.assert_allclose(compare(models, subjects, method), expected, atol=1e-9, rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_ceiling = rsatoolbox.inference.boot_noise_ceiling(to_rsatoolbox(subjects), RSA_NAMES[method])
    lower, upper = noise_ceiling(subjects, method)
    np.testing.assert_allclose([lower, upper], expected_ceiling, atol=1e-9, rtol=0)
    assert 0 < lower < upper < 1


def test_standardised_ranks_equal_centred_unit_norm_scipy_ranks() -> None:
    from brainalign.measure.rsa.ranks import standardised_ranks

    rng = np.random.default_rng(7)
    values = rng.random((9, 300))
    values[2, :40] = 0.5  # ties
    values[5] = np.round(values[5], 1)  # many ties
    ranks = stats.rankdata(values, axis=1)
    centred = ranks - ranks.mean(axis=1, keepdims=True)
    expected = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    out = np.empty_like(values)
    assert standardised_ranks(values, out=out, chunk_elements=600) is out
    np.testing.assert_allclose(out, expected, atol=1e-14)
    values[4] = 1.0
    with pytest.raises(ValidationError, match="neural: constant"):
        standardised_ranks(values, what="neural")
