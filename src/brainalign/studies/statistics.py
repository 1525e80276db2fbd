"""Statistics across subjects for a study's result tables: model comparisons with effect sizes and
confidence intervals, families of tests with a multiple-comparison correction, and significance over time.

Subjects are the unit of inference: every table holds one value per subject (a subject's seeds are
averaged first, :func:`brainalign.studies.evaluate.seed_mean`). Tests are two-sided unless the study config
says otherwise (``evaluation.alternative``).

Which model is compared with which (:func:`references`): every model against ``base``; an aligned model
also against the controls trained with the same beta (``control_beta0``, ``control_no_contrastive[_beta<b>]``,
``control_unpaired[_beta<b>]``). A *family* of tests is one model on one readout (every target and every
reference of it), so a sweep with several betas has one family per beta; p-values are corrected within
each family (``evaluation.correction``, Holm by default).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from brainalign.align.controls import ALIGNED_LABEL, control_labels, label_stem
from brainalign.errors import ValidationError
from brainalign.measure.statistics import PairedDifference, correct_p, paired_difference
from brainalign.studies.evaluate import BASE

ALIGNED = ALIGNED_LABEL


@dataclass(frozen=True)
class Comparison:
    """``model`` vs ``reference`` on one readout and target, across subjects (paired): the ``difference``
    (model - reference, in the readout's units: mean, SEM, t confidence interval, Cohen's d_z, t, p for its
    alternative, subjects where the model is higher) and, once corrected, ``p_corrected`` with the
    ``correction`` used over ``family``."""

    model: str
    reference: str
    readout: str
    target: str
    difference: PairedDifference
    p_corrected: float = float("nan")
    correction: str = "none"
    family: str = ""

    @property
    def p_value(self) -> float:
        return self.difference.p_value

    def as_dict(self) -> dict[str, Any]:
        """Flat record for ``summary.json``: model, reference, readout, target, n, mean_difference, sem, ci_low,
        ci_high, confidence, cohens_dz, t, p_value, alternative, n_better, p_corrected, correction, family."""
        fields = self.difference.as_dict()
        fields["mean_difference"] = fields.pop("mean")
        return {"model": self.model, "reference": self.reference, "readout": self.readout, "target": self.target,
                **fields, "p_corrected": self.p_corrected, "correction": self.correction, "family": self.family}


def per_subject(table: pd.DataFrame, value: str = "similarity") -> pd.DataFrame:
    """``value`` as a (subject x model) matrix; several rows of one subject and model (seeds) are averaged."""
    return table.pivot_table(index="subject", columns="model", values=value, aggfunc="mean", sort=False)


def compare_models(table: pd.DataFrame, model: str, reference: str, value: str = "similarity",
                   readout: str = "", target: str = "", alternative: str = "two-sided",
                   confidence: float = 0.95) -> Comparison | None:
    """Paired comparison across subjects of ``model`` against ``reference`` in ``table`` (columns ``model``,
    ``subject``, ``value``; rows of one target). None when fewer than 2 subjects have both."""
    matrix = per_subject(table, value)
    if model not in matrix.columns or reference not in matrix.columns:
        return None
    pair = matrix[[model, reference]].dropna()
    if len(pair) < 2:
        return None
    difference = paired_difference(pair[model].to_numpy(), pair[reference].to_numpy(), alternative, confidence)
    return Comparison(model, reference, readout, target, difference)


def references(model: str, available: Iterable[str]) -> list[str]:
    """The models ``model`` is compared with (see the module docstring), among ``available``."""
    present = set(available)
    if model == BASE:
        return []
    chosen = [BASE]
    if label_stem(model) == ALIGNED:
        chosen += control_labels(model)
    return [name for name in chosen if name in present and name != model]


def comparison_pairs(models: Iterable[str]) -> list[tuple[str, str]]:
    """Every (model, reference) pair of :func:`references` among ``models``, models in the given order."""
    names = list(dict.fromkeys(models))
    return [(model, reference) for model in names for reference in references(model, names)]


def model_tests(table: pd.DataFrame, readout: str, value: str = "similarity", target_column: str = "target",
                alternative: str = "two-sided", confidence: float = 0.95) -> list[Comparison]:
    """Every :func:`comparison_pairs` test on every target of ``table`` (uncorrected; see :func:`correct`)."""
    tests = []
    for target, rows in table.groupby(target_column, sort=False):
        for model, reference in comparison_pairs(rows["model"]):
            test = compare_models(rows, model, reference, value, readout, str(target), alternative, confidence)
            if test is not None:
                tests.append(test)
    return tests


def correct(tests: Sequence[Comparison], method: str = "holm") -> list[Comparison]:
    """``tests`` with ``p_corrected`` over each family (same model and readout: every target and reference)."""
    frame = pd.DataFrame({"family": [f"{test.model} | {test.readout}" for test in tests],
                          "p": [test.p_value for test in tests]})
    corrected = np.full(len(tests), np.nan)
    for _, rows in frame.groupby("family", sort=False):
        corrected[rows.index.to_numpy()] = correct_p(rows["p"].to_numpy(), method)
    return [replace(test, p_corrected=float(p), correction=method, family=family)
            for test, p, family in zip(tests, corrected, frame["family"])]


def summarize(table: pd.DataFrame, target: str, value: str = "similarity") -> dict[str, dict[str, float]]:
    """Per model: mean, SEM (ddof=1; 0 for one subject) and n across subjects of ``value`` on ``target``."""
    matrix = per_subject(table[table["target"] == target], value)
    return {model: mean_sem(matrix[model].dropna().to_numpy()) for model in matrix.columns}


def mean_sem(values: np.ndarray) -> dict[str, float]:
    """``mean``, ``sem`` (ddof=1; 0 for one value) and ``n`` of a 1-d array."""
    values = np.asarray(values, dtype=float)
    sem = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "sem": sem, "n": int(len(values))}


def timecourse_significance(courses: pd.DataFrame, method: str = "cluster", alternative: str = "two-sided",
                            alpha: float = 0.05, n_permutations: int = 1000) -> pd.DataFrame:
    """Difference curves model - reference (every :func:`comparison_pairs` pair) per layer over time, and the
    time points where they differ across subjects.

    ``method="cluster"``: MNE's cluster-based sign-flip permutation test on the per-subject differences
    (:func:`brainalign.measure.cluster_test`; two-sided as in the ReAlnet authors' analysis; needs >= 3
    subjects, and >= 6 before a two-sided p can fall below 0.05); ``"fdr"``: a paired t-test per time
    point with Benjamini-Hochberg FDR over the time points. Returns ``rsa_significance`` rows: model,
    reference, layer, time, difference (mean), sem, significant, p_value (cluster p, NaN outside
    clusters; or the FDR-adjusted p), n, test.
    """
    from brainalign.measure import cluster_test, fdr

    if method not in ("cluster", "fdr"):
        raise ValidationError(f"significance: {method!r} is not 'cluster' or 'fdr'")
    columns = ["model", "reference", "layer", "time", "difference", "sem", "significant", "p_value", "n", "test"]
    wide = courses.pivot_table(index=["layer", "time", "subject"], columns="model", values="similarity",
                               aggfunc="mean", sort=False)
    n_subjects = wide.index.get_level_values("subject").nunique()
    if n_subjects < (3 if method == "cluster" else 2):
        return pd.DataFrame(columns=columns)
    tail = {"two-sided": 0, "greater": 1, "less": -1}[alternative]
    label = (f"{alternative} cluster permutation test ({n_permutations} permutations, cluster p < {alpha:g})"
             if method == "cluster" else f"{alternative} paired t-test per time point, FDR q < {alpha:g}")
    parts = []
    for model, reference in comparison_pairs(wide.columns):
        for layer in pd.unique(wide.index.get_level_values("layer")):
            difference = (wide.loc[layer, model] - wide.loc[layer, reference]).unstack("time").dropna()
            values = difference.to_numpy()  # subjects x times
            if len(values) < (3 if method == "cluster" else 2):
                continue
            if method == "cluster":
                clusters, significant = cluster_test(values, n_permutations=n_permutations, tail=tail)
                p_values = np.full(values.shape[1], np.nan)
                for cluster in clusters.itertuples():
                    p_values[cluster.start:cluster.stop + 1] = cluster.p
                significant = np.nan_to_num(p_values, nan=1.0) < alpha
            else:
                from scipy import stats

                raw = stats.ttest_1samp(values, 0.0, alternative=alternative).pvalue
                significant, p_values = fdr(np.nan_to_num(raw, nan=1.0), alpha)
            parts.append(pd.DataFrame({
                "model": model, "reference": reference, "layer": layer, "time": difference.columns.to_numpy(float),
                "difference": values.mean(axis=0), "sem": values.std(axis=0, ddof=1) / np.sqrt(len(values)),
                "significant": significant, "p_value": p_values, "n": len(values), "test": label}))
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def improvement_tests(improvement: pd.DataFrame, alternative: str = "two-sided", confidence: float = 0.95,
                      correction: str = "holm") -> list[Comparison]:
    """Paired tests of every (model, reference, readout, target) of an ``improvement`` table across its
    subjects (aligned vs base columns), corrected within each family (:func:`correct`)."""
    tests = []
    complete = improvement.dropna(subset=["aligned", "base"])
    aligned, base = complete["aligned"].to_numpy(float), complete["base"].to_numpy(float)
    groups = complete.groupby(["model", "reference", "readout", "target"], sort=False).indices
    for (model, reference, readout, target), rows in groups.items():
        if len(rows) < 2:
            continue
        difference = paired_difference(aligned[rows], base[rows], alternative, confidence)
        tests.append(Comparison(model, reference, readout, str(target), difference))
    return correct(tests, correction)
