"""CORnet-S and CORnet-Z (Kubilius et al. 2019), with the official state-dict key names.

Module names match the official ``dicarlolab/CORnet`` code (``V1.conv1``, ``V2.conv_input``,
``V2.norm1_0``, ``decoder.linear``, ...), so the published checkpoints load unchanged once their
``module.`` prefix is stripped (see :func:`brainalign.models.load_weights`). Read-out layers are the
area outputs ``V1``, ``V2``, ``V4``, ``IT``. The decoder pools adaptively, so any input of at least
32x32 pixels works (224x224 in the papers).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Mapping

import torch
from torch import nn

from brainalign.models.base import LayeredModel

AREAS = ("V1", "V2", "V4", "IT")


class Identity(nn.Module):
    """Pass-through marking a block's output (a stable hook point, as in the official code)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Flatten(nn.Module):
    """``(batch, channels, 1, 1) -> (batch, channels)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class CORblockS(nn.Module):
    """Recurrent bottleneck block of CORnet-S.

    ``conv_input`` (1x1) maps to ``out_channels``; then ``times`` steps of a bottleneck
    (1x1 expand by ``scale``, 3x3, 1x1 reduce) with its own BatchNorms per step. Step 0 uses stride
    2 in the 3x3 conv and a 1x1/2 conv + BN skip; later steps keep the size with an identity skip.
    """

    scale = 4

    def __init__(self, in_channels: int, out_channels: int, times: int) -> None:
        super().__init__()
        self.times = times
        wide = out_channels * self.scale
        self.conv_input = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.skip = nn.Conv2d(out_channels, out_channels, kernel_size=1, stride=2, bias=False)
        self.norm_skip = nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(out_channels, wide, kernel_size=1, bias=False)
        self.nonlin1 = nn.ReLU()
        # Its stride is chosen per step in forward (2 at step 0, else 1); the module stores stride 2.
        self.conv2 = nn.Conv2d(wide, wide, kernel_size=3, stride=2, padding=1, bias=False)
        self.nonlin2 = nn.ReLU()
        self.conv3 = nn.Conv2d(wide, out_channels, kernel_size=1, bias=False)
        self.nonlin3 = nn.ReLU()
        self.output = Identity()
        for step in range(times):
            setattr(self, f"norm1_{step}", nn.BatchNorm2d(wide))
            setattr(self, f"norm2_{step}", nn.BatchNorm2d(wide))
            setattr(self, f"norm3_{step}", nn.BatchNorm2d(out_channels))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(batch, in_channels, h, w) -> (batch, out_channels, ceil(h/2), ceil(w/2))``."""
        x = self.conv_input(inputs)
        for step in range(self.times):
            stride = 2 if step == 0 else 1
            skip = self.norm_skip(self.skip(x)) if step == 0 else x
            x = self.nonlin1(getattr(self, f"norm1_{step}")(self.conv1(x)))
            # One set of weights, two strides (as in the official code); calling the module keeps
            # forward hooks on ``conv2`` working.
            self.conv2.stride = (stride, stride)
            x = self.conv2(x)
            x = self.nonlin2(getattr(self, f"norm2_{step}")(x))
            x = getattr(self, f"norm3_{step}")(self.conv3(x))
            x = self.output(self.nonlin3(x + skip))
        return x


class CORblockZ(nn.Module):
    """CORnet-Z block: conv (with bias) -> ReLU -> maxpool 3x3/2."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)
        self.nonlin = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.output = Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.pool(self.nonlin(self.conv(x))))


def _decoder(num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            [
                ("avgpool", nn.AdaptiveAvgPool2d(1)),
                ("flatten", Flatten()),
                ("linear", nn.Linear(512, num_classes)),
                ("output", Identity()),
            ]
        )
    )


class CORnet(LayeredModel):
    """A CORnet: areas ``V1 -> V2 -> V4 -> IT`` then ``decoder`` (avgpool, flatten, linear).

    ``forward(images (batch, 3, h, w)) -> logits (batch, num_classes)``.
    """

    layer_names = AREAS

    def __init__(self, areas: Mapping[str, nn.Module], num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        for name in AREAS:
            self.add_module(name, areas[name])
        self.decoder = _decoder(num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        for name in AREAS:
            x = getattr(self, name)(x)
        return self.decoder(x)


def cornet_s(num_classes: int = 1000) -> CORnet:
    """CORnet-S (53,416,616 parameters with 1000 classes), randomly initialised as in the official code.

    Layer outputs for a 224x224 input: V1 (64, 56, 56), V2 (128, 28, 28), V4 (256, 14, 14),
    IT (512, 7, 7). Load the published ImageNet weights with ``load_weights(model, "cornet_s-imagenet")``.
    """
    v1 = nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm1", nn.BatchNorm2d(64)),
                ("nonlin1", nn.ReLU()),
                ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ("conv2", nn.Conv2d(64, 64, kernel_size=3, stride=1, padding=1, bias=False)),
                ("norm2", nn.BatchNorm2d(64)),
                ("nonlin2", nn.ReLU()),
                ("output", Identity()),
            ]
        )
    )
    areas = {"V1": v1, "V2": CORblockS(64, 128, times=2), "V4": CORblockS(128, 256, times=4),
             "IT": CORblockS(256, 512, times=2)}
    model = CORnet(areas, num_classes)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
            nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def cornet_z(num_classes: int = 1000) -> CORnet:
    """CORnet-Z: four conv/ReLU/maxpool areas (64, 128, 256, 512 channels), small and fast.

    Layer outputs for a 224x224 input: V1 (64, 56, 56), V2 (128, 28, 28), V4 (256, 14, 14),
    IT (512, 7, 7).
    """
    areas = {"V1": CORblockZ(3, 64, kernel_size=7, stride=2), "V2": CORblockZ(64, 128),
             "V4": CORblockZ(128, 256), "IT": CORblockZ(256, 512)}
    model = CORnet(areas, num_classes)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model
