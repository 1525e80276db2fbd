"""Per-epoch checkpoints of alignment runs (model files themselves: :mod:`brainalign.models.files`).

A run keeps
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
from safetensors.torch import load_file

from brainalign.align.head import EncoderHead
from brainalign.errors import DataFormatError, WeightsError
from brainalign.models.base import LayeredModel
from brainalign.models.files import file_metadata, load_model_file, save_model_file, save_tensors
from brainalign.runs import atomic_write_with

CHECKPOINTS = "checkpoints"
MODEL_FILE = "model.safetensors"
HEAD_FILE = "head.safetensors"
STATE_FILE = "state.pt"


def save_head(head: EncoderHead, path: str | os.PathLike[str]) -> Path:
    """Write the head's weights and its layer sizes / output size (metadata) to ``path``."""
    metadata = {"format": "pt", "layer_sizes": json.dumps(head.layer_sizes), "out_features": str(head.out_features)}
    return save_tensors(head, path, metadata)


def load_head_file(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> EncoderHead:
    """Rebuild an :class:`EncoderHead` saved by :func:`save_head`."""
    metadata = file_metadata(path)
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


