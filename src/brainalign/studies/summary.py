"""``summary.json`` of a study: the papers' headline readouts per model with two-sided p-values and
confidence intervals, every paired test (corrected within its family), the noise ceilings and the
EEG-vs-fMRI improvement correlation. Keys are documented in :data:`brainalign.report.results.SUMMARY_KEYS`.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from brainalign.align.controls import model_rank
from brainalign.measure.statistics import correct_p, paired_difference, ratio_of_means, sign_flip_test
from brainalign.report.results import signed
from brainalign.studies import statistics as st
from brainalign.measure.rsa.readouts import PEAK, ROI, WHOLE, WINDOW
from brainalign.studies.config import StudyConfig
from brainalign.studies.evaluate import BASE

SIMULATED_CAVEAT = ("These numbers come from the simulated observer: a hidden network stands in for the brain and "
                    "noise is planted. They show what the pipeline finds when the ground truth is known, not how "
                    "human brains respond.")
HEADLINE_READOUTS = {PEAK: ("eeg", "peak"), WINDOW: ("eeg", WINDOW.removeprefix("eeg ")), ROI: ("roi", "best layer")}


def build_summary(config: StudyConfig, frames: Mapping[str, pd.DataFrame], subjects: list[str],
                  headline_layer: str) -> dict[str, Any]:
    """The summary of a study from its result tables (see the module docstring)."""
    evaluation = config.evaluation
    similarity = frames["similarity"]
    whole = similarity[similarity["readout"] == WHOLE]
    stats = st.summarize(whole, headline_layer)
    simulated = config.alignment.train.data.source == "simulated"
    improvement = frames.get("improvement")
    tests = ([] if improvement is None else
             st.improvement_tests(improvement, evaluation.alternative, evaluation.confidence, evaluation.correction))
    summary: dict[str, Any] = {
        "title": config.title or f"brainalign study: {config.name}",
        "simulated": simulated,
        "caveat": SIMULATED_CAVEAT if simulated else "",
        "measure": (f"held-out RSA similarity: {evaluation.compare_method} correlation between the {headline_layer} "
                    "layer RDM and each subject's held-out response RDM (all features at once)"),
        "target": headline_layer,
        "subjects": subjects,
        "models": {model: stats[model] for model in sorted(stats, key=model_rank)},
        "readouts": headline_readouts(improvement, tests, evaluation.confidence, config.seed),
        "tests": [test.as_dict() for test in tests],
        "notes": notes(config, len(subjects)),
    }
    if "comparisons" in frames:
        summary["comparisons"] = comparison_results(frames["comparisons"], evaluation.confidence, simulated,
                                                    config.seed)
    if "noise_ceiling" in frames:
        summary["noise_ceiling"] = {readout: {row.target: {"lower": row.lower, "upper": row.upper, "n": int(row.n)}
                                              for row in rows.itertuples()}
                                    for readout, rows in frames["noise_ceiling"].groupby("readout", sort=False)}
    if "improvement_correlation" in frames:
        summary["improvement_correlation"] = frames["improvement_correlation"].to_dict(orient="records")
    return summary


def comparison_results(table: pd.DataFrame, confidence: float = 0.95, simulated: bool = True,
                       seed: int = 0) -> list[dict[str, Any]]:
    """Per comparison of a ``comparisons`` table (one difference per subject): mean, t confidence interval and
    n across subjects, d_z, two-sided t and exact sign-flip p (Holm-corrected over the comparisons), and a
    verdict from the interval: ``holds`` (above 0), ``reversed`` (below 0) or ``not supported`` (includes 0),
    with a plain statement of it."""
    results = []
    where = "in this simulation" if simulated else "in this study"
    for comparison, rows in table.groupby("comparison", sort=False):
        values = rows.groupby("subject", sort=False)["difference"].mean().to_numpy()
        first = rows.iloc[0]
        entry: dict[str, Any] = {"comparison": str(comparison), "claim": str(first["claim"]),
                                 "readout": str(first["readout"]), "target": str(first["target"]),
                                 "n": int(len(values)), "mean": float(values.mean()), "confidence": confidence}
        if len(values) < 2:
            entry.update(verdict="not testable", statement=f"{comparison}: one subject only; no interval, no test.")
            results.append(entry)
            continue
        difference = paired_difference(values, None, "two-sided", confidence)
        verdict = "holds" if difference.ci_low > 0 else "reversed" if difference.ci_high < 0 else "not supported"
        entry.update(ci_low=difference.ci_low, ci_high=difference.ci_high, cohens_dz=difference.cohens_dz,
                     n_better=difference.n_better, p_value=difference.p_value,
                     p_sign_flip=float(sign_flip_test(values, seed=seed)), verdict=verdict)
        entry["statement"] = (
            f"{comparison}: {signed(difference.mean)} (similarity units; {confidence:.0%} CI {signed(difference.ci_low)} "
            f"to {signed(difference.ci_high)}; n = {difference.n} subjects, {difference.n_better} higher). Claim: "
            f"{first['claim']}. " + {"holds": f"Holds {where} (the interval lies above 0).",
                                      "not supported": f"Not supported {where} (the interval includes 0).",
                                      "reversed": f"Not supported {where}: the reverse holds (the interval lies "
                                                  "below 0)."}[verdict])
        results.append(entry)
    p_values = np.array([entry.get("p_value", np.nan) for entry in results], dtype=float)
    for entry, corrected in zip(results, correct_p(p_values, "holm")):
        entry["p_corrected"] = float(corrected)
    return results


def headline_readouts(improvement: pd.DataFrame | None, tests: list[st.Comparison], confidence: float,
                      seed: int) -> dict[str, Any]:
    """``readouts[kind][model][target][window]`` (see SUMMARY_KEYS) against the base model."""
    if improvement is None:
        return {}
    corrected = {(t.model, t.reference, t.readout, t.target): t for t in tests}
    readouts: dict[str, Any] = {}
    chosen = improvement[(improvement["reference"] == BASE) & improvement["readout"].isin(list(HEADLINE_READOUTS))]
    for (model, readout, target), rows in chosen.groupby(["model", "readout", "target"], sort=False):
        kind, window = HEADLINE_READOUTS[readout]
        test = corrected.get((model, BASE, readout, str(target)))
        if test is None:
            continue
        ratio, low, high = ratio_of_means(rows["aligned"].to_numpy(), rows["base"].to_numpy(), confidence, seed=seed)
        difference = test.difference
        entry = {"improvement_ratio": ratio, "ratio_ci": [low, high], "improvement": difference.mean,
                 "improvement_ci": [difference.ci_low, difference.ci_high], "cohens_dz": difference.cohens_dz,
                 "p_value": difference.p_value, "p_corrected": test.p_corrected, "correction": test.correction,
                 "n": difference.n, "confidence": confidence}
        if readout == PEAK:
            entry["time_ms"] = float(np.round(rows["time"].iloc[0] * 1000.0, 3))
        readouts.setdefault(kind, {}).setdefault(model, {}).setdefault(str(target), {})[window] = entry
    return readouts


def notes(config: StudyConfig, n_subjects: int) -> list[str]:
    """Remarks the reader needs next to the numbers."""
    evaluation = config.evaluation
    lines = [f"Every test is {evaluation.alternative}, paired across {n_subjects} subject(s) (seeds averaged "
             f"within a subject first); p_corrected: {evaluation.correction} within each family (one model on one "
             f"readout); intervals: {evaluation.confidence:.0%} (t for differences, bootstrap over subjects for "
             "ratios)."]
    if n_subjects < 6:
        lines.append(f"With {n_subjects} subjects a two-sided sign-flip test cannot reach p < 0.05 and t-tests have "
                     "little power: read the confidence intervals, not the p-values.")
    return lines


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """A short plain-text table of the summary (model, mean, SEM, n) for the terminal."""
    lines = [f"{'model':<24} {'mean':>8} {'SEM':>8} {'n':>3}"]
    lines += [f"{model:<24} {values['mean']:>8.4f} {values['sem']:>8.4f} {values['n']:>3}"
              for model, values in summary["models"].items()]
    return lines
