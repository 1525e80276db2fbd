"""THINGS-EEG2 loader on small files written in the published layout (pickled dicts)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from brainalign.data import Responses, load_things_eeg2
from brainalign.data.channels import THINGS_EEG2_CHANNELS
from brainalign.data.things_eeg2 import convert_things_eeg2, read_test_concepts
from brainalign.errors import DataFormatError, MissingDatasetError, ValidationError

TIMES = np.round(np.arange(-20, 80) / 100, 2)  # -0.2 .. 0.79 s at 100 Hz, as published
N_TRAIN, N_TEST = 6, 4
EXTRA_CHANNELS = ["Fz", "Cz"]  # the loader must pick the 17 target channels out of these 19


def write_layout(root, n_train=N_TRAIN, n_test=N_TEST, channel_order=None):
    """root/preprocessed_data/sub-01/*.npy (np.save of a dict / pickle.dump) + root/image_set/image_metadata.npy."""
    rng = np.random.default_rng(0)
    channels = channel_order or list(reversed(THINGS_EEG2_CHANNELS)) + EXTRA_CHANNELS
    subject = root / "preprocessed_data" / "sub-01"
    subject.mkdir(parents=True)
    arrays = {}
    for split, n, reps in (("training", n_train, 4), ("test", n_test, 3)):
        data = rng.normal(size=(n, reps, len(channels), 100)).astype(np.float32)
        content = {"preprocessed_eeg_data": data, "ch_names": channels, "times": TIMES}
        if split == "training":
            np.save(subject / "preprocessed_eeg_training.npy", content)  # np.save of a dict (pickled)
        else:
            with open(subject / "preprocessed_eeg_test.npy", "wb") as handle:  # the 250 Hz release uses pickle.dump
                pickle.dump(content, handle, protocol=4)
        arrays[split] = data
    metadata = {
        "train_img_concepts": [f"{i // 2 + 1:05d}_concept{i // 2}" for i in range(n_train)],
        "train_img_files": [f"concept{i // 2}_{i:02d}b.jpg" for i in range(n_train)],
        "test_img_concepts": [f"{i + 1:05d}_test{i}" for i in range(n_test)],
        "test_img_files": [f"test{i}_01s.jpg" for i in range(n_test)],
    }
    (root / "image_set").mkdir()
    np.save(root / "image_set" / "image_metadata.npy", metadata)
    return arrays, channels


def expected_target(data, channels):
    index = [channels.index(name) for name in THINGS_EEG2_CHANNELS]
    return data[:, :, index][..., 20:40].mean(1)  # (n, 17, 20)


def test_refuses_pickles_without_opt_in(tmp_path) -> None:
    write_layout(tmp_path)
    with pytest.raises(DataFormatError, match="allow_pickle=True"):
        load_things_eeg2(tmp_path, subject=1, split="test")


def test_reaLnet_target_train_and_test(tmp_path) -> None:
    arrays, channels = write_layout(tmp_path)
    train = load_things_eeg2(tmp_path, subject=1, split="train", allow_pickle=True)
    assert train.data.shape == (N_TRAIN, 1, 17, 20)
    assert train.channels == list(THINGS_EEG2_CHANNELS)
    np.testing.assert_allclose(train.times, np.arange(20) / 100)
    assert train.stimulus_ids[:2] == ["00001_concept0/concept0_00b", "00001_concept0/concept0_01b"]
    raw_train = expected_target(arrays["training"], channels)
    mean, std = raw_train.mean(0), raw_train.std(0)
    np.testing.assert_allclose(train.data[:, 0], (raw_train - mean) / std, rtol=1e-4, atol=1e-5)
    test = load_things_eeg2(tmp_path, subject="sub-01", split="test", allow_pickle=True)
    assert test.stimulus_ids == [f"{i + 1:05d}_test{i}/test{i}_01s" for i in range(N_TEST)]
    # the test split is z-scored with the TRAINING statistics
    np.testing.assert_allclose(test.data[:, 0], (expected_target(arrays["test"], channels) - mean) / std, rtol=1e-4, atol=1e-5)
    raw = load_things_eeg2(tmp_path, split="test", allow_pickle=True, zscore=False)
    np.testing.assert_allclose(raw.data[:, 0], expected_target(arrays["test"], channels), rtol=1e-5)


def test_convert_to_safe_npz_then_load_without_opt_in(tmp_path) -> None:
    write_layout(tmp_path / "raw")
    written = convert_things_eeg2(tmp_path / "raw", tmp_path / "safe", subjects=[1], allow_pickle=True)
    assert sorted(p.name for p in written) == ["test.npz", "train.npz"]
    full = Responses.load(tmp_path / "safe" / "sub-01" / "train.npz")
    assert full.data.shape == (N_TRAIN, 4, 19, 100) and full.sfreq == 100.0
    safe = load_things_eeg2(tmp_path / "safe", split="test")
    direct = load_things_eeg2(tmp_path / "raw", split="test", allow_pickle=True)
    np.testing.assert_array_equal(safe.data, direct.data)
    assert safe.stimulus_ids == direct.stimulus_ids


def test_missing_channels_truncated_file_and_missing_metadata(tmp_path) -> None:
    write_layout(tmp_path / "a", channel_order=list(THINGS_EEG2_CHANNELS[:-1]) + EXTRA_CHANNELS)
    with pytest.raises(ValidationError, match=r"channel\(s\) \['P2'\] not in the responses"):
        load_things_eeg2(tmp_path / "a", split="train", allow_pickle=True)

    write_layout(tmp_path / "b")
    path = tmp_path / "b" / "preprocessed_data" / "sub-01" / "preprocessed_eeg_training.npy"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataFormatError, match="truncated"):
        load_things_eeg2(tmp_path / "b", split="train", allow_pickle=True)
    with pytest.raises(MissingDatasetError, match="sub-02"):
        load_things_eeg2(tmp_path / "b", subject=2, allow_pickle=True)

    write_layout(tmp_path / "c")
    (tmp_path / "c" / "image_set" / "image_metadata.npy").unlink()
    with pytest.raises(MissingDatasetError, match="image_metadata.npy"):
        load_things_eeg2(tmp_path / "c", split="train", allow_pickle=True)


@pytest.mark.shared_data
def test_test_ids_from_the_derived_concept_table(tmp_path, shared_data) -> None:
    table = shared_data / "things_eeg2_testset_model_rdms_lu2025" / "things_eeg2_test_concepts_derived.csv"
    concepts = read_test_concepts(table)
    assert len(concepts) == 200 and concepts[0] == "00001_aircraft_carrier" and concepts[7] == "00008_basketball"
    write_layout(tmp_path, n_test=200)
    (tmp_path / "image_set" / "image_metadata.npy").unlink()
    test = load_things_eeg2(tmp_path, split="test", allow_pickle=True, zscore=False, test_concepts_csv=table)
    assert test.stimulus_ids == concepts
