"""Statistics across subjects: FDR equals statsmodels, planted effects are found, tables are consistent."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
import pytest

from brainalign.studies.statistics import (
    improvement_table,
    mean_sem,
    paired_tests,
    summarize,
    timecourse_significance,
)


def test_mean_sem_and_paired_tests() -> None:
    assert mean_sem(np.array([1.0, 2.0, 3.0])) == {"mean": 2.0, "sem": stats.sem([1, 2, 3]), "n": 3}
    assert mean_sem(np.array([4.0]))["sem"] == 0.0
    rows = [(model, "IT", f"s{i}", 0.3 + (0.1 + 0.002 * (i % 2)) * (model == "aligned") + 0.01 * i)
            for model in ("base", "aligned", "control_unpaired") for i in range(4)]
    table = pd.DataFrame(rows, columns=["model", "target", "subject", "similarity"])
    summary = summarize(table, "IT")
    assert list(summary) == ["base", "aligned", "control_unpaired"]
    assert np.isclose(summary["aligned"]["mean"], 0.416) and summary["aligned"]["n"] == 4
    tests = {test["other"]: test for test in paired_tests(table, "IT")}
    assert np.isclose(tests["base"]["mean_difference"], 0.101) and tests["base"]["n_better"] == 4
    assert tests["base"]["p_value"] < 1e-5 and tests["base"]["n"] == 4
    improvement = improvement_table(table)
    assert set(improvement["model"]) == {"aligned", "control_unpaired"}
    aligned = improvement[improvement["model"] == "aligned"]
    assert np.allclose(aligned["improvement_ratio"], (aligned["aligned"] - aligned["base"]) / aligned["base"])
    assert np.allclose(aligned["improvement"], [0.1, 0.102, 0.1, 0.102])


@pytest.mark.parametrize("method", ["fdr", "cluster"])
def test_timecourse_significance_finds_a_planted_window(method: str) -> None:
    rng = np.random.default_rng(0)
    times = np.round(np.arange(20) * 0.01, 2)
    rows = []
    for subject in range(8):
        noise = rng.normal(0, 0.01, (2, len(times)))
        effect = np.where((times >= 0.08) & (times <= 0.12), 0.2, 0.0)
        rows += [("base", "IT", str(subject), t, 0.1 + n) for t, n in zip(times, noise[0])]
        rows += [("aligned", "IT", str(subject), t, 0.1 + e + n) for t, e, n in zip(times, effect, noise[1])]
    courses = pd.DataFrame(rows, columns=["model", "layer", "subject", "time", "similarity"])
    result = timecourse_significance(courses, method, n_permutations=200)
    marked = set(result.loc[result["significant"].astype(bool), "time"].round(2))
    assert marked == {0.08, 0.09, 0.1, 0.11, 0.12}
    assert set(result["model"]) == {"aligned"} and len(result) == len(times)
    few = courses[courses["subject"].isin(["0", "1"])]
    assert timecourse_significance(few, "cluster").empty  # a cluster test needs >= 3 subjects
