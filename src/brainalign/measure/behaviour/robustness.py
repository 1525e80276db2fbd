"""Adversarial robustness: top-1/top-5 accuracy under white-box L-infinity attacks (FGSM, PGD) over a
grid of epsilons, and the "baseline-aligned" curves (accuracy minus clean accuracy) that compare
models whose clean accuracy differs (ReAlnet, Lu et al. 2024).

The attacks come from torchattacks 3.5.1. Its ``set_normalization_used(mean, std)`` mode was checked
against a hand-written FGSM/PGD that perturbs pixels and normalises inside the forward pass (same
adversarial images to 1e-7, see tests/measure/test_robustness.py), so perturbations live in pixel
space [0, 1], before normalisation, as in the paper.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from brainalign.errors import ValidationError
from brainalign.inputs import about
from brainalign.measure.behaviour.classification import (
    ImageSource,
    Normalization,
    check_labels,
    normalize_pixels,
    num_classes,
    pixel_batches,
    resolve_normalization,
    topk_correct,
)
from brainalign.models.device import resolve_device
from brainalign.progress import track

ATTACKS = ("fgsm", "pgd")
DEFAULT_EPS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06)
PGD_STEPS = 10
PGD_STEP_FRACTION = 2.5  # PGD step size alpha = 2.5 * eps / steps (Madry et al. 2018)


#: The most epsilons one grid may hold (each one attacks every image).
MAX_EPSILONS = 100


def parse_eps(spec: str) -> list[float]:
    """Parse an epsilon grid: ``"start:stop:step"`` (stop included, e.g. ``"0:0.06:0.01"``) or ``"0,0.01,0.03"``."""
    try:
        if ":" in spec:
            start, stop, step = (float(part) for part in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            if count > MAX_EPSILONS:
                raise ValidationError(
                    f"--eps {spec!r} makes {count} epsilons; at most {MAX_EPSILONS} are allowed (each is an attack on "
                    "every image): use a larger step, e.g. 0:0.06:0.01"
                )
            values = [round(start + step * i, 10) for i in range(count)]
        else:
            values = [float(part) for part in spec.split(",") if part.strip()]
    except (ValueError, OverflowError) as error:
        if isinstance(error, ValidationError):
            raise
        raise ValidationError(
            f"--eps {spec!r} is not an epsilon grid; write start:stop:step (e.g. 0:0.06:0.01) or a list (0,0.01,0.03)"
        ) from None
    with about(f"--eps {spec!r}"):  # e.g. a value outside [0, 1]
        return check_eps(values)


def check_eps(eps: float | Sequence[float]) -> list[float]:
    """Validate epsilons (pixel units, L-infinity): a non-empty list of finite values in [0, 1]."""
    values = [float(e) for e in (np.atleast_1d(np.asarray(eps, dtype=float)))]
    if not values:
        raise ValidationError("eps is empty; give at least one epsilon, e.g. [0, 0.01, 0.02]")
    if len(values) > MAX_EPSILONS:
        raise ValidationError(f"eps lists {len(values)} epsilons; at most {MAX_EPSILONS} are allowed (each is an "
                              "attack on every image)")
    bad = [e for e in values if not (0.0 <= e <= 1.0)]
    if bad:
        raise ValidationError(f"eps value {bad[0]} is outside [0, 1]; epsilons are L-infinity budgets in pixel units")
    return values


def perturb(
    model: nn.Module,
    pixels: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    attack: str = "fgsm",
    normalization: Normalization | None = None,
    steps: int = PGD_STEPS,
    seed: int = 0,
) -> torch.Tensor:
    """Adversarial pixels ``(b, 3, h, w)`` in [0, 1] with ``|adv - pixels|_inf <= eps``.

    ``pixels``: clean images in [0, 1]; ``labels``: ``(b,)`` int64; ``normalization``: ``(mean, std)``
    applied inside the attacked forward pass (or None). PGD: ``steps`` steps of size
    ``2.5 * eps / steps`` from a uniform random start drawn with ``seed``.
    """
    import torchattacks

    if attack == "fgsm":
        attacker = torchattacks.FGSM(model, eps=eps)
    elif attack == "pgd":
        attacker = torchattacks.PGD(
            model, eps=eps, alpha=PGD_STEP_FRACTION * eps / steps, steps=steps, random_start=True
        )
    else:
        raise ValidationError(f"attack={attack!r} is unknown; choose one of {list(ATTACKS)}")
    if normalization is None:
        inputs = pixels
    else:
        attacker.set_normalization_used(mean=list(normalization[0]), std=list(normalization[1]))
        inputs = normalize_pixels(pixels, normalization)
    devices = [pixels.device] if pixels.is_cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        adversarial = attacker(inputs, labels)
    if normalization is not None:
        adversarial = attacker.inverse_normalize(adversarial)
    # undo the float error of the normalise / un-normalise round trip so the budget holds exactly
    return torch.minimum(torch.maximum(adversarial, pixels - eps), pixels + eps).clamp(0.0, 1.0)


def attack_accuracy(
    model: nn.Module,
    images: ImageSource,
    labels: np.ndarray | torch.Tensor | Sequence[int],
    eps: float | Sequence[float] = DEFAULT_EPS,
    attack: str = "fgsm",
    normalize: Normalization | None = None,
    *,
    steps: int = PGD_STEPS,
    batch_size: int = 64,
    image_size: int = 224,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Accuracy of ``model`` under a white-box L-infinity ``attack`` ("fgsm" or "pgd") at each epsilon.

    ``images``: pixels ``(n, 3, h, w)`` in [0, 1] or a ``Stimuli`` (resized to ``image_size``);
    ``labels``: ``(n,)`` integer classes; ``eps``: budgets in pixel units; ``normalize``: ``(mean, std)``
    applied inside the attacked forward pass (None: the model's own, see ``resolve_normalization``).
    Returns one row per epsilon with ``eps``, ``top1``, ``top5`` (fractions), ``top1_aligned``,
    ``top5_aligned`` (minus the clean accuracy, i.e. the value at epsilon 0), ``attack``, ``n_images``.
    """
    if attack not in ATTACKS:
        raise ValidationError(f"attack={attack!r} is unknown; choose one of {list(ATTACKS)}")
    eps_values = check_eps(eps)
    normalization = resolve_normalization(model, normalize)
    was_training = model.training
    device = resolve_device(device)
    model = model.to(device).eval()
    total = len(images)
    clean = {1: 0, 5: 0}
    hits = np.zeros((len(eps_values), 2), dtype=np.int64)  # (eps, top1/top5) counts
    label_tensor: torch.Tensor | None = None
    batches = pixel_batches(images, batch_size, image_size)
    try:
        for batch_number, (indices, pixels) in enumerate(
            track(batches, f"{attack} attack", total=-(-total // batch_size), disable=not progress)
        ):
            pixels = pixels.to(device)
            if label_tensor is None:
                label_tensor = check_labels(labels, total, num_classes(model, normalize_pixels(pixels, normalization)))
            batch_labels = label_tensor[indices].to(device)
            with torch.no_grad():
                clean_hits = topk_correct(model(normalize_pixels(pixels, normalization)), batch_labels)
            clean = {k: clean[k] + int(clean_hits[k].sum()) for k in clean}
            for row, epsilon in enumerate(eps_values):
                adversarial = perturb(model, pixels, batch_labels, epsilon, attack, normalization, steps, seed + batch_number)
                with torch.no_grad():
                    adversarial_hits = topk_correct(model(normalize_pixels(adversarial, normalization)), batch_labels)
                hits[row] += [int(adversarial_hits[1].sum()), int(adversarial_hits[5].sum())]
    finally:
        model.train(was_training)
    table = pd.DataFrame({"eps": eps_values, "top1": hits[:, 0] / total, "top5": hits[:, 1] / total})
    table["top1_aligned"] = table["top1"] - clean[1] / total
    table["top5_aligned"] = table["top5"] - clean[5] / total
    table["attack"] = attack
    table["n_images"] = total
    return table


def compare_robustness(
    models: Mapping[str, nn.Module],
    images: ImageSource,
    labels: np.ndarray | torch.Tensor | Sequence[int],
    eps: float | Sequence[float] = DEFAULT_EPS,
    attacks: Sequence[str] = ("fgsm",),
    **options,
) -> pd.DataFrame:
    """One table for several models (e.g. base, aligned, controls): :func:`attack_accuracy` for every
    model and attack, stacked with a leading ``model`` column. Each model uses its own normalisation
    unless ``normalize=`` is passed in ``options`` (forwarded to :func:`attack_accuracy`)."""
    if not models:
        raise ValidationError("models is empty; pass {name: model} for at least one model")
    tables = [
        attack_accuracy(model, images, labels, eps, attack, **options).assign(model=name)
        for name, model in models.items()
        for attack in attacks
    ]
    table = pd.concat(tables, ignore_index=True)
    return table[["model"] + [column for column in table.columns if column != "model"]]
