"""Layer activations of a model for a set of stimuli, streamed in batches (optionally straight to disk),
optionally pooled over space, with the provenance of the model and preprocessing in ``features.json``."""
from __future__ import annotations

import contextlib
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

import numpy as np

from brainalign.errors import DataFormatError, ValidationError
from brainalign.inputs import load_array, read_json, required_fields
from brainalign.progress import track
from brainalign.provenance import Provenance
from brainalign.runs import atomic_path, atomic_write_json

if TYPE_CHECKING:  # torch is imported when features are extracted, not when they are read
    import torch

    from brainalign.data.stimuli import Stimuli
    from brainalign.models.base import LayeredModel
    from brainalign.models.loader import ModelSource

INDEX_FILE = "features.json"
POOLS = ("none", "avg", "max")


def extract(
    model: LayeredModel,
    stimuli: Stimuli,
    layers: Sequence[str] | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    image_size: int = 224,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    pool: str = "none",
    pool_size: int = 1,
    source: ModelSource | None = None,
) -> dict[str, np.ndarray]:
    """Activations of ``layers`` (default ``model.layer_names``) for every stimulus, in stimulus order.

    Returns ``{layer: float32 (n_stimuli, n_features)}`` (each layer output flattened). Runs in eval mode
    under ``torch.no_grad`` on ``device`` (the model is moved there; its train/eval mode is restored).
    Images are resized to ``image_size`` and normalised with ``model.mean``/``model.std``.
    ``pool`` (``avg``/``max``) pools each spatial map ``(channels, height, width)`` to ``(channels,
    pool_size, pool_size)`` (adaptive pooling: windows of about ``height / pool_size``); outputs without
    two spatial axes are kept as they are; ``none`` keeps every value.
    With ``out_dir``, each layer is written chunk by chunk to ``out_dir/<layer>.npy`` (renamed into
    place when complete) plus ``features.json`` (stimulus ids, layers, shapes and the
    :class:`~brainalign.provenance.Provenance` of the model, given by ``source``, the
    :class:`~brainalign.models.ModelSource` of :func:`brainalign.models.load`), so memory stays bounded;
    the returned arrays are then read-only memmaps of those files.
    """
    chosen = model.check_layers(layers)
    if pool not in POOLS:
        raise ValidationError(f"pool={pool!r} is not one of {POOLS}; pass none, avg or max")
    if pool_size < 1:
        raise ValidationError(f"pool_size must be >= 1 (output grid pool_size x pool_size); got {pool_size}")
    if len(stimuli) == 0:
        raise ValidationError("stimuli is empty; give at least one image to extract features from")
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1; got {batch_size}")
    run = partial(_stream, model, stimuli, chosen, batch_size, device, image_size, progress, pool, pool_size)
    if out_dir is None:
        return run(lambda layer, shape: np.empty(shape, dtype=np.float32))
    folder = Path(out_dir)
    (folder / INDEX_FILE).unlink(missing_ok=True)  # the index marks a complete set; drop a stale one first
    with contextlib.ExitStack() as stack:
        temp_paths = {layer: stack.enter_context(atomic_path(folder / f"{layer}.npy")) for layer in chosen}
        written = run(lambda layer, shape: np.lib.format.open_memmap(temp_paths[layer], "w+", np.float32, shape))
        shapes = {layer: list(array.shape) for layer, array in written.items()}
        for array in written.values():
            cast(np.memmap, array).flush()
        del written  # close the memmaps; leaving the stack renames each finished file into place
    provenance = _provenance(model, source, chosen, image_size, pool, pool_size)
    atomic_write_json(
        folder / INDEX_FILE,
        {"model": provenance.model, "stimulus_ids": stimuli.ids, "layers": chosen, "shapes": shapes,
         "image_size": image_size, "files": {layer: f"{layer}.npy" for layer in chosen},
         "provenance": provenance.to_dict()},
    )
    return load_features(folder)


def read_provenance(folder: str | os.PathLike[str]) -> Provenance | None:
    """The :class:`~brainalign.provenance.Provenance` in ``folder/features.json`` (None when it has none)."""
    index_path = Path(folder) / INDEX_FILE
    record = read_json(index_path, "features index", _REEXTRACT).get("provenance") if index_path.is_file() else None
    return None if record is None else Provenance.from_dict(record, str(index_path))


def _provenance(model: LayeredModel, source: ModelSource | None, layers: list[str], image_size: int, pool: str,
                pool_size: int) -> Provenance:
    """The record of features of ``layers`` extracted from ``model`` loaded from ``source``."""
    name = type(model).__name__
    weights = None if source is None else source.weights
    if weights is not None and Path(weights).is_file():
        weights = str(Path(weights).resolve())  # the record stays meaningful from another working directory
    loaded: tuple[str, str, str, str | None, str | None, int | None, int | None] = (
        (name, "", name, None, None, None, None) if source is None  # a model object: only its class is known
        else (source.label, source.spec, source.name, weights, source.weights_sha256, source.epoch, source.seed)
    )
    return Provenance(*loaded, image_size=image_size, mean=tuple(model.mean), std=tuple(model.std),
                      layers=tuple(layers), pool=pool, pool_size=None if pool == "none" else pool_size)


def pool_outputs(output: torch.Tensor, pool: str, size: int) -> torch.Tensor:
    """``output`` ``(batch, channels, height, width)`` pooled to ``(batch, channels, size, size)`` by adaptive
    average (``avg``) or max (``max``) pooling; unchanged for ``none`` or outputs of another rank."""
    from torch.nn import functional

    if pool == "none" or output.ndim != 4:
        return output
    pooling = functional.adaptive_avg_pool2d if pool == "avg" else functional.adaptive_max_pool2d
    return pooling(output, size)


def load_features(folder: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read features written by :func:`extract` with ``out_dir``: ``{layer: memmap (n_stimuli, n_features)}``.
    Raises :class:`DataFormatError` naming the file when the index or a layer file is missing or damaged."""
    index = read_feature_index(folder)
    features = {}
    for layer in index["layers"]:
        path = Path(folder) / index["files"][layer]
        array = load_array(path, f"features of layer {layer!r}", _REEXTRACT, mmap=True)
        if array.ndim != 2 or len(array) != len(index["stimulus_ids"]):
            raise DataFormatError(
                f"features of layer {layer!r} {path} have shape {array.shape}, but {INDEX_FILE} lists "
                f"{len(index['stimulus_ids'])} stimuli: expected ({len(index['stimulus_ids'])}, n_features); "
                f"{_REEXTRACT}"
            )
        features[layer] = array
    return features


def read_feature_index(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``features.json`` of a features folder, checked: ``stimulus_ids`` (list), ``layers`` (list of
    names) and ``files`` (layer -> file name in the folder)."""
    index_path = Path(folder) / INDEX_FILE
    if not index_path.is_file():
        raise DataFormatError(
            f"{folder} holds no {INDEX_FILE}: not a complete feature set (write one with `brainalign features` "
            "or extract(..., out_dir=...))"
        )
    where = f"features index {index_path}"
    index = read_json(index_path, "features index", _REEXTRACT)
    required_fields(index, {"stimulus_ids": list, "layers": list, "files": dict}, where, _REEXTRACT)
    unnamed = [layer for layer in index["layers"]
               if not isinstance(layer, str) or not isinstance(index["files"].get(layer), str)]
    if unnamed or not index["layers"]:
        raise DataFormatError(f"{where}: layers {unnamed or '[]'} have no file under 'files'; {_REEXTRACT}")
    outside = [layer for layer in index["layers"] if Path(index["files"][layer]).name != index["files"][layer]
               or index["files"][layer] in ("", ".", "..")]
    if outside:
        raise DataFormatError(f"{where}: 'files' of layers {outside} are not file names in {folder} (a features "
                              f"folder reads only its own files); {_REEXTRACT}")
    return index


_REEXTRACT = "extract the features again with `brainalign features`"


def _stream(
    model: LayeredModel,
    stimuli: Stimuli,
    layers: list[str],
    batch_size: int,
    device: str | torch.device,
    image_size: int,
    progress: bool,
    pool: str,
    pool_size: int,
    allocate: Callable[[str, tuple[int, int]], np.ndarray],
) -> dict[str, np.ndarray]:
    """Run the batches and copy each flattened layer output into ``allocate(layer, (n, n_features))``."""
    import torch

    from brainalign.models.device import resolve_device

    was_training = model.training
    device = resolve_device(device)
    model.to(device).eval()
    batches = stimuli.batches(batch_size, size=image_size, normalize=True, mean=model.mean, std=model.std)
    n_batches = -(-len(stimuli) // batch_size)
    outputs: dict[str, np.ndarray] = {}
    try:
        with torch.no_grad():
            for indices, images in track(batches, f"features of {len(stimuli)} stimuli", n_batches, not progress):
                _, activations = model.forward_layers(images.to(device), layers)
                for layer in layers:
                    pooled = pool_outputs(activations[layer], pool, pool_size)
                    flat = pooled.reshape(len(indices), -1).float().cpu().numpy()
                    if layer not in outputs:
                        outputs[layer] = allocate(layer, (len(stimuli), flat.shape[1]))
                    outputs[layer][indices[0] : indices[-1] + 1] = flat
    finally:
        model.train(was_training)
    return outputs
