"""What every analysis of a study reads: the config, the trained models, each subject's held-out data and
neural RDMs, and the models' layer RDMs, computed once and shared (see :mod:`brainalign.studies.analyses`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar, cast

import numpy as np
import pandas as pd

from brainalign.align.config import DataConfig, SweepConfig
from brainalign.align.data import simulated_observer
from brainalign.data.labelled import LabelledImages, load_labelled_images
from brainalign.data.rdms import RDMs
from brainalign.models.base import LayeredModel
from brainalign.models.loader import load
from brainalign.studies import evaluate as ev
from brainalign.studies.config import EvaluationConfig, StudyConfig

T = TypeVar("T")
POOLED_LAYERS = ("decoder.avgpool", "avgpool")  # the final pooled layer (CORnet; torchvision ResNet/VGG)


@dataclass
class StudyContext:
    """A study's models and data for its analyses, with caches.

    ``models``: every finished sweep job (:class:`~brainalign.studies.evaluate.TrainedModel`); ``base``:
    the shared base network; ``frames``: the tables of the analyses run so far (name -> DataFrame), so a
    later analysis can build on an earlier one.
    """

    config: StudyConfig
    sweep: SweepConfig
    sweep_dir: Path
    base: LayeredModel
    models: list[ev.TrainedModel]
    progress: bool = True
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    _held_out: dict[str, ev.HeldOut] = field(default_factory=dict, repr=False)
    _neural: dict[str, dict[str, RDMs]] = field(default_factory=dict, repr=False)
    _rdms: dict[tuple[tuple[str, ...], str], RDMs] = field(default_factory=dict, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def evaluation(self) -> EvaluationConfig:
        return self.config.evaluation

    @cached_property
    def subjects(self) -> list[str]:
        """Subjects in sweep order (the units of inference)."""
        return list(dict.fromkeys(model.subject for model in self.models))

    def models_of(self, subject: str) -> list[ev.TrainedModel]:
        """The trained models of ``subject`` (every label and seed)."""
        return [model for model in self.models if model.subject == subject]

    def held_out(self, subject: str) -> ev.HeldOut:
        """``subject``'s held-out images and responses (loaded once)."""
        if subject not in self._held_out:
            self._held_out[subject] = ev.held_out(self.sweep.train.data, subject)
        return self._held_out[subject]

    def neural(self, subject: str) -> dict[str, RDMs]:
        """``subject``'s held-out neural RDMs (:func:`brainalign.studies.evaluate.neural_targets`)."""
        if subject not in self._neural:
            self._neural[subject] = ev.neural_targets(self.held_out(subject), self.evaluation)
        return self._neural[subject]

    @cached_property
    def layers(self) -> list[str]:
        """The compared layers: ``evaluation.layers`` or the base model's read-out layers."""
        return list(self.evaluation.layers or self.base.layer_names)

    @cached_property
    def roi_layers(self) -> list[str]:
        """Layers searched for the best layer per ROI: :attr:`layers` plus the final pooled layer
        (ReAlnet-fMRI compares V1, V2, V4, IT and the average-pooled output)."""
        available = self.base.available_layers()
        pooled = [name for name in POOLED_LAYERS if name in available][:1]
        extra = [] if self.evaluation.layers else [name for name in pooled if name not in self.layers]
        return self.layers + extra

    @cached_property
    def headline_layer(self) -> str:
        """Layer of the per-model summary numbers (``evaluation.headline_layer`` or the last compared layer)."""
        return self.evaluation.headline_layer or self.layers[-1]

    def model_rdms(self, subject: str, model: ev.TrainedModel | None = None) -> RDMs:
        """Layer RDMs (:attr:`roi_layers`) of ``model`` (None: the base model) on ``subject``'s held-out images
        (computed once per network and image set: subjects who saw the same images share them)."""
        key = (tuple(self.held_out(subject).stimuli.ids), ev.BASE if model is None else str(model.run_dir))
        if key not in self._rdms:
            network = self.base if model is None else load(model.run_dir).model
            settings = self.evaluation.model_copy(update={"layers": self.roi_layers})
            self._rdms[key] = ev.model_rdms(network, self.held_out(subject).stimuli, settings)
        return self._rdms[key]

    def once(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, computed the first time ``key`` is asked for and kept for the later analyses."""
        if key not in self._cache:
            self._cache[key] = compute()
        return cast(T, self._cache[key])

    def labelled_images(self) -> Optional[LabelledImages]:
        """:func:`labelled_images` of this study (loaded once)."""
        return self.once("labelled", lambda: labelled_images(self.evaluation, self.sweep.train.data))

    def layer_rdms(self, subject: str, model: ev.TrainedModel | None = None,
                   layers: list[str] | None = None) -> RDMs:
        """:meth:`model_rdms` restricted to ``layers`` (default :attr:`layers`), in that order."""
        rdms = self.model_rdms(subject, model)
        names = list(rdms.descriptors["layer"])
        return rdms[np.array([names.index(layer) for layer in (layers or self.layers)])]


def labelled_images(evaluation: EvaluationConfig, data: DataConfig) -> Optional[LabelledImages]:
    """Held-out labelled images for accuracy and robustness, which no model was trained or aligned on: the
    config's ``evaluation.robustness.images``; else, on the simulated observer, its held-out labelled images
    of the training categories (``val_stimuli``); None otherwise."""
    robustness = evaluation.robustness
    if robustness is not None and robustness.images is not None:
        return load_labelled_images(robustness.images, robustness.class_index)
    if data.source != "simulated":
        return None
    dataset = simulated_observer(data.simulate)
    return dataset.val_set() if len(dataset.val_stimuli) else None
