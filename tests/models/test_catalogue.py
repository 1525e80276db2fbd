"""The torch-free catalogue of model names and known weights matches what torchvision and the registry build."""
from __future__ import annotations

from torchvision import models

from brainalign.models.catalogue import CORNET_NAMES, KNOWN_WEIGHTS, TORCHVISION_CLASSIFIERS, model_names
from brainalign.models.registry import CORNETS


def test_torchvision_names_match_the_installed_torchvision() -> None:
    assert list(TORCHVISION_CLASSIFIERS) == sorted(models.list_models(module=models))
    assert set(CORNET_NAMES) == set(CORNETS)
    assert model_names()[:2] == ["cornet_s", "cornet_z"] and len(model_names()) == 2 + len(TORCHVISION_CLASSIFIERS)
    assert {known.architecture for known in KNOWN_WEIGHTS.values()} <= set(model_names())
