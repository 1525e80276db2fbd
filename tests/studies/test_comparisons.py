"""The headline comparisons: per-subject differences against each control (seeds averaged first) and their
verdicts in summary.json (planted effects hold, nulls are not supported, reversals are called so)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainalign.studies.analyses.comparisons import COLUMNS, control_rows
from brainalign.studies.summary import comparison_results


def _similarity(effects: dict[str, float], n_subjects: int = 8, n_seeds: int = 3, seed: int = 0) -> pd.DataFrame:
    """Rows per model, subject and seed: a subject level, the model's effect, seed noise."""
    rng = np.random.default_rng(seed)
    level = rng.normal(0.3, 0.05, n_subjects)
    rows = [(model, f"sub-{i:02d}", s, level[i] + effect + rng.normal(0, 0.01))
            for model, effect in effects.items() for i in range(n_subjects) for s in range(n_seeds)]
    return pd.DataFrame(rows, columns=["model", "subject", "seed", "similarity"])


def test_planted_effects_hold_nulls_are_not_supported_and_reversals_are_named() -> None:
    table = _similarity({"aligned": 0.05, "control_beta0": 0.0, "control_unpaired": 0.05,
                         "control_no_contrastive": 0.1, "base": -0.2})
    rows = pd.concat(control_rows(table, "aligned", "whole response (IT)", "IT"), ignore_index=True)
    assert list(rows.columns) == COLUMNS and len(rows) == 3 * 8  # three controls (never base) x subjects
    assert set(rows["reference"]) == {"control_beta0", "control_unpaired", "control_no_contrastive"}
    seeds = table.groupby(["model", "subject"])["similarity"].mean()  # seeds averaged within a subject first
    first = rows[rows["reference"] == "control_beta0"].iloc[0]
    assert first["difference"] == pytest.approx(seeds["aligned", first["subject"]] - seeds["control_beta0", first["subject"]])
    results = {entry["comparison"]: entry for entry in comparison_results(rows)}
    planted = results["aligned - control_beta0"]
    assert planted["verdict"] == "holds" and planted["n"] == 8 and planted["ci_low"] > 0
    assert planted["ci_low"] < planted["mean"] < planted["ci_high"] and planted["mean"] == pytest.approx(0.05, abs=0.01)
    assert planted["p_sign_flip"] == pytest.approx(2 / 2**8)  # exact: every subject higher
    assert "Holds in this simulation" in planted["statement"] and "n = 8 subjects" in planted["statement"]
    null = results["aligned - control_unpaired"]
    assert null["verdict"] == "not supported" and null["ci_low"] < 0 < null["ci_high"]
    assert "Not supported in this simulation" in null["statement"]
    reversed_ = results["aligned - control_no_contrastive"]
    assert reversed_["verdict"] == "reversed" and "the reverse holds" in reversed_["statement"]
    assert all(entry["p_corrected"] >= entry["p_value"] for entry in results.values())


def test_a_null_holds_alpha_over_many_simulated_studies() -> None:
    supported = sum(comparison_results(pd.concat(control_rows(
        _similarity({"aligned": 0.0, "control_beta0": 0.0}, seed=seed), "aligned", "r", "IT")))[0]["verdict"] == "holds"
        for seed in range(200))
    assert supported <= 200 * 0.05  # a 95 % interval above 0 at most ~2.5 % of the time under the null


def test_one_subject_is_not_testable_and_real_data_say_study() -> None:
    rows = pd.concat(control_rows(_similarity({"aligned": 0.1, "control_beta0": 0.0}, n_subjects=1), "aligned",
                                  "r", "IT"))
    assert comparison_results(rows)[0]["verdict"] == "not testable"
    rows = pd.concat(control_rows(_similarity({"aligned": 0.1, "control_beta0": 0.0}), "aligned", "r", "IT"))
    assert "in this study" in comparison_results(rows, simulated=False)[0]["statement"]


def test_an_interval_end_just_above_zero_is_not_printed_as_zero() -> None:
    """The demo's aligned - control_no_contrastive interval starts at +3e-05: its sentence said '+0.0000' next to
    'the interval lies above 0'; the end is now printed with two significant digits."""
    from brainalign.report.results import signed

    assert [signed(value) for value in (0.0211, 2.99e-05, -1e-06, 0.0)] == ["+0.0211", "+3.0e-05", "-1.0e-06", "+0.0000"]
    spread = 0.004 * np.array([-1.0, 0.0, 1.0])  # t(0.975, 2) x SEM = 4.303 x 0.004 / sqrt(3)
    values = 4.3027 * 0.004 / np.sqrt(3) + 3e-5 + spread
    rows = pd.DataFrame({"comparison": "aligned - control_beta0", "claim": "c", "readout": "r", "target": "IT",
                         "subject": ["s1", "s2", "s3"], "difference": values})
    entry = comparison_results(rows)[0]
    assert entry["verdict"] == "holds" and 0 < entry["ci_low"] < 5e-5
    assert "+0.0000" not in entry["statement"] and f"CI {signed(entry['ci_low'])} to" in entry["statement"]
