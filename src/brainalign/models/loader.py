"""One loader for every way of naming a model: :func:`load`.

A model spec is one of

- a model name (:func:`brainalign.models.model_names`), with optional ``weights``: a known weights name
  (``cornet_s-imagenet``), a weights file (``.pth``/``.pt``/``.safetensors``; a classifier head of another
  size than the model's default sets the number of classes), a model file of that architecture, or a
  torchvision weights name (``DEFAULT``, ``IMAGENET1K_V1``); no weights: random initialisation;
- a known weights name alone (``cornet_s-imagenet``: its architecture with those weights);
- a model file (``.safetensors`` naming its architecture, :func:`~brainalign.models.files.save_model_file`)
  or a folder holding ``model.safetensors`` (``RUN/base``, ``RUN/checkpoints/epoch_003``);
- a training run folder (``RUN/checkpoints/epoch_NNN/``), with ``epoch`` (default: the last).

Whatever is initialised at random (a model name without weights, a fresh classifier head) is seeded with
``seed`` (default 0; the global torch random state is left untouched), so the same spec gives the same
model. :func:`load` returns the model (eval mode, on ``device``) and a :class:`ModelSource` saying what
was loaded (with the weights file's sha256 and the seed), so a result can record where its model came from.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Literal, NamedTuple

import torch

from brainalign.errors import ValidationError
from brainalign.models.base import LayeredModel
from brainalign.models.device import DeviceLike, resolve_device
from brainalign.models.files import (
    ARCHITECTURE_KEY,
    CHECKPOINTS,
    MODEL_FILE,
    checkpoint_epochs,
    checkpoint_file,
    file_metadata,
    is_model_file,
    is_run_folder,
    load_model_file,
    trained_image_size,
)
from brainalign.models.catalogue import KNOWN_WEIGHTS, model_names
from brainalign.models.registry import build_model
from brainalign.models.weights import fetch_known, head_size, load_state_dict, read_state_dict
from brainalign.provenance import file_sha256

SpecKind = Literal["name", "known_weights", "model_file", "run"]


@dataclass(frozen=True)
class ModelSource:
    """What :func:`load` loaded.

    ``spec``: as given; ``kind``: how it was read; ``name``: the architecture; ``weights``: the file read
    (or the known / torchvision weights name; None = random initialisation); ``epoch``: the checkpoint
    epoch of a run folder (else None); ``num_classes``: classifier outputs; ``label``: a short name for
    tables and legends (the run folder's name, ``base`` for ``RUN/base/model.safetensors``,
    ``cornet_z+FILE_STEM`` for a name with a weights file); ``weights_sha256``: of the weights file read
    (None for a torchvision weights name or random weights); ``seed``: of the random initialisation of
    whatever was not loaded (None when every weight was loaded); ``image_size``: pixels per side of the
    images a model file or run was trained on, when it records them
    (:func:`~brainalign.models.files.trained_image_size`; None otherwise).
    """

    spec: str
    kind: SpecKind
    name: str
    weights: str | None
    epoch: int | None
    num_classes: int
    label: str
    weights_sha256: str | None = None
    seed: int | None = None
    image_size: int | None = None

    @property
    def random_weights(self) -> bool:
        """True when no weights were loaded: the model is a random initialisation (of ``seed``)."""
        return self.weights is None

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values."""
        return asdict(self)


class LoadedModel(NamedTuple):
    """A model and what it was loaded from: ``model, source = load(spec)``."""

    model: LayeredModel
    source: ModelSource


def load(
    spec: str | os.PathLike[str],
    weights: str | os.PathLike[str] | None = None,
    epoch: int | None = None,
    device: DeviceLike = "cpu",
    num_classes: int | None = None,
    seed: int = 0,
) -> LoadedModel:
    """Load the model ``spec`` names (see the module docstring), in eval mode, on ``device``.

    ``weights`` go with a model name only; ``epoch`` with a run folder only. ``num_classes`` (with a
    model name) sets the classifier size; with weights whose head has another size, everything but the
    head is loaded (the head starts fresh: fine-tuning on a new label set). ``seed`` seeds what is
    initialised at random (see the module docstring). Raises
    :class:`~brainalign.errors.ValidationError` (or ``WeightsError``) naming the spec and the fix.
    """
    text = str(spec)
    path = Path(spec)
    target = resolve_device(device)
    if epoch is not None and not is_run_folder(path):
        raise ValidationError(f"epoch={epoch} was given for {text!r}, which is not a training run folder; "
                              "epochs select a checkpoint of a run folder (RUN/checkpoints/epoch_NNN)")
    if text in model_names():
        with _seeded(seed):
            model, record = _from_name(text, weights, num_classes)
    elif text in KNOWN_WEIGHTS:
        _no_weights(text, weights)
        with _seeded(seed):
            model, record = _from_name(KNOWN_WEIGHTS[text].architecture, text, num_classes)
        record = replace(record, spec=text, kind="known_weights", label=text)
    elif path.exists():
        _no_weights(text, weights)
        model, record = _from_path(path, epoch)
    else:
        raise ValidationError(
            f"unknown model {text!r}: not a model name ({', '.join(model_names()[:8])}, ... see `brainalign "
            f"models`), nor known weights ({', '.join(KNOWN_WEIGHTS)}), nor an existing model file or run folder"
        )
    random_part = record.kind in ("name", "known_weights") and (weights is None or num_classes is not None)
    record = replace(record, weights_sha256=_weights_sha256(record.weights), seed=seed if random_part else None)
    return LoadedModel(model.to(target).eval(), record)


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Random initialisation from ``seed``, leaving the global torch random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _weights_sha256(weights: str | None) -> str | None:
    """sha256 of the weights file ``weights`` names (a known name: its cached download); None otherwise."""
    if weights is None:
        return None
    if weights in KNOWN_WEIGHTS:
        return file_sha256(fetch_known(weights))
    return file_sha256(weights) if Path(weights).is_file() else None


def _from_name(
    name: str, weights: str | os.PathLike[str] | None, num_classes: int | None
) -> tuple[LayeredModel, ModelSource]:
    """Model ``name`` with ``weights`` (see :func:`load`)."""
    classes = {} if num_classes is None else {"num_classes": num_classes}
    label = name if weights is None else f"{name}+{Path(weights).stem}"
    weights_file = Path(weights) if weights is not None and Path(weights).is_file() else None
    if weights_file is not None and is_model_file(weights_file):
        if _architecture(weights_file) != name:
            raise ValidationError(f"weights {weights_file} are a model file of {_architecture(weights_file)!r}, not "
                                  f"{name!r}; give the file alone as the model")
        model = load_model_file(weights_file)
    elif weights_file is not None and num_classes is None:
        # a plain weights file: its classifier head says how many classes the model has
        state = read_state_dict(weights_file)
        model = build_model(name)
        file_classes = head_size(model, state)
        if file_classes is not None and file_classes != model.num_classes:
            model = build_model(name, num_classes=file_classes)
        load_state_dict(model, state, weights_file)
    else:  # random initialisation, known or torchvision weights, or a new classifier size
        model = build_model(name, weights=weights, **classes)
    source = None if weights is None else str(weights)
    trained = trained_image_size(weights_file) if weights_file is not None and is_model_file(weights_file) else None
    return model, ModelSource(name, "name", name, source, None, model.num_classes, label, image_size=trained)


def _from_path(path: Path, epoch: int | None) -> tuple[LayeredModel, ModelSource]:
    """A model file, a folder holding ``model.safetensors``, or a run folder's checkpoint."""
    if is_run_folder(path):
        file = checkpoint_file(path, epoch)
        chosen = checkpoint_epochs(path)[-1] if epoch is None else epoch
        label = path.name if epoch is None else f"{path.name}@epoch{epoch}"
        model = load_model_file(file)
        return model, ModelSource(str(path), "run", _architecture(file), str(file), chosen, model.num_classes, label,
                                  image_size=trained_image_size(file, path))
    file = path / MODEL_FILE if path.is_dir() else path
    if path.is_dir() and not file.is_file():
        raise ValidationError(f"{path} is a folder but neither a training run (no {CHECKPOINTS}/) nor a folder "
                              f"holding {MODEL_FILE}; give a model name, a model file or a run folder")
    if not is_model_file(file):
        raise ValidationError(
            f"{file} holds weights but does not name its architecture; give the model name with the weights "
            f"(`brainalign features cornet_z --weights {file} ...`, load('cornet_z', weights=...))"
        )
    model = load_model_file(file)
    label = file.parent.name if file.stem == "model" else file.stem  # RUN/base/model.safetensors -> base
    return model, ModelSource(str(path), "model_file", _architecture(file), str(file), None, model.num_classes, label,
                              image_size=trained_image_size(file))


def _architecture(file: Path) -> str:
    return file_metadata(file)[ARCHITECTURE_KEY]


def _no_weights(spec: str, weights: str | os.PathLike[str] | None) -> None:
    if weights is not None:
        raise ValidationError(f"weights {weights} were given for {spec}, which holds its own weights; give weights "
                              "with a model name only (cornet_z --weights FILE)")
