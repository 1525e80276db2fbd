"""Training-trajectory analysis: RSA of every saved checkpoint (per epoch and seed) against neural RDMs,
so a user can see when alignment peaks. Reads model files with :func:`brainalign.models.load`; never
imports ``brainalign.align``.

:func:`rsa_trajectory` gives the long table (checkpoint x layer x neural RDM); :func:`peak_epochs` the
epoch of peak similarity per seed, layer and target; :func:`trajectory_summary` the mean and spread over
seeds per checkpoint; :func:`accuracy_correlations` the correlation over checkpoints between a layer's
similarity and task accuracy; :func:`peak_summary` all of these per layer and target. These are the
read-outs of the training-from-scratch study of Scholte et al. (as issue 14 describes it: each layer's RDM
correlated, Pearson, with EEG RDMs at chosen time points and fMRI ROI RDMs at every checkpoint of
networks trained from several initialisation seeds; alignment related to accuracy across training).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats

from brainalign.data.rdms import RDMs
from brainalign.data.stimuli import Stimuli
from brainalign.errors import ValidationError
from brainalign.models.base import LayeredModel
from brainalign.models.files import is_model_file
from brainalign.models.loader import load
from brainalign.measure.rsa.rdm import compute_rdms
from brainalign.measure.rsa.readouts import similarity_table

ModelOrSpec = LayeredModel | str | os.PathLike[str]
Checkpoint = tuple[float, int, ModelOrSpec]  # (epoch, may be a fraction; seed; model or model spec)


def _checkpoint_model(source: ModelOrSpec, model_name: str | None) -> LayeredModel:
    """A model object as is; a weights file (not naming its architecture) as model ``model_name``; any
    other spec as :func:`brainalign.models.load` reads it."""
    if isinstance(source, LayeredModel):
        return source
    plain_weights = Path(source).is_file() and not is_model_file(source)
    if model_name is not None and plain_weights:
        return load(model_name, weights=source).model
    return load(source).model


def rsa_trajectory(
    checkpoints: Sequence[Checkpoint],
    stimuli: Stimuli,
    neural_rdms: RDMs,
    model_name: str | None = None,
    layers: Sequence[str] | None = None,
    metric: str = "correlation",
    method: str = "spearman",
    accuracy: Mapping[tuple[float, int], float] | Callable[[LayeredModel], float] | None = None,
    batch_size: int = 32,
    image_size: int = 224,
    device: str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Similarity of every checkpoint's layer RDMs with every neural RDM.

    checkpoints: ``(epoch, seed, model)`` where model is a LayeredModel or a spec of
    :func:`brainalign.models.load` (a model file, a checkpoint folder holding ``model.safetensors``, a run
    folder) or a weights file of architecture ``model_name`` (e.g. ``"cornet_s"``); epochs may be fractions
    (sub-epoch checkpoints). stimuli: the stimuli the neural RDMs were measured on. accuracy: ``{(epoch, seed): value}`` or ``fn(model) -> value`` per checkpoint.

    Returns a long table: ``epoch``, ``seed``, ``layer``, the neural RDMs' descriptors, ``similarity``,
    and ``accuracy`` when given; one row per checkpoint x layer x neural RDM.
    """
    from brainalign.measure.features import extract
    from brainalign.progress import track

    if not checkpoints:
        raise ValidationError("checkpoints: empty; pass (epoch, seed, model or weights path) tuples")
    neural = neural_rdms.match_stimuli(stimuli.ids)
    frames = []
    for epoch, seed, source in track(checkpoints, "RSA per checkpoint", disable=not progress):
        model = _checkpoint_model(source, model_name)
        features = extract(model, stimuli, layers=layers, batch_size=batch_size, device=device,
                           image_size=image_size, progress=False)
        model_rdms = compute_rdms(features, metric=metric, stimulus_ids=stimuli.ids, device=device,
                                  descriptors={"epoch": epoch, "seed": seed})
        table = similarity_table(model_rdms, neural, method)
        if accuracy is not None:
            table["accuracy"] = accuracy[(epoch, seed)] if isinstance(accuracy, Mapping) else accuracy(model)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def peak_epochs(table: pd.DataFrame, value: str = "similarity", keys: Sequence[str] | None = None) -> pd.DataFrame:
    """For each group of an :func:`rsa_trajectory` table (``keys``; default every column but ``epoch``,
    ``value`` and ``accuracy``, i.e. seed x layer x neural RDM), the epoch where ``value`` peaks (the
    earliest on ties): one row with ``peak_epoch``, ``peak`` and the value at the first and last epochs."""
    keys = list(keys) if keys is not None else [c for c in table.columns if c not in ("epoch", value, "accuracy")]
    ordered = table.sort_values("epoch", kind="stable")
    groups = ordered.groupby(keys, sort=False, dropna=False)[["epoch", value]]

    def summarise(group: pd.DataFrame) -> pd.Series:
        best = group[value].to_numpy().argmax()
        return pd.Series({"peak_epoch": group["epoch"].iloc[best], "peak": group[value].iloc[best],
                          "first": group[value].iloc[0], "last": group[value].iloc[-1]})

    return groups.apply(summarise).reset_index()


def trajectory_summary(table: pd.DataFrame, keys: Sequence[str] = ("layer", "target"), value: str = "similarity",
                       over: str = "seed") -> pd.DataFrame:
    """Mean and spread over ``over`` (the seeds) of ``value`` per ``keys`` x ``epoch``: columns ``keys``,
    ``epoch``, ``mean``, ``sd`` (sample SD; NaN for one seed), ``sem``, ``n``; plus ``accuracy_mean`` and
    ``accuracy_sd`` when the table has ``accuracy``."""
    _require_columns(table, [*keys, "epoch", value, over])
    groups = table.groupby([*keys, "epoch"], sort=True, dropna=False)
    summary = groups[value].agg(mean="mean", sd="std", n="count").reset_index()
    summary["sem"] = summary["sd"] / np.sqrt(summary["n"])
    if "accuracy" in table.columns:
        accuracy = groups["accuracy"].agg(accuracy_mean="mean", accuracy_sd="std").reset_index(drop=True)
        summary = pd.concat([summary, accuracy], axis=1)
    return summary


def accuracy_correlations(table: pd.DataFrame, keys: Sequence[str] = ("seed", "layer", "target"),
                          value: str = "similarity", method: str = "pearson") -> pd.DataFrame:
    """Per ``keys`` group, the correlation over checkpoints between ``value`` and ``accuracy``
    (``method``: ``"pearson"`` or ``"spearman"``): columns ``keys``, ``accuracy_r``, ``n_checkpoints``.
    ``accuracy_r`` is NaN when either series is constant (e.g. accuracy at chance throughout)."""
    if method not in ("pearson", "spearman"):
        raise ValidationError(f"method={method!r}; use 'pearson' or 'spearman'")
    _require_columns(table, [*keys, "epoch", value, "accuracy"])
    rows = []
    for group_key, group in table.groupby(list(keys), sort=False, dropna=False):
        x, y = group[value].to_numpy(float), group["accuracy"].to_numpy(float)
        if method == "spearman":
            x, y = scipy.stats.rankdata(x), scipy.stats.rankdata(y)
        varies = len(x) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0
        r = float(np.corrcoef(x, y)[0, 1]) if varies else np.nan
        rows.append((*(group_key if isinstance(group_key, tuple) else (group_key,)), r, len(group)))
    return pd.DataFrame(rows, columns=[*keys, "accuracy_r", "n_checkpoints"])


def peak_summary(table: pd.DataFrame, keys: Sequence[str] = ("layer", "target"), over: str = "seed",
                 method: str = "pearson") -> pd.DataFrame:
    """Per layer and target (``keys``) of an :func:`rsa_trajectory` table with ``accuracy``: where the
    seed-mean similarity curve peaks (``peak_epoch``, ``peak``, ``untrained`` = epoch 0 or the first
    checkpoint, ``final``, ``drop_after_peak`` = peak - final), the per-seed peak epochs
    (``seed_peak_epoch_mean``, ``_sd``, ``_min``, ``_max``), the correlation over checkpoints with
    accuracy (mean and SD over seeds of :func:`accuracy_correlations`; ``accuracy_r_of_means``: of the
    seed-mean curves), the epoch where the seed-mean accuracy peaks and ``n_seeds``."""
    keys = list(keys)
    summary = trajectory_summary(table, keys, over=over)
    mean_curves = summary.rename(columns={"mean": "similarity", "accuracy_mean": "accuracy"})
    curve_peaks = peak_epochs(mean_curves[[*keys, "epoch", "similarity"]], keys=keys)
    curve_peaks = curve_peaks.rename(columns={"first": "untrained", "last": "final"})
    curve_peaks["drop_after_peak"] = curve_peaks["peak"] - curve_peaks["final"]
    seed_peaks = peak_epochs(table, keys=[over, *keys]).groupby(keys, sort=False)["peak_epoch"].agg(
        seed_peak_epoch_mean="mean", seed_peak_epoch_sd="std", seed_peak_epoch_min="min", seed_peak_epoch_max="max",
        n_seeds="count").reset_index()
    correlations = accuracy_correlations(table, [over, *keys], method=method).groupby(keys, sort=False)[
        "accuracy_r"].agg(accuracy_r_mean="mean", accuracy_r_sd="std").reset_index()
    of_means = accuracy_correlations(mean_curves.assign(_all=0), ["_all", *keys], method=method)
    of_means = of_means.drop(columns=["_all", "n_checkpoints"]).rename(columns={"accuracy_r": "accuracy_r_of_means"})
    accuracy_curve = mean_curves.drop_duplicates("epoch")[["epoch", "accuracy"]].sort_values("epoch")
    accuracy_peak = float(accuracy_curve["epoch"].iloc[accuracy_curve["accuracy"].to_numpy().argmax()])
    merged = curve_peaks.merge(seed_peaks, on=keys).merge(correlations, on=keys).merge(of_means, on=keys)
    merged["accuracy_peak_epoch"] = accuracy_peak
    merged["n_seeds"] = merged.pop("n_seeds")
    return merged


def _require_columns(table: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValidationError(f"trajectory table: missing column(s) {missing}; have {list(table.columns)}")
