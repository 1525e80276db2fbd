"""Per-epoch checkpoints of alignment runs: writing them, the encoder head and the training state.

A run keeps ``checkpoints/epoch_NNN/{model.safetensors, head.safetensors, state.pt}`` (the layout and the
model files: :mod:`brainalign.models.files`; loading a run's model: :func:`brainalign.models.load`);
``state.pt`` holds the optimizer state and the random-number-generator states (plain tensors, read with
``weights_only=True``).
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
from brainalign.errors import DataFormatError
from brainalign.models.base import LayeredModel
from brainalign.models.files import (
    HEAD_FILE,
    MODEL_FILE,
    STATE_FILE,
    checkpoint_dir,
    checkpoint_epochs,
    checkpoint_file,
    file_metadata,
    save_model_file,
    save_tensors,
)
from brainalign.runs import atomic_write_with


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


def load_head(run_dir: str | os.PathLike[str], epoch: int | None = None, device: str | torch.device = "cpu") -> EncoderHead:
    """The trained encoder head of a run at ``epoch`` (default: the last), in eval mode."""
    return load_head_file(checkpoint_file(run_dir, epoch, HEAD_FILE), device).eval()
