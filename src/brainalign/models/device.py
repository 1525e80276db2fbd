"""Devices: the one place that turns a device name (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``) into a
``torch.device``, and that decides how training uses it (:class:`Acceleration`: memory format,
``torch.compile``, mixed precision). Every function that takes ``device`` accepts a name or a ``torch.device``."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Literal, ParamSpec, TypeVar

import torch

from brainalign.errors import ValidationError

DeviceLike = str | torch.device
P = ParamSpec("P")
R = TypeVar("R")
ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


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


Amp = Literal["none", "bf16", "fp16"]


@dataclass(frozen=True)
class Acceleration:
    """How a training runs on its device: the one place for memory format, compilation and mixed precision.

    On CUDA: models and input batches in ``channels_last`` (faster convolutions on tensor cores), the forward
    pass optionally ``torch.compile``-d (``compile``), and autocast to ``amp`` (``"bf16"``, or ``"fp16"``
    with a gradient scaler). On the CPU nothing changes: contiguous NCHW, no compilation, and ``amp="bf16"``
    autocasts as before (``"fp16"`` is refused), so CPU runs give the same numbers as before.
    """

    device: torch.device
    amp: Amp = "none"
    compile: bool = False

    def __post_init__(self) -> None:
        if self.amp == "fp16" and self.device.type != "cuda":
            raise ValidationError(f"amp fp16 needs a CUDA device (device is {self.device}); use bf16 or none")

    @property
    def memory_format(self) -> torch.memory_format:
        """``channels_last`` on CUDA, contiguous NCHW elsewhere."""
        return torch.channels_last if self.device.type == "cuda" else torch.contiguous_format

    def prepare(self, module: ModuleT) -> ModuleT:
        """``module`` on the device, in :attr:`memory_format`."""
        return module.to(self.device).to(memory_format=self.memory_format)

    def compiled(self, function: Callable[P, R]) -> Callable[P, R]:
        """``torch.compile(function)`` on CUDA when ``compile``; ``function`` itself otherwise."""
        if self.compile and self.device.type == "cuda":
            return torch.compile(function)
        return function

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Autocast to ``amp`` (a no-op context for ``"none"``)."""
        dtype = torch.float16 if self.amp == "fp16" else torch.bfloat16
        return torch.autocast(device_type=self.device.type, dtype=dtype, enabled=self.amp != "none")

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """The loss scaler fp16 needs (None for bf16 and float32)."""
        return torch.amp.GradScaler("cuda") if self.amp == "fp16" else None


def backward_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    """``loss.backward()`` and ``optimizer.step()``, through ``scaler`` when there is one (fp16)."""
    if scaler is None:
        loss.backward()
        optimizer.step()
        return
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
