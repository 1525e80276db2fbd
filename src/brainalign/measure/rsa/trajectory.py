"""Training-trajectory analysis: RSA of every saved checkpoint (per epoch and seed) against neural RDMs,
so a user can see when alignment peaks. Reads weights files; never imports ``brainalign.align``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from brainalign.errors import ValidationError
from brainalign.data.rdms import RDMs
from brainalign.measure.rsa.rdm import compute_rdms
from brainalign.measure.rsa.readouts import similarity_table

WEIGHTS_FILE = "model.safetensors"  # inside a checkpoint folder such as checkpoints/epoch_003/


def _load_model(source: Any, model_factory: Callable[[], Any] | str | None) -> Any:
    """A model object as is, or a fresh model from ``model_factory`` with weights from ``source``
    (a weights file, or a checkpoint folder holding ``model.safetensors``)."""
    if not isinstance(source, (str, os.PathLike)):
        return source
    from brainalign.models import build_model, load_weights

    path = Path(source)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    if model_factory is None:
        raise ValidationError(
            f"checkpoint {source}: a weights path needs model_factory (a model name such as 'cornet_s' "
            f"or a callable returning a fresh model of the trained architecture)"
        )
    model = build_model(model_factory) if isinstance(model_factory, str) else model_factory()
    return load_weights(model, path)


def rsa_trajectory(
    checkpoints: Sequence[tuple[int, int, Any]],
    stimuli: Any,
    neural_rdms: RDMs,
    model_factory: Callable[[], Any] | str | None = None,
    layers: Sequence[str] | None = None,
    metric: str = "correlation",
    method: str = "spearman",
    accuracy: Mapping[tuple[int, int], float] | Callable[[Any], float] | None = None,
    batch_size: int = 32,
    image_size: int = 224,
    device: str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Similarity of every checkpoint's layer RDMs with every neural RDM.

    checkpoints: ``(epoch, seed, model)`` where model is a LayeredModel, a weights file, or a checkpoint
    folder with ``model.safetensors`` (then ``model_factory`` builds the architecture: a model name for
    ``brainalign.models.build_model`` or a callable). stimuli: ``brainalign.data.Stimuli`` the neural
    RDMs were measured on. accuracy: ``{(epoch, seed): value}`` or ``fn(model) -> value`` per checkpoint.

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
        model = _load_model(source, model_factory)
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
