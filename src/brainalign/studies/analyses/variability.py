"""Individual variability between the personalised models, with its baseline.

ReAlnet (Lu, Wang & Golomb; Results "Individual variability"): 1 - Spearman rho between the layer RDMs of two
subjects' aligned models on the same images, per layer. Its baseline here is the variability between two
seeds of one subject's model (``pair`` = "same subject, other seed"): differences between subjects mean
something only where they exceed it. Every aligned model label (one per beta) is analysed; seeds enter the
between-subject pairs as they are (every seed of one subject against every seed of another).
"""
from __future__ import annotations

from itertools import combinations
from typing import Optional

import numpy as np
import pandas as pd

from brainalign.data.rdms import RDMs
from brainalign.measure import variability_matrices
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.context import StudyContext
from brainalign.studies.statistics import ALIGNED

BETWEEN = "between subjects"
WITHIN = "same subject, other seed"


def variability(context: StudyContext) -> Optional[pd.DataFrame]:
    """``variability`` table (None with fewer than two aligned models)."""
    aligned = [model for model in context.models if model.label.startswith(ALIGNED)]
    if len(aligned) < 2:
        return None
    shared_images = len({tuple(context.held_out(s).stimuli.ids) for s in context.subjects}) == 1
    method = context.evaluation.compare_method
    parts = []
    for label in dict.fromkeys(model.label for model in aligned):
        models = [model for model in aligned if model.label == label]
        names = {model: f"{label} {model.subject} seed {model.seed}" for model in models}
        image_subject = context.subjects[0]
        stacked = RDMs(np.concatenate([context.layer_rdms(m.subject if shared_images else image_subject, m)
                                       .dissimilarities for m in models]),
                       descriptors=pd.concat([context.layer_rdms(m.subject if shared_images else image_subject, m)
                                              .descriptors.assign(model=names[m]) for m in models], ignore_index=True))
        matrices = variability_matrices(stacked, method=method)
        for a, b in combinations(models, 2):
            pair = WITHIN if a.subject == b.subject else BETWEEN
            parts += [{"layer": layer, "model_a": names[a], "model_b": names[b],
                       "variability": float(matrix.loc[names[a], names[b]]), "pair": pair}
                      for layer, matrix in matrices.items()]
    table = pd.DataFrame(parts)
    return table if (table["pair"] == BETWEEN).any() else None


ANALYSIS = Analysis("variability", "individual variability between subjects' aligned models (seed baseline)",
                    lambda config: config.evaluation.variability, variability)
