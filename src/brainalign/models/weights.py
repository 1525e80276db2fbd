"""Load and save model weights: local ``.pth``/``.pt``/``.safetensors`` files or known published weights.

Known names (``KNOWN_WEIGHTS``) are downloaded once (``brainalign.data.fetch``) into the cache directory
(``$BRAINALIGN_CACHE`` or ``~/.cache/brainalign``, sub-folder ``weights``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import AbstractSet, Mapping, cast

import torch
from torch import nn

from brainalign.errors import DataFormatError, WeightsError
from brainalign.models.base import classifier_head
from brainalign.models.catalogue import KNOWN_WEIGHTS
from brainalign.runs import atomic_path

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
WEIGHTS_SUFFIXES = TORCH_SUFFIXES + (".safetensors",)
_LIST_LIMIT = 12


def cache_dir() -> Path:
    """Directory for downloaded weights: ``$BRAINALIGN_CACHE/weights`` or ``~/.cache/brainalign/weights``."""
    root = os.environ.get("BRAINALIGN_CACHE") or Path.home() / ".cache" / "brainalign"
    return Path(root) / "weights"


def load_weights(model: nn.Module, source: str | os.PathLike[str], keep_new_head: bool = False) -> nn.Module:
    """Load ``source`` (a known name from ``KNOWN_WEIGHTS`` or a weights file) into ``model``; return it.

    ``.pth``/``.pt`` files are read with ``torch.load(weights_only=True)``; a ``state_dict`` entry and a
    ``module.`` key prefix (``nn.DataParallel``) are unwrapped, so the official CORnet checkpoints load
    unchanged. Raises :class:`WeightsError` naming missing/unexpected keys or mismatched shapes.
    ``keep_new_head=True`` loads everything but a classifier head of another size (e.g. 1000 ImageNet
    classes into a 20-class model), which keeps its fresh initialisation.
    """
    path = fetch_known(str(source)) if str(source) in KNOWN_WEIGHTS else Path(source)
    return load_state_dict(model, read_state_dict(path), path, keep_new_head)


def load_state_dict(
    model: nn.Module, state: Mapping[str, torch.Tensor], path: str | os.PathLike[str], keep_new_head: bool = False
) -> nn.Module:
    """Load ``state`` (read from ``path``, named in errors) into ``model`` as :func:`load_weights` does."""
    path = Path(path)
    kept_head = _mismatched_head_keys(model, state) if keep_new_head else set()
    state = {key: value for key, value in state.items() if key not in kept_head}
    _check_compatible(model, state, path, optional=kept_head)
    model.load_state_dict(state, strict=not kept_head)
    return model


def fetch_known(name: str) -> Path:
    """The local file of known weights ``name``, downloaded and checked once into :func:`cache_dir`."""
    from brainalign.data.downloads import fetch

    return fetch(KNOWN_WEIGHTS[name].source, cache_dir(), progress=True)


def head_size(model: nn.Module, state: Mapping[str, torch.Tensor]) -> int | None:
    """Outputs of the classifier head in ``state`` at the path of ``model``'s head (None when absent)."""
    head_path, _ = classifier_head(model)
    weight = state.get(f"{head_path}.weight")
    return None if weight is None or weight.ndim != 2 else int(weight.shape[0])


def _mismatched_head_keys(model: nn.Module, state: Mapping[str, torch.Tensor]) -> set[str]:
    """Keys of the model's classifier head when the file's head has another shape (else empty)."""
    head_path, head = classifier_head(model)
    head_keys = {f"{head_path}.{name}": tensor for name, tensor in head.state_dict().items()}
    if all(key in state and state[key].shape == tensor.shape for key, tensor in head_keys.items()):
        return set()
    return set(head_keys)


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch pickle; unwrap ``state_dict`` and ``module.``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} does not exist; pass an existing .pth/.pt/.safetensors file or a known "
            f"name: {sorted(KNOWN_WEIGHTS)}"
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        elif path.suffix in TORCH_SUFFIXES:
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise WeightsError(
                f"weights file {path} has suffix {path.suffix!r}; use .safetensors or one of {TORCH_SUFFIXES}"
            )
    except WeightsError:
        raise
    except Exception as error:
        raise DataFormatError(
            f"could not read weights file {path} ({type(error).__name__}: {error}); it may be truncated or "
            "not a tensor checkpoint (pickles with arbitrary objects are refused: weights_only=True)"
        ) from error
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = dict(cast(Mapping[str, torch.Tensor], state["state_dict"]))
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataFormatError(
            f"weights file {path} does not hold a state dict of tensors (nor one under 'state_dict'); "
            "save it with brainalign.models.save_weights or torch.save(model.state_dict(), path)"
        )
    return {_strip_module(key): value for key, value in state.items()}


def _strip_module(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key


def _check_compatible(
    model: nn.Module, state: Mapping[str, torch.Tensor], path: Path, optional: AbstractSet[str] = frozenset()
) -> None:
    expected = model.state_dict()
    # BatchNorm's counter is bookkeeping; torch fills it in when old checkpoints lack it.
    missing = [k for k in expected if k not in state and k not in optional and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = [
        f"{label} ({len(keys)}): {keys[:_LIST_LIMIT]}{' ...' if len(keys) > _LIST_LIMIT else ''}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong_shape))
        if keys
    ]
    if problems:
        raise WeightsError(
            f"weights file {path} does not match {type(model).__name__}: " + "; ".join(problems)
            + ". Check that the file was saved from the same architecture (and num_classes)."
        )


def save_weights(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``model.state_dict()`` to ``path`` as safetensors (atomically); return the path."""
    from safetensors.torch import save_file

    tensors = {key: value.detach().cpu().clone().contiguous() for key, value in model.state_dict().items()}
    with atomic_path(path) as temp:
        save_file(tensors, str(temp), metadata={"format": "pt"})
    return Path(path)
