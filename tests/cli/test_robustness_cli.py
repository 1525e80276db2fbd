"""`brainalign robustness`: model names, weights, run directories, outputs and bad input."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image

from brainalign.cli import run
from brainalign.report.results import read_table

COLOURS = {"0": (220, 30, 30), "1": (30, 200, 40), "2": (20, 40, 210)}


def fake_run(run_dir, num_classes=3):
    """An alignment run directory holding one checkpoint (only the model file matters here)."""
    from brainalign.models.files import save_model_file
    from brainalign.models import cornet_z

    epoch_dir = run_dir / "checkpoints" / "epoch_001"
    save_model_file(cornet_z(num_classes=num_classes), epoch_dir / "model.safetensors", "cornet_z")
    for placeholder in ("head.safetensors", "state.pt"):  # a complete checkpoint has all three files
        (epoch_dir / placeholder).write_bytes(b"")
    return run_dir


@pytest.fixture()
def image_tree(tmp_path):
    """root/<class index>/<image>.png, two images of different sizes per class."""
    root = tmp_path / "images"
    for label, rgb in COLOURS.items():
        (root / label).mkdir(parents=True)
        Image.new("RGB", (40, 40), rgb).save(root / label / "a.png")
        Image.new("RGB", (36, 50), rgb).save(root / label / "b.png")
    return root


def test_model_name_with_weights_and_run_directory_in_one_table(image_tree, tmp_path):
    from brainalign.models.files import save_model_file
    from brainalign.models import cornet_z, save_weights

    torch_weights = tmp_path / "base.safetensors"
    save_weights(cornet_z(num_classes=1000), torch_weights)
    run_dir = fake_run(tmp_path / "aligned_run")
    out = tmp_path / "out"
    args = ["robustness", "--model", "cornet_z", "--weights", str(torch_weights), "--model", str(run_dir),
            "--weights", "-", "--images", str(image_tree), "--eps", "0:0.02:0.01", "--image-size", "32",
            "--out", str(out)]
    assert run(args) == 0
    table = read_table(out / "robustness.csv", "robustness")  # the schema the report reads
    assert table["model"].unique().tolist() == ["cornet_z+base", "aligned_run"]
    assert table["eps"].tolist() == [0.0, 0.01, 0.02] * 2
    assert (table.groupby("model")["top1_aligned"].first() == 0).all()
    assert (out / "robustness.png").stat().st_size > 0 and (out / "robustness.svg").exists()
    assert json.loads((out / "environment.json").read_text())["n_images"] == 6
    assert run(args) == 2  # a finished result is not overwritten without --force
    (out / "notes.txt").write_bytes(b"mine")  # --force below removes only brainalign's files
    base_file = run_dir / "base" / "model.safetensors"  # a model file naming its architecture
    save_model_file(cornet_z(num_classes=3), base_file, "cornet_z")
    assert run(["robustness", "--model", str(base_file), "--images", str(image_tree), "--attack", "pgd", "--steps", "2",
                "--limit", "3", "--eps", "0,0.03", "--image-size", "32", "--out", str(out), "--force"]) == 0
    table = pd.read_csv(out / "robustness.csv")
    assert table["model"].unique().tolist() == ["base"] and table["n_images"].unique().tolist() == [3]
    assert (out / "notes.txt").read_bytes() == b"mine"


def test_bad_input_exits_cleanly(image_tree, tmp_path, capsys):
    base = ["robustness", "--images", str(image_tree), "--out", str(tmp_path / "o"), "--image-size", "32"]
    assert run(base + ["--model", "not_a_model"]) == 2
    assert "unknown model 'not_a_model'" in capsys.readouterr().err
    assert run(base + ["--model", "cornet_z", "--eps", "0:0.1"]) == 2
    assert "--eps" in capsys.readouterr().err
    assert run(base + ["--model", "cornet_z", "--attack", "cw"]) != 0
    assert run(base + ["--model", "cornet_z", "--model", "cornet_s", "--weights", "x.pth"]) == 2
    assert "once per --model" in capsys.readouterr().err
    (image_tree / "7").mkdir()
    Image.new("RGB", (8, 8)).save(image_tree / "7" / "c.png")
    assert run(base + ["--model", str(fake_run(tmp_path / "run"))]) == 2
    assert "label 7 is outside the model's classes 0..2" in capsys.readouterr().err
