"""THINGS-EEG2 loader on small files written in the published layout (pickled dicts)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from published_layouts import THINGS_TIMES, write_things_eeg2

from brainalign.cli import run
from brainalign.data import Responses, Stimuli, load_things_eeg2
from brainalign.data.things_eeg2 import convert_things_eeg2, read_test_concepts
from brainalign.errors import DataFormatError, MissingDatasetError

N_TRAIN, N_TEST = 6, 4


def test_refuses_pickles_without_opt_in(tmp_path) -> None:
    write_things_eeg2(tmp_path, n_train=N_TRAIN, n_test=N_TEST, test_reps=3)
    with pytest.raises(DataFormatError, match="allow_pickle=True"):
        load_things_eeg2(tmp_path, subject=1, split="test")


def test_splits_as_recorded_with_ids_of_the_image_folders(tmp_path) -> None:
    arrays = write_things_eeg2(tmp_path, n_train=N_TRAIN, n_test=N_TEST, test_reps=3)["sub-01"]
    train = load_things_eeg2(tmp_path, subject=1, split="train", allow_pickle=True)
    assert train.data.shape == (N_TRAIN, 4, 19, 100) and train.sfreq == 100.0
    np.testing.assert_array_equal(train.data, arrays["training"])  # every repetition, channel and sample
    np.testing.assert_allclose(train.times, THINGS_TIMES)
    assert train.stimulus_ids[:2] == ["00001_concept0/concept0_01b", "00001_concept0/concept0_02b"]
    # ids are those of the published image folders, read recursively
    assert sorted(train.stimulus_ids) == sorted(Stimuli.from_folder(tmp_path / "image_set" / "training_images").ids)
    test = load_things_eeg2(tmp_path, subject="sub-01", split="test", allow_pickle=True)
    assert test.stimulus_ids == [f"{i + 1:05d}_test{i}/test{i}_01s" for i in range(N_TEST)]


def test_files_written_with_pickle_dump_load_too(tmp_path) -> None:
    arrays = write_things_eeg2(tmp_path, n_train=N_TRAIN, n_test=N_TEST, test_reps=3)["sub-01"]
    path = tmp_path / "preprocessed_data" / "sub-01" / "preprocessed_eeg_test.npy"
    content = np.load(path, allow_pickle=True).item()
    with open(path, "wb") as handle:  # the 250 Hz release was saved with pickle.dump
        pickle.dump(content, handle, protocol=4)
    np.testing.assert_array_equal(load_things_eeg2(tmp_path, split="test", allow_pickle=True).data, arrays["test"])


def test_convert_to_safe_npz_then_load_without_opt_in(tmp_path) -> None:
    write_things_eeg2(tmp_path / "raw", n_train=N_TRAIN, n_test=N_TEST, test_reps=3)
    written = convert_things_eeg2(tmp_path / "raw", tmp_path / "safe", subjects=[1], allow_pickle=True)
    assert sorted(p.name for p in written) == ["test.npz", "train.npz"]
    full = Responses.load(tmp_path / "safe" / "sub-01" / "train.npz")
    assert full.data.shape == (N_TRAIN, 4, 19, 100) and full.sfreq == 100.0
    safe = load_things_eeg2(tmp_path / "safe", split="test")
    direct = load_things_eeg2(tmp_path / "raw", split="test", allow_pickle=True)
    np.testing.assert_array_equal(safe.data, direct.data)
    assert safe.stimulus_ids == direct.stimulus_ids
    assert run(["convert-things-eeg2", str(tmp_path / "raw"), "--out", str(tmp_path / "cli"), "-s", "1"]) == 2
    assert not (tmp_path / "cli").exists()  # refused without --trust, nothing written


def test_truncated_file_and_missing_metadata(tmp_path) -> None:
    write_things_eeg2(tmp_path / "b", n_train=N_TRAIN, n_test=N_TEST, test_reps=3)
    path = tmp_path / "b" / "preprocessed_data" / "sub-01" / "preprocessed_eeg_training.npy"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataFormatError, match="truncated"):
        load_things_eeg2(tmp_path / "b", split="train", allow_pickle=True)
    with pytest.raises(MissingDatasetError, match="sub-02"):
        load_things_eeg2(tmp_path / "b", subject=2, allow_pickle=True)

    write_things_eeg2(tmp_path / "c", n_train=N_TRAIN, n_test=N_TEST, test_reps=3)
    (tmp_path / "c" / "image_set" / "image_metadata.npy").unlink()
    with pytest.raises(MissingDatasetError, match="image_metadata.npy"):
        load_things_eeg2(tmp_path / "c", split="train", allow_pickle=True)


@pytest.mark.shared_data
def test_test_ids_from_the_derived_concept_table(tmp_path, shared_data) -> None:
    table = shared_data / "things_eeg2_testset_model_rdms_lu2025" / "things_eeg2_test_concepts_derived.csv"
    concepts = read_test_concepts(table)
    assert len(concepts) == 200 and concepts[0] == "00001_aircraft_carrier" and concepts[7] == "00008_basketball"
    write_things_eeg2(tmp_path, n_train=2, n_test=200, test_reps=2, image_size=8)
    (tmp_path / "image_set" / "image_metadata.npy").unlink()
    test = load_things_eeg2(tmp_path, split="test", allow_pickle=True, test_concepts_csv=table)
    assert test.stimulus_ids == concepts
