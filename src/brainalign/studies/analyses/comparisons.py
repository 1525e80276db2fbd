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
- ``ground truth: <aligned> - <control>`` and ``ground truth: <aligned>: within - cross subject`` on the
  simulated observer: the same on its hidden brain (:mod:`.ground_truth`; per hidden stage the best layer's
  similarity with the subject's noise-free stage RDM, averaged over the stages): does alignment move the
  network towards the computation behind the responses, and towards its own subject's brain?
- ``<dataset>: <aligned> - <control>`` for a ``cross_evaluation`` entry recorded from the same subjects in
  another modality (``simulated``: the simulated observer's other recording): fMRI, the best-layer
  similarity averaged over the entry's ROIs; EEG, the headline layer's similarity averaged over 50-200 ms;
  each subject's models scored on that subject's other recording.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from brainalign.align.controls import label_stem
from brainalign.measure import compare
from brainalign.measure.rsa.readouts import WHOLE, WINDOW, in_window
from brainalign.studies import statistics as st
from brainalign.studies.analyses.base import Analysis, always
from brainalign.studies.analyses.ground_truth import stage_rdms
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import TrainedModel

COLUMNS = ["comparison", "claim", "model", "reference", "readout", "target", "subject", "model_value",
           "reference_value", "difference"]
OTHER_SUBJECTS = "other subjects' {label}"
TRUTH = "ground truth: best layer per hidden stage, mean over stages"
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
    truth = ground_truth_scores(context.frames["ground_truth"]) if "ground_truth" in context.frames else None
    cross = same_subject_cross(context)  # the same for every label: built once
    whole, hidden = _whole_response(context), _hidden_brain(context)
    parts = []
    for label in aligned:
        parts += control_rows(headline, label, readout, context.headline_layer)
        parts.append(personalisation_rows(context, label, whole, readout, context.headline_layer))
        if truth is not None:
            parts += control_rows(truth, label, TRUTH, "stages", prefix="ground truth: ",
                                  where=", on the subject's hidden brain (the noise-free ground truth)")
            parts.append(personalisation_rows(context, label, hidden, TRUTH, "stages", prefix="ground truth: "))
        for dataset, table in cross.items():
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
        rows.append(_rows(f"{prefix}{label} - {reference}", CLAIMS[label_stem(reference)] + where, label, reference, readout, target,
                          pair.index, pair[label], pair[reference]))
    return rows


def personalisation_rows(context: StudyContext, label: str, score: Callable[[TrainedModel, str], float],
                         readout: str, target: str, prefix: str = "") -> Optional[pd.DataFrame]:
    """Within - cross subject similarity of the ``label`` models (None unless >= 2 subjects saw the same
    held-out images): ``score(model, subject)`` of every subject's models against every subject's data; per
    subject s, its own models' score minus the mean over the other subjects' models (seeds averaged first)."""
    subjects = context.subjects
    if len(subjects) < 2 or len({tuple(context.held_out(s).stimuli.ids) for s in subjects}) != 1:
        return None
    models = [model for model in context.models if model.label == label]
    scores = pd.DataFrame([{"trained": model.subject, "data": subject, "similarity": score(model, subject)}
                           for model in models for subject in subjects])
    matrix = scores.pivot_table(index="data", columns="trained", values="similarity", aggfunc="mean")  # seeds
    matrix = matrix.loc[subjects, subjects]
    own = pd.Series(np.diag(matrix.to_numpy()), index=subjects)
    others = matrix.apply(lambda row: row.drop(row.name).mean(), axis=1)
    return _rows(f"{prefix}{label}: within - cross subject", CLAIMS["within"], label,
                 OTHER_SUBJECTS.format(label=label), readout, target, subjects, own, others)


def ground_truth_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and subject of a ``ground_truth`` table: the best layer's similarity per hidden stage, averaged
    over the stages (columns model, subject, similarity)."""
    best = table.groupby(["model", "subject", "stage"], sort=False)["similarity"].max()
    return best.groupby(["model", "subject"], sort=False).mean().reset_index()


def _whole_response(context: StudyContext) -> Callable[[TrainedModel, str], float]:
    """Score of a model on a subject: the headline layer vs the subject's whole held-out response."""
    layer = [context.headline_layer]
    return lambda model, subject: float(compare(context.layer_rdms(model.subject, model, layer),
                                                context.neural(subject)["whole"], context.evaluation.compare_method)[0, 0])


def _hidden_brain(context: StudyContext) -> Callable[[TrainedModel, str], float]:
    """Score of a model on a subject's hidden brain (:func:`ground_truth_scores` of one model and subject)."""
    def score(model: TrainedModel, subject: str) -> float:
        scores = compare(context.layer_rdms(model.subject, model), stage_rdms(context, subject),
                         context.evaluation.compare_method)  # (layers, stages)
        return float(scores.max(axis=0).mean())
    return score


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
            window = in_window(rows["time"])  # with the tolerance of every EEG readout (float sample times)
            rows = rows[window & (rows["layer"] == context.headline_layer)]
            readout = f"{cross.name} {WINDOW}"
            target = context.headline_layer
        averaged = rows.groupby(["model", "data_subject"], sort=False)["similarity"].mean().reset_index()
        tables[cross.name] = averaged.rename(columns={"data_subject": "subject"}).assign(readout=readout, target=target)
    return tables


def _rows(comparison: str, claim: str, model: str, reference: str, readout: str, target: str,
          subjects: Sequence[str] | pd.Index, model_values: pd.Series, reference_values: pd.Series) -> pd.DataFrame:
    """One row per subject: ``model_values`` and ``reference_values`` (aligned by position with ``subjects``)
    and their difference, under the comparison's labels (the columns of :data:`COLUMNS`)."""
    first, second = np.asarray(model_values, dtype=float), np.asarray(reference_values, dtype=float)
    return pd.DataFrame({"comparison": comparison, "claim": claim, "model": model, "reference": reference,
                         "readout": readout, "target": target, "subject": np.asarray(subjects, dtype=str),
                         "model_value": first, "reference_value": second, "difference": first - second})


ANALYSIS = Analysis("comparisons", "headline comparisons per subject: aligned vs each control, within vs cross "
                    "subject, and across modalities on the same subjects", always, comparisons,
                    needs=("similarity",))
