"""Stimuli and neural responses: one response model, loaders for published formats, simulated observer."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    # stimuli.py
    "Stimuli": ".stimuli",
    # responses.py
    "Responses": ".responses",
    "is_responses_file": ".responses",
    # simulation.py (not simulate.py: a sub-module named like the function would shadow it)
    "simulate": ".simulation",
    "SimulatedDataset": ".simulation",
    # rdms.py (the type and its one reader of every RDM file, RDMs.load)
    "RDMs": ".rdms",
    # labelled.py
    "LabelledImages": ".labelled",
    "load_labelled_images": ".labelled",
    "read_class_index": ".labelled",
    # things_eeg2.py
    "load_things_eeg2": ".things_eeg2",
    "convert_things_eeg2": ".things_eeg2",
    # kamitani.py
    "load_kamitani_fmri": ".kamitani",
    "convert_kamitani": ".kamitani",
    # downloads.py
    "fetch": ".downloads",
    "REGISTRY": ".downloads",
    # image_cache.py
    "ImageCache": ".image_cache",
    "normalise": ".image_cache",
    "prefetch": ".image_cache",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
