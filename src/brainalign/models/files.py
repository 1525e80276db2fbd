"""Model files: a safetensors state dict whose metadata names the architecture (``brainalign_model``,
``num_classes``), so :func:`load_model_file` rebuilds the model from the file alone."""
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


def save_model_file(model: LayeredModel, path: str | os.PathLike[str], model_name: str) -> Path:
    """Write ``model``'s weights to ``path`` (safetensors, atomically) with its architecture in the metadata."""
    metadata = {"format": "pt", "brainalign_model": model_name, "num_classes": str(model.num_classes)}
    return save_tensors(model, path, metadata)


def load_model_file(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LayeredModel:
    """Rebuild the model saved by :func:`save_model_file` (architecture from the file's metadata)."""
    from brainalign.models import build_model, load_weights

    metadata = file_metadata(path)
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
    return file.suffix == ".safetensors" and file.is_file() and "brainalign_model" in file_metadata(file)


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
