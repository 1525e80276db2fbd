"""Feature extraction: layer activations in stimulus order, in memory or streamed to .npy files; the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from brainalign.cli import run
from brainalign.data import Stimuli
from brainalign.errors import DataFormatError, ValidationError
from brainalign.measure.features import extract, load_features
from brainalign.models import cornet_s, cornet_z, save_weights


@pytest.fixture()
def random_stimuli() -> Stimuli:
    rng = np.random.default_rng(0)
    return Stimuli.from_array(rng.integers(0, 256, size=(5, 40, 40, 3), dtype=np.uint8))


@pytest.mark.slow
def test_cornet_s_four_layers_for_the_92_images(shared_data: Path) -> None:
    """All four CORnet-S areas for the 92 real images, at 64 px to keep the test fast (224 in the papers).

    Rows follow stimulus order: row k equals a forward pass on image k alone.
    """
    stimuli = Stimuli.from_folder(shared_data / "kriegeskorte2008_92images" / "images")
    model = cornet_s().eval()
    features = extract(model, stimuli, batch_size=92, image_size=64, progress=False)
    expected_features = {"V1": 64 * 16 * 16, "V2": 128 * 8 * 8, "V4": 256 * 4 * 4, "IT": 512 * 2 * 2}
    assert {layer: array.shape for layer, array in features.items()} == {
        layer: (92, n) for layer, n in expected_features.items()
    }
    assert all(array.dtype == np.float32 and np.isfinite(array).all() for array in features.values())
    with torch.no_grad():
        _, alone = model.forward_layers(stimuli.load([57], size=64), ["IT"])
    np.testing.assert_allclose(features["IT"][57], alone["IT"].flatten().numpy(), rtol=1e-4, atol=1e-4)
    assert not np.allclose(features["IT"][57], features["IT"][56])


def test_out_dir_streams_to_npy_files(tmp_path: Path, random_stimuli: Stimuli) -> None:
    model = cornet_z().train()
    in_memory = extract(model, random_stimuli, ["V2", "IT"], batch_size=5, image_size=32, progress=False)
    on_disk = extract(model, random_stimuli, ["V2", "IT"], batch_size=2, image_size=32, out_dir=tmp_path, progress=False)
    assert model.training  # mode restored
    for layer in ("V2", "IT"):
        assert isinstance(on_disk[layer], np.memmap)
        np.testing.assert_allclose(on_disk[layer], in_memory[layer], rtol=1e-5, atol=1e-6)
    index = json.loads((tmp_path / "features.json").read_text())
    assert index["stimulus_ids"] == random_stimuli.ids and index["shapes"]["IT"] == [5, 512]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IT.npy", "V2.npy", "features.json"]  # no temp files
    assert load_features(tmp_path).keys() == {"V2", "IT"}
    with pytest.raises(DataFormatError, match="features.json"):
        load_features(tmp_path / "elsewhere")


def test_unknown_layer_lists_the_valid_ones(random_stimuli: Stimuli) -> None:
    with pytest.raises(ValidationError, match=r"'pulvinar'.*\['V1', 'V2', 'V4', 'IT'\]"):
        extract(cornet_z(), random_stimuli, ["pulvinar"], image_size=32)


def test_cli_features_from_csv_with_weights(tmp_path: Path, random_stimuli: Stimuli, capsys) -> None:
    from PIL import Image

    rows = ["id,path"]
    for stimulus_id, pixels in zip(random_stimuli.ids, random_stimuli.load(size=40, normalize=False)):
        Image.fromarray((pixels.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(tmp_path / f"{stimulus_id}.png")
        rows.append(f"s{stimulus_id},{stimulus_id}.png")
    (tmp_path / "stimuli.csv").write_text("\n".join(rows) + "\n")
    model = cornet_z()
    weights = save_weights(model, tmp_path / "z.safetensors")
    out = tmp_path / "features"
    args = ["features", "cornet_z", str(tmp_path / "stimuli.csv"), "--out", str(out), "--layers", "V1,IT",
            "--image-size", "32", "--weights", str(weights)]
    assert run(args) == 0
    assert "IT: 5 stimuli x 512 features" in capsys.readouterr().out
    expected = extract(model, Stimuli.from_folder(tmp_path), ["IT"], image_size=32, progress=False)["IT"]
    np.testing.assert_allclose(load_features(out)["IT"], expected, rtol=1e-5, atol=1e-6)
    assert run(args) == 2  # finished output is not overwritten without --force
    assert "--force" in capsys.readouterr().err
    assert run(args + ["--force", "--layers", "V3"]) == 2
    assert "V3" in capsys.readouterr().err


def test_cli_models_lists_names_and_weights(capsys) -> None:
    assert run(["models"]) == 0
    out = capsys.readouterr().out
    assert "cornet_s, cornet_z, alexnet" in out and "cornet_s-imagenet: https://s3.amazonaws.com" in out
