"""The analyses of a study, as a registry: each entry is one :class:`Analysis` (config switch, a function of
the :class:`~brainalign.studies.context.StudyContext` returning a result table of a declared schema in
:mod:`brainalign.report.results`, whose figure the report draws). They run in registry order; an analysis
may read the tables of those before it (``needs``).

Adding an analysis: write ``studies/analyses/<name>.py`` with its function and an ``ANALYSIS = Analysis(...)``
entry, declare its table in ``report/results.py`` (and a figure in ``report/figures.py`` if none fits), and
add the entry to :data:`ANALYSES` below (one line).
"""
from __future__ import annotations

from brainalign.studies.analyses import (
    comparisons,
    cross,
    dimensions,
    ground_truth,
    improvement,
    improvement_correlation,
    noise_ceiling,
    predictions,
    robustness,
    significance,
    similarity,
    timecourses,
    trajectory,
    variability,
)
from brainalign.studies.analyses.base import Analysis

ANALYSES: tuple[Analysis, ...] = (
    similarity.ANALYSIS,
    timecourses.ANALYSIS,
    noise_ceiling.ANALYSIS,
    cross.SIMILARITY,
    cross.TIMECOURSES,
    significance.ANALYSIS,
    improvement.ANALYSIS,
    improvement_correlation.ANALYSIS,
    ground_truth.ANALYSIS,
    comparisons.ANALYSIS,
    variability.ANALYSIS,
    trajectory.ANALYSIS,
    dimensions.ANALYSIS,
    robustness.ANALYSIS,
    predictions.ANALYSIS,
)

__all__ = ["ANALYSES", "Analysis"]
