"""Ground truth of the simulated observer: how similar each model layer is to each stage of the hidden brain.

Only a simulation knows what the brain computes. For every subject, the RDM of each hidden stage (``early``,
``mid``, ``high``, ``object``; :mod:`brainalign.data.hidden_brain`) of that subject's individual brain on the
held-out images, from its noise-free features (correlation distance), is compared with each layer RDM of
every model (``evaluation.compare_method``). The recordings (EEG channels, fMRI voxels, trial noise) stand
between these stages and what alignment trains on; this readout skips them: does alignment move a network
towards the computation that produced the responses, and towards its own subject's brain?
"""
from __future__ import annotations

from typing import Optional

import pandas as pd

from brainalign.align.data import simulated_observer
from brainalign.data.rdms import RDMs
from brainalign.measure import compare, compute_rdms
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import BASE, seed_mean


def ground_truth(context: StudyContext) -> Optional[pd.DataFrame]:
    """``ground_truth`` table: one row per model, subject, layer and hidden stage (seeds averaged); None
    unless the data are simulated."""
    data = context.sweep.train.data
    if data.source != "simulated":
        return None
    dataset = simulated_observer(data.simulate)
    method = context.evaluation.compare_method
    parts = []
    for subject in context.subjects:
        stages = stage_rdms(context, subject)
        for label, seed, model in [(BASE, 0, None)] + [(m.label, m.seed, m) for m in context.models_of(subject)]:
            layers = context.layer_rdms(subject, model)
            scores = compare(layers, stages, method)  # (layers, stages)
            names = list(layers.descriptors["layer"])
            parts += [pd.DataFrame({"model": label, "subject": subject, "seed": seed, "layer": names,
                                    "stage": stage, "similarity": scores[:, index]})
                      for index, stage in enumerate(dataset.ground_truth.stages)]
    return seed_mean(pd.concat(parts, ignore_index=True), "similarity")


def stage_rdms(context: StudyContext, subject: str) -> RDMs:
    """RDMs (descriptor ``layer`` = stage) of ``subject``'s hidden stages on the held-out images, from the
    noise-free features of the subject's individual brain (``evaluation.rdm_metric``)."""
    dataset = simulated_observer(context.sweep.train.data.simulate)
    features = dataset.ground_truth.subject_test_features[subject]
    stimuli = context.held_out(subject).stimuli
    order = [dataset.test_stimuli.ids.index(sid) for sid in stimuli.ids]
    return compute_rdms({stage: values[order] for stage, values in features.items()}, context.evaluation.rdm_metric,
                        stimulus_ids=stimuli.ids)


ANALYSIS = Analysis("ground_truth", "every layer vs every hidden stage of the subject's simulated brain (noise-free)",
                    lambda config: config.evaluation.ground_truth and config.alignment.train.data.source == "simulated",
                    ground_truth)
