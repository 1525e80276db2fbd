"""Alignment training (ReAlnet / ReAlnet-fMRI): encoder head, soft-rank Spearman, loss, trainer, sweeps."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    "TrainConfig": ".config",
    "SweepConfig": ".config",
    "AlignmentData": ".data",
    "simulated_observer": ".data",
    "adam": ".optim",
    "train_from_scratch": ".scratch",
    "soft_spearman": ".soft_rank",
    "EncoderHead": ".head",
    "CONTROLS": ".controls",
    "model_label": ".controls",
    "alignment_loss": ".loss",
    "train": ".trainer",
    "run_sweep": ".sweep",
    "sweep_jobs": ".sweep",
    "load_head": ".checkpoint",
    "pretrain_base": ".pretrain",
    "predict_responses": ".trainer",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
