"""Devices: the one place that turns a device name (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``) into a
``torch.device``. Every function that takes ``device`` accepts a name or a ``torch.device``."""
from __future__ import annotations

import torch

from brainalign.errors import ValidationError

DeviceLike = str | torch.device


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """``"auto"`` -> the first GPU when present, else the CPU; other names as given, checked.

    Raises :class:`ValidationError` for a name torch does not know or a GPU that is not there.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValidationError(f"device {device!r} is not a device ({error}); use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError(f"device {device!r} but no GPU is available; use auto or cpu")
    return resolved
