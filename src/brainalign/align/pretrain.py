"""The base model: built from a config, optionally pre-trained briefly on the simulated categories.

On the simulated observer there is no ImageNet; the base model is first trained to classify the
observer's ``pretrain_stimuli`` into ``pretrain_labels`` (the training categories), so alignment starts,
as in the papers, from a trained classifier whose frozen predictions give the pseudo-labels.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from brainalign.align.config import PretrainConfig, TrainConfig
from brainalign.align.data import AlignmentData, ImageBank
from brainalign.align.optim import adam
from brainalign.errors import ConfigError
from brainalign.models.loader import load
from brainalign.models.base import LayeredModel
from brainalign.models.files import is_model_file, save_model_file
from brainalign.progress import track


def build_base(config: TrainConfig, data: AlignmentData | None, device: torch.device) -> LayeredModel:
    """The base model of ``config`` (weights loaded or freshly pre-trained), on ``device``, seeded.
    ``data`` is read only when ``config.model.pretrain`` asks for pre-training."""
    torch.manual_seed(config.seed)
    num_classes = config.model.num_classes
    if config.model.pretrain is not None:
        if data is None or data.pretrain_stimuli is None or data.pretrain_labels is None:
            raise ConfigError(
                "model.pretrain needs pre-training images and labels, which only the simulated observer "
                "provides (data.source: simulated); for file data give model.weights instead"
            )
        num_classes = num_classes or int(data.pretrain_labels.max()) + 1
    weights = config.model.weights
    if weights is not None and is_model_file(weights):  # a model file names its own architecture
        model = load(weights, device=device).model
    else:
        model = load(config.model.name, weights=weights, device=device, num_classes=num_classes).model
    if config.model.pretrain is not None and data is not None and data.pretrain_stimuli is not None \
            and data.pretrain_labels is not None:
        pretrain(  # (checked above: only the simulated observer has them)
            model,
            ImageBank(data.pretrain_stimuli, config.data.image_size),
            data.pretrain_labels,
            config.model.pretrain,
            seed=config.seed,
            device=device,
            progress=config.progress,
        )
    return model


def pretrain(
    model: LayeredModel,
    images: ImageBank,
    labels: np.ndarray,
    settings: PretrainConfig,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> LayeredModel:
    """Train ``model`` to classify ``images`` into ``labels (n,)`` (cross-entropy, Adam); return it in eval mode."""
    targets = torch.as_tensor(labels, dtype=torch.long)
    if targets.max() >= model.num_classes:
        raise ConfigError(
            f"pre-training labels go up to {int(targets.max())} but the model has {model.num_classes} classes; "
            f"set model.num_classes >= {int(targets.max()) + 1} or leave it empty"
        )
    optimizer = adam(list(model.parameters()), lr=settings.lr)
    order_generator = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(1, settings.epochs + 1):
        batches = torch.randperm(len(images), generator=order_generator).split(settings.batch_size)
        for batch in track(batches, f"pre-train {epoch}/{settings.epochs}", disable=not progress):
            loss = F.cross_entropy(model(images.get(batch).to(device)), targets[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


def pretrain_base(config: TrainConfig, path: str | os.PathLike[str], data: AlignmentData | None = None) -> Path:
    """Build (and pre-train, per ``config.model.pretrain``) the base model of ``config``; save it to ``path``.

    The file is a model file (:func:`~brainalign.align.checkpoint.load_model_file` rebuilds it); give it
    as ``model.weights`` of training configs so every run starts from the same base.
    """
    from brainalign.align.data import load_alignment_data

    device = config.training.torch_device()
    model = build_base(config, data or load_alignment_data(config.data), device)
    return save_model_file(model, path, config.model.name)
