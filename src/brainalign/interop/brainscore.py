"""A brainalign model in Brain-Score vision's model form (``brainscore_vision``).

A Brain-Score model plugin declares an identifier, an activations model (``PytorchWrapper`` of the torch
model with a ``preprocessing`` function from image paths to normalised arrays, and its ``image_size``),
the layers to consider, a region-to-layer map (``V1``, ``V2``, ``V4``, ``IT``) and the visual degrees
the images span, and hands them to ``ModelCommitment``, which implements the ``BrainModel`` interface
(``start_recording``/``start_task``/``look_at``). :func:`brainscore_model` loads any model spec
(:func:`brainalign.models.load`: a name + weights, a model file, a run folder + epoch) into a
:class:`BrainScoreModel` holding those parts; :meth:`BrainScoreModel.commitment` builds the
``ModelCommitment`` when ``brainscore_vision`` is installed. ``brainscore_vision`` 2.x pins numpy < 2 and
older pandas/scikit-learn/xarray than brainalign's, so it is not a dependency: install it in an
environment of its own (see README, "Brain-Score").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from brainalign.errors import ValidationError
from brainalign.models.catalogue import DEFAULT_IMAGE_SIZE

if TYPE_CHECKING:
    from brainalign.models.base import LayeredModel
    from brainalign.models.loader import ModelSource

REGIONS = ("V1", "V2", "V4", "IT")
CORNET_REGIONS = {region: region for region in REGIONS}
"""CORnet's areas are named after the regions they model (Kubilius et al. 2019, section 2)."""


@dataclass
class BrainScoreModel:
    """The parts of a Brain-Score model plugin for one loaded brainalign model.

    ``identifier``: the model's name on Brain-Score; ``model``: the network (eval mode); ``layers``:
    read-out layers to consider; ``region_layer_map``: region -> layer (None: Brain-Score picks one per
    region among ``layers``); ``image_size``: pixels per side; ``visual_degrees``: degrees of visual angle
    the image spans; ``source``: what :func:`brainalign.models.load` loaded; ``behavioral_readout_layer``:
    the layer Brain-Score's behavioural benchmarks read (None: ``ModelCommitment``'s default).
    """

    identifier: str
    model: LayeredModel
    layers: list[str]
    region_layer_map: dict[str, str] | None
    image_size: int
    visual_degrees: int
    source: ModelSource
    behavioral_readout_layer: str | None = None

    def preprocessing(self, image_paths: Sequence[str | os.PathLike[str]]) -> np.ndarray:
        """Images at ``image_paths`` as float32 ``(n, 3, image_size, image_size)``, resized and normalised
        with the model's mean/std exactly as ``brainalign features`` does."""
        from brainalign.data.stimuli import Stimuli

        stimuli = Stimuli([str(index) for index in range(len(image_paths))], paths=list(image_paths))
        images = stimuli.load(size=self.image_size, mean=self.model.mean, std=self.model.std)
        return images.numpy()

    def get_activations(self, images: Sequence[np.ndarray] | np.ndarray, layer_names: Sequence[str]) -> dict[str, np.ndarray]:
        """``{layer: outputs (n, ...)}`` of preprocessed ``images`` (``PytorchWrapper.get_activations``'s
        contract); ``logits`` names the classifier output."""
        import torch

        batch = torch.as_tensor(np.stack([np.asarray(image, dtype=np.float32) for image in images]))
        inner = [name for name in layer_names if name != "logits"]
        with torch.no_grad():
            logits, outputs = self.model.forward_layers(batch, inner) if inner else (self.model(batch), {})
        arrays = {name: output.cpu().numpy() for name, output in outputs.items()}
        return {name: logits.cpu().numpy() if name == "logits" else arrays[name] for name in layer_names}

    def activations_model(self) -> Any:
        """``brainscore_vision``'s ``PytorchWrapper`` around the network with :meth:`preprocessing`."""
        pytorch = _brainscore_module("brainscore_vision.model_helpers.activations.pytorch")
        wrapper = pytorch.PytorchWrapper(identifier=self.identifier, model=self.model, preprocessing=self.preprocessing)
        wrapper.image_size = self.image_size
        return wrapper

    def commitment(self) -> Any:
        """The ``BrainModel``: ``brainscore_vision``'s ``ModelCommitment`` of these parts."""
        transformation = _brainscore_module("brainscore_vision.model_helpers.brain_transformation")
        extra = {} if self.behavioral_readout_layer is None else {"behavioral_readout_layer": self.behavioral_readout_layer}
        return transformation.ModelCommitment(
            identifier=self.identifier, activations_model=self.activations_model(), layers=list(self.layers),
            region_layer_map=self.region_layer_map, visual_degrees=self.visual_degrees, **extra,
        )


def brainscore_model(
    spec: str | os.PathLike[str],
    weights: str | os.PathLike[str] | None = None,
    epoch: int | None = None,
    region_layer_map: Mapping[str, str] | None = None,
    layers: Sequence[str] | None = None,
    image_size: int | None = None,
    visual_degrees: int = 8,
    identifier: str | None = None,
    seed: int = 0,
) -> BrainScoreModel:
    """Load ``spec`` (:func:`brainalign.models.load`) as a :class:`BrainScoreModel`.

    ``region_layer_map``: region (``V1``, ``V2``, ``V4``, ``IT``) -> layer; CORnets default to their
    same-named areas, other models to None (Brain-Score then selects a layer per region). ``layers``:
    default the model's read-out layers plus the mapped ones. ``identifier``: default the model's label
    (``aligned_seed0``, ``cornet_z+FILE``). ``visual_degrees``: 8, Brain-Score's usual commitment.
    ``image_size``: default the size the model was trained at when its file or run records it, else 224.
    """
    from brainalign.models.loader import load

    model, source = load(spec, weights=weights, epoch=epoch, seed=seed)
    mapping = dict(region_layer_map) if region_layer_map is not None else (
        dict(CORNET_REGIONS) if source.name.startswith("cornet") else None)
    unknown_regions = sorted(set(mapping or {}) - set(REGIONS))
    if unknown_regions:
        raise ValidationError(f"region_layer_map: regions {unknown_regions} are not Brain-Score's {list(REGIONS)}")
    chosen = model.check_layers([*(layers or model.layer_names), *(mapping or {}).values()])
    size = image_size if image_size is not None else source.image_size or DEFAULT_IMAGE_SIZE
    return BrainScoreModel(identifier or source.label, model, list(dict.fromkeys(chosen)), mapping, size,
                           visual_degrees, source)


def _brainscore_module(name: str) -> Any:
    """Import ``name`` from ``brainscore_vision``, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ValidationError(
            f"brainscore_vision is not installed ({error}); it pins numpy < 2, so install it in an environment "
            "of its own with brainalign (pip install brainscore_vision brainalign) to score on Brain-Score"
        ) from None
