"""Individual variability, object-dimension partial correlations (vs pingouin on real RDMs), read-outs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from brainalign.errors import ValidationError
from brainalign.data import RDMs
from brainalign.measure import compare, compute_rdms
from brainalign.measure.rsa.dimensions import (dimension_differences, dimension_rdms, load_dimension_labels,
                                           partial_correlations)
from brainalign.measure.rsa.readouts import (eeg_timecourses, improvement_correlation, improvement_table,
                                         roi_similarity, similarity_table)
from brainalign.measure.rsa.variability import individual_variability

ANNOTATIONS = ["RealWorldSizeRDM", "RealWorldDepthRDM", "RelativeSizeRDM", "RelativeDepthRDM", "LowLevelRDM"]


def _layer_rdms(n_models: int = 3, n: int = 12, seed: int = 0) -> RDMs:
    rng = np.random.default_rng(seed)
    shared = {layer: rng.standard_normal((n, 20)) for layer in ("V1", "IT")}
    stacks = []
    for model in range(n_models):
        noise = 0.2 * (model + 1)
        layers = {layer: base + noise * rng.standard_normal(base.shape) for layer, base in shared.items()}
        stacks.append(compute_rdms(layers, descriptors={"model": f"m{model}"}))
    return RDMs.concat(stacks)


def test_variability_is_one_minus_spearman_per_layer() -> None:
    rdms = _layer_rdms()
    matrices, summary = individual_variability(rdms)
    assert list(matrices) == ["V1", "IT"]
    it = rdms.select(layer="IT")
    expected = 1 - stats.spearmanr(it.dissimilarities[0], it.dissimilarities[2])[0]
    assert matrices["IT"].loc["m0", "m2"] == pytest.approx(expected, abs=1e-12)
    assert np.allclose(np.diag(matrices["V1"]), 0) and np.allclose(matrices["V1"], matrices["V1"].T)
    assert list(summary["layer"]) == ["V1", "IT"] and (summary["n_pairs"] == 3).all()
    assert summary.loc[0, "mean"] == pytest.approx(matrices["V1"].to_numpy()[np.triu_indices(3, 1)].mean())


@pytest.mark.shared_data
def test_partial_correlations_match_pingouin_on_real_rdms(shared_data) -> None:
    pingouin = pytest.importorskip("pingouin")
    folder = shared_data / "things_eeg2_testset_model_rdms_lu2025"
    model = RDMs.from_matrices(np.stack([np.load(folder / "ann_rdms" / f"cornet_layer{k}.npy") for k in (1, 4)]),
                               descriptors={"layer": ["V1", "IT"]}, atol=1e-5)
    annotations = RDMs.from_matrices(
        np.stack([np.load(folder / "annotation_rdms" / f"{name}.npy") for name in ANNOTATIONS]),
        descriptors={"dimension": ANNOTATIONS},
    )
    table = partial_correlations(model, annotations)
    assert len(table) == 2 * len(ANNOTATIONS)
    np.testing.assert_allclose(table["partial_r2"], table["partial_r"] ** 2)
    frame = pd.DataFrame(np.vstack([model.dissimilarities, annotations.dissimilarities]).T,
                         columns=["V1", "IT"] + ANNOTATIONS)
    for row in table.itertuples():
        others = [name for name in ANNOTATIONS if name != row.dimension]
        expected = pingouin.partial_corr(frame, x=row.layer, y=row.dimension, covar=others, method="spearman")
        assert row.partial_r == pytest.approx(expected["r"].iloc[0], abs=1e-10)
    # the size annotation RDM is |size_i - size_j| of the size ratings
    sizes = np.load(folder / "annotation_rdms" / "RealWorldSizes.npy")
    np.testing.assert_allclose(dimension_rdms(sizes[:, None]).dissimilarities[0], annotations.dissimilarities[0])
    labels = load_dimension_labels(shared_data / "things_concept_metadata" / "spose49_dimension_labels.txt")
    assert len(labels) == 49


def test_partial_correlation_equals_residualise_and_correlate() -> None:
    rng = np.random.default_rng(4)
    embedding = rng.standard_normal((15, 4))
    dims = dimension_rdms(embedding, labels=list("abcd"))
    model = dims.dissimilarities[0] * 2 + dims.dissimilarities[1] + rng.standard_normal(dims.n_pairs)
    table = partial_correlations(model, dims, method="spearman")
    ranks = np.vstack([stats.rankdata(v) for v in np.vstack([model, dims.dissimilarities])])
    design = np.column_stack([np.ones(dims.n_pairs), ranks[2:].T])  # control b, c, d
    residual_model = ranks[0] - design @ np.linalg.lstsq(design, ranks[0], rcond=None)[0]
    residual_dim = ranks[1] - design @ np.linalg.lstsq(design, ranks[1], rcond=None)[0]
    assert table.loc[0, "partial_r"] == pytest.approx(np.corrcoef(residual_model, residual_dim)[0, 1], abs=1e-10)
    assert table.loc[0, "dimension"] == "a" and table.loc[0, "partial_r2"] > table.loc[3, "partial_r2"]
    base = table.assign(partial_r2=table["partial_r2"] / 2)
    differences = dimension_differences(table, base)
    assert differences.loc[0, "dimension"] == "a"
    np.testing.assert_allclose(differences["difference"], differences["aligned"] / 2)
    with pytest.raises(ValidationError, match="pairs"):
        partial_correlations(model[:-1], dims)


def test_readouts_timecourses_roi_and_improvements() -> None:
    rdms = _layer_rdms(n_models=2)
    model, other = rdms.select(model="m0"), rdms.select(model="m1")
    eeg = RDMs(other.dissimilarities[[0, 1, 1]], descriptors={"time": [0.0, 0.1, 0.2], "subject": "s1"})
    courses = eeg_timecourses(model, eeg)
    assert len(courses) == 6 and list(courses["layer"].unique()) == ["V1", "IT"]
    assert courses.loc[0, "similarity"] == pytest.approx(compare(model[0], eeg[0])[0, 0])
    fmri = RDMs(other.dissimilarities, descriptors={"roi": ["V1", "LOC"]})
    rois = roi_similarity(model, fmri)
    assert list(rois["best_layer"]) == ["V1", "IT"]
    np.testing.assert_allclose(rois["similarity"], compare(model, fmri).max(axis=0))
    table = similarity_table(model, fmri)
    assert {"layer", "roi", "similarity"} <= set(table.columns) and len(table) == 4
    base = rois.assign(similarity=rois["similarity"] / 2)
    gains = improvement_table(rois, base, on=["roi"])
    np.testing.assert_allclose(gains["improvement_ratio"], 1.0)
    r, p = improvement_correlation([0.1, 0.2, 0.3, 0.5], [0.0, 0.1, 0.25, 0.4])
    assert r > 0.95 and p < 0.05


def test_eeg_window_holds_the_50_ms_sample_of_float_sample_times() -> None:
    """THINGS-EEG2 epochs start at -200 ms at 100 Hz: sample 25 is 0.04999999999999999 s, inside 50-200 ms."""
    import numpy as np

    from brainalign.measure.rsa.readouts import in_window

    times = -0.2 + np.arange(100) / 100
    assert times[25] < 0.05 and in_window(times).sum() == 16 and in_window(times)[25] and in_window(times)[40]
    assert not in_window(times)[24] and not in_window(times)[41]
