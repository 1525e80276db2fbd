"""Noise ceiling of every neural target: how well any model could match the subjects' RDMs.

Per target (the whole response, each EEG time point, each ROI) the subjects' held-out RDMs give a lower
and an upper bound (Nili et al. 2014; :func:`brainalign.measure.noise_ceiling`, equal to rsatoolbox's
``boot_noise_ceiling``): upper = mean over subjects of the similarity of a subject's RDM with the mean of
all subjects' RDMs, lower = the same with the mean of the other subjects' RDMs. It needs >= 2 subjects who
saw the same images; otherwise the analysis writes nothing.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from brainalign.data.rdms import RDMs
from brainalign.measure import noise_ceiling as ceiling_of
from brainalign.measure.rsa.readouts import EEG_COURSE
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.analyses.similarity import ROI, WHOLE
from brainalign.studies.context import StudyContext

EEG = EEG_COURSE


def noise_ceiling(context: StudyContext) -> Optional[pd.DataFrame]:
    """``noise_ceiling`` table: one row per neural target, or None with < 2 subjects on the same images."""
    targets = [context.neural(subject) for subject in context.subjects]
    if len(targets) < 2 or any(t["whole"].stimulus_ids != targets[0]["whole"].stimulus_ids for t in targets):
        return None
    method = context.evaluation.compare_method
    rows = [_row(WHOLE, WHOLE, np.nan, [t["whole"] for t in targets], method)]
    if "times" in targets[0] and context.evaluation.timecourses:
        times = targets[0]["times"].descriptors["time"].to_numpy(float)
        rows += [_row(EEG, f"{time:g}", time, [t["times"][[index]] for t in targets], method)
                 for index, time in enumerate(times)]
    if "rois" in targets[0] and context.evaluation.rois:
        rows += [_row(ROI, str(roi), np.nan, [t["rois"].select(roi=roi) for t in targets], method)
                 for roi in targets[0]["rois"].descriptors["roi"]]
    return pd.DataFrame(rows)


def _row(readout: str, target: str, time: float, subject_rdms: list[RDMs], method: str) -> dict:
    lower, upper = ceiling_of(np.vstack([rdms.dissimilarities for rdms in subject_rdms]), method)
    return {"readout": readout, "target": target, "lower": lower, "upper": upper, "n": len(subject_rdms),
            "time": time}


ANALYSIS = Analysis("noise_ceiling", "lower and upper noise ceiling of every neural target",
                    lambda config: config.evaluation.noise_ceiling, noise_ceiling)
