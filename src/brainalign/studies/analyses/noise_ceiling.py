"""Noise ceiling of every neural target: how well any model could match the subjects' RDMs.

Per target (the whole response, each EEG time point, each ROI, and each ROI or time point of every
``cross_evaluation`` entry, whose own subjects are the unit there) the subjects' held-out RDMs give a lower
and an upper bound (Nili et al. 2014; :func:`brainalign.measure.noise_ceiling`, equal to rsatoolbox's
``boot_noise_ceiling``): upper = mean over subjects of the similarity of a subject's RDM with the mean of
all subjects' RDMs, lower = the same with the mean of the other subjects' RDMs. It needs >= 2 subjects who
saw the same images; otherwise the analysis writes nothing for that data set. A cross-evaluation target is
named ``<entry> <ROI>`` or ``<entry> <time>``.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from brainalign.data.rdms import RDMs
from brainalign.measure import noise_ceiling as ceiling_of
from brainalign.measure.rsa.readouts import CROSS_EEG, CROSS_ROI, EEG_COURSE, ROI, WHOLE
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.analyses.cross import study_cross_targets
from brainalign.studies.context import StudyContext


def noise_ceiling(context: StudyContext) -> Optional[pd.DataFrame]:
    """``noise_ceiling`` table: one row per neural target, or None when no data set has >= 2 subjects on the
    same images."""
    method = context.evaluation.compare_method
    rows = []
    targets = [context.neural(subject) for subject in context.subjects]
    if len(targets) > 1 and all(t["whole"].stimulus_ids == targets[0]["whole"].stimulus_ids for t in targets):
        rows.append(_row(WHOLE, WHOLE, np.nan, [t["whole"] for t in targets], method))
        if "times" in targets[0] and context.evaluation.timecourses:
            rows += _time_rows(EEG_COURSE, "", [t["times"] for t in targets], method)
        if "rois" in targets[0] and context.evaluation.rois:
            rows += _roi_rows(ROI, "", [t["rois"] for t in targets], method)
    for cross in context.config.cross_evaluation:  # every data subject's RDMs are on the entry's common images
        recorded = list(study_cross_targets(context, cross)[1].values())
        if len(recorded) > 1:
            rows += (_roi_rows(CROSS_ROI, f"{cross.name} ", recorded, method) if cross.modality == "fmri"
                     else _time_rows(CROSS_EEG, f"{cross.name} ", recorded, method))
    return pd.DataFrame(rows) if rows else None


def _time_rows(readout: str, prefix: str, subject_rdms: list[RDMs], method: str) -> list[dict]:
    """One row per time point (one RDM per time point; ``time`` in s, else the ``time_index``)."""
    descriptors = subject_rdms[0].descriptors
    times = descriptors["time" if "time" in descriptors else "time_index"].to_numpy(float)
    return [_row(readout, f"{prefix}{time:g}", time, [rdms[[index]] for rdms in subject_rdms], method)
            for index, time in enumerate(times)]


def _roi_rows(readout: str, prefix: str, subject_rdms: list[RDMs], method: str) -> list[dict]:
    """One row per ROI of RDMs with a ``roi`` descriptor."""
    return [_row(readout, f"{prefix}{roi}", np.nan, [rdms.select(roi=roi) for rdms in subject_rdms], method)
            for roi in subject_rdms[0].descriptors["roi"]]


def _row(readout: str, target: str, time: float, subject_rdms: list[RDMs], method: str) -> dict:
    lower, upper = ceiling_of(np.vstack([rdms.dissimilarities for rdms in subject_rdms]), method)
    return {"readout": readout, "target": target, "lower": lower, "upper": upper, "n": len(subject_rdms),
            "time": time}


ANALYSIS = Analysis("noise_ceiling", "lower and upper noise ceiling of every neural target",
                    lambda config: config.evaluation.noise_ceiling, noise_ceiling)
