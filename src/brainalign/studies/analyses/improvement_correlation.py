"""EEG-vs-fMRI improvement correlation across models.

ReAlnet (Lu, Wang & Golomb; Results "ReAlnet is more similar to human fMRI"): across the personalised
models, does a model that gained more similarity to EEG also gain more similarity to fMRI? For every pair of
an EEG readout (each layer's 50-200 ms mean and peak improvement over base) and an fMRI ROI (best-layer
improvement over base), Pearson r across the aligned models (one per training subject, seeds averaged; the
fMRI value of a model averaged over the fMRI dataset's subjects). Runs when a study has both, e.g. EEG
alignment with an fMRI ``cross_evaluation`` entry, or the reverse; needs >= 3 models.
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from brainalign.measure import improvement_correlation as correlate
from brainalign.studies.analyses.base import Analysis, always
from brainalign.measure.rsa.readouts import ROI, WINDOW, in_window
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import BASE
from brainalign.studies.statistics import ALIGNED


def improvement_correlation(context: StudyContext) -> Optional[pd.DataFrame]:
    """``improvement_correlation`` table, or None when the study lacks EEG or fMRI improvements per model."""
    eeg, fmri = _eeg_per_model(context), _fmri_per_model(context)
    if eeg is None or fmri is None:
        return None
    rows = []
    for (eeg_readout, eeg_values), (roi, fmri_values) in ((e, f) for e in eeg.items() for f in fmri.items()):
        both = pd.concat([eeg_values.rename("eeg"), fmri_values.rename("fmri")], axis=1, join="inner").dropna()
        if len(both) >= 3 and both["eeg"].std() > 0 and both["fmri"].std() > 0:
            r, p = correlate(both["eeg"].to_numpy(), both["fmri"].to_numpy())
            rows.append({"eeg_readout": eeg_readout, "roi": roi, "r": r, "p_value": p, "n": len(both)})
    return pd.DataFrame(rows) if rows else None


def _minus_base(table: pd.DataFrame, join: list[str], value: str = "similarity") -> pd.DataFrame:
    """Rows of the aligned models with ``improvement`` = their ``value`` minus the base model's on the same
    ``join`` keys (e.g. subject and ROI, or the other dataset's subject, layer and ROI)."""
    base = table[table["model"] == BASE].groupby(join)[value].mean()
    aligned = table[table["model"].str.startswith(ALIGNED)]
    reference = base.reindex(pd.MultiIndex.from_frame(aligned[join])).to_numpy()
    return aligned.assign(improvement=aligned[value].to_numpy() - reference)


def _per_model(improved: pd.DataFrame, target: str) -> dict[str, pd.Series]:
    """``{target value: improvement per (model, training subject)}``, averaged over the other rows."""
    means = improved.groupby([target, "model", "subject"], sort=False)["improvement"].mean()
    return {str(name): rows.droplevel(target) for name, rows in means.groupby(level=target, sort=False)}


def _eeg_per_model(context: StudyContext) -> Optional[dict[str, pd.Series]]:
    """EEG improvement (peak and 50-200 ms) per aligned model and layer: the study's own time courses, or a
    cross dataset's (50-200 ms, averaged over its subjects)."""
    from brainalign.studies.analyses.improvement import timecourse_improvements

    if "rsa_timecourses" in context.frames:
        table = timecourse_improvements(context.frames["rsa_timecourses"])
        table = table[(table["reference"] == BASE) & table["model"].str.startswith(ALIGNED)]
        return _per_model(table.assign(target=table["target"] + " " + table["readout"].str.removeprefix("eeg ")),
                          "target")
    if "cross_timecourses" in context.frames:
        courses = context.frames["cross_timecourses"]
        window = courses[in_window(courses["time"])]
        means = window.groupby(["model", "subject", "data_subject", "layer"], sort=False)["similarity"].mean()
        improved = _minus_base(means.reset_index(), ["data_subject", "layer"])
        return _per_model(improved.assign(layer=improved["layer"] + " " + WINDOW.removeprefix("eeg ")), "layer")
    return None


def _fmri_per_model(context: StudyContext) -> Optional[dict[str, pd.Series]]:
    """fMRI best-layer improvement per aligned model and ROI: the study's own ROIs or a cross dataset's."""
    similarity = context.frames.get("similarity")
    if similarity is not None and (similarity["readout"] == ROI).any():
        return _per_model(_minus_base(similarity[similarity["readout"] == ROI], ["subject", "target"]), "target")
    if "cross_similarity" in context.frames:
        return _per_model(_minus_base(context.frames["cross_similarity"], ["data_subject", "target"]), "target")
    return None


ANALYSIS = Analysis("improvement_correlation", "EEG-vs-fMRI improvement correlation across aligned models",
                    always, improvement_correlation, needs=("similarity",))
