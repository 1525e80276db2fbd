"""Checkpoints of training runs: writing them, the encoder head, the training state and resuming.

An alignment run keeps ``checkpoints/epoch_NNN/{model.safetensors, head.safetensors, state.pt}`` per
epoch; a training from scratch (:mod:`brainalign.align.scratch`) keeps ``checkpoints/step_NNN/
{model.safetensors, state.pt}`` per optimisation step of its schedule (``unit`` names the counter; the
layout and the model files: :mod:`brainalign.models.files`; loading a run's model:
:func:`brainalign.models.load`). ``state.pt`` holds the optimizer state and the random-number-generator
states (plain tensors, read with ``weights_only=True``) and is written last, so its presence marks a
complete checkpoint. :func:`restore_checkpoint` puts the newest one back into the training objects and
:func:`truncate_metrics` drops metric records written after it, so a resumed run ends bit-identical to an
uninterrupted one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from safetensors.torch import load_file

from brainalign.align.head import EncoderHead
from brainalign.config import load_config
from brainalign.errors import ConfigError, DataFormatError
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
from brainalign.runs import atomic_write_text, atomic_write_with, make_dirs, read_jsonl, remove_written


GRAD_SCALER = "grad_scaler"  # fp16 loss-scaler state in a checkpoint's state.pt
RESUME_ONLY = frozenset({"optimizer", GRAD_SCALER})  # state.pt entries needed only to resume from that checkpoint


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
    head: EncoderHead | None,
    model_name: str,
    state: dict[str, Any],
    unit: str = "epoch",
    keep: int | None = None,
    image_size: int | None = None,
) -> Path:
    """Write checkpoint ``epoch`` (of ``unit``): the model (with the training ``image_size`` in its metadata),
    the head when there is one, then ``state``
    (optimizer, RNG) last, so its presence marks completion. Then delete all but the newest ``keep``
    checkpoints (``None`` keeps every one) and drop the resume state of the kept older ones."""
    folder = checkpoint_dir(run_dir, epoch, unit)
    make_dirs(folder)
    save_model_file(model, folder / MODEL_FILE, model_name, image_size=image_size)
    if head is not None:
        save_head(head, folder / HEAD_FILE)
    atomic_write_with(folder / STATE_FILE, lambda temp: torch.save(state, temp))
    saved = checkpoint_epochs(run_dir, unit)
    removed = saved[:-keep] if keep is not None else []
    for older in removed:  # deleted first: no state rewritten only to be deleted
        remove_written(checkpoint_dir(run_dir, older, unit))
    for older in saved[len(removed):-1]:
        drop_resume_state(run_dir, older, unit)
    return folder


def drop_resume_state(run_dir: str | os.PathLike[str], epoch: int, unit: str = "epoch") -> None:
    """Rewrite checkpoint ``epoch``'s ``state.pt`` without what only resuming from it needs (the optimizer and
    gradient-scaler states; the RNG states and the counter stay). A run resumes from its newest checkpoint
    only, so :func:`save_checkpoint` does this to the older ones once a newer one is complete, and a finished
    run to its last: with Adam the optimizer state is twice the size of the weights."""
    state = load_state(run_dir, epoch, unit)
    if not RESUME_ONLY.intersection(state):
        return
    kept = {key: value for key, value in state.items() if key not in RESUME_ONLY}
    atomic_write_with(checkpoint_dir(run_dir, epoch, unit) / STATE_FILE, lambda temp: torch.save(kept, temp))


def load_state(run_dir: str | os.PathLike[str], epoch: int, unit: str = "epoch") -> dict[str, Any]:
    """The optimizer/RNG state saved with checkpoint ``epoch`` (``torch.load(weights_only=True)``)."""
    path = checkpoint_dir(run_dir, epoch, unit) / STATE_FILE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataFormatError(f"could not read checkpoint state {path} ({error}); delete that {unit} folder and resume") from error


def rng_state() -> dict[str, Any]:
    """The random-number-generator states to save in a checkpoint (torch CPU, and CUDA when present)."""
    state: dict[str, Any] = {"torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def restore_checkpoint(
    run_dir: str | os.PathLike[str],
    model: LayeredModel,
    optimizer: torch.optim.Optimizer,
    head: EncoderHead | None = None,
    unit: str = "epoch",
) -> int:
    """Load the newest complete checkpoint into ``model`` (and ``head``), ``optimizer`` and the RNGs;
    return its counter (0 when the run has none: the objects are left as they are)."""
    saved = checkpoint_epochs(run_dir, unit)
    if not saved:
        return 0
    folder = checkpoint_dir(run_dir, saved[-1], unit)
    model.load_state_dict(load_file(str(folder / MODEL_FILE)))
    if head is not None:
        head.load_state_dict(load_file(str(folder / HEAD_FILE)))
    state = load_state(run_dir, saved[-1], unit)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    if torch.cuda.is_available() and "cuda_rng" in state:
        torch.cuda.set_rng_state_all(list(state["cuda_rng"]))
    return saved[-1]


def truncate_metrics(path: str | os.PathLike[str], key: str, last: int) -> None:
    """Keep only the JSON-lines records of ``path`` whose ``key`` is at most ``last`` (those a resumed
    run will not write again); a missing file is left missing."""
    if not Path(path).exists():
        return
    kept = [record for record in read_jsonl(path) if record[key] <= last]
    atomic_write_text(path, "".join(json.dumps(record) + "\n" for record in kept))


def check_resume_config(run_dir: str | os.PathLike[str], config: BaseModel) -> None:
    """Raise :class:`ConfigError` unless ``run_dir/config.yaml`` holds ``config`` (ignoring ``progress``):
    a run resumes only with the config it was started with."""
    saved = load_config(type(config), Path(run_dir) / "config.yaml")
    if saved.model_dump(exclude={"progress"}) != config.model_dump(exclude={"progress"}):
        raise ConfigError(
            f"{run_dir} was started with a different config ({Path(run_dir) / 'config.yaml'}); resume it with that "
            f"config, or start afresh with --force"
        )


def load_head(run_dir: str | os.PathLike[str], epoch: int | None = None, device: str | torch.device = "cpu") -> EncoderHead:
    """The trained encoder head of a run at ``epoch`` (default: the last), in eval mode."""
    return load_head_file(checkpoint_file(run_dir, epoch, HEAD_FILE), device).eval()
