"""Model files and per-epoch checkpoints of alignment runs.

A *model file* is a safetensors state dict whose metadata names the architecture (``brainalign_model``,
``num_classes``), so :func:`load_model_file` can rebuild the model from the file alone. A run keeps
``checkpoints/epoch_NNN/{model.safetensors, head.safetensors, state.pt}``; ``state.pt`` holds the
optimizer state and the random-number-generator states (plain tensors, read with ``weights_only=True``).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from brainalign.align.head import EncoderHead
from brainalign.errors import DataFormatError, WeightsError
from brainalign.models.base import LayeredModel
from brainalign.runs import atomic_path, atomic_write_with

CHECKPOINTS = "checkpoints"
MODEL_FILE = "model.safetensors"
HEAD_FILE = "head.safetensors"
STATE_FILE = "state.pt"


def save_model_file(model: LayeredModel, path: str | os.PathLike[str], model_name: str) -> Path:
    """Write ``model``'s weights to ``path`` (safetensors, atomically) with its architecture in the metadata."""
    metadata = {"format": "pt", "brainalign_model": model_name, "num_classes": str(model.num_classes)}
    return _save_tensors(model, path, metadata)


def load_model_file(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LayeredModel:
    """Rebuild the model saved by :func:`save_model_file` (architecture from the file's metadata)."""
    from brainalign.models import build_model, load_weights

    metadata = _metadata(path)
    if "brainalign_model" not in metadata:
        raise WeightsError(
            f"{path} does not name its architecture (no 'brainalign_model' metadata); build the model with "
            f"brainalign.models.build_model(name) and load it with load_weights(model, path)"
        )
    model = build_model(metadata["brainalign_model"], num_classes=int(metadata["num_classes"]))
    load_weights(model, path)
    return model.to(device)


def is_model_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a safetensors file written by :func:`save_model_file`."""
    file = Path(path)
    return file.suffix == ".safetensors" and file.is_file() and "brainalign_model" in _metadata(file)


def save_head(head: EncoderHead, path: str | os.PathLike[str]) -> Path:
    """Write the head's weights and its layer sizes / output size (metadata) to ``path``."""
    metadata = {"format": "pt", "layer_sizes": json.dumps(head.layer_sizes), "out_features": str(head.out_features)}
    return _save_tensors(head, path, metadata)


def load_head_file(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> EncoderHead:
    """Rebuild an :class:`EncoderHead` saved by :func:`save_head`."""
    metadata = _metadata(path)
    head = EncoderHead(json.loads(metadata["layer_sizes"]), int(metadata["out_features"]))
    head.load_state_dict(load_file(str(path)))
    return head.to(device)


def checkpoint_dir(run_dir: str | os.PathLike[str], epoch: int) -> Path:
    """``run_dir/checkpoints/epoch_NNN``."""
    return Path(run_dir) / CHECKPOINTS / f"epoch_{epoch:03d}"


def checkpoint_epochs(run_dir: str | os.PathLike[str]) -> list[int]:
    """Epochs with a complete checkpoint (all three files), ascending."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    epochs = []
    for folder in root.glob("epoch_*"):
        if folder.name[len("epoch_"):].isdigit() and all((folder / f).exists() for f in (MODEL_FILE, HEAD_FILE, STATE_FILE)):
            epochs.append(int(folder.name[len("epoch_"):]))
    return sorted(epochs)


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    epoch: int,
    model: LayeredModel,
    head: EncoderHead,
    model_name: str,
    state: dict[str, Any],
) -> Path:
    """Write epoch ``epoch``'s checkpoint; ``state`` (optimizer, RNG) last, so its presence marks completion."""
    folder = checkpoint_dir(run_dir, epoch)
    folder.mkdir(parents=True, exist_ok=True)
    save_model_file(model, folder / MODEL_FILE, model_name)
    save_head(head, folder / HEAD_FILE)
    atomic_write_with(folder / STATE_FILE, lambda temp: torch.save(state, temp))
    return folder


def load_state(run_dir: str | os.PathLike[str], epoch: int) -> dict[str, Any]:
    """The optimizer/RNG state saved with epoch ``epoch`` (``torch.load(weights_only=True)``)."""
    path = checkpoint_dir(run_dir, epoch) / STATE_FILE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataFormatError(f"could not read checkpoint state {path} ({error}); delete that epoch folder and resume") from error


def prune_checkpoints(run_dir: str | os.PathLike[str], keep: int | None) -> None:
    """Delete all but the newest ``keep`` checkpoints (``None`` keeps every epoch)."""
    if keep is None:
        return
    for epoch in checkpoint_epochs(run_dir)[:-keep]:
        shutil.rmtree(checkpoint_dir(run_dir, epoch))


def load_aligned(run_dir: str | os.PathLike[str], epoch: int | None = None, device: str | torch.device = "cpu") -> LayeredModel:
    """The backbone of a run with its trained weights at ``epoch`` (default: the last), in eval mode."""
    return load_model_file(_checkpoint_file(run_dir, epoch, MODEL_FILE), device).eval()


def load_head(run_dir: str | os.PathLike[str], epoch: int | None = None, device: str | torch.device = "cpu") -> EncoderHead:
    """The trained encoder head of a run at ``epoch`` (default: the last), in eval mode."""
    return load_head_file(_checkpoint_file(run_dir, epoch, HEAD_FILE), device).eval()


def _checkpoint_file(run_dir: str | os.PathLike[str], epoch: int | None, name: str) -> Path:
    epochs = checkpoint_epochs(run_dir)
    if not epochs:
        raise WeightsError(f"{run_dir} holds no checkpoint; train it first (brainalign train CONFIG)")
    chosen = epochs[-1] if epoch is None else epoch
    if chosen not in epochs:
        raise WeightsError(f"{run_dir} has no checkpoint for epoch {chosen}; available epochs: {epochs}")
    return checkpoint_dir(run_dir, chosen) / name


def _save_tensors(module: nn.Module, path: str | os.PathLike[str], metadata: dict[str, str]) -> Path:
    tensors = {key: value.detach().cpu().clone().contiguous() for key, value in module.state_dict().items()}
    with atomic_path(path) as temp:
        save_file(tensors, str(temp), metadata=metadata)
    return Path(path)


def _metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    if not Path(path).is_file():
        raise WeightsError(f"model file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception as error:
        raise DataFormatError(f"{path} is not a readable safetensors file ({error}); it may be truncated") from error
