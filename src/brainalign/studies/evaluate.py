"""Data access of a study's measurement: the trained models of the sweep, each subject's held-out images
and responses, their neural RDMs, and model layer RDMs (the analyses that use them are in
:mod:`brainalign.studies.analyses`).

Neural RDMs of a subject's held-out data (``evaluation.rdm_metric``, repetitions averaged, unstandardised):

- ``whole``: one RDM of the training target's pattern (EEG channels x window, or the fMRI target region);
- ``times`` (EEG): one RDM per time point of the epoch over the target's channels (decoding RDMs from
  trials, or correlation RDMs of averaged patterns);
- ``rois`` (fMRI): one RDM per region of ``evaluation.rois`` (averaged voxel patterns).

Evaluation never sees z-scores or PCA: those shape the training targets only
(:mod:`brainalign.align.targets`); cross-dataset evaluation (:mod:`brainalign.studies.analyses.cross`)
follows the same rule.

Models carry the labels the sweep wrote into ``sweep.json`` (``base``, ``aligned``, ``control_beta0``, ...;
:mod:`brainalign.align.controls`); several seeds of one model are averaged per subject (:func:`seed_mean`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brainalign.align.data import AlignmentData, load_alignment_data
from brainalign.align.config import DataConfig, SweepConfig
from brainalign.align.controls import BASE_LABEL
from brainalign.data import Responses, Stimuli
from brainalign.data.rdms import RDMs
from brainalign.errors import ConfigError
from brainalign.measure import (
    compute_rdms,
    neural_rdms,
)
from brainalign.measure.features import extract
from brainalign.models.base import LayeredModel
from brainalign.models.loader import load
from brainalign.studies.config import EvaluationConfig

BASE = BASE_LABEL


@dataclass(frozen=True)
class TrainedModel:
    """One finished sweep job: its model label, subject, seed and run directory."""

    label: str
    subject: str
    seed: int
    run_dir: Path
    control: str = "none"
    beta: float = 0.0


@dataclass
class HeldOut:
    """A subject's held-out data: images and targets (``data``) and ``trials``, the recorded responses
    (every repetition, unstandardised, the target's channels for EEG) in image order."""

    subject: str
    data: AlignmentData
    trials: Responses

    @property
    def stimuli(self) -> Stimuli:
        """The held-out images (every study's data has them: ``data.test_stimuli``)."""
        if self.data.test_stimuli is None:
            raise ConfigError(f"subject {self.subject}: the data have no held-out images; give data.test_stimuli")
        return self.data.test_stimuli

    @property
    def flat(self) -> np.ndarray:
        """The target's pattern (EEG channels x window, or the fMRI target region), repetitions averaged,
        unstandardised: ``(n_stimuli, n_features)``."""
        return self.data.target.pattern(self.trials).flatten()


def trained_models(sweep_dir: Path) -> list[TrainedModel]:
    """The jobs listed in ``sweep_dir/sweep.json``, with the labels the sweep gave them
    (:mod:`brainalign.align.controls`)."""
    jobs = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))["jobs"]
    return [TrainedModel(job["label"], job["subject"], int(job["seed"]), Path(job["run_dir"]), job["control"],
                         float(job["beta"])) for job in jobs]


def held_out(data_config: DataConfig, subject: str) -> HeldOut:
    """Load ``subject``'s held-out images and recorded trials (as recorded: no z-score, no PCA)."""
    data = load_alignment_data(data_config.model_copy(update={"subject": subject or None}))
    trials = data.test_responses
    if trials is None:
        raise ConfigError("the study's training data config names no test_responses/test_stimuli; evaluation "
                          "needs held-out images and responses")
    channels = data.target.axes.channels
    return HeldOut(data.subject, data, trials.select_channels(channels) if channels else trials)


def neural_targets(subject_data: HeldOut, evaluation: EvaluationConfig) -> dict[str, RDMs]:
    """Held-out neural RDMs from the recorded responses (unstandardised): ``whole`` (1 RDM of the target's
    pattern, repetitions averaged), ``times`` (EEG: one per time point of the epoch over the target's
    channels, correlation distance of averaged patterns or pairwise decoding of trials) and ``rois``
    (fMRI: one per region of ``evaluation.rois``, averaged voxel patterns)."""
    trials = subject_data.trials
    rdms = {"whole": compute_rdms(subject_data.flat, evaluation.rdm_metric, stimulus_ids=trials.stimulus_ids)}
    if evaluation.timecourses and trials.times is not None and trials.data.ndim == 4:
        rdms["times"] = neural_rdms(trials, evaluation.timecourse_rdm, evaluation.rdm_metric,
                                    **({"classifier": evaluation.decoding_classifier, "progress": False}
                                       if evaluation.timecourse_rdm == "decoding" else {}))
    if evaluation.rois and trials.rois:
        names = list(trials.rois) if evaluation.rois is True else evaluation.rois  # checked by check_regions
        rdms["rois"] = neural_rdms(trials.select_rois(names), metric=evaluation.rdm_metric)
    return rdms


def model_rdms(model: LayeredModel, stimuli: Stimuli, evaluation: EvaluationConfig) -> RDMs:
    """Layer RDMs ``(n_layers, n_pairs)`` of ``model`` on ``stimuli`` (descriptor column ``layer``)."""
    features = extract(model, stimuli, evaluation.layers, image_size=evaluation.image_size, progress=False)
    return compute_rdms(features, evaluation.rdm_metric, stimulus_ids=stimuli.ids)


def base_model(sweep: SweepConfig, sweep_dir: Path) -> LayeredModel:
    """The sweep's shared base model (pre-trained into ``sweep_dir/base``, or the template's weights)."""
    from brainalign.align.pretrain import build_base
    from brainalign.align.sweep import BASE_MODEL_FILE

    shared = sweep_dir / BASE_MODEL_FILE
    if shared.exists():
        return load(shared).model
    template = sweep.train
    data = load_alignment_data(template.data) if template.model.pretrain is not None else None
    return build_base(template, data, torch.device("cpu")).eval()


def seed_mean(table: pd.DataFrame, value: str, seed: str = "seed") -> pd.DataFrame:
    """``table`` with its ``seed`` column averaged out: ``value`` is the mean over the seeds of each group of
    the other columns (one subject's seeds are averaged before any statistics across subjects)."""
    keys = [column for column in table.columns if column not in (value, seed)]
    return table.groupby(keys, sort=False, dropna=False)[value].mean().reset_index()
