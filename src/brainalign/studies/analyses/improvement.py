"""Improvement and improvement ratio of every model over its references, per subject, for every readout.

Improvement = model - reference and ratio = (model - reference) / reference (ReAlnet, Results "ReAlnet is
more similar to human EEG"; ReAlnet-fMRI, Results on the fMRI ROIs), per subject, for:

- ``eeg peak``: the layer's similarity at the time point where the reference's mean time course peaks;
- ``eeg 50-200 ms``: the layer's similarity averaged over 50-200 ms;
- ``roi best layer``: the best layer's similarity per ROI; ``whole response``: each layer vs the whole
  response RDM;
- cross-dataset readouts (``<dataset> eeg peak``, ``<dataset> eeg 50-200 ms``, ``<dataset> roi best
  layer``), with the other dataset's subjects as ``subject`` (each averaged over the training subjects'
  models first).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from brainalign.measure import improvement_ratio, timecourse_readout
from brainalign.measure.rsa.readouts import EEG_WINDOW, PEAK, WINDOW
from brainalign.studies import statistics as st
from brainalign.studies.analyses.base import Analysis, always
from brainalign.studies.context import StudyContext

COLUMNS = ["model", "reference", "readout", "target", "subject", "base", "aligned", "improvement",
           "improvement_ratio", "time"]


def improvement(context: StudyContext) -> Optional[pd.DataFrame]:
    """``improvement`` table over every readout the study has (None when there is only one model)."""
    parts = [similarity_improvements(context.frames["similarity"])]
    if "rsa_timecourses" in context.frames:
        parts.append(timecourse_improvements(context.frames["rsa_timecourses"]))
    if "cross_timecourses" in context.frames:
        for dataset, rows in context.frames["cross_timecourses"].groupby("dataset", sort=False):
            parts.append(timecourse_improvements(by_data_subject(rows, ["layer", "time"]), f"{dataset} "))
    if "cross_similarity" in context.frames:
        for dataset, rows in context.frames["cross_similarity"].groupby("dataset", sort=False):
            roi = by_data_subject(rows, ["target"]).assign(readout=f"{dataset} roi best layer")
            parts.append(similarity_improvements(roi))
    table = pd.concat(parts, ignore_index=True)
    return table if len(table) else None


def by_data_subject(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Cross-dataset rows as per-subject rows of the other dataset: ``subject`` = ``data_subject``, the
    training subjects' models (and the shared base model) averaged."""
    averaged = rows.groupby(["model", "data_subject", *keys], sort=False)["similarity"].mean().reset_index()
    return averaged.rename(columns={"data_subject": "subject"})


def similarity_improvements(similarity: pd.DataFrame) -> pd.DataFrame:
    """Improvement rows of a ``similarity`` table (one readout per value of its ``readout`` column)."""
    parts = []
    for readout, rows in similarity.groupby("readout", sort=False):
        wide = rows.pivot_table(index=["target", "subject"], columns="model", values="similarity", sort=False)
        for model, reference in st.comparison_pairs(rows["model"]):
            pair = wide[[model, reference]].dropna().reset_index()
            parts.append(_rows(model, reference, str(readout), pair["target"], pair["subject"],
                               pair[reference], pair[model], np.nan))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def timecourse_improvements(courses: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """``eeg peak`` and ``eeg 50-200 ms`` improvement rows of an ``rsa_timecourses`` table."""
    parts = []
    wide = courses.pivot_table(index=["layer", "subject"], columns=["model", "time"], values="similarity",
                               sort=False)
    times = np.array(sorted(courses["time"].unique()), dtype=float)
    for model, reference in st.comparison_pairs(courses["model"]):
        for layer in pd.unique(courses["layer"]):
            model_values = wide.loc[layer, model].reindex(columns=times)
            reference_values = wide.loc[layer, reference].reindex(columns=times)
            complete = model_values.notna().all(axis=1) & reference_values.notna().all(axis=1)
            if complete.sum() < 1:
                continue
            readout = timecourse_readout(model_values[complete].to_numpy(), reference_values[complete].to_numpy(),
                                         times, EEG_WINDOW)
            subjects = model_values.index[complete]
            parts.append(_rows(model, reference, prefix + PEAK, layer, subjects, readout.reference_peak,
                               readout.model_peak, readout.peak_time))
            parts.append(_rows(model, reference, prefix + WINDOW, layer, subjects, readout.reference_window,
                               readout.model_window, np.nan))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def _rows(model: str, reference: str, readout: str, target, subjects, base, aligned, time: float) -> pd.DataFrame:
    base, aligned = np.asarray(base, dtype=float), np.asarray(aligned, dtype=float)
    return pd.DataFrame({"model": model, "reference": reference, "readout": readout, "target": target,
                         "subject": np.asarray(subjects), "base": base, "aligned": aligned,
                         "improvement": aligned - base, "improvement_ratio": improvement_ratio(aligned, base),
                         "time": time})[COLUMNS]


ANALYSIS = Analysis("improvement", "improvement and ratio over base and the controls, every readout", always,
                    improvement, needs=("similarity",))
