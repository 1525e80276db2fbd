"""Predicted vs recorded held-out responses of a few example images (the encoder head of the first aligned
model of the first subject), saved as ``results/predictions.npz``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from brainalign.align.checkpoint import load_head
from brainalign.align.targets import load_target_transform
from brainalign.models.loader import load
from brainalign.report.results import PREDICTIONS_FILE, RESULTS_DIR, write_predictions
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.context import StudyContext
from brainalign.studies.statistics import ALIGNED


def predictions(context: StudyContext) -> Optional[dict[str, Any]]:
    """Arrays of :func:`brainalign.report.results.write_predictions` (None without an aligned model)."""
    from brainalign.align.data import ImageBank
    from brainalign.align.trainer import predict_responses

    aligned = [model for model in context.models if model.label.startswith(ALIGNED)]
    if not aligned:
        return None
    model = aligned[0]
    subject_data = context.held_out(model.subject)
    stimuli = subject_data.stimuli
    count = min(context.evaluation.predictions, 8, len(stimuli))
    indices = np.linspace(0, len(stimuli) - 1, count).round().astype(int)
    network, head = load(model.run_dir).model, load_head(model.run_dir)
    target = load_target_transform(model.run_dir)  # the run's own fit: predictions back to recorded units
    bank = ImageBank(stimuli.subset([stimuli.ids[i] for i in indices]), context.evaluation.image_size)
    predicted = predict_responses(network, head, bank, list(head.layer_sizes), 64, torch.device("cpu"))
    pixels = stimuli.load(indices.tolist(), size=context.evaluation.image_size, normalize=False)
    real = target.pattern(subject_data.trials).average_repetitions().data[indices, 0]
    channels = target.axes.channels
    return {"real": real, "predicted": target.inverse(predicted),
            "stimulus_ids": [stimuli.ids[i] for i in indices],
            "images": (pixels.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8),
            "times": target.axes.times, "channels": None if channels is None else np.asarray(channels, str),
            "model": np.asarray(f"{model.label} {model.subject} seed {model.seed}")}


def _write(run_dir: Path, arrays: dict[str, Any]) -> Path:
    arrays = dict(arrays)
    return write_predictions(run_dir / RESULTS_DIR / PREDICTIONS_FILE, arrays.pop("real"), arrays.pop("predicted"),
                             arrays.pop("stimulus_ids"), **arrays)


ANALYSIS = Analysis("predictions", "predicted vs recorded responses of example images",
                    lambda config: config.evaluation.predictions > 0, predictions, write=_write)
