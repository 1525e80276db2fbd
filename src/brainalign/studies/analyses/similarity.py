"""Held-out similarity of every model: each layer vs the whole response RDM, and per ROI the best layer.

- ``whole response``: Spearman rho (``evaluation.compare_method``) between each layer's RDM and the RDM of
  the subject's entire held-out response (every channel x time point, or every voxel); ``target`` = layer.
- ``roi best layer`` (fMRI): per ROI (V1, V2, V3, V4, LOC, ...) the maximum over the layers V1, V2, V4, IT
  and the final average-pooled layer, as ReAlnet-fMRI (Lu & Wang 2025, Results "ReAlnet-fMRI is more
  similar to human fMRI") reports it; ``target`` = ROI, ``layer`` = the best layer (the most frequent one
  across a subject's seeds).
"""
from __future__ import annotations

import pandas as pd

from brainalign.measure import compare, roi_similarity
from brainalign.measure.rsa.readouts import ROI, WHOLE
from brainalign.progress import track
from brainalign.studies.analyses.base import Analysis, always
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import BASE


def similarity(context: StudyContext) -> pd.DataFrame:
    """``similarity`` table: one row per model, target and subject (seeds averaged)."""
    method = context.evaluation.compare_method
    parts = []
    for subject in track(context.subjects, "similarity", disable=not context.progress):
        neural = context.neural(subject)
        for label, seed, model in [(BASE, 0, None)] + [(m.label, m.seed, m) for m in context.models_of(subject)]:
            layers = context.layer_rdms(subject, model)
            whole = compare(layers, neural["whole"], method)[:, 0]
            parts.append(pd.DataFrame({"model": label, "target": layers.descriptors["layer"].to_numpy(),
                                       "subject": subject, "seed": seed, "similarity": whole, "readout": WHOLE,
                                       "layer": layers.descriptors["layer"].to_numpy()}))
            if "rois" in neural and context.evaluation.rois:
                best = roi_similarity(context.layer_rdms(subject, model, context.roi_layers), neural["rois"], method)
                parts.append(pd.DataFrame({"model": label, "target": best["roi"].to_numpy(), "subject": subject,
                                           "seed": seed, "similarity": best["similarity"].to_numpy(),
                                           "readout": ROI, "layer": best["best_layer"].to_numpy()}))
    table = pd.concat(parts, ignore_index=True)
    keys = ["model", "target", "subject", "readout"]
    return table.groupby(keys, sort=False).agg(
        similarity=("similarity", "mean"), layer=("layer", lambda layers: layers.mode().iloc[0])).reset_index()


ANALYSIS = Analysis("similarity", "held-out RSA per layer (whole response) and per ROI (best layer)", always,
                    similarity)
