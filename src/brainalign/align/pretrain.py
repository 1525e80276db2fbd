"""The base model: built from a config, optionally pre-trained briefly on the simulated categories.

On the simulated observer there is no ImageNet; the base model is first trained to classify the
observer's ``pretrain_stimuli`` into ``pretrain_labels`` (the training categories), so alignment starts,
as in the papers, from a trained classifier whose frozen predictions give the pseudo-labels. With
``model.pretrain.patience`` it trains to a plateau of the accuracy on the observer's held-out labelled
images (``val_stimuli``), as an ImageNet model is trained to convergence before alignment.
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
from brainalign.runs import atomic_write_json

PRETRAIN_RECORD = "pretrain.json"  # per-epoch pre-training loss and held-out accuracy, beside the base model


def build_base(
    config: TrainConfig, data: AlignmentData | None, device: torch.device, history: list[dict] | None = None,
) -> LayeredModel:
    """The base model of ``config`` (weights loaded or freshly pre-trained), on ``device``, seeded.
    ``data`` is read only when ``config.model.pretrain`` asks for pre-training; ``history``, when given,
    receives one record per pre-training epoch (see :func:`pretrain`).
    """
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
            and data.pretrain_labels is not None:  # (checked above: only the simulated observer has them)
        held_out = None
        if data.val_stimuli is not None and data.val_labels is not None and len(data.val_labels):
            held_out = (ImageBank(data.val_stimuli, config.data.image_size), data.val_labels)
        records = pretrain(
            model,
            ImageBank(data.pretrain_stimuli, config.data.image_size),
            data.pretrain_labels,
            config.model.pretrain,
            seed=config.seed,
            device=device,
            progress=config.progress,
            held_out=held_out,
        )
        if history is not None:
            history.extend(records)
    return model


def pretrain(
    model: LayeredModel,
    images: ImageBank,
    labels: np.ndarray,
    settings: PretrainConfig,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    held_out: tuple[ImageBank, np.ndarray] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` to classify ``images`` into ``labels (n,)`` (cross-entropy, Adam), in eval mode after.

    With ``settings.patience``, training stops on a plateau of the top-1 accuracy on ``held_out``
    (images, labels ``(m,)``; never trained on): when ``patience`` epochs in a row have not beaten the
    best accuracy so far (or after ``settings.epochs``), and the weights of the best epoch are kept.
    Returns one record per epoch: ``epoch``, ``loss`` (mean training cross-entropy), ``held_out_accuracy``
    (NaN without ``held_out``) and ``kept`` (the epoch whose weights the model ends with).
    """
    targets = torch.as_tensor(labels, dtype=torch.long)
    if targets.max() >= model.num_classes:
        raise ConfigError(
            f"pre-training labels go up to {int(targets.max())} but the model has {model.num_classes} classes; "
            f"set model.num_classes >= {int(targets.max()) + 1} or leave it empty"
        )
    if settings.patience is not None and held_out is None:
        raise ConfigError(
            "model.pretrain.patience stops on held-out accuracy, but there are no held-out labelled images "
            "(simulated observer: set data.simulate.val_per_category >= 1), or remove patience"
        )
    optimizer = adam(list(model.parameters()), lr=settings.lr)
    order_generator = torch.Generator().manual_seed(seed)
    records: list[dict[str, float]] = []
    best_accuracy, best_epoch, best_state = -1.0, 0, None
    for epoch in range(1, settings.epochs + 1):
        model.train()
        batches = torch.randperm(len(images), generator=order_generator).split(settings.batch_size)
        total = 0.0
        for batch in track(batches, f"pre-train {epoch}/{settings.epochs}", disable=not progress):
            loss = F.cross_entropy(model(images.get(batch).to(device)), targets[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        accuracy = float("nan")
        if held_out is not None:
            predicted = predicted_classes(model, held_out[0], settings.batch_size, torch.device(device))
            accuracy = float((predicted == torch.as_tensor(held_out[1])).float().mean())
            if accuracy > best_accuracy:
                best_accuracy, best_epoch = accuracy, epoch
                best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        records.append({"epoch": epoch, "loss": total / max(1, len(batches)), "held_out_accuracy": accuracy})
        if settings.patience is not None and epoch - best_epoch >= settings.patience:
            break
    if settings.patience is not None and best_state is not None:
        model.load_state_dict(best_state)
    kept = best_epoch if settings.patience is not None else len(records)
    for record in records:
        record["kept"] = kept
    return records


def predicted_classes(model: LayeredModel, images: ImageBank, batch_size: int, device: torch.device) -> torch.Tensor:
    """Argmax class of ``model`` (eval mode, no gradient) for every image of ``images``: ``(n,)`` int64 on CPU."""
    model.eval()
    batches = torch.arange(len(images)).split(batch_size)
    with torch.no_grad():
        return torch.cat([model(pixels).argmax(dim=1).cpu() for pixels in images.batches(batches, device)])


def save_base(model: LayeredModel, path: str | os.PathLike[str], config: TrainConfig, history: list[dict]) -> Path:
    """Write the base model file of ``config`` (its architecture and training image size) to ``path`` and,
    when it was pre-trained, its per-epoch pre-training record (:func:`pretrain`) beside it as ``pretrain.json``."""
    saved = save_model_file(model, path, config.model.name, image_size=config.data.image_size)
    if history:
        atomic_write_json(Path(path).parent / PRETRAIN_RECORD, {"epochs": history})
    return saved


def pretrain_base(config: TrainConfig, path: str | os.PathLike[str], data: AlignmentData | None = None) -> Path:
    """Build (and pre-train, per ``config.model.pretrain``) the base model of ``config``; save it to ``path``
    (with ``pretrain.json`` beside it, see :func:`save_base`).

    The file is a model file (:func:`~brainalign.models.load_model_file` rebuilds it); give it
    as ``model.weights`` of training configs so every run starts from the same base.
    """
    from brainalign.align.data import load_alignment_data

    device = config.training.torch_device()
    history: list[dict] = []
    model = build_base(config, data or load_alignment_data(config.data), device, history)
    return save_base(model, path, config, history)
