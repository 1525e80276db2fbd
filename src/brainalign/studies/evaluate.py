"""Measurement of a study's models on the held-out stimuli, written as result tables.

For every subject: the base model and every aligned/control model of the sweep are run on the
subject's held-out images; their layer RDMs (``evaluation.rdm_metric``) are compared
(``evaluation.compare_method``) with the subject's held-out neural RDMs:

- the whole-response RDM (the training target's pattern: EEG channels x window, or the fMRI target
  region; repetitions averaged, unstandardised) -> ``similarity.csv`` target = layer name;
- EEG: one RDM per time point of the epoch over the target's channels (decoding RDMs from trials,
  or correlation RDMs of averaged patterns) -> ``rsa_timecourses.csv``;
- fMRI: one RDM per region of ``evaluation.rois`` (averaged voxel patterns), similarity = best layer
  -> ``similarity.csv`` target = ROI.

Evaluation never sees z-scores or PCA: those shape the training targets only
(:mod:`brainalign.align.targets`); cross-dataset evaluation (:mod:`brainalign.studies.cross`) follows the
same rule.

Models carry the labels the sweep wrote into ``sweep.json`` (``base``, ``aligned``, ``control_beta0``, ...;
:mod:`brainalign.align.controls`); several seeds of one model are averaged per subject.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from brainalign.align.checkpoint import load_head
from brainalign.align.data import AlignmentData, ImageBank, load_alignment_data, simulated_observer
from brainalign.align.targets import load_target_transform
from brainalign.align.config import DataConfig, SweepConfig
from brainalign.align.controls import BASE_LABEL
from brainalign.data import Responses, Stimuli
from brainalign.errors import ConfigError
from brainalign.data.rdms import RDMs
from brainalign.measure import (
    compare,
    compute_rdms,
    eeg_timecourses,
    neural_rdms,
    dimension_rdms,
    partial_correlations,
    rank_rows,
    roi_similarity,
)
from brainalign.measure.rsa.variability import variability_matrices
from brainalign.measure.features import extract
from brainalign.models.files import checkpoint_epochs
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
    """The jobs listed in ``sweep_dir/sweep.json``, with the labels the sweep gave them."""
    jobs = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))["jobs"]
    return [TrainedModel(job["label"], job["subject"], int(job["seed"]), Path(job["run_dir"])) for job in jobs]


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


def similarity_rows(label: str, subject: str, layer_rdms: RDMs, neural: dict[str, RDMs], method: str) -> dict[str, list]:
    """Rows of ``similarity`` (per layer vs the whole response; per ROI, best layer) and ``rsa_timecourses``."""
    layers = list(layer_rdms.descriptors["layer"])
    whole = compare(layer_rdms, neural["whole"], method)[:, 0]
    rows: dict[str, list] = {"similarity": [(label, layer, subject, value) for layer, value in zip(layers, whole)]}
    if "rois" in neural:
        best = roi_similarity(layer_rdms, neural["rois"], method)
        rows["similarity"] += [(label, roi, subject, value) for roi, value in zip(best["roi"], best["similarity"])]
    if "times" in neural:
        course = eeg_timecourses(layer_rdms, neural["times"], method)
        rows["rsa_timecourses"] = [(label, layer, subject, time, value) for layer, time, value
                                   in zip(course["layer"], course["time"], course["similarity"])]
    return rows


def trajectory_rows(model: TrainedModel, subject_data: HeldOut, neural: RDMs, evaluation: EvaluationConfig,
                    layer: str, labels: np.ndarray | None, base: LayeredModel) -> list[tuple]:
    """``trajectory`` rows of one run ``(epoch, target, similarity, accuracy)``: the ``layer`` RDM's
    similarity to the held-out response RDM at epoch 0 (``base``) and every saved epoch, with top-1
    accuracy on the labelled training images when ``labels`` are given (else NaN)."""
    from brainalign.measure.behaviour.classification import accuracy

    single_layer = evaluation.model_copy(update={"layers": [layer]})
    rows = []
    for epoch in [0, *checkpoint_epochs(model.run_dir)]:
        network = base if epoch == 0 else load(model.run_dir, epoch=epoch).model
        rdms = model_rdms(network, subject_data.data.test_stimuli, single_layer)
        score = float(compare(rdms, neural, evaluation.compare_method)[0, 0])
        top1 = np.nan
        if labels is not None:
            top1 = accuracy(network, subject_data.data.train_stimuli, labels, image_size=evaluation.image_size,
                            progress=False).top1
        rows.append((epoch, f"{layer} vs held-out responses", score, top1))
    return rows


def predictions(model: TrainedModel, subject_data: HeldOut, evaluation: EvaluationConfig, count: int) -> dict[str, Any]:
    """Predicted and recorded held-out responses of ``count`` example images spread over the set."""
    from brainalign.align.trainer import predict_responses

    stimuli = subject_data.stimuli
    indices = np.linspace(0, len(stimuli) - 1, count).round().astype(int)
    network, head = load(model.run_dir).model, load_head(model.run_dir)
    target = load_target_transform(model.run_dir)  # the run's own fit: predictions back to recorded units
    bank = ImageBank(stimuli.subset([stimuli.ids[i] for i in indices]), evaluation.image_size)
    predicted = predict_responses(network, head, bank, list(head.layer_sizes), 64, torch.device("cpu"))
    pixels = stimuli.load(indices.tolist(), size=evaluation.image_size, normalize=False)
    real = target.pattern(subject_data.trials).average_repetitions().data[indices, 0]
    return {
        "real": real,
        "predicted": target.inverse(predicted),
        "stimulus_ids": [stimuli.ids[i] for i in indices],
        "images": (pixels.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8),
        "times": target.axes.times,
    }


def variability_rows(rdms_by_model: dict[str, RDMs], method: str) -> list[tuple]:
    """``variability`` rows: 1 - similarity of the RDMs of every pair of models, per layer."""
    stacked = RDMs(np.concatenate([rdms.dissimilarities for rdms in rdms_by_model.values()]),
                   descriptors=pd.concat([rdms.descriptors.assign(model=name) for name, rdms in rdms_by_model.items()],
                                         ignore_index=True))
    rows = []
    for layer, matrix in variability_matrices(stacked, method=method).items():
        names = list(matrix.index)
        rows += [(layer, names[a], names[b], matrix.iloc[a, b])
                 for a in range(len(names)) for b in range(a + 1, len(names))]
    return rows


def dimension_targets(source: str, data_config: DataConfig, stimuli: Stimuli) -> RDMs:
    """Object-dimension RDMs of the held-out images, one per dimension (descriptor ``dimension``).

    ``source="simulated"``: the observer's generative factors: ``|x_i - x_j|`` of red, green, blue,
    size, x and y position, and ``1[level_i != level_j]`` of shape, texture and colour; otherwise a CSV
    path whose first column holds stimulus ids and whose other columns are dimensions (e.g. the 49
    THINGS dimensions), each giving ``|x_i - x_j|``. A dimension whose ranked RDM is a linear
    combination of earlier ones is dropped (a partial correlation cannot control for it).
    """
    ids = list(stimuli.ids)
    if source == "simulated":
        factors = simulated_observer(data_config.simulate).ground_truth.test_factors
        embedding = pd.DataFrame({"red": factors["rgb"][:, 0], "green": factors["rgb"][:, 1],
                                  "blue": factors["rgb"][:, 2], "size": factors["radius"],
                                  "x position": factors["position"][:, 0], "y position": factors["position"][:, 1]})
        levels = {name: factors[name] for name in ("shape", "texture", "colour")}
    else:
        embedding = pd.read_csv(source, index_col=0).astype(float)
        embedding = embedding.set_axis(embedding.index.astype(str)).loc[ids].reset_index(drop=True)
        levels = {}
    continuous = dimension_rdms(embedding.to_numpy(), list(embedding.columns), ids)
    upper = np.triu_indices(len(ids), 1)
    categorical = [(values[:, None] != values[None, :])[upper].astype(float) for values in levels.values()]
    stack = np.vstack([continuous.dissimilarities, *categorical])
    labels = [*continuous.descriptors["dimension"], *(f"different {name}" for name in levels)]
    keep = _independent_rows(rank_rows(stack))
    return RDMs(stack[keep], ids, pd.DataFrame({"dimension": [labels[i] for i in keep]}))


def _independent_rows(values: np.ndarray) -> list[int]:
    """Indices of the rows of ``values (n_rows, n)`` that are not constant and not a linear combination
    (with intercept) of the rows kept before them."""
    kept: list[int] = []
    basis = np.ones((1, values.shape[1]))
    for index, row in enumerate(values):
        candidate = np.vstack([basis, row])
        if np.linalg.matrix_rank(candidate, tol=1e-8 * np.abs(candidate).max()) == len(candidate):
            kept.append(index)
            basis = candidate
    return kept


def dimension_rows(label: str, subject: str, layer_rdms: RDMs, dimensions: RDMs, layer: str) -> list[tuple]:
    """``dimensions`` rows: squared partial Spearman correlation of the ``layer`` RDM with each dimension RDM."""
    table = partial_correlations(layer_rdms.select(layer=layer), dimensions)
    return [(label, dimension, subject, value) for dimension, value in zip(table["dimension"], table["partial_r2"])]


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


def frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    """A result table from row tuples."""
    return pd.DataFrame(rows, columns=columns)
