"""Responses: validation on construction, selection, the safe .npz round trip and its layout."""
from __future__ import annotations

import numpy as np
import pytest

from brainalign.data import Responses
from brainalign.data.channels import THINGS_EEG2_CHANNELS
from brainalign.data.responses import read_layout
from brainalign.errors import DataFormatError, ValidationError

TIMES = np.arange(-20, 80) / 100.0


def eeg(n: int = 6, reps: int = 3, seed: int = 0) -> Responses:
    data = np.random.default_rng(seed).normal(size=(n, reps, 17, 100)).astype(np.float32)
    return Responses(data, [f"img{i}" for i in range(n)], "eeg", subject="sub-01",
                     channels=THINGS_EEG2_CHANNELS, times=TIMES, sfreq=100.0)


def fmri(n: int = 5, reps: int = 2) -> Responses:
    data = np.random.default_rng(1).normal(size=(n, reps, 30))
    rois = {"V1": np.arange(0, 10), "LOC": np.arange(20, 30), "VC": np.arange(30)}
    return Responses(data, [f"s{i}" for i in range(n)], "fmri", subject="3", rois=rois)


def test_shapes_and_selection_keep_metadata() -> None:
    responses = eeg()
    window = responses.select_times(0.0, 0.2)
    assert window.feature_shape == (17, 20)
    assert np.allclose(window.times, np.arange(20) / 100)
    np.testing.assert_array_equal(window.data, responses.data[..., 20:40])
    picked = responses.select_channels(["Oz", "Pz"])
    assert picked.channels == ["Oz", "Pz"]
    np.testing.assert_array_equal(picked.data[:, :, 1], responses.data[:, :, 0])
    averaged = responses.average_repetitions()
    assert averaged.n_repetitions == 1
    np.testing.assert_allclose(averaged.data[:, 0], responses.data.mean(1), rtol=1e-6)
    assert responses.data.shape == (6, 3, 17, 100)  # the original is untouched


def test_flatten_averages_repetitions_first() -> None:
    responses = eeg(n=4, reps=5).select_times(0, 0.2)
    flat = responses.flatten()
    assert flat.shape == (4, 17 * 20)
    np.testing.assert_allclose(flat, responses.data.mean(1).reshape(4, -1), rtol=1e-6)


def test_subset_reorders_and_match_stimuli_reports_missing_images() -> None:
    responses = eeg(n=4)
    sub = responses.subset(["img3", "img0"])
    assert sub.stimulus_ids == ["img3", "img0"]
    np.testing.assert_array_equal(sub.data[0], responses.data[3])
    assert responses.match_stimuli(["img2", "img1", "img0", "img3"]).stimulus_ids[0] == "img2"
    with pytest.raises(ValidationError, match="have no image"):
        responses.match_stimuli(["img0", "img1", "img2"])
    with pytest.raises(ValidationError, match="have no responses"):
        responses.subset(["img9"])


def test_roi_selection() -> None:
    responses = fmri()
    v1 = responses.select_roi("V1")
    assert v1.feature_shape == (10,) and list(v1.rois) == ["V1"]
    np.testing.assert_array_equal(v1.data, responses.data[:, :, :10])
    with pytest.raises(ValidationError, match="available rois"):
        responses.select_roi("V5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(data=np.zeros((3, 17))), "at least 3 axes"),
        (dict(stimulus_ids=["a", "b"]), "stimulus_ids has 2 entries"),
        (dict(stimulus_ids=["a", "b", "a"]), "not unique"),
        (dict(channels=["Oz"] * 17), "channels are not unique"),
        (dict(channels=["Oz", "Pz"]), "channels has 2 names"),
        (dict(times=np.arange(50)), "times has 50 entries"),
        (dict(modality="meg"), "modality='meg'"),
        (dict(sfreq=-1.0), "sfreq"),
        (dict(channels=None), "EEG responses need channels"),
    ],
)
def test_bad_construction_names_the_field(change: dict, message: str) -> None:
    fields = dict(data=np.zeros((3, 2, 17, 100)), stimulus_ids=["a", "b", "c"], modality="eeg",
                  channels=THINGS_EEG2_CHANNELS, times=TIMES)
    fields.update(change)
    with pytest.raises(ValidationError, match=message):
        Responses(**fields)


def test_nan_rejected_unless_allowed_and_then_skipped_in_averages() -> None:
    data = np.ones((2, 3, 4))
    data[0, 1, 2] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        Responses(data, ["a", "b"], "fmri")
    masked = Responses(data * np.arange(3)[None, :, None], ["a", "b"], "fmri", allow_nan=True)
    assert masked.flatten()[0, 2] == pytest.approx(1.0)  # mean of repetitions 0 and 2
    with pytest.raises(ValidationError, match="inf"):
        Responses(np.full((2, 1, 4), np.inf), ["a", "b"], "fmri")


def test_selection_errors_name_the_fix() -> None:
    responses = eeg()
    with pytest.raises(ValidationError, match=r"\['XX'\] not in the responses; available channels"):
        responses.select_channels(["Oz", "XX"])
    with pytest.raises(ValidationError, match="not ms"):
        responses.select_times(100, 200)
    with pytest.raises(ValidationError, match="rois=None"):
        responses.select_roi("V1")


def test_save_load_round_trip(tmp_path) -> None:
    for original in (eeg(), fmri()):
        path = original.save(tmp_path / f"{original.modality}.npz")
        loaded = Responses.load(path)
        np.testing.assert_array_equal(loaded.data, original.data)
        assert loaded.stimulus_ids == original.stimulus_ids
        assert (loaded.modality, loaded.subject, loaded.channels, loaded.sfreq) == (
            original.modality, original.subject, original.channels, original.sfreq)
        if original.rois:
            assert {k: v.tolist() for k, v in loaded.rois.items()} == {k: v.tolist() for k, v in original.rois.items()}
        else:
            np.testing.assert_array_equal(loaded.times, original.times)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eeg.npz", "fmri.npz"]  # no temporary files left


def test_layout_is_read_without_the_data(tmp_path) -> None:
    original = eeg()
    path = original.save(tmp_path / "eeg.npz")
    layout = read_layout(path)
    assert layout.shape == original.data.shape and layout.feature_shape == original.feature_shape
    assert layout.stimulus_ids == original.stimulus_ids and layout.channels == original.channels
    np.testing.assert_array_equal(layout.times, original.times)
    assert read_layout(fmri().save(tmp_path / "fmri.npz")).rois.keys() == fmri().rois.keys()


def test_truncated_or_foreign_file_is_a_format_error(tmp_path) -> None:
    path = eeg().save(tmp_path / "r.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataFormatError, match="truncated"):
        Responses.load(path)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(DataFormatError, match="lacks"):
        Responses.load(other)
    with pytest.raises(DataFormatError, match="does not exist"):
        Responses.load(tmp_path / "missing.npz")
