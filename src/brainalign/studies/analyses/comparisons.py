"""The headline comparisons of a study, per subject: does alignment beat its controls, is a personalised
model closer to its own subject than to the others, and does alignment carry over to another modality?

One row per comparison and subject (seeds averaged within the subject first, so subjects are the unit of
inference); ``summary.json`` turns the rows into a mean, confidence interval and verdict per comparison
(:func:`brainalign.studies.summary.comparison_results`). The comparisons, for every aligned model label:

- ``<aligned> - <control>`` for each control of the same beta (``control_beta0``, ``control_unpaired``,
  ``control_no_contrastive``): whole-response similarity of the headline layer (:mod:`.similarity`),
  i.e. whether the neural data, their pairing with the images and the contrastive term add anything beyond
  fine-tuning on the same images;
- ``<aligned>: within - cross subject`` (personalisation): the similarity of subject s's aligned model with
  s's held-out responses minus the mean similarity of the other subjects' aligned models with s's responses
  (same readout; needs >= 2 subjects who saw the same held-out images);
- ``<dataset>: <aligned> - <control>`` for a ``cross_evaluation`` entry recorded from the same subjects in
  another modality (``simulated``: the simulated observer's other recording): fMRI, the best-layer
  similarity averaged over the entry's ROIs; EEG, the headline layer's similarity averaged over 50-200 ms;
  each subject's models scored on that subject's other recording.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from brainalign.measure import compare
from brainalign.measure.rsa.readouts import EEG_WINDOW
from brainalign.studies import statistics as st
from brainalign.studies.analyses.base import Analysis, always
from brainalign.studies.analyses.similarity import WHOLE
from brainalign.studies.context import StudyContext

COLUMNS = ["comparison", "claim", "model", "reference", "readout", "target", "subject", "model_value",
           "reference_value", "difference"]
OTHER_SUBJECTS = "other subjects' {label}"
CLAIMS = {
    "control_beta0": "alignment to a subject's responses makes the network more similar to that subject's held-out "
                     "responses than fine-tuning on the same images without neural data (beta = 0)",
    "control_unpaired": "the pairing of images and responses matters: alignment beats training on responses "
                        "shuffled across images",
    "control_no_contrastive": "the contrastive term helps: alignment with it beats alignment without it",
    "within": "personalisation: a subject's aligned model is more similar to that subject's held-out responses "
              "than the other subjects' aligned models are",
}


def comparisons(context: StudyContext) -> Optional[pd.DataFrame]:
    """``comparisons`` table (see the module docstring); None when the study has no aligned model."""
    similarity = context.frames["similarity"]
    headline = similarity[(similarity["readout"] == WHOLE) & (similarity["target"] == context.headline_layer)]
    readout = f"{WHOLE} ({context.headline_layer})"
    aligned = [label for label in dict.fromkeys(headline["model"]) if label.startswith(st.ALIGNED)]
    parts = []
    for label in aligned:
        parts += control_rows(headline, label, readout, context.headline_layer)
        parts.append(personalisation_rows(context, label))
        for dataset, table in same_subject_cross(context).items():
            parts += control_rows(table, label, str(table["readout"].iloc[0]), str(table["target"].iloc[0]),
                                  prefix=f"{dataset}: ", where=f", on the same subjects' {dataset} responses (another "
                                  "modality: does the alignment carry over?)")
    frames = [part for part in parts if part is not None and len(part)]
    return pd.concat(frames, ignore_index=True)[COLUMNS] if frames else None


def control_rows(table: pd.DataFrame, label: str, readout: str, target: str, prefix: str = "",
                 where: str = "") -> list[pd.DataFrame]:
    """``label`` minus each of its controls (:func:`brainalign.studies.statistics.references` but base) per
    subject of ``table`` (columns model, subject, similarity; seeds averaged); ``where`` is appended to the
    claim."""
    matrix = st.per_subject(table)
    rows = []
    for reference in st.references(label, matrix.columns):
        if reference == st.BASE:
            continue
        pair = matrix[[label, reference]].dropna()
        stem = reference if reference == "control_beta0" else reference.split("_beta")[0]
        rows.append(_rows(f"{prefix}{label} - {reference}", CLAIMS[stem] + where, label, reference, readout, target,
                          pair.index, pair[label], pair[reference]))
    return rows


def personalisation_rows(context: StudyContext, label: str) -> Optional[pd.DataFrame]:
    """Within - cross subject similarity of the ``label`` models (None unless >= 2 subjects saw the same
    held-out images): the whole-response similarity of the headline layer of every subject's models with every
    subject's held-out responses."""
    subjects = context.subjects
    if len(subjects) < 2 or len({tuple(context.held_out(s).stimuli.ids) for s in subjects}) != 1:
        return None
    models = [model for model in context.models if model.label == label]
    layer = [context.headline_layer]
    scores = pd.DataFrame([{"trained": model.subject, "data": subject, "similarity": float(compare(
        context.layer_rdms(model.subject, model, layer), context.neural(subject)["whole"],
        context.evaluation.compare_method)[0, 0])} for model in models for subject in subjects])
    matrix = scores.pivot_table(index="data", columns="trained", values="similarity", aggfunc="mean")  # seeds
    own = pd.Series(np.diag(matrix.loc[subjects, subjects].to_numpy()), index=subjects)
    others = matrix.loc[subjects, subjects].apply(lambda row: row.drop(row.name).mean(), axis=1)
    return _rows(f"{label}: within - cross subject", CLAIMS["within"], label, OTHER_SUBJECTS.format(label=label),
                 f"{WHOLE} ({context.headline_layer})", context.headline_layer, subjects, own, others)


def same_subject_cross(context: StudyContext) -> dict[str, pd.DataFrame]:
    """Per ``cross_evaluation`` entry recorded from the study's own subjects: a similarity-like table (model,
    subject, similarity, readout, target) of each subject's models on that subject's other recording (the shared
    base model on every subject's)."""
    tables = {}
    for cross in context.config.cross_evaluation:
        if not cross.same_subjects:
            continue
        kind = "cross_similarity" if cross.modality == "fmri" else "cross_timecourses"
        if kind not in context.frames:
            continue
        rows = context.frames[kind]
        rows = rows[(rows["dataset"] == cross.name)
                    & ((rows["subject"] == rows["data_subject"]) | (rows["model"] == st.BASE))]
        if cross.modality == "fmri":
            readout, target = f"{cross.name} roi best layer, mean over ROIs", "ROIs"
        else:
            window = rows["time"].between(*EEG_WINDOW)
            rows = rows[window & (rows["layer"] == context.headline_layer)]
            readout = f"{cross.name} eeg {EEG_WINDOW[0] * 1000:g}-{EEG_WINDOW[1] * 1000:g} ms"
            target = context.headline_layer
        averaged = rows.groupby(["model", "data_subject"], sort=False)["similarity"].mean().reset_index()
        tables[cross.name] = averaged.rename(columns={"data_subject": "subject"}).assign(readout=readout, target=target)
    return tables


def _rows(comparison: str, claim: str, model: str, reference: str, readout: str, target: str, subjects,
          model_values, reference_values) -> pd.DataFrame:
    first, second = np.asarray(model_values, dtype=float), np.asarray(reference_values, dtype=float)
    return pd.DataFrame({"comparison": comparison, "claim": claim, "model": model, "reference": reference,
                         "readout": readout, "target": target, "subject": np.asarray(subjects, dtype=str),
                         "model_value": first, "reference_value": second, "difference": first - second})


ANALYSIS = Analysis("comparisons", "headline comparisons per subject: aligned vs each control, within vs cross "
                    "subject, and across modalities on the same subjects", always, comparisons,
                    needs=("similarity",))
