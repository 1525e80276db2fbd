"""torchvision backbones by name (random weights: nothing is downloaded) and the model registry."""
from __future__ import annotations

import pytest
import torch
from torchvision.models import resnet18

from brainalign.errors import ValidationError
from brainalign.models import backbone, build_model
from brainalign.models.base import LayeredModel


def test_resnet_default_layers_shapes_and_torchvision_keys() -> None:
    model = backbone("resnet18").eval()
    assert isinstance(model, LayeredModel)
    assert model.layer_names == ("layer1", "layer2", "layer3", "layer4", "avgpool")
    assert list(model.state_dict()) == list(resnet18().state_dict())
    with torch.no_grad():
        logits, layers = model.forward_layers(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, 1000)
    assert {name: tuple(out.shape) for name, out in layers.items()} == {
        "layer1": (2, 64, 16, 16), "layer2": (2, 128, 8, 8), "layer3": (2, 256, 4, 4),
        "layer4": (2, 512, 2, 2), "avgpool": (2, 512, 1, 1),
    }


def test_chosen_layers_and_num_classes() -> None:
    model = build_model("resnet18", layers=["layer2.0.conv1", "fc"], num_classes=7).eval()
    assert model.layer_names == ("layer2.0.conv1", "fc") and model.num_classes == 7
    with torch.no_grad():
        logits, layers = model.forward_layers(torch.randn(1, 3, 64, 64))
    assert logits.shape == (1, 7) and torch.equal(layers["fc"], logits)
    assert layers["layer2.0.conv1"].shape == (1, 128, 8, 8)


def test_feature_stack_default_layers_are_pool_outputs() -> None:
    model = backbone("alexnet").eval()
    assert model.layer_names == ("features.2", "features.5", "features.12", "avgpool")
    with torch.no_grad():
        assert model.forward_layers(torch.randn(1, 3, 64, 64))[1]["avgpool"].shape == (1, 256, 6, 6)


def test_bad_names_list_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match="resnet50"):
        build_model("resnet_999")
    with pytest.raises(ValidationError, match="layer4"):
        backbone("resnet18", layers=["layer9"])
    with pytest.raises(ValidationError, match=r"\['V1', 'V2', 'V4', 'IT'\]"):
        build_model("cornet_z").forward_layers(torch.randn(1, 3, 32, 32), ["V3"])


@pytest.mark.filterwarnings("ignore:The default weight initialization of GoogleNet:FutureWarning")
def test_layer_that_does_not_run_is_reported() -> None:
    model = backbone("googlenet").eval()  # auxiliary heads run only in training mode
    with pytest.raises(ValidationError, match=r"\['aux1'\] .* did not run"):
        model.forward_layers(torch.randn(1, 3, 64, 64), ["inception3a", "aux1"])
