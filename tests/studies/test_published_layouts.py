"""End to end on miniature files in the exact published layouts, through the shipped study configs.

The THINGS-EEG2 tree (pickled ``preprocessed_eeg_*.npy`` dicts, ``image_set``) and the Shen 2019 bdpy
files are written by the tests (``published_layouts.py``), converted with ``brainalign convert-things-eeg2``
and ``brainalign convert-kamitani``, and the configs in ``configs/`` are run with only their paths and
sizes overridden (tiny model, 32 px, 1 epoch). Asserted: the papers' targets (340 = 17 O/P channels x
0, 10, ..., 190 ms; PCA of VC fitted on training images only), raw evaluation patterns, and one clear
error that writes nothing for each bad layout.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from published_layouts import (
    THINGS_TIMES,
    imagenet_labels,
    write_imagenet_images,
    write_shen_file,
    write_things_eeg2,
)

from brainalign.align.config import DataConfig
from brainalign.align.data import load_alignment_data
from brainalign.align.targets import load_target_transform
from brainalign.cli import run
from brainalign.data import Stimuli
from brainalign.data.channels import THINGS_EEG2_CHANNELS
from brainalign.data.kamitani import imagenet_id
from brainalign.errors import BrainAlignError
from brainalign.studies import evaluate as ev
from brainalign.studies import run_study
from brainalign.studies.analyses.cross import cross_targets
from brainalign.studies.config import parse_study_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
N_TRAIN, N_TEST = 8, 4
SHEN_TRAIN, SHEN_TEST = imagenet_labels(12), imagenet_labels(4, start=1443537.022563)


def shipped(name: str, trees: dict[str, Path]) -> dict[str, Any]:
    """A shipped config with the data paths pointed at the miniature trees (``data/things_eeg2`` ->
    ``trees["things_eeg2"]``, likewise ``shen2019``, ``imagenet``) and the CORnet-S weights dropped."""
    text = (CONFIGS / name).read_text()
    for name_in_config, folder in trees.items():
        text = text.replace(f"data/{name_in_config}", str(folder))
    raw = yaml.safe_load(text)
    raw["datasets"] = [entry for entry in raw["datasets"] if "cornet" not in entry["path"]]
    return raw


def small(raw: dict[str, Any], out_dir: Path, **alignment: Any) -> dict[str, Any]:
    """Sizes overridden: one subject, one beta, no controls, one seed, CORnet-Z at 32 px, one epoch."""
    raw["out_dir"] = str(out_dir)
    raw["alignment"].update({"subjects": ["sub-01"], "controls": ["none"], "seeds": [0], **alignment})
    train = raw["alignment"]["train"]
    train["model"] = {"name": "cornet_z"}
    train["data"]["image_size"] = 32
    train["training"].update({"epochs": 1, "batch_size": 4})
    raw["evaluation"].update({"image_size": 32, "permutations": 100})
    if raw["evaluation"].get("robustness"):
        raw["evaluation"]["robustness"]["epsilons"] = raw["evaluation"]["robustness"]["epsilons"][::6]  # 0 and 0.06
    for cross in raw.get("cross_evaluation", []):
        cross.update({"subjects": ["sub-01"], "image_size": 32})
    return raw


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Any]:
    """Both datasets in their published layouts, converted with the CLI, plus an ImageNet-style val tree."""
    root = tmp_path_factory.mktemp("published")
    things = root / "things_eeg2"
    arrays = write_things_eeg2(things, n_train=N_TRAIN, n_test=N_TEST, train_reps=4, test_reps=80)["sub-01"]
    assert run(["convert-things-eeg2", str(things), "--out", str(things / "converted"), "-s", "1", "--trust"]) == 0
    shen = root / "shen2019"
    shen_train = write_shen_file(shen / "sub-01_perceptionNaturalImageTraining_original_VC.h5", SHEN_TRAIN, reps=5)
    shen_test = write_shen_file(shen / "sub-01_perceptionNaturalImageTest_original_VC.h5", SHEN_TEST, reps=24, seed=1)
    assert run(["convert-kamitani", *(str(shen / f"sub-01_perceptionNaturalImage{split}_original_VC.h5")
                                      for split in ("Training", "Test")), "--out", str(shen / "converted" / "sub-01")]) == 0
    write_imagenet_images(shen / "images" / "training", [imagenet_id(label) for label in SHEN_TRAIN])
    write_imagenet_images(shen / "images" / "test", [imagenet_id(label) for label in SHEN_TEST])
    imagenet = root / "imagenet"
    for synset in ("n01440764", "n01443537"):
        write_imagenet_images(imagenet / "val" / synset, [f"ILSVRC2012_val_{synset}_{i}" for i in range(2)])
    (imagenet / "imagenet_class_index.json").write_text(json.dumps({"0": ["n01440764", "tench"],
                                                                      "1": ["n01443537", "goldfish"]}))
    return {"paths": {"things_eeg2": things, "shen2019": shen, "imagenet": imagenet},
            "eeg": arrays, "shen_train": shen_train, "shen_test": shen_test, "root": root}


def realnet_eeg_target(data: np.ndarray, ids: list[str], order: list[str]) -> np.ndarray:
    """What ReAlnet trains on, computed here from the published array: the 17 O/P channels at samples
    0, 10, ..., 190 ms, repetitions averaged, rows in ``order``; (n, 17, 20), not standardised."""
    file_channels = [*reversed(THINGS_EEG2_CHANNELS), "Fz", "Cz"]  # the miniature file's channel order
    samples = np.flatnonzero((THINGS_TIMES >= 0) & (THINGS_TIMES < 0.2))
    assert np.allclose(THINGS_TIMES[samples] * 1000, np.arange(0, 200, 10))
    pattern = data[:, :, [file_channels.index(name) for name in THINGS_EEG2_CHANNELS]][..., samples].mean(1)
    return pattern[[ids.index(stimulus_id) for stimulus_id in order]]


@pytest.mark.parametrize("name", ["realnet_eeg.yaml", "finetune_trajectory.yaml"])
def test_eeg_configs_train_on_340_values_from_the_published_tree(trees, name) -> None:
    section = shipped(name, trees["paths"])["alignment"]["train"]["data"]
    data = load_alignment_data(DataConfig.model_validate({**section, "subject": "sub-01"}))
    ids = Stimuli.from_folder(trees["paths"]["things_eeg2"] / "image_set" / "training_images").ids
    assert data.train_targets.shape == (N_TRAIN, 340) and data.train_stimuli.ids == ids
    assert data.target.axes.channels == list(THINGS_EEG2_CHANNELS)
    np.testing.assert_allclose(data.target.axes.times * 1000, np.arange(0, 200, 10), atol=1e-6)
    metadata = np.load(trees["paths"]["things_eeg2"] / "image_set" / "image_metadata.npy", allow_pickle=True).item()
    file_ids = [f"{c}/{Path(f).stem}" for c, f in zip(metadata["train_img_concepts"], metadata["train_img_files"])]
    expected = realnet_eeg_target(trees["eeg"]["training"], file_ids, ids).reshape(N_TRAIN, 340)
    mean, std = expected.mean(0), expected.std(0)  # z-scored over the training images
    np.testing.assert_allclose(data.train_targets, (expected - mean) / std, rtol=1e-4, atol=1e-4)
    test_ids = [f"{c}/{Path(f).stem}" for c, f in zip(metadata["test_img_concepts"], metadata["test_img_files"])]
    raw_test = realnet_eeg_target(trees["eeg"]["test"], test_ids, data.test_stimuli.ids).reshape(N_TEST, 340)
    np.testing.assert_allclose(data.test_targets, (raw_test - mean) / std, rtol=1e-4, atol=1e-4)
    # evaluation sees the recorded trials, unstandardised
    assert data.test_responses.n_repetitions == 80
    np.testing.assert_allclose(data.target.pattern(data.test_responses).flatten(), raw_test, rtol=1e-5, atol=1e-6)


def test_fmri_config_gives_1024_pca_dimensions_fitted_on_training_images(tmp_path) -> None:
    labels = imagenet_labels(1030)
    shen = tmp_path / "shen2019"
    voxels, trial_labels = write_shen_file(shen / "sub-01_perceptionNaturalImageTraining_original_VC.h5", labels,
                                           reps=2, n_voxels=1042)
    write_shen_file(shen / "sub-01_perceptionNaturalImageTest_original_VC.h5", SHEN_TEST, reps=3, n_voxels=1042, seed=1)
    assert run(["convert-kamitani", *(str(shen / f"sub-01_perceptionNaturalImage{split}_original_VC.h5")
                                      for split in ("Training", "Test")), "--out", str(shen / "converted" / "sub-01")]) == 0
    write_imagenet_images(shen / "images" / "training", [imagenet_id(label) for label in labels], image_size=8)
    write_imagenet_images(shen / "images" / "test", [imagenet_id(label) for label in SHEN_TEST], image_size=8)
    section = shipped("realnet_fmri.yaml", {"shen2019": shen})["alignment"]["train"]["data"]
    data = load_alignment_data(DataConfig.model_validate({**section, "subject": "sub-01"}))
    assert data.train_targets.shape == (1030, 1024) and data.test_targets.shape == (len(SHEN_TEST), 1024)
    assert data.target.axes.roi == "VC" and data.target.axes.feature_shape == (1040,)
    # the PCA is centred on the training images' VC patterns: held-out images never enter the fit
    unique, image_of_trial = np.unique(trial_labels, return_inverse=True)
    per_image = np.zeros((len(unique), 1040))
    np.add.at(per_image, image_of_trial, voxels[:, :1040])
    training_mean = (per_image / np.bincount(image_of_trial)[:, None]).mean(0)  # mean of repetition averages
    np.testing.assert_allclose(data.target.pca_mean, training_mean, rtol=1e-5, atol=1e-6)
    assert set(data.target.fitted_on["stimulus_ids"]) == {imagenet_id(label) for label in labels}
    assert not set(data.target.fitted_on["stimulus_ids"]) & set(data.test_stimuli.ids)


def correlation_rdm(patterns: np.ndarray) -> np.ndarray:
    """Condensed 1 - Pearson r between the rows of ``patterns`` (n, features)."""
    return (1 - np.corrcoef(patterns.reshape(len(patterns), -1)))[np.triu_indices(len(patterns), k=1)]


def shen_averaged(voxels: np.ndarray, trial_labels: np.ndarray, ids: list[str], columns: slice) -> np.ndarray:
    """The written Shen file's voxels ``columns``, repetitions averaged, rows in the order of ``ids``."""
    return np.stack([voxels[np.array([imagenet_id(label) for label in trial_labels]) == stimulus_id][:, columns].mean(0)
                     for stimulus_id in ids])


def test_evaluation_rdms_come_from_raw_repetition_averaged_patterns(trees) -> None:
    """Within and across datasets, the neural RDMs are those of the recorded patterns averaged over
    repetitions, never of the z-scored or PCA training targets (which give other RDMs)."""
    raw = shipped("realnet_fmri.yaml", trees["paths"])
    raw["alignment"]["train"]["data"]["target"]["pca_components"] = 8
    fmri = parse_study_config(raw)
    held = ev.held_out(fmri.alignment.train.data, "sub-01")
    rdms = ev.neural_targets(held, fmri.evaluation)
    ids = held.trials.stimulus_ids
    voxels, labels = trees["shen_test"]
    for roi, (start, stop) in {"V1": (0, 6), "V3": (12, 16), "LOC": (20, 26)}.items():
        expected = correlation_rdm(shen_averaged(voxels, labels, ids, slice(start, stop)))
        np.testing.assert_allclose(rdms["rois"].select(roi=roi).dissimilarities[0], expected, rtol=1e-5, atol=1e-6)
    vc = correlation_rdm(shen_averaged(voxels, labels, ids, slice(0, 28)))  # whole: raw VC, not its 8 components
    np.testing.assert_allclose(rdms["whole"].dissimilarities[0], vc, rtol=1e-5, atol=1e-6)
    assert not np.allclose(correlation_rdm(held.data.test_targets), vc, atol=1e-3)

    raw = shipped("realnet_eeg.yaml", trees["paths"])
    raw["evaluation"]["timecourse_rdm"] = "correlation"
    raw["cross_evaluation"][0]["subjects"] = ["sub-01"]
    eeg = parse_study_config(raw)
    held = ev.held_out(eeg.alignment.train.data, "sub-01")
    rdms = ev.neural_targets(held, eeg.evaluation)
    metadata = np.load(trees["paths"]["things_eeg2"] / "image_set" / "image_metadata.npy", allow_pickle=True).item()
    test_ids = [f"{c}/{Path(f).stem}" for c, f in zip(metadata["test_img_concepts"], metadata["test_img_files"])]
    pattern = realnet_eeg_target(trees["eeg"]["test"], test_ids, held.trials.stimulus_ids)  # (n, 17, 20) raw
    np.testing.assert_allclose(rdms["whole"].dissimilarities[0], correlation_rdm(pattern), rtol=1e-5, atol=1e-6)
    assert not np.allclose(correlation_rdm(held.data.test_targets), correlation_rdm(pattern), atol=1e-3)
    at_100ms = rdms["times"].select(time_index=30)  # -0.2 s + 30 samples = 100 ms
    assert at_100ms.descriptors["time"].item() == pytest.approx(0.1)
    np.testing.assert_allclose(at_100ms.dissimilarities[0], correlation_rdm(pattern[..., 10]), rtol=1e-5, atol=1e-6)

    stimuli, cross = cross_targets(eeg.cross_evaluation[0], eeg.evaluation, eeg.alignment.train.data)
    expected = correlation_rdm(shen_averaged(voxels, labels, stimuli.ids, slice(16, 20)))  # hV4 -> V4
    np.testing.assert_allclose(cross["sub-01"].select(roi="V4").dissimilarities[0], expected, rtol=1e-5, atol=1e-6)


def _trained_run(study_dir: Path) -> Path:
    return next((study_dir / "alignment" / "sub-01").iterdir())


def test_realnet_eeg_study_end_to_end(trees, tmp_path) -> None:
    raw = small(shipped("realnet_eeg.yaml", trees["paths"]), tmp_path / "study", betas=[10.0])
    study = run_study(raw, progress=False)
    target = load_target_transform(_trained_run(study))
    assert target.n_targets == 340 and target.axes.channels == list(THINGS_EEG2_CHANNELS)
    test_ids = Stimuli.from_folder(trees["paths"]["things_eeg2"] / "image_set" / "test_images").ids
    assert len(target.fitted_on["stimulus_ids"]) == N_TRAIN and not set(target.fitted_on["stimulus_ids"]) & set(test_ids)
    courses = pd.read_csv(study / "results" / "rsa_timecourses.csv")
    np.testing.assert_allclose(np.sort(courses["time"].unique()), THINGS_TIMES, atol=1e-6)  # whole epoch, from trials
    similarity = pd.read_csv(study / "results" / "similarity.csv")
    assert set(similarity["model"]) == {"base", "aligned"}
    cross = pd.read_csv(study / "results" / "cross_similarity.csv")
    assert set(cross["target"]) == {"V1", "V2", "V3", "V4", "LOC"} and set(cross["dataset"]) == {"shen2019"}
    assert set(pd.read_csv(study / "results" / "robustness.csv")["eps"]) == set(raw["evaluation"]["robustness"]["epsilons"])
    with np.load(study / "results" / "predictions.npz") as predictions:  # recorded = raw averaged pattern
        metadata = np.load(trees["paths"]["things_eeg2"] / "image_set" / "image_metadata.npy", allow_pickle=True).item()
        file_ids = [f"{c}/{Path(f).stem}" for c, f in zip(metadata["test_img_concepts"], metadata["test_img_files"])]
        expected = realnet_eeg_target(trees["eeg"]["test"], file_ids, predictions["stimulus_ids"].tolist())
        np.testing.assert_allclose(predictions["real"], expected, rtol=1e-5, atol=1e-6)
        assert predictions["predicted"].shape == expected.shape


def test_realnet_fmri_study_end_to_end(trees, tmp_path) -> None:
    raw = small(shipped("realnet_fmri.yaml", trees["paths"]), tmp_path / "study", betas=[40.0])
    raw["alignment"]["train"]["data"]["target"]["pca_components"] = 8  # 12 training images
    study = run_study(raw, progress=False)
    target = load_target_transform(_trained_run(study))
    assert target.n_targets == 8 and target.axes.roi == "VC"
    assert sorted(target.fitted_on["stimulus_ids"]) == sorted(imagenet_id(label) for label in SHEN_TRAIN)
    similarity = pd.read_csv(study / "results" / "similarity.csv")
    assert {"V1", "V2", "V3", "V4", "LOC"} <= set(similarity["target"]) and "VC" not in set(similarity["target"])
    cross = pd.read_csv(study / "results" / "cross_timecourses.csv")  # decoding-RDM time courses, not a peak
    assert set(cross["dataset"]) == {"things-eeg2"} and cross["time"].nunique() > 1
    with np.load(study / "results" / "predictions.npz") as predictions:  # PCA predictions mapped back to voxels
        assert predictions["real"].shape[1:] == (28,) and predictions["predicted"].shape == predictions["real"].shape


def test_finetune_trajectory_study_end_to_end(trees, tmp_path) -> None:
    study = run_study(small(shipped("finetune_trajectory.yaml", trees["paths"]), tmp_path / "study"), progress=False)
    assert load_target_transform(_trained_run(study)).n_targets == 340
    assert set(pd.read_csv(study / "results" / "trajectory.csv")["epoch"]) == {0, 1}


def _bad(trees: dict[str, Any], tmp_path: Path, case: str) -> tuple[dict[str, Any], str, str]:
    """A small study config whose data cannot give the target, the words its error must hold (the file and
    the problem) and the fix it must name."""
    paths = dict(trees["paths"])
    if case == "missing channel":
        things = tmp_path / "things_eeg2"
        write_things_eeg2(things, n_train=4, n_test=2, test_reps=2, channels=list(THINGS_EEG2_CHANNELS[:-1]))
        assert run(["convert-things-eeg2", str(things), "--out", str(things / "converted"), "--trust"]) == 0
        paths["things_eeg2"] = things
        return (small(shipped("realnet_eeg.yaml", paths), tmp_path / "out"),
                r"converted/sub-01/train.npz lacks channel\(s\) \['P2'\]", "fix data.target.channels")
    if case == "window outside the epoch":
        raw = small(shipped("realnet_eeg.yaml", paths), tmp_path / "out")
        raw["alignment"]["train"]["data"]["target"]["window"] = [0.7, 0.9]
        return (raw, r"window \[0.7, 0.9\) s lies outside the epoch of data.train_responses .*train.npz",
                "choose a window inside the epoch")
    if case == "fewer images than PCA components":
        return (small(shipped("realnet_fmri.yaml", paths), tmp_path / "out"),
                r"pca_components=1024, but data.train_responses .*sub-01/train.npz gives 12 training images",
                "lower pca_components to <= 12")
    if case == "missing evaluation region":
        raw = small(shipped("realnet_fmri.yaml", paths), tmp_path / "out")
        raw["alignment"]["train"]["data"]["target"]["pca_components"] = 8
        raw["evaluation"]["rois"] = ["V1", "V5"]
        return (raw, r"evaluation.rois: .*sub-01/test.npz has no region\(s\) \['V5'\]",
                "convert it again with these regions")
    things = tmp_path / "things_eeg2"  # mismatched ids: one training image missing from image_set
    write_things_eeg2(things, n_train=4, n_test=2, test_reps=2)
    assert run(["convert-things-eeg2", str(things), "--out", str(things / "converted"), "--trust"]) == 0
    next((things / "image_set" / "training_images").rglob("*.jpg")).unlink()
    paths["things_eeg2"] = things
    return (small(shipped("realnet_eeg.yaml", paths), tmp_path / "out"),
            r"stimulus ids of data.train_responses .*train.npz do not match the images of data.train_stimuli",
            "point data.train_stimuli at the images of these responses")


def _files(*roots: Path) -> dict[Path, int]:
    """Every file under ``roots`` with its modification time (ns): what a refused command must leave alone."""
    return {path: path.stat().st_mtime_ns for root in roots for path in root.rglob("*") if path.is_file()}


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], message: str, fix: str) -> None:
    """The CLI exits with 2 and one error line (no traceback) holding ``message`` and ``fix``."""
    code = run(argv)
    output = capsys.readouterr()
    text = output.out + output.err
    assert code == 2, text
    assert "Traceback" not in text and [line.startswith("error:") for line in text.splitlines()].count(True) == 1, text
    assert re.search(message, text) and fix in text, text


@pytest.mark.parametrize("case", ["missing channel", "window outside the epoch", "fewer images than PCA components",
                                  "mismatched ids", "missing evaluation region"])
def test_bad_layouts_stop_with_one_message_and_write_nothing(trees, tmp_path, capsys, case) -> None:
    raw, message, fix = _bad(trees, tmp_path, case)
    before = _files(trees["root"], tmp_path)
    with pytest.raises(BrainAlignError, match=message) as caught:
        run_study(raw, progress=False)
    assert fix in str(caught.value)
    assert not (tmp_path / "out").exists()
    config = tmp_path / "configs" / "study.yaml"  # outside tmp_path/out; the snapshot ignores it
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(raw))
    _refused(["study", str(config)], capsys, message, fix)  # the CLI: exit 2, one message, no traceback
    if case != "missing evaluation region":  # a training layout: `train` and `sweep` refuse it too
        train = {**raw["alignment"]["train"], "out_dir": str(tmp_path / "out" / "train")}
        train["data"] = {**train["data"], "subject": "sub-01"}
        (config.parent / "train.yaml").write_text(yaml.safe_dump(train))
        _refused(["train", str(config.parent / "train.yaml")], capsys, message, fix)
        sweep = {**raw["alignment"], "out_dir": str(tmp_path / "out" / "sweep")}
        (config.parent / "sweep.yaml").write_text(yaml.safe_dump(sweep))
        _refused(["sweep", str(config.parent / "sweep.yaml")], capsys, message, fix)
    assert not (tmp_path / "out").exists()
    after = _files(trees["root"], tmp_path)
    assert {path: mtime for path, mtime in after.items() if config.parent not in path.parents} == before
