"""Vision models with named layers: CORnet-S, CORnet-Z, any torchvision classifier; weights, model files and
:func:`load`, the one loader of every model spec (name + weights, model file, run folder + epoch)."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    "LayeredModel": ".base",
    "cornet_s": ".cornet",
    "cornet_z": ".cornet",
    "backbone": ".torchvision_backbone",
    "build_model": ".registry",
    "load_weights": ".weights",
    "KNOWN_WEIGHTS": ".catalogue",
    "save_weights": ".weights",
    "model_names": ".catalogue",
    "save_model_file": ".files",
    "load_model_file": ".files",
    "is_model_file": ".files",
    "load": ".loader",
    "LoadedModel": ".loader",
    "ModelSource": ".loader",
    "resolve_device": ".device",
    "Acceleration": ".device",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
