"""EEG responses to and from MNE (``mne.EpochsArray``), exactly both ways.

A :class:`~brainalign.data.Responses` ``(n_stimuli, n_repetitions, n_channels, n_times)`` becomes
``n_stimuli * n_repetitions`` epochs, stimulus by stimulus (all repetitions of the first stimulus, then
the next): channel names, ``sfreq`` (Hz) and times (s; ``tmin`` = the first time) go into the epochs'
info, each epoch's event code is its stimulus' position + 1 with ``event_id`` mapping stimulus id to code,
``metadata`` holds ``stimulus_id`` and ``repetition`` and ``info["subject_info"]["his_id"]`` the subject.
Values are passed unchanged (MNE takes EEG in volts). Missing repetitions (NaN-padded responses) are
left out of the epochs and come back as NaN.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from brainalign.data.responses import Responses
from brainalign.errors import ValidationError

if TYPE_CHECKING:
    import mne

TIME_TOLERANCE = 1e-3
"""Times may differ from MNE's sample grid (``(round(tmin * sfreq) + k) / sfreq``) by this fraction of a sample."""


def to_mne_epochs(responses: Responses, ch_types: str = "eeg") -> "mne.EpochsArray":
    """``responses`` (EEG layout with ``channels``, ``times`` and ``sfreq``) as ``mne.EpochsArray``
    (see the module docstring); :func:`from_mne_epochs` reverses it. ``ch_types``: MNE channel type
    of every channel. Raises :class:`~brainalign.errors.ValidationError` when the metadata is missing or
    the times are not on the sampling grid of ``sfreq``."""
    import mne

    channels, times, sfreq = _eeg_axes(responses)
    n_stimuli, n_repetitions = responses.data.shape[:2]
    stimulus = np.repeat(np.arange(n_stimuli), n_repetitions)
    repetition = np.tile(np.arange(n_repetitions), n_stimuli)
    # a view where the responses are float64 already: data[present] below is the one copy MNE gets
    data = responses.data.reshape(n_stimuli * n_repetitions, len(channels), len(times)).astype(np.float64, copy=False)
    missing = np.isnan(data)
    present = ~missing.all(axis=(1, 2))  # a missing repetition is NaN throughout
    if missing[present].any():
        raise ValidationError(f"responses of {responses.subject or 'this subject'} hold NaN inside recorded "
                              "epochs; MNE epochs must be finite: drop or interpolate those values first")
    info = mne.create_info(list(channels), sfreq, ch_types)
    info["subject_info"] = {"his_id": responses.subject}
    events = np.column_stack([np.flatnonzero(present), np.zeros(present.sum(), int), stimulus[present] + 1])
    metadata = pd.DataFrame({"stimulus_id": [responses.stimulus_ids[i] for i in stimulus[present]],
                             "repetition": repetition[present]})
    event_id = {stimulus_id: code + 1 for code, stimulus_id in enumerate(responses.stimulus_ids)}
    return mne.EpochsArray(data[present], info, events=events, tmin=float(times[0]), event_id=event_id,
                           metadata=metadata, baseline=None, on_missing="ignore", verbose=False)


def from_mne_epochs(epochs: "mne.BaseEpochs", modality: str = "eeg") -> Responses:
    """``mne`` epochs as :class:`~brainalign.data.Responses` ``(n_stimuli, n_repetitions, n_channels,
    n_times)``: stimuli from the ``stimulus_id`` metadata column (else the event names), in order of first
    appearance; repetitions in epoch order (stimuli with fewer are padded with NaN); channels, times (s),
    ``sfreq`` and the subject (``subject_info["his_id"]``) from the epochs; ``modality`` as given."""
    data = epochs.get_data(copy=False)  # only read: copied into the padded array below
    ids = _epoch_stimulus_ids(epochs)
    order = list(dict.fromkeys(ids))
    position = {stimulus_id: index for index, stimulus_id in enumerate(order)}
    rows = np.array([position[stimulus_id] for stimulus_id in ids])
    counts = np.bincount(rows, minlength=len(order))
    repetition = pd.Series(rows).groupby(rows).cumcount().to_numpy()  # each stimulus' epochs in epoch order
    stacked = np.full((len(order), int(counts.max()), *data.shape[1:]), np.nan)
    stacked[rows, repetition] = data
    subject = (epochs.info.get("subject_info") or {}).get("his_id", "")
    return Responses(stacked, order, modality, subject=subject, channels=list(epochs.ch_names),
                     times=np.asarray(epochs.times), sfreq=float(epochs.info["sfreq"]),
                     allow_nan=bool(counts.min() != counts.max()))


def _eeg_axes(responses: Responses) -> tuple[list[str], np.ndarray, float]:
    """Channels, times and sfreq of EEG-layout ``responses``; raises naming what is missing."""
    if responses.data.ndim != 4 or responses.channels is None or responses.times is None or responses.sfreq is None:
        raise ValidationError(
            f"to_mne_epochs needs EEG-layout responses (n_stimuli, n_repetitions, n_channels, n_times) with "
            f"channels, times and sfreq; got {responses!r} (channels={responses.channels is not None}, "
            f"times={responses.times is not None}, sfreq={responses.sfreq})"
        )
    times, sfreq = np.asarray(responses.times, dtype=np.float64), responses.sfreq
    grid = (np.round(times[0] * sfreq) + np.arange(len(times))) / sfreq
    if np.abs(times - grid).max() > TIME_TOLERANCE / sfreq:
        raise ValidationError(
            f"responses times ({times[0]:.4f}..{times[-1]:.4f} s, {len(times)} points) are not the sampling grid "
            f"of sfreq={sfreq} Hz that MNE uses (tmin + k / sfreq); resample them or give the right sfreq"
        )
    return list(responses.channels), times, sfreq


def _epoch_stimulus_ids(epochs: "mne.BaseEpochs") -> list[str]:
    """The stimulus id of every epoch: metadata column ``stimulus_id``, else its event's name."""
    metadata = epochs.metadata
    if metadata is not None and "stimulus_id" in metadata.columns:
        return [str(value) for value in metadata["stimulus_id"]]
    names = {code: name for name, code in epochs.event_id.items()}
    return [names[code] for code in epochs.events[:, 2]]
