"""CORnet-S and CORnet-Z: parameter counts, official key names, layer shapes, small inputs."""
from __future__ import annotations

import torch

from brainalign.models import cornet_z
from brainalign.models.base import LayeredModel

# Key names of the official dicarlolab/CORnet checkpoint (after stripping its "module." prefix).
OFFICIAL_KEYS = [
    "V1.conv1.weight", "V1.norm1.weight", "V1.norm1.running_mean", "V1.conv2.weight", "V1.norm2.bias",
    "V2.conv_input.weight", "V2.skip.weight", "V2.norm_skip.weight", "V2.conv1.weight", "V2.conv2.weight",
    "V2.conv3.weight", "V2.norm1_0.weight", "V2.norm2_1.running_var", "V2.norm3_1.bias",
    "V4.norm1_3.weight", "V4.norm3_3.running_mean", "IT.conv_input.weight", "IT.norm3_1.weight",
    "decoder.linear.weight", "decoder.linear.bias",
]


def test_cornet_s_parameter_count_and_official_keys(cornet: LayeredModel) -> None:
    assert sum(p.numel() for p in cornet.parameters()) == 53_416_616
    keys = set(cornet.state_dict())
    assert set(OFFICIAL_KEYS) <= keys
    # one BatchNorm set per time step: V2 and IT recur twice, V4 four times
    assert "V4.norm1_3.weight" in keys and "V4.norm1_4.weight" not in keys
    assert "V2.norm1_1.weight" in keys and "V2.norm1_2.weight" not in keys
    assert {key.split(".")[0] for key in keys} == {"V1", "V2", "V4", "IT", "decoder"}
    assert cornet.layer_names == ("V1", "V2", "V4", "IT")


def test_cornet_s_layer_shapes_at_224(cornet: LayeredModel) -> None:
    """Single image at 224 px (the published shapes); the one full-size forward pass in the suite."""
    with torch.no_grad():
        logits, layers = cornet.forward_layers(torch.randn(1, 3, 224, 224))
    assert logits.shape == (1, 1000)
    assert {name: tuple(out.shape[1:]) for name, out in layers.items()} == {
        "V1": (64, 56, 56), "V2": (128, 28, 28), "V4": (256, 14, 14), "IT": (512, 7, 7)
    }


def test_cornet_s_small_input_keeps_graph(cornet: LayeredModel) -> None:
    logits, layers = cornet.forward_layers(torch.randn(2, 3, 32, 32), ["V4", "IT"])
    assert logits.shape == (2, 1000)
    assert tuple(layers["IT"].shape) == (2, 512, 1, 1)
    # read-outs stay in the autograd graph (alignment training back-propagates through them)
    assert layers["IT"].requires_grad and layers["IT"].grad_fn is not None


def test_cornet_s_inner_module_hooks(cornet: LayeredModel) -> None:
    """conv2 runs with stride 2 then 1; a hook on it reports the last (stride-1) call."""
    with torch.no_grad():
        _, layers = cornet.forward_layers(torch.randn(1, 3, 64, 64), ["V2.conv2", "V2"])
    assert tuple(layers["V2.conv2"].shape) == (1, 512, 8, 8)
    assert tuple(layers["V2"].shape) == (1, 128, 8, 8)


def test_cornet_z_parameters_and_shapes() -> None:
    model = cornet_z(num_classes=10).eval()
    # convs with bias: 3*64*49+64, 64*128*9+128, 128*256*9+256, 256*512*9+512; linear 512*10+10
    assert sum(p.numel() for p in model.parameters()) == 9472 + 73856 + 295168 + 1180160 + 5130
    with torch.no_grad():
        logits, layers = model.forward_layers(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, 10)
    assert {name: tuple(out.shape[1:]) for name, out in layers.items()} == {
        "V1": (64, 16, 16), "V2": (128, 8, 8), "V4": (256, 4, 4), "IT": (512, 2, 2)
    }
