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


def timecourse_significance(courses: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """For every non-base model, layer and time point: one-sided paired t-test (model > base) across
    subjects, Benjamini-Hochberg FDR over the time points of each layer. Returns ``rsa_significance``
    rows: model, layer, time, p_value, significant, test."""
    wide = courses.pivot_table(index=["layer", "time", "subject"], columns="model", values="similarity",
                               aggfunc="mean", sort=False)
    if BASE not in wide.columns or wide.index.get_level_values("subject").nunique() < 2:
        return pd.DataFrame(columns=["model", "layer", "time", "p_value", "significant", "test"])
    parts = []
    for model in wide.columns.drop(BASE):
        difference = (wide[model] - wide[BASE]).unstack("subject")  # (layer, time) x subject
        p_values = stats.ttest_1samp(difference.to_numpy(), 0.0, axis=1, alternative="greater").pvalue
        result = difference.index.to_frame(index=False).assign(model=model, p_value=p_values)
        result["significant"] = result.groupby("layer", sort=False)["p_value"].transform(
            lambda p: fdr_reject(p.to_numpy(), alpha))
        parts.append(result)
    merged = pd.concat(parts, ignore_index=True)
    merged["test"] = f"paired t-test > base across subjects, FDR q < {alpha:g} over time"
    return merged[["model", "layer", "time", "p_value", "significant", "test"]]


def fdr_reject(p_values: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Benjamini-Hochberg: which of ``p_values (n,)`` are rejected at false discovery rate ``alpha``
    (NaN p-values are never rejected)."""
    p = np.where(np.isnan(p_values), 1.0, p_values)
    order = np.argsort(p)
    thresholds = alpha * np.arange(1, len(p) + 1) / len(p)
    passed = np.nonzero(p[order] <= thresholds)[0]
    rejected = np.zeros(len(p), dtype=bool)
    if len(passed):
        rejected[order[: passed[-1] + 1]] = True
    return rejected


def improvement_table(similarity: pd.DataFrame) -> pd.DataFrame:
    """``improvement`` rows: every non-base model against ``base``, per target and subject."""
    rows = similarity.groupby(["model", "target", "subject"], sort=False)["similarity"].mean().reset_index()
    base = rows[rows["model"] == BASE].set_index(["target", "subject"])["similarity"].rename("base")
    others = rows[rows["model"] != BASE].join(base, on=["target", "subject"]).rename(columns={"similarity": "aligned"})
    others["improvement"] = others["aligned"] - others["base"]
    others["improvement_ratio"] = others["improvement"] / others["base"]
    return others[["model", "target", "subject", "base", "aligned", "improvement", "improvement_ratio"]]
