"""Measurements: features, RDMs, decoding RDMs, RSA comparisons, statistics, variability,
object dimensions, training trajectories, accuracy and adversarial robustness."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    # rdm.py
    "RDMs": ".rdm",
    "compute_rdms": ".rdm",
    # rsa.py (not compare.py / noise_ceiling.py: a sub-module named like its function would shadow it)
    "compare": ".rsa",
    "noise_ceiling": ".rsa",
    "rank_rows": ".ranks",
    # decoding.py
    "decoding_rdms": ".decoding",
    # dimensions.py
    "partial_correlations": ".dimensions",
    # robustness.py
    "attack_accuracy": ".robustness",
    "compare_robustness": ".robustness",
    "plot_robustness": ".robustness",
    # classification.py (not accuracy.py: importing a sub-module named like the function would shadow it)
    "accuracy": ".classification",
    "AccuracyResult": ".classification",
    "load_labelled_images": ".classification",
    # behaviour.py
    "error_consistency": ".behaviour",
    "error_consistency_table": ".behaviour",
    "load_trials": ".behaviour",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
