"""Statistics across subjects for a study's result tables (mean, SEM, paired tests, FDR over time)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from brainalign.studies.evaluate import BASE


def mean_sem(values: np.ndarray) -> dict[str, float]:
    """``mean``, ``sem`` (ddof=1; 0 for one value) and ``n`` of a 1-d array."""
    values = np.asarray(values, dtype=float)
    sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "sem": sem, "n": int(len(values))}


def per_subject(table: pd.DataFrame, target: str) -> pd.DataFrame:
    """``similarity`` rows of ``target`` as a (subject x model) matrix (seeds already averaged)."""
    rows = table[table["target"] == target]
    return rows.pivot_table(index="subject", columns="model", values="similarity", aggfunc="mean", sort=False)


def summarize(table: pd.DataFrame, target: str) -> dict[str, dict[str, float]]:
    """Per model: mean, SEM and n across subjects of the similarity to ``target``."""
    matrix = per_subject(table, target)
    return {model: mean_sem(matrix[model].dropna().to_numpy()) for model in matrix.columns}


def paired_tests(table: pd.DataFrame, target: str, model: str = "aligned") -> list[dict[str, float | str]]:
    """Paired t-tests across subjects of ``model`` against every other model, on ``target``
    (two-sided p; ``mean_difference`` = model - other; ``n_better`` = subjects where model > other)."""
    matrix = per_subject(table, target)
    if model not in matrix.columns:
        return []
    tests = []
    for other in matrix.columns.drop(model):
        pair = matrix[[model, other]].dropna()
        difference = (pair[model] - pair[other]).to_numpy()
        p_value = float(stats.ttest_rel(pair[model], pair[other]).pvalue) if len(pair) > 1 else float("nan")
        tests.append({"model": model, "other": other, "target": target, "n": int(len(pair)),
                      "mean_difference": float(difference.mean()), "n_better": int((difference > 0).sum()),
                      "p_value": p_value})
    return tests


def timecourse_significance(courses: pd.DataFrame, method: str = "fdr", alpha: float = 0.05,
                            n_permutations: int = 1000) -> pd.DataFrame:
    """Time points where a model's RSA time course exceeds the base model's, across subjects.

    For every non-base model and layer, the per-subject differences (model - base) over time are tested
    one-sided: ``method="cluster"`` runs MNE's cluster-based sign-flip permutation test
    (:func:`brainalign.measure.cluster_test`; needs >= 3 subjects, and >= 6 to reach p < 0.05),
    ``"fdr"`` a paired t-test per time point with Benjamini-Hochberg FDR over the time points.
    Returns ``rsa_significance`` rows: model, layer, time, significant, test.
    """
    from brainalign.measure import cluster_test, fdr

    wide = courses.pivot_table(index=["layer", "time", "subject"], columns="model", values="similarity",
                               aggfunc="mean", sort=False)
    n_subjects = wide.index.get_level_values("subject").nunique()
    columns = ["model", "layer", "time", "significant", "test"]
    if BASE not in wide.columns or n_subjects < (3 if method == "cluster" else 2):
        return pd.DataFrame(columns=columns)
    label = (f"cluster permutation test > base ({n_permutations} permutations, p < 0.05)" if method == "cluster"
             else f"paired t-test > base per time point, FDR q < {alpha:g}")
    parts = []
    for model in wide.columns.drop(BASE):
        for layer in pd.unique(wide.index.get_level_values("layer")):
            difference = (wide.loc[layer, model] - wide.loc[layer, BASE]).unstack("time")  # subjects x times
            if method == "cluster":
                significant = cluster_test(difference.to_numpy(), n_permutations=n_permutations, tail=1)[1]
            else:
                p_values = stats.ttest_1samp(difference.to_numpy(), 0.0, alternative="greater").pvalue
                significant = fdr(np.nan_to_num(p_values, nan=1.0), alpha)[0]
            parts.append(pd.DataFrame({"model": model, "layer": layer, "time": difference.columns,
                                       "significant": significant, "test": label}))
    return pd.concat(parts, ignore_index=True)[columns]


def improvement_table(similarity: pd.DataFrame) -> pd.DataFrame:
    """``improvement`` rows: every non-base model against ``base``, per target and subject
    (:func:`brainalign.measure.improvement_table`: improvement = aligned - base, ratio = (aligned - base) / base)."""
    from brainalign.measure import improvement_table as join_improvement

    rows = similarity.groupby(["model", "target", "subject"], sort=False)["similarity"].mean().reset_index()
    base = rows[rows["model"] == BASE]
    tables = [join_improvement(rows[rows["model"] == model], base, on=["target", "subject"]).assign(model=model)
              for model in pd.unique(rows["model"]) if model != BASE]
    return pd.concat(tables, ignore_index=True)[
        ["model", "target", "subject", "base", "aligned", "improvement", "improvement_ratio"]]
