"""What brainalign can build and load, importable without torch (so ``brainalign models`` answers fast):
the model names (:func:`model_names`) and the published weights (:data:`KNOWN_WEIGHTS`).

The torchvision classifier names are those of the pinned torchvision (``requirements-ci.txt``);
``tests/models/test_catalogue.py`` checks them against the installed torchvision's ``list_models``.
"""
from __future__ import annotations

from dataclasses import dataclass

CORNET_NAMES = ("cornet_s", "cornet_z")
#: Pixels per side of the images a model is shown when neither the user nor the model (its file or run)
#: says: the ImageNet models' input size.
DEFAULT_IMAGE_SIZE = 224

TORCHVISION_CLASSIFIERS = (
    "alexnet", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny", "densenet121", "densenet161",
    "densenet169", "densenet201", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_l",
    "efficientnet_v2_m", "efficientnet_v2_s", "googlenet", "inception_v3", "maxvit_t", "mnasnet0_5", "mnasnet0_75",
    "mnasnet1_0", "mnasnet1_3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "regnet_x_16gf",
    "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf",
    "regnet_y_128gf", "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf", "regnet_y_400mf",
    "regnet_y_800mf", "regnet_y_8gf", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50",
    "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "squeezenet1_0", "squeezenet1_1", "swin_b", "swin_s", "swin_t",
    "swin_v2_b", "swin_v2_s", "swin_v2_t", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32", "wide_resnet101_2", "wide_resnet50_2",
)
"""The classification models of ``torchvision.models`` (``list_models(module=torchvision.models)``)."""


def model_names() -> list[str]:
    """Every name ``build_model`` accepts: the CORnets, then the torchvision classifiers."""
    return sorted(CORNET_NAMES) + list(TORCHVISION_CLASSIFIERS)


@dataclass(frozen=True)
class KnownWeights:
    """Published weights: the ``brainalign.data.REGISTRY`` entry holding the file, and its architecture."""

    source: str
    architecture: str

    @property
    def url(self) -> str:
        from brainalign.data.downloads import REGISTRY

        return str(REGISTRY[self.source].url)


# The download itself (pooch, staging folder, check of the sha256 prefix the published file names
# carry: the full sha256 of the CORnet files is not published) lives in brainalign.data.downloads.
KNOWN_WEIGHTS: dict[str, KnownWeights] = {
    "cornet_s-imagenet": KnownWeights("cornet_s", "cornet_s"),
    "cornet_z-imagenet": KnownWeights("cornet_z", "cornet_z"),
}
