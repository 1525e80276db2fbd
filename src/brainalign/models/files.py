"""Model files: a safetensors state dict whose metadata names the architecture (``brainalign_model``,
``num_classes``), so :func:`load_model_file` rebuilds the model from the file alone; and where a training
run keeps them: ``RUN/checkpoints/epoch_NNN/{model.safetensors, head.safetensors, state.pt}`` (the head
and the optimizer state are :mod:`brainalign.align.checkpoint`'s; a training from scratch keeps
``step_NNN/{model.safetensors, state.pt}``)."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from brainalign.errors import DataFormatError, WeightsError
from brainalign.models.base import LayeredModel
from brainalign.runs import atomic_path

CHECKPOINTS = "checkpoints"
MODEL_FILE = "model.safetensors"
HEAD_FILE = "head.safetensors"
STATE_FILE = "state.pt"
ARCHITECTURE_KEY = "brainalign_model"  # model-file metadata naming the architecture
IMAGE_SIZE_KEY = "image_size"  # model-file metadata: pixels per side of the images the model was trained on
RUN_CONFIG = "config.yaml"  # a training run's resolved config (its data.image_size for files without the key)


def save_model_file(model: LayeredModel, path: str | os.PathLike[str], model_name: str,
                    image_size: int | None = None) -> Path:
    """Write ``model``'s weights to ``path`` (safetensors, atomically) with its architecture in the metadata
    and, when given, the side in pixels of the images it was trained on (``image_size``)."""
    metadata = {"format": "pt", ARCHITECTURE_KEY: model_name, "num_classes": str(model.num_classes)}
    if image_size is not None:
        metadata[IMAGE_SIZE_KEY] = str(int(image_size))
    return save_tensors(model, path, metadata)


def trained_image_size(file: str | os.PathLike[str], run_dir: str | os.PathLike[str] | None = None) -> int | None:
    """Pixels per side of the images the model in ``file`` was trained on: the file's metadata, else (files
    written before it was recorded) ``data.image_size`` of ``run_dir``'s ``config.yaml``; None if neither says."""
    recorded = file_metadata(file).get(IMAGE_SIZE_KEY)
    if recorded is not None and recorded.isdigit():
        return int(recorded)
    config = None if run_dir is None else Path(run_dir) / RUN_CONFIG
    if config is None or not config.is_file():
        return None
    import yaml

    from brainalign.inputs import read_text

    try:
        settings = yaml.safe_load(read_text(config, "run config"))
    except yaml.YAMLError:
        return None  # only a default of the image size; the run's other readers report a damaged config
    data = settings.get("data") if isinstance(settings, dict) else None
    size = data.get("image_size") if isinstance(data, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def load_model_file(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LayeredModel:
    """Rebuild the model saved by :func:`save_model_file` (architecture from the file's metadata)."""
    from brainalign.models import build_model, load_weights

    metadata = file_metadata(path)
    if ARCHITECTURE_KEY not in metadata:
        raise WeightsError(
            f"{path} does not name its architecture (no 'brainalign_model' metadata); build the model with "
            f"brainalign.models.build_model(name) and load it with load_weights(model, path)"
        )
    model = build_model(metadata[ARCHITECTURE_KEY], num_classes=int(metadata["num_classes"]))
    load_weights(model, path)
    return model.to(device)


def is_model_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a safetensors file written by :func:`save_model_file`."""
    file = Path(path)
    return file.suffix == ".safetensors" and file.is_file() and ARCHITECTURE_KEY in file_metadata(file)


def save_tensors(module: nn.Module, path: str | os.PathLike[str], metadata: dict[str, str]) -> Path:
    """Write ``module``'s state dict to ``path`` (safetensors, atomically) with string ``metadata``."""
    tensors = {key: value.detach().cpu().clone().contiguous() for key, value in module.state_dict().items()}
    with atomic_path(path) as temp:
        save_file(tensors, str(temp), metadata=metadata)
    return Path(path)


def file_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata of a safetensors file (raises a clear error when it is absent or unreadable)."""
    if not Path(path).is_file():
        raise WeightsError(f"model file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception as error:
        raise DataFormatError(f"{path} is not a readable safetensors file ({error}); it may be truncated") from error


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a training run folder (it has a ``checkpoints/`` folder)."""
    return (Path(path) / CHECKPOINTS).is_dir()


def checkpoint_dir(run_dir: str | os.PathLike[str], epoch: int, unit: str = "epoch") -> Path:
    """``run_dir/checkpoints/<unit>_NNN`` (``unit``: ``"epoch"`` for alignment runs, ``"step"`` for a
    training from scratch, :mod:`brainalign.align.scratch`)."""
    return Path(run_dir) / CHECKPOINTS / f"{unit}_{epoch:03d}"


def checkpoint_epochs(run_dir: str | os.PathLike[str], unit: str = "epoch") -> list[int]:
    """Epochs (or steps, per ``unit``) of ``run_dir`` with a complete checkpoint, ascending: the model file
    and the state file, which is written last (a head file is there too when the run has a head)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    prefix = f"{unit}_"
    epochs = []
    for folder in root.glob(f"{prefix}*"):
        number = folder.name[len(prefix):]
        if number.isdigit() and all((folder / name).exists() for name in (MODEL_FILE, STATE_FILE)):
            epochs.append(int(number))
    return sorted(epochs)


def checkpoint_file(run_dir: str | os.PathLike[str], epoch: int | None, name: str = MODEL_FILE,
                    unit: str = "epoch") -> Path:
    """File ``name`` of the checkpoint of ``epoch`` (or step, per ``unit``; default: the last) of
    ``run_dir``; raises naming the available ones when there is none."""
    epochs = checkpoint_epochs(run_dir, unit)
    if not epochs:
        raise WeightsError(f"{run_dir} holds no checkpoint; train it first (brainalign train CONFIG)")
    chosen = epochs[-1] if epoch is None else epoch
    if chosen not in epochs:
        raise WeightsError(f"{run_dir} has no checkpoint for {unit} {chosen}; available {unit}s: {epochs}")
    return checkpoint_dir(run_dir, chosen, unit) / name
