"""Alignment controls (ReAlnet's control models), defined once: the names a config uses, what each
changes in training, and the label a trained model carries in results.

- ``none``: the ReAlnet loss, CE + beta x (MSE + contrastive); model label ``aligned``;
- ``control_beta0``: beta = 0, only the classification term on the base model's pseudo-labels (the
  images without neural data); beta is ignored, so a sweep runs it once per subject and seed;
- ``control_no_contrastive``: the neural term without its contrastive part (MSE only);
- ``control_unpaired``: image-response pairs shuffled across images, so the neural terms carry no
  image-specific information: a new shuffle every epoch by default (``training.unpaired_shuffle:
  every_epoch``; no image keeps a target, so nothing image-specific can be memorised), or one fixed
  shuffle for the run (``fixed``, seed ``training.unpaired_seed``; each image keeps one wrong target,
  which a network can memorise, so this weaker control can score above base).

Labels: ``aligned`` or the control's name, with ``_beta<b>`` appended where betas must be told apart
(run folder names always; result tables when a sweep has several betas); ``control_beta0`` never has one.
The base model is ``base``.
"""
from __future__ import annotations

from typing import Literal, get_args

Control = Literal["none", "control_beta0", "control_no_contrastive", "control_unpaired"]
CONTROLS: tuple[str, ...] = get_args(Control)
BASE_LABEL = "base"
ALIGNED_LABEL = "aligned"
MODEL_ORDER: tuple[str, ...] = (BASE_LABEL, ALIGNED_LABEL, *CONTROLS[1:])  # tables and figures list models so


def uses_beta(control: str) -> bool:
    """False for ``control_beta0`` (its beta is 0 whatever the config says)."""
    return control != "control_beta0"


def neural_weight(control: str, beta: float) -> float:
    """The weight of the neural terms in the loss: ``beta``, or 0 for ``control_beta0``."""
    return beta if uses_beta(control) else 0.0


def uses_contrastive(control: str, contrastive: bool = True) -> bool:
    """Whether the loss keeps its contrastive term (``contrastive`` unless ``control_no_contrastive``)."""
    return contrastive and control != "control_no_contrastive"


def shuffles_pairs(control: str) -> bool:
    """Whether training targets are shuffled across images (``control_unpaired``)."""
    return control == "control_unpaired"


def model_label(control: str, beta: float, with_beta: bool) -> str:
    """The label of a model trained with ``control`` and ``beta`` (see the module docstring)."""
    stem = ALIGNED_LABEL if control == "none" else control
    return f"{stem}_beta{beta:g}" if with_beta and uses_beta(control) else stem


def label_stem(label: str) -> str:
    """A model label without its ``_beta<b>`` (``aligned_beta10`` -> ``aligned``; ``control_beta0`` stays)."""
    return label if label in MODEL_ORDER else label.split("_beta")[0]


def beta_suffix(label: str) -> str:
    """The ``_beta<b>`` of a model label, or "" (``aligned_beta10`` -> ``_beta10``; ``control_beta0`` -> "")."""
    return label[len(label_stem(label)):]


def control_labels(aligned: str) -> list[str]:
    """The labels of the controls an aligned model ``aligned`` is compared with: ``control_beta0`` and each
    other control trained with the same beta (``aligned_beta10`` -> ``control_no_contrastive_beta10``, ...)."""
    suffix = beta_suffix(aligned)
    return [control if not uses_beta(control) else f"{control}{suffix}" for control in CONTROLS[1:]]


def model_rank(label: str) -> tuple[int, str]:
    """Sort key of a model label: the order of :data:`MODEL_ORDER`, then the label (betas, other names)."""
    stem = label_stem(label)
    return (MODEL_ORDER.index(stem) if stem in MODEL_ORDER else len(MODEL_ORDER), label)
