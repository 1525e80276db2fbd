"""Cross-dataset / cross-modality evaluation: every model of a study scored on other recordings.

For each ``cross_evaluation`` entry of a study config (:class:`brainalign.studies.config.CrossDataset`)
and each of its subjects, the responses are matched to the entry's images and turned into neural RDMs
(:func:`brainalign.measure.neural_rdms`; repetitions averaged, no z-scoring):

- fMRI -> ``cross_similarity``: one correlation RDM per ROI (the entry's ``rois``, default every region
  of the file); a model's score per ROI is its best layer
  (layers as for the study's own ROIs, the final pooled layer included): ``target`` = ROI, ``layer`` =
  the best layer (ReAlnet, Results "ReAlnet is more similar to human fMRI": ReAlnets vs Shen 2019 ROIs);
- EEG -> ``cross_timecourses``: one RDM per time point, by pairwise decoding unless the entry says
  ``timecourse_rdm: correlation``, and every layer's full RSA time course (ReAlnet-fMRI, Results on
  THINGS-EEG2: similarity time courses with decoding RDMs, not a peak over time).

A ``simulated`` entry is the study's simulated observer recorded in the entry's modality: the same hidden
brains (and held-out images) as the alignment data, so its data subjects are the training subjects
(``CrossDataset.same_subjects``; :mod:`brainalign.studies.analyses.comparisons` pairs each subject's models
with that subject's other recording).

Every model is scored: ``base`` once (``subject`` = ``all``: the same network for every training subject)
and every aligned/control model of every training subject (seeds averaged). The improvement analysis
reads both tables with the other dataset's subjects as the unit of inference.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import torch

from brainalign.data import RDMs, Responses, Stimuli
from brainalign.align.config import DataConfig
from brainalign.align.data import simulated_observer
from brainalign.errors import ConfigError, DataFormatError
from brainalign.measure import eeg_timecourses, neural_rdms, roi_similarity
from brainalign.models.loader import load
from brainalign.progress import track
from brainalign.report.results import ALL_SUBJECTS
from brainalign.studies import evaluate as ev
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.config import CrossDataset, EvaluationConfig
from brainalign.studies.context import StudyContext



def cross_targets(cross: CrossDataset, evaluation: EvaluationConfig, data: DataConfig | None = None,
                  subjects: list[str] | None = None) -> tuple[Stimuli, dict[str, RDMs]]:
    """The entry's images and its neural RDMs per data subject (fMRI: per ROI; EEG: per time point). A
    ``simulated`` entry records the alignment ``data``'s simulated observer in the entry's modality (held-out
    images; ``subjects``, default all of the observer's)."""
    if cross.simulated is not None:
        if data is None:
            raise ConfigError(f"cross_evaluation {cross.name!r}: a simulated entry needs the alignment data config")
        stimuli, recorded = _simulated_recordings(cross, data, subjects)
    else:
        path = Path(str(cross.stimuli))
        stimuli = Stimuli.from_folder(path) if path.is_dir() else Stimuli.from_csv(path)
        recorded = {subject: Responses.load(responses_path) for subject, responses_path in cross.response_paths()}
    common = set.intersection(*(set(responses.stimulus_ids) for responses in recorded.values()))
    shown = [sid for sid in stimuli.ids if sid in common]  # images every subject saw
    if len(shown) < 3:
        raise DataFormatError(f"cross_evaluation {cross.name!r}: only {len(shown)} image(s) of {cross.stimuli} have "
                              f"responses in every file of {cross.responses}; the ids must be the image file names")
    stimuli = stimuli.subset(shown)
    eeg_method = cross.timecourse_rdm if cross.modality == "eeg" else "correlation"
    decoding = ({"classifier": cross.decoding_classifier or evaluation.decoding_classifier, "progress": False}
                if eeg_method == "decoding" else {})
    targets = {subject or responses.subject or cross.name:
               neural_rdms(_regions(responses.subset(stimuli.ids), cross.rois), eeg_method, evaluation.rdm_metric,
                           **decoding)
               for subject, responses in recorded.items()}
    return stimuli, targets


def study_cross_targets(context: StudyContext, cross: CrossDataset) -> tuple[Stimuli, dict[str, RDMs]]:
    """:func:`cross_targets` of a study's entry, computed once for every analysis that reads them (the
    scores here and the noise ceilings)."""
    return context.once(f"cross_evaluation {cross.name}", lambda: cross_targets(
        cross, context.evaluation, context.sweep.train.data, context.subjects))


def _simulated_recordings(cross: CrossDataset, data: DataConfig,
                          subjects: list[str] | None) -> tuple[Stimuli, dict[str, Responses]]:
    """The held-out images and each subject's held-out responses of ``data``'s simulated observer recorded in
    ``cross.modality`` (same seed: the same hidden brains)."""
    dataset = simulated_observer({**data.simulate, **(cross.simulated or {}), "modality": cross.modality})
    chosen = subjects or dataset.subjects
    unknown = [subject for subject in chosen if subject not in dataset.subjects]
    if unknown:
        raise ConfigError(f"cross_evaluation {cross.name!r}: subjects {unknown} are not simulated (the observer has "
                          f"{dataset.subjects}); simulate as many subjects as the alignment uses")
    return dataset.test_stimuli, {subject: dataset.test[subject] for subject in chosen}


def _regions(responses: Responses, rois: list[str] | None) -> Responses:
    """The entry's regions (fMRI; checked against the files by ``check_regions``), or every region."""
    return responses.select_rois(rois) if rois else responses


def _scored(context: StudyContext, modality: str) -> Optional[pd.DataFrame]:
    """Rows of every ``modality`` entry for every model (seeds averaged)."""
    entries = [cross for cross in context.config.cross_evaluation if cross.modality == modality]
    if not entries:
        return None
    evaluation = context.evaluation
    method = evaluation.compare_method
    parts = []
    for cross in track(entries, f"cross-evaluation ({modality})", disable=not context.progress):
        stimuli, targets = study_cross_targets(context, cross)
        settings = evaluation.model_copy(update={"image_size": cross.image_size or evaluation.image_size,
                                                 "layers": context.roi_layers if modality == "fmri" else context.layers})
        networks = [(ev.BASE, ALL_SUBJECTS, 0, context.base)] + [
            (model.label, model.subject, model.seed, model.run_dir) for model in context.models]
        computed: dict[str, RDMs] = {}  # a control_beta0 shared by all subjects is one network
        for label, subject, seed, network in networks:
            key = str(network) if not isinstance(network, torch.nn.Module) else ev.BASE
            if key not in computed:
                model = network if isinstance(network, torch.nn.Module) else load(network).model
                computed[key] = ev.model_rdms(model, stimuli, settings)
            layer_rdms = computed[key]
            for data_subject, neural in targets.items():
                if modality == "fmri":
                    best = roi_similarity(layer_rdms, neural, method)
                    parts.append(pd.DataFrame({"dataset": cross.name, "modality": modality, "model": label,
                                               "subject": subject, "data_subject": data_subject, "seed": seed,
                                               "target": best["roi"].to_numpy(), "layer": best["best_layer"].to_numpy(),
                                               "similarity": best["similarity"].to_numpy()}))
                else:
                    course = eeg_timecourses(layer_rdms, neural, method)
                    parts.append(pd.DataFrame({"dataset": cross.name, "model": label, "subject": subject,
                                               "data_subject": data_subject, "seed": seed,
                                               "layer": course["layer"].to_numpy(), "time": course["time"].to_numpy(),
                                               "similarity": course["similarity"].to_numpy()}))
    table = pd.concat(parts, ignore_index=True)
    if modality == "fmri":
        keys = ["dataset", "modality", "model", "subject", "data_subject", "target"]
        return table.groupby(keys, sort=False).agg(
            similarity=("similarity", "mean"), layer=("layer", lambda layers: layers.mode().iloc[0])).reset_index()
    return ev.seed_mean(table, "similarity")


def cross_similarity(context: StudyContext) -> Optional[pd.DataFrame]:
    """``cross_similarity`` table: every model on every fMRI ``cross_evaluation`` entry (best layer per ROI)."""
    return _scored(context, "fmri")


def cross_timecourses(context: StudyContext) -> Optional[pd.DataFrame]:
    """``cross_timecourses`` table: every model's RSA time courses on every EEG ``cross_evaluation`` entry."""
    return _scored(context, "eeg")


def _has(modality: str):
    return lambda config: any(cross.modality == modality for cross in config.cross_evaluation)


SIMILARITY = Analysis("cross_similarity", "every model vs the fMRI ROIs of other datasets (best layer)",
                      _has("fmri"), cross_similarity)
TIMECOURSES = Analysis("cross_timecourses", "every model's EEG RSA time courses on other datasets",
                       _has("eeg"), cross_timecourses)
