"""The interface every brainalign vision model follows.

A :class:`LayeredModel` is a classifier (``forward(images) -> logits``) whose named intermediate
outputs can be read in the same pass with :meth:`LayeredModel.forward_layers`. Layer names are the
dotted sub-module paths of the model (``"V1"``, ``"IT"``, ``"layer3"``, ``"decoder.avgpool"``);
``layer_names`` lists the default read-out layers in depth order. Images are float tensors
``(batch, 3, height, width)`` already normalised with the model's ``mean``/``std``.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

import torch
from torch import nn

from brainalign.data.stimuli import IMAGENET_MEAN, IMAGENET_STD
from brainalign.errors import ValidationError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "LayeredModel", "classifier_head"]


class LayeredModel(nn.Module):
    """Base class: a classifier with named read-out layers.

    Subclasses set ``layer_names`` (default read-out layers, depth order) and ``num_classes``.
    """

    layer_names: tuple[str, ...] = ()
    num_classes: int = 1000
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def available_layers(self) -> list[str]:
        """Every dotted sub-module path that can be read out (the default layers first)."""
        others = [name for name, _ in self.named_modules() if name and name not in self.layer_names]
        return list(self.layer_names) + others

    def check_layers(self, layers: Sequence[str] | None) -> list[str]:
        """Return ``layers`` (default: ``layer_names``) as a list, or raise naming the valid ones."""
        chosen = list(self.layer_names if layers is None else layers)
        if not chosen:
            raise ValidationError("layers is empty; name at least one layer, e.g. " + ", ".join(self.layer_names))
        modules = dict(self.named_modules())
        unknown = [name for name in chosen if name not in modules or not name]
        if unknown:
            raise ValidationError(
                f"unknown layer(s) {unknown} for {type(self).__name__}; valid read-out layers are "
                f"{list(self.layer_names)} (or any sub-module path: {self.available_layers()[:40]}...)"
            )
        return chosen

    def forward_layers(
        self, images: torch.Tensor, layers: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Run the model once; return ``(logits, {layer: output})``.

        ``images``: ``(batch, 3, h, w)`` normalised. Outputs keep their shapes (e.g. CORnet-S ``IT``:
        ``(batch, 512, 7, 7)``) and stay in the autograd graph. A module called several times in one
        pass reports its last call.
        """
        chosen = self.check_layers(layers)
        captured: dict[str, torch.Tensor] = {}
        handles = [
            self.get_submodule(name).register_forward_hook(partial(_capture, captured, name)) for name in chosen
        ]
        try:
            logits = self(images)
        finally:
            for handle in handles:
                handle.remove()
        silent = [name for name in chosen if name not in captured]
        if silent:
            raise ValidationError(
                f"layer(s) {silent} of {type(self).__name__} did not run in this forward pass (e.g. an "
                f"auxiliary head used only in training); choose among {list(self.layer_names)}"
            )
        return logits, {name: captured[name] for name in chosen}

    def output_shapes(self, image_size: int = 224) -> dict[str, tuple[str, tuple[int, ...]]]:
        """``{dotted path: (module type, output shape of one image)}`` for every sub-module that runs on a
        ``(1, 3, image_size, image_size)`` input, parents before their parts (like thingsvision's
        ``show-model``); a module called several times reports its last call. Mode and weights are unchanged."""
        modules = {name: module for name, module in self.named_modules() if name}
        shapes: dict[str, tuple[int, ...]] = {}

        def record(name: str, module: nn.Module, inputs: Any, output: Any) -> None:
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            if isinstance(tensor, torch.Tensor):
                shapes[name] = tuple(tensor.shape[1:])

        handles = [module.register_forward_hook(partial(record, name)) for name, module in modules.items()]
        was_training = self.training
        try:
            with torch.no_grad():
                self.eval()(torch.zeros(1, 3, image_size, image_size))
        finally:
            self.train(was_training)
            for handle in handles:
                handle.remove()
        return {name: (type(module).__name__, shapes[name]) for name, module in modules.items() if name in shapes}


def classifier_head(model: nn.Module) -> tuple[str, nn.Linear]:
    """``(dotted path, module)`` of the model's final ``nn.Linear`` (the class read-out)."""
    linears = [(path, module) for path, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValidationError(f"{type(model).__name__} has no nn.Linear layer to use as classifier head")
    return linears[-1]


def _capture(store: dict[str, torch.Tensor], name: str, module: nn.Module, inputs: Any, output: Any) -> None:
    store[name] = output[0] if isinstance(output, (tuple, list)) else output
