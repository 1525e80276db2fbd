"""`brainalign features`: seeded random models with a warning, spatial pooling, provenance in features.json;
`brainalign models --layers`: a model's layers with output shapes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brainalign.cli import run
from brainalign.measure.features import load_features, pool_outputs


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for index, pixels in enumerate(np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)):
        Image.fromarray(pixels).save(folder / f"img{index}.png")
    return folder


def test_random_model_is_seeded_recorded_and_warned(tmp_path: Path, images: Path, capsys) -> None:
    outputs = []
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        out = tmp_path / name
        assert run(["features", "cornet_z", str(images), "--out", str(out), "--layers", "IT", "--image-size", "32",
                    "--seed", seed]) == 0
        outputs.append(np.asarray(load_features(out)["IT"]))
    assert "warning: cornet_z has random weights (initialised with seed 1)" in " ".join(capsys.readouterr().err.split())
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.allclose(outputs[0], outputs[2])
    provenance = json.loads((tmp_path / "c" / "features.json").read_text())["provenance"]
    assert {key: provenance[key] for key in ("model", "architecture", "weights", "weights_sha256", "seed",
                                             "image_size", "layers", "pool", "brainalign_version")} == {
        "model": "cornet_z", "architecture": "cornet_z", "weights": None, "weights_sha256": None, "seed": 1,
        "image_size": 32, "layers": ["IT"], "pool": "none", "brainalign_version": "0.1.0"}
    assert provenance["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_pooling_shrinks_spatial_maps(tmp_path: Path, images: Path) -> None:
    assert run(["features", "cornet_z", str(images), "--out", str(tmp_path / "full"), "--layers", "V1,IT",
                "--image-size", "32"]) == 0
    assert run(["features", "cornet_z", str(images), "--out", str(tmp_path / "avg"), "--layers", "V1,IT",
                "--image-size", "32", "--pool", "avg", "--pool-size", "2"]) == 0
    full, pooled = load_features(tmp_path / "full"), load_features(tmp_path / "avg")
    assert full["V1"].shape == (3, 64 * 8 * 8) and pooled["V1"].shape == (3, 64 * 2 * 2)
    maps = torch.from_numpy(np.array(full["V1"])).reshape(3, 64, 8, 8)
    np.testing.assert_allclose(pooled["V1"], maps.reshape(3, 64, 2, 4, 2, 4).mean(dim=(3, 5)).reshape(3, -1),
                               rtol=1e-5, atol=1e-6)  # 2 x 2 windows of 4 x 4 positions
    assert json.loads((tmp_path / "avg" / "features.json").read_text())["provenance"]["pool_size"] == 2
    assert torch.equal(pool_outputs(maps, "max", 1).flatten(1), maps.flatten(2).max(dim=2).values)
    assert run(["features", "cornet_z", str(images), "--out", str(tmp_path / "x"), "--pool", "median"]) == 2


def test_models_lists_layers_with_output_shapes(capsys) -> None:
    assert run(["models", "--layers", "cornet_z", "--image-size", "64"]) == 0
    lines = {line[2:].split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert list(lines)[:3] == ["V1", "V1.conv", "V1.nonlin"]  # parents before their parts
    assert lines["V1"].startswith("*") and "(64, 16, 16)" in lines["V1"] and "16,384" in lines["V1"]
    assert "Conv2d" in lines["V1.conv"] and "(1000,)" in lines["decoder.linear"]
    assert run(["models", "--layers", "resnet_999"]) == 2
