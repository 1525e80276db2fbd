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
    "dimension_rdms": ".dimensions",
    "dimension_differences": ".dimensions",
    "load_dimension_labels": ".dimensions",
    # stats.py
    "mean_sem": ".stats",
    "paired_t": ".stats",
    "sign_flip_test": ".stats",
    "cluster_test": ".stats",
    "fdr": ".stats",
    # variability.py
    "variability_matrices": ".variability",
    "variability_summary": ".variability",
    "individual_variability": ".variability",
    # readouts.py
    "similarity_table": ".readouts",
    "eeg_timecourses": ".readouts",
    "roi_similarity": ".readouts",
    "improvement": ".readouts",
    "improvement_ratio": ".readouts",
    "improvement_table": ".readouts",
    "improvement_correlation": ".readouts",
    # neural.py
    "neural_rdms": ".neural",
    # plots.py
    "plot_rdms": ".plots",
    "plot_similarity": ".plots",
    # trajectory.py
    "rsa_trajectory": ".trajectory",
    "peak_epochs": ".trajectory",
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
