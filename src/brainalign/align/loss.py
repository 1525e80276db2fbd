"""The ReAlnet alignment loss: classification on frozen pseudo-labels + beta * (MSE + contrastive)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from brainalign.align.soft_rank import DEFAULT_STRENGTH, pearson_matrix, soft_spearman
from brainalign.errors import ValidationError

Correlation = Literal["spearman", "pearson"]


@dataclass(frozen=True)
class LossTerms:
    """The loss and its parts (scalar tensors); ``total`` carries the gradient."""

    ce: torch.Tensor
    mse: torch.Tensor
    contrastive: torch.Tensor
    total: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """The four terms as Python floats (for metrics)."""
        return {name: float(getattr(self, name).detach()) for name in ("ce", "mse", "contrastive", "total")}


def contrastive_term(
    predicted: torch.Tensor,
    target: torch.Tensor,
    correlation: Correlation = "spearman",
    strength: float = DEFAULT_STRENGTH,
) -> torch.Tensor:
    """``mean_i(1 - rho(pred_i, target_i)) - mean_{i != j}(1 - rho(pred_i, target_j))`` (scalar).

    ``predicted``, ``target``: ``(batch, n_features)``; rho is the soft-rank Spearman (or Pearson) of
    every prediction with every target, one ``(batch, batch)`` tensor. Needs ``batch >= 2``.
    """
    batch = predicted.shape[0]
    if batch < 2:
        raise ValidationError(f"the contrastive term needs a batch of at least 2 images, got {batch}")
    if correlation == "spearman":
        rho = soft_spearman(predicted, target, strength)
    elif correlation == "pearson":
        rho = pearson_matrix(predicted, target)
    else:
        raise ValidationError(f"correlation must be 'spearman' or 'pearson', got {correlation!r}")
    dissimilarity = 1.0 - rho
    matched = dissimilarity.diagonal().mean()
    off_diagonal = (dissimilarity.sum() - dissimilarity.diagonal().sum()) / (batch * (batch - 1))
    return matched - off_diagonal


def alignment_loss(
    logits: torch.Tensor,
    pseudo_labels: torch.Tensor,
    predicted: torch.Tensor,
    target: torch.Tensor,
    beta: float,
    contrastive: bool = True,
    correlation: Correlation = "spearman",
    strength: float = DEFAULT_STRENGTH,
) -> LossTerms:
    """``L = CE(logits, pseudo_labels) + beta * (MSE(predicted, target) + contrastive)``.

    ``logits``: ``(batch, n_classes)``; ``pseudo_labels``: ``(batch,)`` int64 (argmax of the frozen base
    model); ``predicted``, ``target``: ``(batch, n_features)`` neural responses. ``contrastive=False``
    drops the contrastive term (the "W/o ContLoss" control; it is still reported); ``beta=0`` leaves
    only the classification term (the "Control"). Computed in float32 whatever the input dtype.
    """
    if predicted.shape != target.shape:
        raise ValidationError(
            f"predicted responses {tuple(predicted.shape)} and targets {tuple(target.shape)} differ in shape; "
            f"the head's out_features must equal the response size"
        )
    predicted = predicted.float()
    target = target.float()
    ce = F.cross_entropy(logits.float(), pseudo_labels)
    mse = F.mse_loss(predicted, target)
    with torch.set_grad_enabled(contrastive and torch.is_grad_enabled()):
        contrast = contrastive_term(predicted, target, correlation, strength)
    neural = mse + contrast if contrastive else mse
    return LossTerms(ce=ce, mse=mse, contrastive=contrast, total=ce + beta * neural)
