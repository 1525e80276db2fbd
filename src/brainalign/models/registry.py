"""Build any supported model by name: ``"cornet_s"``, ``"cornet_z"`` or a torchvision classifier."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from brainalign.errors import ValidationError
from brainalign.models.base import LayeredModel
from brainalign.models.cornet import cornet_s, cornet_z
from brainalign.models.catalogue import KNOWN_WEIGHTS, TORCHVISION_CLASSIFIERS, model_names
from brainalign.models.torchvision_backbone import backbone
from brainalign.models.weights import WEIGHTS_SUFFIXES, load_weights

CORNETS: dict[str, Callable[..., LayeredModel]] = {"cornet_s": cornet_s, "cornet_z": cornet_z}


def build_model(name: str, weights: str | os.PathLike[str] | None = None, **kwargs: Any) -> LayeredModel:
    """Build model ``name``; ``kwargs`` go to :func:`cornet_s`/:func:`cornet_z`/:func:`backbone`.

    ``weights``: a brainalign weights file or known name (``"cornet_s-imagenet"``), loaded with
    :func:`load_weights`; for torchvision models also a torchvision weights name (``"DEFAULT"``).
    With ``num_classes`` and weights whose classifier head has another size, everything but the head
    is loaded (the head starts fresh: fine-tuning on a new label set).
    """
    if name in CORNETS:
        model = CORNETS[name](**kwargs)
    elif name in TORCHVISION_CLASSIFIERS:
        torchvision_weights = None if weights is None or _is_brainalign_weights(weights) else str(weights)
        model = backbone(name, weights=torchvision_weights, **kwargs)
        if torchvision_weights is not None:
            return model
    else:
        raise ValidationError(f"unknown model {name!r}; choose one of {model_names()}")
    if weights is not None:
        # an explicit num_classes means a new task: keep the fresh head if the file's has another size
        load_weights(model, weights, keep_new_head="num_classes" in kwargs)
    return model


def _is_brainalign_weights(weights: str | os.PathLike[str]) -> bool:
    """A brainalign source (known name or weights file), as opposed to a torchvision weights name."""
    path = Path(weights)
    return str(weights) in KNOWN_WEIGHTS or path.suffix in WEIGHTS_SUFFIXES or path.exists()
