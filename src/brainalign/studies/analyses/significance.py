"""Where in time a model's EEG similarity differs from its references': difference curves and their
significance across subjects.

ReAlnet (Lu, Wang & Golomb; Fig. 2 and Methods "Statistical analysis"): per layer, the similarity time
course of the aligned model minus that of the base model, tested across subjects with a two-sided
cluster-based permutation test (the authors' code: NeuroRA ``clusterbased_permutation_1d_2sided``, paired t
at p < 0.05 forms clusters, cluster p < 0.05, 1000 permutations). Here every model is compared with every
reference of :func:`brainalign.studies.statistics.references` (aligned - base and aligned - each control),
with ``evaluation.significance`` (cluster, or FDR over time points for few subjects) and
``evaluation.alternative`` (two-sided unless the config says otherwise).
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from brainalign.studies import statistics as st
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.context import StudyContext


def rsa_significance(context: StudyContext) -> Optional[pd.DataFrame]:
    """``rsa_significance`` table of the study's own EEG time courses, or None when there are none or too few
    subjects for the test."""
    courses = context.frames.get("rsa_timecourses")
    if courses is None:
        return None
    evaluation = context.evaluation
    table = st.timecourse_significance(courses, evaluation.significance, evaluation.alternative,
                                       n_permutations=evaluation.permutations)
    return table if len(table) else None


ANALYSIS = Analysis("rsa_significance", "aligned-minus-reference difference curves and their significance",
                    lambda config: config.evaluation.timecourses, rsa_significance, needs=("rsa_timecourses",))
