"""EEG RSA time courses: every layer's RDM against the subject's EEG RDM at each time point.

ReAlnet (Lu, Wang & Golomb; Results "ReAlnet is more similar to human EEG", Fig. 2): the similarity of
each layer (V1, V2, V4, IT) with the EEG RDM of every time point, per subject. The EEG RDMs are
``evaluation.timecourse_rdm``: pairwise decoding accuracies (the papers' definition) or correlation
distances of the channel patterns.
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from brainalign.measure import eeg_timecourses
from brainalign.progress import track
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import BASE, seed_mean


def rsa_timecourses(context: StudyContext) -> Optional[pd.DataFrame]:
    """``rsa_timecourses`` table (seeds averaged), or None when the data have no time axis."""
    if "times" not in context.neural(context.subjects[0]):
        return None
    method = context.evaluation.compare_method
    parts = []
    for subject in track(context.subjects, "RSA time courses", disable=not context.progress):
        eeg = context.neural(subject)["times"]
        for label, seed, model in [(BASE, 0, None)] + [(m.label, m.seed, m) for m in context.models_of(subject)]:
            course = eeg_timecourses(context.layer_rdms(subject, model), eeg, method)
            parts.append(pd.DataFrame({"model": label, "layer": course["layer"].to_numpy(), "subject": subject,
                                       "seed": seed, "time": course["time"].to_numpy(),
                                       "similarity": course["similarity"].to_numpy()}))
    return seed_mean(pd.concat(parts, ignore_index=True), "similarity")


ANALYSIS = Analysis("rsa_timecourses", "EEG RSA time course per layer",
                    lambda config: config.evaluation.timecourses, rsa_timecourses)
