"""Statistics across subjects of a study: comparisons, families per beta, corrections, significance over
time, and the EEG readouts; planted effects are found, nulls are not."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.measure import timecourse_readout
from brainalign.studies.analyses.improvement import PEAK, WINDOW, similarity_improvements, timecourse_improvements
from brainalign.studies.statistics import (
    compare_models,
    comparison_pairs,
    improvement_tests,
    mean_sem,
    model_tests,
    references,
    summarize,
    timecourse_significance,
)


def _similarity(effects: dict[str, float], n_subjects: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(0.3, 0.05, n_subjects)
    rows = [(model, "IT", f"s{i}", base[i] + effect + rng.normal(0, 0.01))
            for model, effect in effects.items() for i in range(n_subjects)]
    return pd.DataFrame(rows, columns=["model", "target", "subject", "similarity"])


def test_references_make_one_family_per_beta() -> None:
    models = ["base", "aligned_beta1", "aligned_beta10", "control_beta0", "control_unpaired_beta1",
              "control_unpaired_beta10", "control_no_contrastive_beta10"]
    assert references("aligned_beta10", models) == ["base", "control_beta0", "control_no_contrastive_beta10",
                                                    "control_unpaired_beta10"]
    assert references("aligned_beta1", models) == ["base", "control_beta0", "control_unpaired_beta1"]
    assert references("control_unpaired_beta1", models) == ["base"] and references("base", models) == []
    assert references("aligned", ["base", "aligned", "control_beta0"]) == ["base", "control_beta0"]
    table = _similarity({model: 0.0 for model in models})
    tests = improvement_tests(similarity_improvements(table.assign(readout="whole response")))
    families = {test.family for test in tests}
    assert {"aligned_beta1 | whole response", "aligned_beta10 | whole response"} <= families
    assert len(tests) == len(comparison_pairs(models)) == 4 + 3 + 4  # aligned x2 and the four controls vs base


def test_compare_models_finds_a_planted_difference_with_ci() -> None:
    table = _similarity({"base": 0.0, "aligned": 0.05})
    test = compare_models(table, "aligned", "base")
    difference = test.difference
    assert difference.n == 8 and difference.n_better == 8 and test.p_value < 1e-4
    assert 0.0 < difference.ci_low < difference.mean < difference.ci_high and difference.alternative == "two-sided"
    record = test.as_dict()
    assert record["mean_difference"] == difference.mean and record["reference"] == "base" and "mean" not in record
    assert compare_models(table, "aligned", "control_unpaired") is None
    summary = summarize(table, "IT")
    assert summary["aligned"]["n"] == 8 and summary["aligned"]["mean"] == pytest.approx(
        table.query("model == 'aligned'")["similarity"].mean())
    assert mean_sem(np.array([4.0]))["sem"] == 0.0


def test_null_comparisons_hold_alpha_after_correction() -> None:
    rejected = []
    for seed in range(60):
        table = _similarity({"base": 0.0, "aligned": 0.0, "control_beta0": 0.0, "control_unpaired": 0.0}, seed=seed)
        tests = improvement_tests(similarity_improvements(table.assign(readout="whole response")))
        rejected.append(any(test.p_corrected < 0.05 for test in tests if test.model == "aligned"))
    assert np.mean(rejected) <= 0.12  # Holm keeps the family-wise error near 0.05
    tests = model_tests(_similarity({"base": 0.0, "aligned": 0.04}), "whole response")
    assert len(tests) == 1 and tests[0].p_value < 1e-3


@pytest.mark.parametrize("method", ["fdr", "cluster"])
def test_timecourse_significance_finds_a_planted_window_two_sided(method: str) -> None:
    rng = np.random.default_rng(0)
    times = np.round(np.arange(20) * 0.01, 2)
    rows = []
    for subject in range(8):
        noise = rng.normal(0, 0.01, (2, len(times)))
        effect = np.where((times >= 0.08) & (times <= 0.12), -0.2, 0.0)  # aligned *below* base: two-sided finds it
        rows += [("base", "IT", str(subject), t, 0.1 + n) for t, n in zip(times, noise[0])]
        rows += [("aligned", "IT", str(subject), t, 0.1 + e + n) for t, e, n in zip(times, effect, noise[1])]
    courses = pd.DataFrame(rows, columns=["model", "layer", "subject", "time", "similarity"])
    result = timecourse_significance(courses, method, n_permutations=200)
    marked = set(result.loc[result["significant"].astype(bool), "time"].round(2))
    assert marked == {0.08, 0.09, 0.1, 0.11, 0.12}
    assert set(zip(result["model"], result["reference"])) == {("aligned", "base")} and len(result) == len(times)
    assert result["difference"].min() == pytest.approx(-0.2, abs=0.02) and (result["n"] == 8).all()
    assert timecourse_significance(courses, method, alternative="greater", n_permutations=200)["significant"].sum() == 0
    few = courses[courses["subject"].isin(["0", "1"])]
    assert timecourse_significance(few, "cluster").empty  # a cluster test needs >= 3 subjects


def test_eeg_readouts_at_the_reference_peak_and_over_50_to_200_ms() -> None:
    times = np.arange(-0.1, 0.5, 0.01)
    shape = np.exp(-((times - 0.12) / 0.05) ** 2)
    reference = np.vstack([0.2 * shape + 0.01 * k for k in range(4)])
    model = reference * 1.25
    readout = timecourse_readout(model, reference, times)
    assert readout.peak_time == pytest.approx(0.12)
    np.testing.assert_allclose(readout.model_peak / readout.reference_peak, 1.25)
    window = (times >= 0.05 - 1e-9) & (times <= 0.2 + 1e-9)
    np.testing.assert_allclose(readout.model_window, model[:, window].mean(axis=1))
    courses = pd.DataFrame([(name, "IT", f"s{k}", t, values[k, i]) for name, values in (("base", reference),
                            ("aligned", model)) for k in range(4) for i, t in enumerate(times)],
                           columns=["model", "layer", "subject", "time", "similarity"])
    table = timecourse_improvements(courses)
    assert set(table["readout"]) == {PEAK, WINDOW} and (table["reference"] == "base").all()
    peak = table[table["readout"] == PEAK]
    np.testing.assert_allclose(peak["improvement_ratio"], 0.25)
    assert peak["time"].iloc[0] == pytest.approx(0.12)


def _improvement_datasets(effect: float, n_datasets: int, n_subjects: int = 8, seed: int = 0) -> pd.DataFrame:
    """``n_datasets`` simulated studies as the targets of one ``improvement`` table (eeg peak, aligned vs
    base): per subject a base similarity and an aligned one ``effect`` higher plus subject noise."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.3, 0.05, (n_datasets, n_subjects))
    aligned = base + effect + rng.normal(0.0, 0.02, (n_datasets, n_subjects))
    return pd.DataFrame({"model": "aligned", "reference": "base", "readout": PEAK,
                         "target": np.repeat([f"d{k}" for k in range(n_datasets)], n_subjects),
                         "subject": np.tile([f"s{i}" for i in range(n_subjects)], n_datasets),
                         "base": base.ravel(), "aligned": aligned.ravel()})


def test_the_summary_tests_find_a_planted_effect_and_hold_alpha_over_simulated_nulls() -> None:
    """The test behind summary.json's p-values (improvement_tests), run on 1000 simulated null studies and
    200 with a planted effect: false positives within a 99.9 % binomial band around alpha = 0.05."""
    from scipy.stats import binom

    alpha, n_null = 0.05, 1000
    null = improvement_tests(_improvement_datasets(0.0, n_null), correction="none")
    assert len(null) == n_null and {test.difference.alternative for test in null} == {"two-sided"}
    false_positives = sum(test.p_value < alpha for test in null)
    low, high = binom.ppf([0.0005, 0.9995], n_null, alpha)
    assert low <= false_positives <= high
    covered = np.mean([test.difference.ci_low <= 0.0 <= test.difference.ci_high for test in null])
    assert abs(covered - (1 - alpha)) < 0.025  # the 95 % intervals cover the true difference (0)
    planted = improvement_tests(_improvement_datasets(0.04, 200, seed=1), correction="none")
    assert np.mean([test.p_value < alpha for test in planted]) > 0.95
    below = improvement_tests(_improvement_datasets(-0.04, 200, seed=2), correction="none")
    assert np.mean([test.p_value < alpha and test.difference.mean < 0 for test in below]) > 0.95  # two-sided
