"""Kamitani-lab fMRI (bdpy BData HDF5) on small files written in the GOD layout with bdpy itself."""
from __future__ import annotations

import numpy as np
import pytest

from published_layouts import imagenet_labels, write_shen_file

from brainalign.cli import run
from brainalign.data import Responses, convert_kamitani, load_kamitani_fmri
from brainalign.data.kamitani import imagenet_id, known_imagenet_ids
from brainalign.errors import DataFormatError, MissingDatasetError, ValidationError

bdpy = pytest.importorskip("bdpy")

ROI_SPANS = {"V1": (0, 12), "V2": (12, 22), "V3": (22, 30), "V4": (30, 36), "LOC": (36, 48), "FFA": (48, 50)}
N_VOXELS = 50
TRAIN_LABELS = [1518878.010042 + 0.000001 * i for i in range(0, 40)]  # 40 images x 1 repetition
TEST_LABELS = [1443537.022563, 1621127.019020, 1677366.018182]  # 3 images x 5 repetitions


def write_god_file(path, roi_v4_key="ROI_V4", with_datatype=True):
    """One subject file: training rows (DataType 1) then test rows (DataType 2), as in Subject1.h5."""
    rng = np.random.default_rng(0)
    labels = np.array(TRAIN_LABELS + TEST_LABELS * 5)
    datatype = np.array([1] * len(TRAIN_LABELS) + [2] * (len(TEST_LABELS) * 5), dtype=float)
    voxels = rng.normal(size=(len(labels), N_VOXELS))
    bdata = bdpy.BData()
    bdata.add(voxels, "VoxelData")
    for roi, (start, stop) in ROI_SPANS.items():
        marks = np.full(N_VOXELS, np.nan)
        marks[start:stop] = 1
        bdata.add_metadata(roi_v4_key if roi == "V4" else f"ROI_{roi}", marks, f"1 = {roi} voxel", where="VoxelData")
    vc = np.full(N_VOXELS, np.nan)
    vc[:48] = 1
    bdata.add_metadata("ROI_VC", vc, "1 = visual cortex voxel", where="VoxelData")
    bdata.add(labels[:, None], "Label")
    if with_datatype:
        bdata.add(datatype[:, None], "DataType")
    bdata.save(str(path))
    return voxels, labels, datatype


def test_imagenet_ids_match_the_god_lists(shared_data) -> None:
    known = known_imagenet_ids(shared_data / "god_kamitani_stimulus_metadata")
    assert len(known) == 1250
    assert imagenet_id(1443537.022563) == "n01443537_22563"
    assert imagenet_id(1621127.019020) == "n01621127_19020"
    with open(shared_data / "god_kamitani_stimulus_metadata" / "imageID_test.csv") as handle:
        rows = [line.strip().split(",") for line in handle if line.strip()]
    assert all(imagenet_id(float(number)) == name.strip('"').replace(".JPEG", "") for number, name in rows)


def test_rois_repetitions_and_id_mapping(tmp_path) -> None:
    voxels, labels, datatype = write_god_file(tmp_path / "Subject1.h5")
    test = load_kamitani_fmri(tmp_path / "Subject1.h5", split="test", average=False)
    assert test.data.shape == (3, 5, 48)  # union of V1..LOC and VC = the first 48 voxels; FFA not chosen
    assert test.stimulus_ids == ["n01443537_22563", "n01621127_19020", "n01677366_18182"]
    rows = np.flatnonzero((datatype == 2) & np.isclose(labels, 1621127.019020))
    np.testing.assert_allclose(test.data[1], voxels[rows][:, :48], rtol=1e-6)
    np.testing.assert_array_equal(test.rois["V4"], np.arange(30, 36))
    averaged = load_kamitani_fmri(tmp_path / "Subject1.h5", split="test", rois=["V1", "LOC"])
    assert averaged.data.shape == (3, 1, 24)
    np.testing.assert_allclose(averaged.select_roi("LOC").data[1, 0], voxels[rows][:, 36:48].mean(0), rtol=1e-5)
    train = load_kamitani_fmri(tmp_path / "Subject1.h5", split="train")
    assert len(train) == 40 and train.stimulus_ids[0] == "n01518878_10042"


def test_shen_style_file_without_datatype_and_with_hv4(tmp_path) -> None:
    write_god_file(tmp_path / "sub-01_train.h5", roi_v4_key="ROI_hV4", with_datatype=False)
    responses = load_kamitani_fmri(tmp_path / "sub-01_train.h5", split=None, rois=["V4"])
    assert responses.feature_shape == (6,) and len(responses) == 43


def test_metadata_check_and_bad_input(tmp_path, shared_data) -> None:
    write_god_file(tmp_path / "Subject1.h5")
    god = shared_data / "god_kamitani_stimulus_metadata"
    assert len(load_kamitani_fmri(tmp_path / "Subject1.h5", split="test", metadata_dir=god)) == 3
    with pytest.raises(DataFormatError, match="not in the GOD image lists"):
        load_kamitani_fmri(tmp_path / "Subject1.h5", split="train", metadata_dir=god)  # synthetic train labels
    with pytest.raises(ValidationError, match="available ROIs"):
        load_kamitani_fmri(tmp_path / "Subject1.h5", rois=["V5"])
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes((tmp_path / "Subject1.h5").read_bytes()[:3000])
    with pytest.raises(DataFormatError, match="truncated"):
        load_kamitani_fmri(truncated)
    with pytest.raises(MissingDatasetError):
        load_kamitani_fmri(tmp_path / "absent.h5")


def test_convert_shen_files_by_name_and_god_file_by_datatype(tmp_path) -> None:
    labels = imagenet_labels(5)
    voxels, trial_labels = write_shen_file(tmp_path / "sub-02_perceptionNaturalImageTest_original_VC.h5", labels, reps=3)
    written = convert_kamitani(tmp_path / "sub-02_perceptionNaturalImageTest_original_VC.h5", tmp_path / "out")
    assert [p.name for p in written] == ["test.npz"]
    test = Responses.load(written[0])
    assert test.subject == "sub-02" and test.data.shape == (5, 3, 28) and test.n_repetitions == 3
    assert sorted(test.rois) == ["LOC", "V1", "V2", "V3", "V4", "VC"]  # ROI_hV4 is V4; FFA not kept
    np.testing.assert_array_equal(test.rois["V4"], np.arange(16, 20))
    assert test.stimulus_ids[0] == "n01518878_10042"
    # the three trials of the first image, in file order, every voxel of VC and the ROIs
    rows = np.flatnonzero(trial_labels == labels[0])
    np.testing.assert_allclose(test.data[0], voxels[rows][:, :28], rtol=1e-6)

    write_god_file(tmp_path / "Subject1.h5")
    assert run(["convert-kamitani", str(tmp_path / "Subject1.h5"), "--out", str(tmp_path / "god")]) == 0
    assert sorted(p.name for p in (tmp_path / "god").glob("*.npz")) == ["test.npz", "train.npz"]
    assert Responses.load(tmp_path / "god" / "test.npz").data.shape == (3, 5, 48)


def test_convert_names_the_missing_roi_or_split_and_writes_nothing(tmp_path) -> None:
    write_shen_file(tmp_path / "sub-01_perceptionNaturalImageTraining_original_VC.h5", imagenet_labels(4), reps=2,
                    rois={"V1": (0, 6), "V2": (6, 12)})
    with pytest.raises(ValidationError, match=r"ROI 'V3' is not in .*sub-01_perception.*available ROIs: \['V1', 'V2', 'VC'\]"):
        convert_kamitani(tmp_path / "sub-01_perceptionNaturalImageTraining_original_VC.h5", tmp_path / "out")
    assert run(["convert-kamitani", str(tmp_path / "sub-01_perceptionNaturalImageTraining_original_VC.h5"),
                "--out", str(tmp_path / "out"), "--roi", "V1", "--roi", "V7"]) == 2
    assert not (tmp_path / "out").exists()
    (tmp_path / "sub-01_perceptionNaturalImageTraining_original_VC.h5").rename(tmp_path / "sub-01.h5")
    with pytest.raises(ValidationError, match="--split train"):
        convert_kamitani(tmp_path / "sub-01.h5", tmp_path / "out", rois=["V1"])
    assert [p.name for p in convert_kamitani(tmp_path / "sub-01.h5", tmp_path / "out", split="train", rois=["V1"])] == [
        "train.npz"]


def test_a_subjects_training_and_test_files_convert_together(tmp_path) -> None:
    names = [tmp_path / f"sub-03_perceptionNaturalImage{split}_original_VC.h5" for split in ("Training", "Test")]
    write_shen_file(names[0], imagenet_labels(6), reps=5)
    write_shen_file(names[1], imagenet_labels(2, start=1443537.022563), reps=24, seed=1)
    assert run(["convert-kamitani", *map(str, names), "--out", str(tmp_path / "sub-03")]) == 0
    train, test = (Responses.load(tmp_path / "sub-03" / f"{split}.npz") for split in ("train", "test"))
    assert (train.data.shape, test.data.shape, train.subject) == ((6, 5, 28), (2, 24, 28), "sub-03")
    with pytest.raises(ValidationError, match="both give the train split"):
        convert_kamitani([names[0], names[0]], tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_convert_names_a_missing_label_field_and_writes_nothing(tmp_path, capsys) -> None:
    path = tmp_path / "sub-01_perceptionNaturalImageTest_original_VC.h5"
    voxels = np.random.default_rng(0).normal(size=(6, N_VOXELS))
    bdata = bdpy.BData()
    bdata.add(voxels, "VoxelData")
    vc = np.full(N_VOXELS, np.nan)
    vc[:48] = 1
    bdata.add_metadata("ROI_VC", vc, "1 = visual cortex voxel", where="VoxelData")
    bdata.add(np.arange(6, dtype=float)[:, None], "Run")  # no stimulus_id / Label column
    bdata.save(str(path))
    assert run(["convert-kamitani", str(path), "--out", str(tmp_path / "out"), "--roi", "VC"]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error and str(path) in error.replace("\n", "")
    assert "no stimulus label column" in error and "'stimulus_id', 'Label'" in error
    assert not (tmp_path / "out").exists()
