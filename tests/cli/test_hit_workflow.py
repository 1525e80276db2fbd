"""Done-when of the researcher workflow: a demo-style aligned model (a sweep's run folder beside its pre-trained
base) goes through `features` -> `rdm` -> `rsa` against the 92-image human IT RDMs (Kriegeskorte et al. 2008),
with the model's provenance recorded in features.json and in the RDM file."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from brainalign.align import run_sweep
from brainalign.cli import run
from brainalign.data import RDMs

TINY = {"n_subjects": 1, "n_train_categories": 3, "n_test_categories": 2, "train_per_category": 4,
        "test_per_category": 3, "pretrain_per_category": 4, "image_size": 32}


@pytest.mark.slow
@pytest.mark.shared_data
def test_aligned_run_folder_to_rsa_on_92_images(shared_data, tmp_path, capsys, monkeypatch) -> None:
    hit = shared_data / "kriegeskorte2008_92images"
    run_dir = run_sweep({"out_dir": str(tmp_path / "sweep"), "train": {
        "model": {"name": "cornet_z", "pretrain": {"epochs": 1, "batch_size": 8}},
        "data": {"simulate": TINY, "image_size": 32}, "training": {"epochs": 1, "batch_size": 6}, "progress": False,
    }})[0]
    features, rdms_file, rsa_dir = tmp_path / "features", tmp_path / "model_rdms.npz", tmp_path / "rsa"
    monkeypatch.chdir(tmp_path)  # a relative run folder: the provenance records the weights' absolute path
    assert run(["features", str(run_dir.relative_to(tmp_path)), str(hit / "images"), "--out", str(features), "--layers",
                "V4,IT"]) == 0  # at the image size the model was trained at (32 px), recorded with its checkpoint
    assert "image size 32 px: the size the model was trained at" in capsys.readouterr().err
    assert run(["rdm", str(features), "--out", str(rdms_file)]) == 0
    assert run(["rsa", str(rdms_file), str(hit / "rdms_92.npz"), "--key", "hIT_subject_session",
                "--order", str(hit / "stimuli.csv"), "--out", str(rsa_dir)]) == 0
    assert "warning" not in capsys.readouterr().err  # trained weights; the RDMs' rows named by --order

    checkpoint = run_dir / "checkpoints" / "epoch_001" / "model.safetensors"
    provenance = json.loads((features / "features.json").read_text())["provenance"]
    assert {key: provenance[key] for key in ("model", "spec", "architecture", "weights", "epoch", "seed",
                                             "image_size", "layers")} == {
        "model": run_dir.name, "spec": str(run_dir.relative_to(tmp_path)), "architecture": "cornet_z",
        "weights": str(checkpoint.resolve()), "epoch": 1, "seed": None, "image_size": 32, "layers": ["V4", "IT"]}
    assert provenance["weights_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    model_rdms = RDMs.load(rdms_file)
    assert model_rdms.provenance is not None and model_rdms.provenance.to_dict() == provenance
    assert model_rdms.dissimilarity_measure == "correlation" and list(model_rdms.descriptors["layer"]) == ["V4", "IT"]
    assert model_rdms.stimulus_ids[:2] == ["img_01", "img_02"] and model_rdms.n_stimuli == 92
    table = pd.read_csv(rsa_dir / "rsa.csv")
    assert len(table) == 2 * 8 and table["similarity"].between(-1, 1).all()

    base = tmp_path / "sweep" / "base" / "model.safetensors"  # the demo's base model (3 classes) as --weights
    assert run(["features", "cornet_z", str(hit / "images"), "--weights", str(base), "--out", str(tmp_path / "base"),
                "--layers", "IT"]) == 0
    base_provenance = json.loads((tmp_path / "base" / "features.json").read_text())["provenance"]
    assert base_provenance["weights"] == str(base.resolve()) and base_provenance["image_size"] == 32
