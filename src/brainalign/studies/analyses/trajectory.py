"""Alignment across training epochs: similarity (and accuracy) of every saved checkpoint of the aligned
models, epoch 0 being the base model.

ReAlnet (Lu, Wang & Golomb; training curves of the ReAlnets): the headline layer's RDM against the subject's
held-out response RDM at every saved epoch of every aligned run (subject x seed); top-1 accuracy on the
study's labelled images (:meth:`StudyContext.labelled_images`) when there are any.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from brainalign.measure import compare
from brainalign.models.files import checkpoint_epochs
from brainalign.models.loader import load
from brainalign.progress import track
from brainalign.studies import evaluate as ev
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.context import StudyContext
from brainalign.studies.statistics import ALIGNED


def trajectory(context: StudyContext) -> Optional[pd.DataFrame]:
    """``trajectory`` table: one row per aligned run (subject x seed), epoch and target."""
    from brainalign.measure.behaviour.classification import accuracy

    aligned = [model for model in context.models if model.label.startswith(ALIGNED)]
    if not aligned:
        return None
    evaluation = context.evaluation
    layer = context.headline_layer
    single_layer = evaluation.model_copy(update={"layers": [layer]})
    labelled = context.labelled_images()
    several = len({model.label for model in aligned}) > 1
    rows = []
    for model in track(aligned, "trajectory", disable=not context.progress):
        neural = context.neural(model.subject)["whole"]
        stimuli = context.held_out(model.subject).stimuli
        target = f"{model.label}: {layer}" if several else f"{layer} vs held-out responses"
        for epoch in [0, *checkpoint_epochs(model.run_dir)]:
            network = context.base if epoch == 0 else load(model.run_dir, epoch=epoch).model
            rdms = ev.model_rdms(network, stimuli, single_layer)
            top1 = np.nan if labelled is None else accuracy(
                network, labelled.stimuli, labelled.labels, image_size=evaluation.image_size, progress=False).top1
            rows.append({"seed": f"{model.subject} seed {model.seed}", "epoch": epoch, "target": target,
                         "similarity": float(compare(rdms, neural, evaluation.compare_method)[0, 0]),
                         "subject": model.subject, "accuracy": top1})
    return pd.DataFrame(rows)


ANALYSIS = Analysis("trajectory", "similarity and accuracy of every saved epoch of the aligned models",
                    lambda config: config.evaluation.trajectory, trajectory)
