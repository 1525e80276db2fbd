"""EEG responses to MNE epochs and back: exact data, stimulus ids, channel names, times (s), sfreq, subject."""
from __future__ import annotations

import numpy as np
import pytest

from brainalign.data import Responses
from brainalign.errors import ValidationError
from brainalign.interop import from_mne_epochs, to_mne_epochs

mne = pytest.importorskip("mne")


def _eeg(n_repetitions: int = 3) -> Responses:
    data = np.random.default_rng(0).standard_normal((4, n_repetitions, 5, 12)) * 1e-6
    return Responses(data, ["img_02", "img_10", "img_01", "img_11"], "eeg", subject="sub-07",
                     channels=["Oz", "O1", "O2", "POz", "Pz"], times=np.arange(-2, 10) / 100, sfreq=100.0)


def test_round_trip_is_exact() -> None:
    responses = _eeg()
    epochs = to_mne_epochs(responses)
    assert isinstance(epochs, mne.EpochsArray) and len(epochs) == 12
    assert epochs.ch_names == responses.channels and epochs.info["sfreq"] == 100.0
    np.testing.assert_array_equal(epochs.times, responses.times)
    np.testing.assert_array_equal(epochs.get_data(copy=True)[4], responses.data[1, 1])  # stimulus 1, repetition 1
    assert list(epochs.metadata["stimulus_id"][:4]) == ["img_02"] * 3 + ["img_10"]
    assert epochs.event_id == {"img_02": 1, "img_10": 2, "img_01": 3, "img_11": 4}
    back = from_mne_epochs(epochs)
    np.testing.assert_array_equal(back.data, responses.data)
    np.testing.assert_array_equal(back.times, responses.times)
    assert (back.stimulus_ids, back.channels, back.sfreq, back.subject, back.modality) == (
        responses.stimulus_ids, responses.channels, 100.0, "sub-07", "eeg")


def test_epochs_from_events_alone_and_unequal_repetitions() -> None:
    """Epochs recorded in trial order, named by events (no metadata): stimuli in order of first appearance,
    a stimulus with fewer repetitions padded with NaN."""
    data = np.arange(5 * 2 * 3, dtype=np.float64).reshape(5, 2, 3)
    events = np.column_stack([np.arange(5), np.zeros(5, int), [2, 1, 2, 1, 2]])
    info = mne.create_info(["a", "b"], 250.0, "eeg")
    epochs = mne.EpochsArray(data, info, events=events, event_id={"cat": 1, "dog": 2}, verbose=False)
    responses = from_mne_epochs(epochs)
    assert responses.stimulus_ids == ["dog", "cat"] and responses.data.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(responses.data[0], data[[0, 2, 4]])
    np.testing.assert_array_equal(responses.data[1, :2], data[[1, 3]])
    assert np.isnan(responses.data[1, 2]).all() and responses.allow_nan
    again = to_mne_epochs(responses)  # the missing repetition is left out
    np.testing.assert_array_equal(again.get_data(copy=True), data[[0, 2, 4, 1, 3]])


def test_refuses_responses_mne_cannot_hold() -> None:
    fmri = Responses(np.zeros((3, 1, 4)), ["a", "b", "c"], "fmri", rois={"V1": [0, 1, 2, 3]})
    with pytest.raises(ValidationError, match="channels, times and sfreq"):
        to_mne_epochs(fmri)
    off_grid = Responses(np.zeros((2, 1, 1, 3)), ["a", "b"], "eeg", channels=["Oz"], times=[0.0, 0.013, 0.02],
                         sfreq=100.0)
    with pytest.raises(ValidationError, match="sampling grid"):
        to_mne_epochs(off_grid)
