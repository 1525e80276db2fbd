"""The encoder head that predicts neural responses from a backbone's layer outputs (ReAlnet)."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from brainalign.errors import ValidationError
from brainalign.models.base import LayeredModel

HIDDEN_UNITS = 128


class EncoderHead(nn.Module):
    """Per layer: flatten -> Linear(-> 128) -> ReLU; concatenate (4 layers -> 512); Linear -> response size.

    ``layer_sizes``: flattened output size of each read-out layer, in the order used (e.g. CORnet-S at
    224 px: ``{"V1": 200704, "V2": 100352, "V4": 50176, "IT": 25088}``). ``out_features``: response size
    (EEG 17 channels x 20 times = 340, fMRI 1024, any size).
    """

    def __init__(self, layer_sizes: Mapping[str, int], out_features: int, hidden: int = HIDDEN_UNITS) -> None:
        super().__init__()
        if not layer_sizes:
            raise ValidationError("layer_sizes is empty; give the flattened size of at least one layer")
        if out_features < 1:
            raise ValidationError(f"out_features must be >= 1 (the response size), got {out_features}")
        self.layer_sizes = dict(layer_sizes)
        self.out_features = int(out_features)
        # nn.ModuleDict keys may not contain dots; layer names such as "decoder.avgpool" do.
        self.keys = {layer: f"layer{index}" for index, layer in enumerate(self.layer_sizes)}
        self.encoders = nn.ModuleDict(
            {self.keys[layer]: nn.Linear(size, hidden) for layer, size in self.layer_sizes.items()}
        )
        self.readout = nn.Linear(hidden * len(self.layer_sizes), self.out_features)

    @classmethod
    def for_model(
        cls,
        model: LayeredModel,
        out_features: int,
        layers: Sequence[str] | None = None,
        image_size: int = 224,
        hidden: int = HIDDEN_UNITS,
    ) -> "EncoderHead":
        """Build a head for ``model``'s ``layers`` (default ``model.layer_names``) at ``image_size`` px."""
        chosen = model.check_layers(layers)
        parameter = next(model.parameters())
        probe = torch.zeros(1, 3, image_size, image_size, dtype=parameter.dtype, device=parameter.device)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            _, outputs = model.forward_layers(probe, chosen)
        model.train(was_training)
        return cls({layer: outputs[layer][0].numel() for layer in chosen}, out_features, hidden)

    def forward(self, layer_outputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``layer_outputs``: ``{layer: (batch, ...)}`` -> predicted responses ``(batch, out_features)``."""
        missing = [layer for layer in self.layer_sizes if layer not in layer_outputs]
        if missing:
            raise ValidationError(f"layer outputs lack {missing}; the head was built for {list(self.layer_sizes)}")
        wrong = {
            layer: layer_outputs[layer][0].numel()
            for layer, size in self.layer_sizes.items()
            if layer_outputs[layer][0].numel() != size
        }
        if wrong:
            raise ValidationError(
                f"layer outputs have flattened sizes {wrong} but the head expects {self.layer_sizes}; "
                f"build the head at the image size used for training (EncoderHead.for_model(..., image_size=))"
            )
        hidden = [
            torch.relu(self.encoders[self.keys[layer]](layer_outputs[layer].flatten(1)))
            for layer in self.layer_sizes
        ]
        return self.readout(torch.cat(hidden, dim=1))
