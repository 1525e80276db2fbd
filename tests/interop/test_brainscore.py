"""The Brain-Score adapter against a minimal stand-in of brainscore_vision's model interface (the real
package pins numpy < 2 and does not install beside brainalign): identifier, layers, region-to-layer map,
visual degrees, preprocessing and activations, for a model loaded from a run folder."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainalign.data import Stimuli
from brainalign.errors import ValidationError
from brainalign.interop import brainscore_model
from brainalign.measure.features import extract
from brainalign.models import cornet_z, save_model_file


class PytorchWrapper:
    """Stand-in: brainscore_vision.model_helpers.activations.pytorch.PytorchWrapper's constructor."""

    def __init__(self, model, preprocessing, identifier=None):
        self._model, self.preprocessing, self.identifier = model, preprocessing, identifier


class ModelCommitment:
    """Stand-in: brainscore_vision.model_helpers.brain_transformation.ModelCommitment's constructor."""

    def __init__(self, identifier, activations_model, layers, region_layer_map=None, visual_degrees=8):
        self.identifier, self.activations_model, self.layers = identifier, activations_model, layers
        self.region_layer_map, self._visual_degrees = region_layer_map, visual_degrees

    def visual_degrees(self) -> int:
        return self._visual_degrees


@pytest.fixture()
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    modules = {"brainscore_vision.model_helpers.activations.pytorch": {"PytorchWrapper": PytorchWrapper},
               "brainscore_vision.model_helpers.brain_transformation": {"ModelCommitment": ModelCommitment}}
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(module, key, value)
        monkeypatch.setitem(sys.modules, name, module)


def test_run_folder_as_a_brainscore_model(tmp_path: Path, stand_in: None) -> None:
    trained = cornet_z(num_classes=4)
    checkpoint = tmp_path / "aligned_seed0" / "checkpoints" / "epoch_002"
    save_model_file(trained, checkpoint / "model.safetensors", "cornet_z")
    (checkpoint / "state.pt").write_bytes(b"")
    paths = []
    for index, pixels in enumerate(np.random.default_rng(0).integers(0, 255, (3, 40, 40, 3), dtype=np.uint8)):
        paths.append(tmp_path / f"img{index}.png")
        Image.fromarray(pixels).save(paths[-1])

    adapter = brainscore_model(tmp_path / "aligned_seed0", image_size=32)
    brain_model = adapter.commitment()
    assert brain_model.identifier == "aligned_seed0" and brain_model.visual_degrees() == 8
    assert brain_model.region_layer_map == {"V1": "V1", "V2": "V2", "V4": "V4", "IT": "IT"}
    assert brain_model.layers == ["V1", "V2", "V4", "IT"]
    wrapper = brain_model.activations_model
    assert wrapper.identifier == "aligned_seed0" and wrapper.image_size == 32
    images = wrapper.preprocessing([str(path) for path in paths])
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.float32
    activations = adapter.get_activations(list(images), ["IT", "logits"])
    expected = extract(trained, Stimuli(["0", "1", "2"], paths=paths), ["IT"], image_size=32, progress=False)["IT"]
    np.testing.assert_allclose(activations["IT"].reshape(3, -1), expected, rtol=1e-5, atol=1e-6)
    assert activations["logits"].shape == (3, 4)


def test_regions_and_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="regions \\['MT'\\]"):
        brainscore_model("cornet_z", region_layer_map={"MT": "V2"})
    adapter = brainscore_model("cornet_z", region_layer_map={"IT": "V4"}, layers=["V4"], identifier="z")
    assert (adapter.identifier, adapter.layers, adapter.source.seed) == ("z", ["V4"], 0)
    monkeypatch.setitem(sys.modules, "brainscore_vision.model_helpers.brain_transformation", None)
    with pytest.raises(ValidationError, match="brainscore_vision is not installed"):
        adapter.commitment()
