"""The data CLI: clean errors (exit 2, no traceback, nothing written) and working commands."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from brainalign.cli import run
from brainalign.data import Responses, Stimuli


def test_simulate_writes_files_and_refuses_to_overwrite(tmp_path, capsys) -> None:
    out = tmp_path / "sim"
    small = ["--subjects", "1", "--image-size", "32", "--train-per-category", "2", "--test-per-category", "3",
             "--pretrain-per-category", "1", "--val-per-category", "2"]
    assert run(["simulate", "--out", str(out), *small]) == 0
    assert "32 train / 24 test / 16 pretraining / 32 held-out labelled" in capsys.readouterr().out
    responses = Responses.load(out / "responses" / "sub-01_test.npz")
    assert responses.match_stimuli(Stimuli.from_csv(out / "test_stimuli.csv")).data.shape == (24, 20, 17, 20)
    classes = json.loads((out / "classes.json").read_text())
    pretrain = pd.read_csv(out / "pretrain_stimuli.csv")
    assert len(classes) == 16
    assert all(classes[label] == concept for label, concept in zip(pretrain["label"], pretrain["concept"]))
    assert run(["simulate", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_bad_input_is_one_clean_message(tmp_path, capsys) -> None:
    assert run(["simulate", "--out", str(tmp_path / "x"), "--modality", "meg"]) == 2
    assert run(["fetch", "imagenet", "--cache", str(tmp_path / "cache")]) == 2
    assert run(["fetch", "things_eeg2_preprocessed", "--cache", str(tmp_path / "cache")]) == 2
    (tmp_path / "cut.npy").write_bytes(b"\x93NUMPY\x01\x00")
    assert run(["rdms", str(tmp_path / "cut.npy")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "known sources" in err and "osf.io/3jk45" in err and "truncated" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.npy"]  # nothing else written


def test_untrusted_things_eeg2_and_rdm_listing(tmp_path, capsys) -> None:
    (tmp_path / "eeg" / "preprocessed_data" / "sub-01").mkdir(parents=True)
    np.save(tmp_path / "eeg" / "preprocessed_data" / "sub-01" / "preprocessed_eeg_training.npy", {"x": 1})
    np.save(tmp_path / "eeg" / "image_metadata.npy", {"x": 1})
    assert run(["convert-things-eeg2", str(tmp_path / "eeg"), "--out", str(tmp_path / "safe")]) == 2
    assert "--trust" in capsys.readouterr().err and not (tmp_path / "safe").exists()
    np.save(tmp_path / "r.npy", 1 - np.eye(4))
    assert run(["rdms", str(tmp_path / "r.npy")]) == 0
    assert "r: 4 x 4, mean dissimilarity 1.0000" in capsys.readouterr().out
    assert run(["fetch", "--list"]) == 0
    assert "cornet_s" in capsys.readouterr().out
