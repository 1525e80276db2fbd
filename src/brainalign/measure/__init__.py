"""Measurements, by role: ``features`` (layer activations), ``rsa`` (RDMs from features and responses,
decoding RDMs, comparisons, readouts, variability, object dimensions, trajectories), ``behaviour``
(accuracy, adversarial robustness, error consistency) and ``statistics`` (tests across subjects).
Plotting lives in :mod:`brainalign.report`; the RDMs type in :mod:`brainalign.data`."""
from __future__ import annotations

from brainalign._lazy import lazy_getattr

_NAMES = {
    # features.py
    "extract": ".features",
    "load_features": ".features",
    # rsa/rdm.py
    "compute_rdms": ".rsa.rdm",
    # rsa/comparison.py (not compare.py: a sub-module named like its function would shadow it)
    "compare": ".rsa.comparison",
    "noise_ceiling": ".rsa.comparison",
    "rank_rows": ".rsa.ranks",
    # rsa/decoding.py
    "decoding_rdms": ".rsa.decoding",
    # rsa/dimensions.py
    "partial_correlations": ".rsa.dimensions",
    "dimension_rdms": ".rsa.dimensions",
    "dimension_differences": ".rsa.dimensions",
    "load_dimension_labels": ".rsa.dimensions",
    # statistics.py
    "mean_sem": ".statistics",
    "paired_t": ".statistics",
    "sign_flip_test": ".statistics",
    "cluster_test": ".statistics",
    "fdr": ".statistics",
    "paired_difference": ".statistics",
    "PairedDifference": ".statistics",
    "correct_p": ".statistics",
    "ratio_of_means": ".statistics",
    # rsa/variability.py
    "variability_matrices": ".rsa.variability",
    "variability_summary": ".rsa.variability",
    "individual_variability": ".rsa.variability",
    # rsa/readouts.py
    "similarity_table": ".rsa.readouts",
    "eeg_timecourses": ".rsa.readouts",
    "roi_similarity": ".rsa.readouts",
    "improvement": ".rsa.readouts",
    "improvement_ratio": ".rsa.readouts",
    "improvement_table": ".rsa.readouts",
    "improvement_correlation": ".rsa.readouts",
    "timecourse_readout": ".rsa.readouts",
    "TimecourseReadout": ".rsa.readouts",
    # rsa/across_subjects.py
    "subject_statistics": ".rsa.across_subjects",
    # rsa/neural.py
    "neural_rdms": ".rsa.neural",
    # rsa/sources.py
    "rdms_from_path": ".rsa.sources",
    # rsa/trajectory.py
    "rsa_trajectory": ".rsa.trajectory",
    "peak_epochs": ".rsa.trajectory",
    "trajectory_summary": ".rsa.trajectory",
    "accuracy_correlations": ".rsa.trajectory",
    "peak_summary": ".rsa.trajectory",
    # behaviour/robustness.py
    "attack_accuracy": ".behaviour.robustness",
    "compare_robustness": ".behaviour.robustness",
    # behaviour/classification.py (not accuracy.py: a sub-module named like the function would shadow it)
    "accuracy": ".behaviour.classification",
    "AccuracyResult": ".behaviour.classification",
    # behaviour/error_consistency.py
    "error_consistency": ".behaviour.error_consistency",
    "error_consistency_table": ".behaviour.error_consistency",
    "load_trials": ".behaviour.error_consistency",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
