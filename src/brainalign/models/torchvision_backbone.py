"""Any torchvision classification model as a :class:`~brainalign.models.base.LayeredModel`.

The torchvision model object itself gains the ``LayeredModel`` interface (its class is swapped for
a subclass that also derives from ``LayeredModel``), so module paths and state-dict keys stay those
of torchvision (``layer1.0.conv1.weight``) and torchvision checkpoints load unchanged.
"""
from __future__ import annotations

from typing import Sequence, cast

from torch import nn

from brainalign.errors import DownloadError, ValidationError
from brainalign.models.base import LayeredModel, classifier_head
from brainalign.models.catalogue import TORCHVISION_CLASSIFIERS


def backbone(
    name: str,
    layers: Sequence[str] | None = None,
    num_classes: int | None = None,
    weights: str | None = None,
) -> LayeredModel:
    """Build torchvision classifier ``name`` with read-out ``layers`` (dotted module paths).

    ``layers=None`` picks a default per family (ResNets: ``layer1..layer4, avgpool``; VGG/AlexNet: the
    max-pool outputs of ``features``, then ``avgpool``; ViT: the encoder blocks). ``weights`` is a
    torchvision weights name (``"DEFAULT"``, ``"IMAGENET1K_V1"``; downloads through torch.hub's cache)
    or None for random initialisation. ``num_classes`` replaces the final linear layer's output size.
    Convolutional models accept any input >= 32 px; transformers (ViT, Swin, MaxViT) need 224 px.
    """
    from torchvision import models

    if name not in TORCHVISION_CLASSIFIERS:
        raise ValidationError(
            f"unknown torchvision model {name!r}; choose one of {list(TORCHVISION_CLASSIFIERS)} "
            "(or 'cornet_s' / 'cornet_z' with build_model)"
        )
    try:
        net = models.get_model(name, weights=weights)
    except (ValueError, KeyError) as error:
        raise ValidationError(
            f"weights {weights!r} are not available for torchvision model {name!r} ({error}); "
            "use 'DEFAULT', a name from torchvision.models.get_model_weights(name), or None"
        ) from None
    except OSError as error:  # offline (URLError), or a damaged file in the cache
        from torch.hub import get_dir

        raise DownloadError(
            f"torchvision weights {weights!r} of {name!r} are not in the torch hub cache ({get_dir()}/checkpoints) "
            f"and could not be downloaded ({error}); connect once to download them, copy the file into that folder, "
            "or give a weights file (.pth/.safetensors) instead"
        ) from None
    head_path, head = classifier_head(net)
    if num_classes is not None and num_classes != head.out_features:
        net.set_submodule(head_path, nn.Linear(head.in_features, num_classes))
    net.__class__ = _layered_class(type(net))
    model = cast(LayeredModel, net)
    model.num_classes = num_classes if num_classes is not None else head.out_features
    model.layer_names = tuple(_default_layers(net))
    model.layer_names = tuple(model.check_layers(layers))
    return model


_LAYERED_CLASSES: dict[type[nn.Module], type[nn.Module]] = {}


def _layered_class(torchvision_class: type[nn.Module]) -> type[nn.Module]:
    """``torchvision_class`` extended with the ``LayeredModel`` methods (one class per architecture)."""
    if torchvision_class not in _LAYERED_CLASSES:
        _LAYERED_CLASSES[torchvision_class] = type(f"Layered{torchvision_class.__name__}",
                                                   (torchvision_class, LayeredModel), {})
    return _LAYERED_CLASSES[torchvision_class]


def _default_layers(net: nn.Module) -> list[str]:
    """Default read-out layers in depth order for the common torchvision families."""
    children = dict(net.named_children())
    if all(f"layer{i}" in children for i in range(1, 5)):
        return ["layer1", "layer2", "layer3", "layer4"] + (["avgpool"] if "avgpool" in children else [])
    if "features" in children:
        feature_blocks = list(children["features"].named_children())
        pools = [f"features.{i}" for i, block in feature_blocks if isinstance(block, nn.MaxPool2d)]
        chosen = pools or [f"features.{i}" for i, _ in feature_blocks]
        return chosen + (["avgpool"] if "avgpool" in children else [])
    encoder_layers = getattr(children.get("encoder"), "layers", None)
    if isinstance(encoder_layers, nn.Module):
        return [f"encoder.layers.{name}" for name, _ in encoder_layers.named_children()]
    return list(children)[:-1]
