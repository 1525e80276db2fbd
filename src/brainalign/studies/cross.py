"""Cross-dataset / cross-modality evaluation: every model of a study scored on other recordings.

For each ``cross_evaluation`` entry of a study config (:class:`brainalign.studies.config.CrossDataset`)
and each of its subjects, the responses are matched to the entry's images and turned into neural RDMs
(:func:`brainalign.measure.rsa.neural_rdms`, ``evaluation.rdm_metric``; repetitions averaged, no z-scoring):

- fMRI: one RDM per ROI (the entry's ``rois``, default every region of the file); the score of a
  model is its best layer per ROI
  (:func:`brainalign.measure.roi_similarity`): ``target`` = ROI, ``layer`` = the best layer;
- EEG: one RDM per time point (``evaluation.timecourse_rdm``); the score is the **peak** (maximum over
  time points) of each layer's RSA time course (:func:`brainalign.measure.eeg_timecourses`):
  ``target`` = ``layer`` = the layer.

Every model is scored: ``base`` once (``subject`` = ``all``: it is the same network for every training
subject) and every aligned/control model of every training subject (``subject`` = the training subject;
several seeds are averaged by the pipeline). Rows go to ``results/cross_similarity.csv``
(format in :mod:`brainalign.report.results`).
"""
from __future__ import annotations

from pathlib import Path

from brainalign.data import Responses, Stimuli
from brainalign.errors import DataFormatError
from brainalign.data import RDMs
from brainalign.measure import eeg_timecourses, neural_rdms, roi_similarity
from brainalign.models.base import LayeredModel
from brainalign.models.loader import load
from brainalign.progress import track
from brainalign.studies import evaluate as ev
from brainalign.studies.config import CrossDataset, EvaluationConfig, StudyConfig

ALL_SUBJECTS = "all"
COLUMNS = ["dataset", "modality", "model", "subject", "data_subject", "target", "layer", "similarity"]


def cross_targets(cross: CrossDataset, evaluation: EvaluationConfig) -> tuple[Stimuli, dict[str, RDMs]]:
    """The entry's images and its neural RDMs per data subject (fMRI: per ROI; EEG: per time point)."""
    path = Path(cross.stimuli)
    stimuli = Stimuli.from_folder(path) if path.is_dir() else Stimuli.from_csv(path)
    recorded = {subject: Responses.load(responses_path) for subject, responses_path in cross.response_paths()}
    common = set.intersection(*(set(responses.stimulus_ids) for responses in recorded.values()))
    shown = [sid for sid in stimuli.ids if sid in common]  # images every subject saw
    if len(shown) < 3:
        raise DataFormatError(f"cross_evaluation {cross.name!r}: only {len(shown)} image(s) of {cross.stimuli} have "
                              f"responses in every file of {cross.responses}; the ids must be the image file names")
    stimuli = stimuli.subset(shown)
    decoding = ({"classifier": evaluation.decoding_classifier, "progress": False}
                if cross.modality == "eeg" and evaluation.timecourse_rdm == "decoding" else {})
    targets = {subject or responses.subject or cross.name:
               neural_rdms(_regions(responses.subset(stimuli.ids), cross.rois), evaluation.timecourse_rdm,
                           evaluation.rdm_metric, **decoding)
               for subject, responses in recorded.items()}
    return stimuli, targets


def _regions(responses: Responses, rois: list[str] | None) -> Responses:
    """The entry's regions (fMRI; checked against the files by ``check_regions``), or every region."""
    return responses.select_rois(rois) if rois else responses


def cross_rows(cross: CrossDataset, label: str, subject: str, layer_rdms: RDMs, targets: dict[str, RDMs],
               method: str) -> list[tuple]:
    """``cross_similarity`` rows of one model (see the module docstring)."""
    rows: list[tuple] = []
    for data_subject, neural in targets.items():
        if cross.modality == "fmri":
            best = roi_similarity(layer_rdms, neural, method)
            rows += [(cross.name, cross.modality, label, subject, data_subject, roi, layer, float(value))
                     for roi, layer, value in zip(best["roi"], best["best_layer"], best["similarity"])]
        else:
            peaks = eeg_timecourses(layer_rdms, neural, method).groupby("layer", sort=False)["similarity"].max()
            rows += [(cross.name, cross.modality, label, subject, data_subject, layer, layer, float(value))
                     for layer, value in peaks.items()]
    return rows


def measure_cross(config: StudyConfig, sweep_dir: Path, base: LayeredModel, progress: bool = True) -> list[tuple]:
    """Rows of ``cross_similarity`` for every ``config.cross_evaluation`` entry and every model of the sweep."""
    evaluation = config.evaluation
    models = ev.trained_models(sweep_dir)
    rows: list[tuple] = []
    for cross in track(config.cross_evaluation, "cross-evaluation", disable=not progress):
        stimuli, targets = cross_targets(cross, evaluation)
        settings = evaluation.model_copy(update={"image_size": cross.image_size or evaluation.image_size})
        rows += cross_rows(cross, ev.BASE, ALL_SUBJECTS, ev.model_rdms(base, stimuli, settings), targets,
                           evaluation.compare_method)
        for model in models:
            layer_rdms = ev.model_rdms(load(model.run_dir).model, stimuli, settings)
            rows += cross_rows(cross, model.label, model.subject, layer_rdms, targets, evaluation.compare_method)
    return rows
