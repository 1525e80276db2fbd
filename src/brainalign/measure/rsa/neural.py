"""Neural RDMs from recorded responses: EEG per time point (decoding or correlation), fMRI per ROI."""
from __future__ import annotations

from typing import Any

import numpy as np

from brainalign.errors import ValidationError
from brainalign.data.rdms import RDMs
from brainalign.data.responses import Responses
from brainalign.measure.rsa.rdm import compute_rdms

EEG_METHODS = ("decoding", "correlation")


def neural_rdms(responses: Responses, eeg_method: str = "decoding", metric: str = "correlation", **decoding: Any) -> RDMs:
    """RDMs of a ``brainalign.data.Responses`` following the papers' definitions.

    - EEG layout (``channels`` and ``times``): one RDM per time point; ``eeg_method="decoding"``
      gives cross-validated pairwise decoding accuracies (:func:`decoding_rdms`, ``**decoding`` goes
      there; ignored otherwise), ``"correlation"`` gives ``metric`` distances of repetition-averaged channel patterns.
      Descriptors ``time_index``, ``time`` (s), ``subject``.
    - fMRI layout with ``rois``: one RDM per ROI, ``metric`` (1 - Pearson r) of repetition-averaged
      voxel patterns; descriptors ``roi``, ``subject``.
    - anything else: one RDM of the flattened, repetition-averaged responses.
    """
    if eeg_method not in EEG_METHODS:
        raise ValidationError(f"eeg_method: {eeg_method!r} is not one of {EEG_METHODS}")
    subject = {"subject": responses.subject} if responses.subject else {}
    if responses.times is not None and responses.data.ndim == 4:
        if eeg_method == "decoding":
            return _decoding(responses, **decoding)
        averaged = responses.average_repetitions().data[:, 0]  # (n, channels, times)
        patterns = np.moveaxis(averaged, 2, 0)  # (times, n, channels)
        rdms = compute_rdms(patterns, metric=metric, stimulus_ids=responses.stimulus_ids,
                            descriptors={"time_index": np.arange(len(responses.times)), **subject})
        rdms.descriptors["time"] = np.asarray(responses.times, dtype=float)
        return rdms
    if responses.rois:
        averaged = responses.average_repetitions().data[:, 0]
        names = list(responses.rois)
        layers = {name: averaged[:, responses.rois[name]] for name in names}
        rdms = compute_rdms(layers, metric=metric, stimulus_ids=responses.stimulus_ids, descriptors=subject or None)
        rdms.descriptors = rdms.descriptors.rename(columns={"layer": "roi"})
        return rdms
    return compute_rdms(responses.flatten(), metric=metric, stimulus_ids=responses.stimulus_ids,
                        descriptors=subject or None)


def _decoding(responses: Any, **options: Any) -> RDMs:
    from brainalign.measure.rsa.decoding import decoding_rdms

    return decoding_rdms(responses, **options)
