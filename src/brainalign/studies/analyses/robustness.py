"""Adversarial robustness: accuracy of every model under a white-box attack at each epsilon.

ReAlnet (Lu, Wang & Golomb; Results "ReAlnet is more robust to adversarial attacks"): FGSM, L-inf in pixel
space, accuracy of the base and the aligned models as epsilon grows. The images are the study's labelled
held-out images (:meth:`StudyContext.labelled_images`), never the images the models were aligned on.
One seed per subject and model (the first) keeps the cost bounded; a network shared by every subject (a
shared beta-0 run) is attacked once and counted once (subject ``all``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from brainalign.data.labelled import LabelledImages
from brainalign.models.base import LayeredModel
from brainalign.models.loader import load
from brainalign.progress import track
from brainalign.report.results import ALL_SUBJECTS
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.config import RobustnessConfig
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import BASE, TrainedModel


def robustness(context: StudyContext) -> Optional[pd.DataFrame]:
    """``robustness`` table: one row per model, subject (``all`` for the shared base model) and epsilon, top-1
    and top-5."""
    labelled = context.labelled_images()
    if labelled is None:
        return None
    settings = context.evaluation.robustness
    if settings is None:
        return None
    first_seeds: dict[tuple[str, str], TrainedModel] = {}
    for model in context.models:
        first_seeds.setdefault((model.subject, model.label), model)
    runs: dict[Path, tuple[str, str]] = {}  # each network once: (label, subject); a shared one counts once
    for (subject, label), model in first_seeds.items():
        runs[model.run_dir] = (label, ALL_SUBJECTS if model.run_dir in runs else subject)
    image_size = context.evaluation.image_size
    parts = [attacked_accuracy(context.base, labelled, settings, image_size).assign(model=BASE, subject=ALL_SUBJECTS)]
    for run_dir, (label, subject) in track(list(runs.items()), "robustness", disable=not context.progress):
        rows = attacked_accuracy(load(run_dir).model, labelled, settings, image_size)
        parts.append(rows.assign(model=label, subject=subject))
    return pd.concat(parts, ignore_index=True)


def attacked_accuracy(network: LayeredModel, labelled: LabelledImages, settings: RobustnessConfig,
                      image_size: int) -> pd.DataFrame:
    """Top-1 and top-5 accuracy of ``network`` on ``labelled`` under ``settings.attack`` at every epsilon
    (:func:`brainalign.measure.attack_accuracy`'s table: eps, top1, top5, top1_aligned, top5_aligned, attack,
    n_images) with ``chance`` (1 / number of classes)."""
    from brainalign.measure.behaviour.robustness import attack_accuracy

    table = attack_accuracy(network, labelled.stimuli, labelled.labels, settings.epsilons, settings.attack,
                            image_size=image_size, progress=False)
    return table.assign(chance=1.0 / len(np.unique(labelled.labels)))


ANALYSIS = Analysis("robustness", "FGSM accuracy of every model on held-out labelled images",
                    lambda config: config.evaluation.robustness is not None, robustness)
