"""RDMs container and compute_rdms against scipy/rsatoolbox."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform

from brainalign.errors import ValidationError
from brainalign.data import RDMs
from brainalign.measure import compute_rdms
from brainalign.measure.rsa.gram import plan_gram


def _features(n: int = 30, f: int = 500, offset: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(3).standard_normal((n, f)) + offset).astype(np.float32)


@pytest.mark.parametrize("metric", ["correlation", "euclidean", "sqeuclidean", "cosine"])
def test_compute_rdms_matches_scipy_pdist(metric: str) -> None:
    features = _features(offset=3.0)
    rdms = compute_rdms(features, metric=metric, chunk_features=128)
    reference = pdist(features.astype(np.float64), metric)
    scale = max(1.0, float(np.abs(reference).max()))
    assert rdms.dissimilarities.shape == (1, 30 * 29 // 2) and rdms.dissimilarity_measure == metric
    np.testing.assert_allclose(rdms.dissimilarities[0] / scale, reference / scale, atol=2e-6)
    exact = compute_rdms(features.astype(np.float64), metric=metric, dtype=torch.float64)
    np.testing.assert_allclose(exact.dissimilarities[0], reference, rtol=1e-10, atol=1e-10)


def test_float32_correlation_keeps_precision_with_large_offsets() -> None:
    # a large common offset is where naive float32 centring loses digits
    rng = np.random.default_rng(0)
    features = (np.maximum(rng.standard_normal((12, 200_000)), 0) + 100.0).astype(np.float32)
    fast = compute_rdms(features)
    exact = pdist(features.astype(np.float64), "correlation")
    assert np.abs(fast.dissimilarities[0] - exact).max() <= 1e-5


def test_compute_rdms_dict_gives_layer_descriptors_and_flattens() -> None:
    layers = {"V1": _features(10, 48).reshape(10, 3, 4, 4), "IT": _features(10, 20)}
    rdms = compute_rdms(layers, descriptors={"model": "base"}, stimulus_ids=[f"s{i}" for i in range(10)])
    assert list(rdms.descriptors["layer"]) == ["V1", "IT"]
    assert list(rdms.descriptors["model"]) == ["base", "base"]
    assert rdms.stimulus_ids[3] == "s3"
    np.testing.assert_allclose(rdms.select(layer="IT").dissimilarities[0],
                               pdist(layers["IT"].astype(np.float64), "correlation"), atol=1e-6)


def test_matrices_roundtrip_and_squareform_order() -> None:
    square = np.stack([squareform(pdist(_features(8, 5 + k), "euclidean")) for k in range(3)])
    rdms = RDMs.from_matrices(square, descriptors=[{"k": k} for k in range(3)])
    np.testing.assert_array_equal(rdms.dissimilarities[1], squareform(square[1], checks=False))
    np.testing.assert_allclose(rdms.matrices(), square)
    assert rdms[1:].n_rdms == 2 and list(rdms[1:].descriptors["k"]) == [1, 2]
    with pytest.raises(ValidationError, match="symmetric"):
        RDMs.from_matrices(square + np.triu(np.ones((8, 8)), 1))
    with pytest.raises(ValidationError, match="n\\*\\(n-1\\)/2"):
        RDMs(np.zeros((1, 7)))


def test_subset_stimuli_and_concat() -> None:
    rdms = compute_rdms(_features(6, 40), stimulus_ids=list("abcdef"))
    sub = rdms.subset_stimuli(["d", "a", "c"])
    full = rdms.matrices()[0]
    np.testing.assert_allclose(sub.matrices()[0], full[np.ix_([3, 0, 2], [3, 0, 2])])
    both = RDMs.concat([rdms, rdms])
    assert both.n_rdms == 2
    with pytest.raises(ValidationError, match="different stimuli"):
        RDMs.concat([rdms, sub])


def test_constant_rows_raise() -> None:
    features = _features(5, 10)
    features[2] = 1.0
    with pytest.raises(ValidationError, match="rows \\[2\\]"):
        compute_rdms(features)


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean", "sqeuclidean"])
def test_streamed_memmap_path_equals_in_memory(tmp_path, metric: str) -> None:
    # a few hundred stimuli through the memory-mapped path with tiny panels, stripes and row groups
    rng = np.random.default_rng(5)
    features = (np.maximum(rng.standard_normal((203, 157)), 0) + 2.0 + rng.standard_normal((203, 1)))
    path = tmp_path / "features.npy"
    np.save(path, features)
    mapped = np.load(path, mmap_mode="r")
    plan = plan_gram(203, 157, 8, memory_limit=20_000, in_place=False, panel_width=16, stripe_rows=7)
    assert len(plan.groups) > 3 and len(plan.panels) == 10
    streamed = compute_rdms(mapped, metric=metric, dtype=torch.float64, chunk_features=16, stripe_rows=7,
                            memory_limit=20_000, out=tmp_path / "rdms.npy")
    assert isinstance(streamed.dissimilarities, np.ndarray) and (tmp_path / "rdms.npy").is_file()
    reference = pdist(features, metric)
    np.testing.assert_allclose(streamed.dissimilarities[0], reference, rtol=1e-10, atol=1e-10)
    in_memory = compute_rdms(features, metric=metric, dtype=torch.float64)
    np.testing.assert_allclose(in_memory.dissimilarities[0], reference, rtol=1e-10, atol=1e-10)
    single = compute_rdms(mapped, metric=metric, chunk_features=16, stripe_rows=7)  # float32 products
    scale = max(1.0, float(reference.max()))
    assert np.abs(single.dissimilarities[0] - reference).max() / scale < 1e-5


def test_float32_error_stays_small_with_wide_panels() -> None:
    rng = np.random.default_rng(6)
    features = (np.maximum(rng.standard_normal((40, 60_000), dtype=np.float32), 0) + 0.5
                + rng.standard_normal((40, 1), dtype=np.float32))
    fast = compute_rdms(features, chunk_features=60_000).dissimilarities[0]
    assert np.abs(fast - pdist(features.astype(np.float64), "correlation")).max() <= 1e-6
