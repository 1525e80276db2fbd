"""Training-trajectory analysis: RSA of every saved checkpoint (per epoch and seed) against neural RDMs,
so a user can see when alignment peaks. Reads model files with :func:`brainalign.models.load`; never
imports ``brainalign.align``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd

from brainalign.data.rdms import RDMs
from brainalign.data.stimuli import Stimuli
from brainalign.errors import ValidationError
from brainalign.models.base import LayeredModel
from brainalign.models.files import is_model_file
from brainalign.models.loader import load
from brainalign.measure.rsa.rdm import compute_rdms
from brainalign.measure.rsa.readouts import similarity_table

ModelOrSpec = LayeredModel | str | os.PathLike[str]
Checkpoint = tuple[int, int, ModelOrSpec]  # (epoch, seed, model or model spec)


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
    accuracy: Mapping[tuple[int, int], float] | Callable[[LayeredModel], float] | None = None,
    batch_size: int = 32,
    image_size: int = 224,
    device: str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Similarity of every checkpoint's layer RDMs with every neural RDM.

    checkpoints: ``(epoch, seed, model)`` where model is a LayeredModel or a spec of
    :func:`brainalign.models.load` (a model file, a checkpoint folder holding ``model.safetensors``, a run
    folder) or a weights file of architecture ``model_name`` (e.g. ``"cornet_s"``).
    stimuli: the stimuli the neural RDMs were measured on. accuracy: ``{(epoch, seed): value}`` or ``fn(model) -> value`` per checkpoint.

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


def peak_epochs(table: pd.DataFrame, value: str = "similarity") -> pd.DataFrame:
    """For each seed x layer x neural RDM of an :func:`rsa_trajectory` table, the epoch where ``value``
    peaks: one row with ``peak_epoch``, ``peak`` and the value at the first and last epochs."""
    keys = [c for c in table.columns if c not in ("epoch", value, "accuracy")]
    ordered = table.sort_values("epoch", kind="stable")
    groups = ordered.groupby(keys, sort=False, dropna=False)[["epoch", value]]

    def summarise(group: pd.DataFrame) -> pd.Series:
        best = group[value].to_numpy().argmax()
        return pd.Series({"peak_epoch": group["epoch"].iloc[best], "peak": group[value].iloc[best],
                          "first": group[value].iloc[0], "last": group[value].iloc[-1]})

    return groups.apply(summarise).reset_index()
