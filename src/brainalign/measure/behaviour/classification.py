"""Top-1 / top-5 accuracy of a classifier on a labelled image set.

Images are pixels in [0, 1] (``(n, 3, h, w)`` tensors, or a :class:`brainalign.data.Stimuli` loaded
batch by batch); the model's normalisation is applied here, right before the forward pass, so the
same code serves clean and adversarial evaluation (attacks perturb pixels, never normalised values).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from brainalign.data.labelled import load_labelled_images
from brainalign.errors import ValidationError
from brainalign.models.device import resolve_device
from brainalign.progress import track

if TYPE_CHECKING:
    from brainalign.data import Stimuli

Normalization = tuple[Sequence[float], Sequence[float]]
ImageSource = Union[torch.Tensor, np.ndarray, "Stimuli"]
TOP_K = (1, 5)


def resolve_normalization(model: nn.Module, normalize: Normalization | None) -> Normalization | None:
    """Return the ``(mean, std)`` to apply inside the forward pass.

    ``normalize=None`` takes the model's own ``mean``/``std`` when it defines them (every
    :class:`~brainalign.models.base.LayeredModel` does) and no normalisation otherwise; pass
    ``((0, 0, 0), (1, 1, 1))`` to feed raw pixels to a model that defines ``mean``/``std``.
    """
    if normalize is None:
        mean, std = getattr(model, "mean", None), getattr(model, "std", None)
        return None if mean is None or std is None else (tuple(mean), tuple(std))
    try:
        mean, std = normalize
        mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
    except (TypeError, ValueError):
        raise ValidationError(
            f"normalize={normalize!r} is not a (mean, std) pair; pass e.g. "
            "((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) or None for the model's own"
        ) from None
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValidationError(f"normalize={normalize!r} needs 3 means and 3 positive stds (one per RGB channel)")
    return mean, std


def normalize_pixels(pixels: torch.Tensor, normalization: Normalization | None) -> torch.Tensor:
    """``(pixels - mean) / std`` per channel; ``pixels``: ``(batch, 3, h, w)`` in [0, 1]."""
    if normalization is None:
        return pixels
    mean = torch.as_tensor(normalization[0], dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
    std = torch.as_tensor(normalization[1], dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
    return (pixels - mean) / std


def num_classes(model: nn.Module, probe: torch.Tensor) -> int:
    """Number of output classes: ``model.num_classes`` if set, else the width of the logits on ``probe``."""
    declared = getattr(model, "num_classes", None)
    if isinstance(declared, int):
        return declared
    with torch.no_grad():
        return int(model(probe[:1]).shape[1])


def check_labels(labels: np.ndarray | torch.Tensor | Sequence[int], n_images: int, n_classes: int) -> torch.Tensor:
    """Validate integer class labels ``(n_images,)`` against the model's ``n_classes``; return int64 tensor."""
    array = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if array.ndim != 1 or len(array) != n_images:
        raise ValidationError(f"labels has shape {array.shape}; expected ({n_images},), one label per image")
    if array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise ValidationError(
                f"labels must be integer class indices, got dtype {array.dtype} (e.g. {array[:3].tolist()}); "
                "map class names to indices with a class-index file (see load_labelled_images)"
            )
    outside = array[(array < 0) | (array >= n_classes)]
    if outside.size:
        raise ValidationError(
            f"label {int(outside[0])} is outside the model's classes 0..{n_classes - 1} "
            f"({outside.size} label(s) out of range); check the class-index mapping or the model's num_classes"
        )
    return torch.as_tensor(array, dtype=torch.int64)


def pixel_batches(
    images: ImageSource, batch_size: int, image_size: int = 224
) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Yield ``(indices, pixels (b, 3, h, w) float32 in [0, 1])``.

    Tensors/arrays are sliced as they are; a ``Stimuli`` is loaded (and resized to ``image_size``)
    one batch at a time.
    """
    if batch_size < 1:
        raise ValidationError(f"batch_size={batch_size}; use a positive batch size")
    if isinstance(images, (torch.Tensor, np.ndarray)):
        pixels = check_pixels(images)
        for start in range(0, len(pixels), batch_size):
            stop = min(start + batch_size, len(pixels))
            yield np.arange(start, stop), pixels[start:stop]
        return
    for indices, batch in images.batches(batch_size, size=image_size, normalize=False):
        yield np.asarray(indices), batch.float()


def check_pixels(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Validate ``images``: ``(n, 3, h, w)`` float in [0, 1]; return a float32 tensor."""
    tensor = torch.as_tensor(images)
    if tensor.ndim != 4 or tensor.shape[1] != 3 or len(tensor) == 0:
        raise ValidationError(f"images has shape {tuple(tensor.shape)}; expected (n, 3, height, width) with n > 0")
    if not tensor.is_floating_point():
        raise ValidationError(f"images has dtype {tensor.dtype}; expected float pixels in [0, 1] (divide uint8 by 255)")
    low, high = float(tensor.min()), float(tensor.max())
    if low < 0.0 or high > 1.0 or not np.isfinite(low + high):
        raise ValidationError(
            f"images range from {low:.3g} to {high:.3g}; expected un-normalised pixels in [0, 1] "
            "(normalisation is applied inside the forward pass; load with normalize=False)"
        )
    return tensor.float()


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = TOP_K) -> dict[int, torch.Tensor]:
    """``{k: bool (batch,)}``: is the label among the ``k`` highest logits (``k`` capped at the class count)."""
    largest = min(max(ks), logits.shape[1])
    ranked = logits.topk(largest, dim=1).indices
    hits = ranked == labels.view(-1, 1)
    return {k: hits[:, : min(k, largest)].any(dim=1) for k in ks}


@dataclass
class AccuracyResult:
    """Accuracy of one model on one labelled image set.

    ``top1``/``top5``: fractions in [0, 1]; ``trials``: one row per image with ``image`` (id or index),
    ``label``, ``prediction`` (top-1 class), ``correct`` and ``correct_top5`` (bools), in image order.
    """

    top1: float
    top5: float
    trials: pd.DataFrame

    @property
    def n_images(self) -> int:
        return len(self.trials)


def accuracy(
    model: nn.Module,
    images: ImageSource | str | Path,
    labels: np.ndarray | torch.Tensor | Sequence[int] | None = None,
    *,
    class_index: str | Path | None = None,
    normalize: Normalization | None = None,
    batch_size: int = 32,
    image_size: int = 224,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> AccuracyResult:
    """Top-1/top-5 accuracy of ``model`` on labelled images.

    ``images``: pixels ``(n, 3, h, w)`` in [0, 1], a ``Stimuli``, or a path (an ImageNet-style folder
    tree ``root/<class>/<image>`` with ``class_index``, or a CSV of ``path,label``; see
    :func:`load_labelled_images`), in which case ``labels`` comes from the path. ``labels``: ``(n,)``
    integer class indices. ``normalize``: see :func:`resolve_normalization`.
    """
    if isinstance(images, (str, Path)):
        if labels is not None:
            raise ValidationError("labels were given together with an image path; the path already defines them")
        labelled = load_labelled_images(images, class_index=class_index)
        images, labels = labelled.stimuli, labelled.labels
    if labels is None:
        raise ValidationError("labels is missing; pass one integer class index per image")
    normalization = resolve_normalization(model, normalize)
    was_training = model.training
    device = resolve_device(device)
    model = model.to(device).eval()
    ids = getattr(images, "ids", None)
    batches = pixel_batches(images, batch_size, image_size)
    label_tensor: torch.Tensor | None = None
    predictions, top1, top5 = [], [], []
    try:
        for indices, pixels in track(batches, "accuracy", total=-(-len(images) // batch_size), disable=not progress):
            pixels = pixels.to(device)
            if label_tensor is None:
                label_tensor = check_labels(labels, len(images), num_classes(model, normalize_pixels(pixels, normalization)))
            batch_labels = label_tensor[indices].to(device)
            with torch.no_grad():
                logits = model(normalize_pixels(pixels, normalization))
            hits = topk_correct(logits, batch_labels)
            predictions.append(logits.argmax(dim=1).cpu())
            top1.append(hits[1].cpu())
            top5.append(hits[5].cpu())
    finally:
        model.train(was_training)
    if label_tensor is None:
        raise ValidationError("images is empty; give at least one labelled image")
    correct, correct_top5 = torch.cat(top1).numpy(), torch.cat(top5).numpy()
    trials = pd.DataFrame(
        {
            "image": list(ids) if ids is not None else np.arange(len(correct)),
            "label": label_tensor.numpy(),
            "prediction": torch.cat(predictions).numpy(),
            "correct": correct,
            "correct_top5": correct_top5,
        }
    )
    return AccuracyResult(top1=float(correct.mean()), top5=float(correct_top5.mean()), trials=trials)
