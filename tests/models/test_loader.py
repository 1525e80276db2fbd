"""`brainalign.models.load`: one loader for a name (+ weights), known weights, a model file, a folder
holding one, and a run folder (+ epoch), with a record of what was loaded; and `brainalign features`
on each of them."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brainalign.cli import run
from brainalign.errors import ValidationError, WeightsError
from brainalign.models import cornet_z, load, save_model_file, save_weights


def _run_folder(root: Path, epochs: int = 2, num_classes: int = 4) -> tuple[Path, list[torch.nn.Module]]:
    """A training run's layout: checkpoints/epoch_NNN/{model,head}.safetensors + state.pt per epoch."""
    models = []
    for epoch in range(1, epochs + 1):
        torch.manual_seed(epoch)
        model = cornet_z(num_classes=num_classes)
        folder = root / "checkpoints" / f"epoch_{epoch:03d}"
        save_model_file(model, folder / "model.safetensors", "cornet_z")
        for placeholder in ("head.safetensors", "state.pt"):  # a complete checkpoint has all three files
            (folder / placeholder).write_bytes(b"")
        models.append(model)
    return root, models


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_name_alone_is_random_seeded_and_records_it() -> None:
    model, source = load("cornet_z")
    assert not model.training and model.num_classes == 1000
    assert source.to_dict() == {"spec": "cornet_z", "kind": "name", "name": "cornet_z", "weights": None,
                                "epoch": None, "num_classes": 1000, "label": "cornet_z", "weights_sha256": None,
                                "seed": 0, "image_size": None}
    assert source.random_weights
    state = torch.random.get_rng_state()
    assert _same_weights(model, load("cornet_z").model)  # seeded: the same spec gives the same model
    assert not _same_weights(model, load("cornet_z", seed=1).model)
    assert torch.equal(state, torch.random.get_rng_state())  # the global random state is left alone


def test_weights_file_sets_the_classes_of_its_head(tmp_path: Path) -> None:
    trained = cornet_z(num_classes=7)
    weights = save_weights(trained, tmp_path / "small.safetensors")  # plain weights: no architecture inside
    model, source = load("cornet_z", weights=weights)
    assert model.num_classes == 7 and _same_weights(model, trained)
    assert (source.label, source.weights) == ("cornet_z+small", str(weights))
    assert source.weights_sha256 == hashlib.sha256(weights.read_bytes()).hexdigest() and source.seed is None
    assert not source.random_weights
    fresh_head, _ = load("cornet_z", weights=weights, num_classes=3)  # a new task keeps a fresh head
    assert fresh_head.num_classes == 3 and torch.equal(fresh_head.V1.conv.weight, trained.V1.conv.weight)
    with pytest.raises(ValidationError, match="does not name its architecture"):
        load(weights)


def test_model_file_alone_as_weights_or_in_its_folder(tmp_path: Path) -> None:
    base = cornet_z(num_classes=5)
    file = save_model_file(base, tmp_path / "base" / "model.safetensors", "cornet_z")
    for spec, weights in ((file, None), (tmp_path / "base", None), ("cornet_z", file)):
        model, source = load(spec, weights=weights)
        assert model.num_classes == 5 and _same_weights(model, base)
        assert source.weights == str(file) and source.name == "cornet_z"
    assert load(file).source.label == "base"  # RUN/base/model.safetensors -> base
    with pytest.raises(ValidationError, match="model file of 'cornet_z', not 'cornet_s'"):
        load("cornet_s", weights=file)
    with pytest.raises(ValidationError, match="holds its own weights"):
        load(file, weights=file)


def test_run_folder_last_or_chosen_epoch(tmp_path: Path) -> None:
    run_dir, models = _run_folder(tmp_path / "aligned_seed0")
    model, source = load(run_dir)
    assert _same_weights(model, models[-1]) and (source.kind, source.epoch, source.label) == ("run", 2, "aligned_seed0")
    assert source.seed is None and source.weights_sha256 == hashlib.sha256(Path(source.weights).read_bytes()).hexdigest()
    model, source = load(run_dir, epoch=1)
    assert _same_weights(model, models[0]) and source.label == "aligned_seed0@epoch1"
    with pytest.raises(WeightsError, match=r"no checkpoint for epoch 9; available epochs: \[1, 2\]"):
        load(run_dir, epoch=9)
    with pytest.raises(ValidationError, match="not a training run folder"):
        load("cornet_z", epoch=1)


def test_the_training_image_size_comes_from_the_model_file_or_the_runs_config(tmp_path: Path) -> None:
    """A model file written with its training image size records it; a run folder of files written before
    that has it in its config.yaml; a model name or an unrecorded file has none (features default to 224)."""
    file = save_model_file(cornet_z(num_classes=3), tmp_path / "base" / "model.safetensors", "cornet_z",
                           image_size=48)
    assert load(file).source.image_size == 48 and load("cornet_z", weights=file).source.image_size == 48
    run_dir, _ = _run_folder(tmp_path / "aligned_seed0")
    assert load(run_dir).source.image_size is None  # no metadata, no config
    (run_dir / "config.yaml").write_text("model:\n  name: cornet_z\ndata:\n  image_size: 32\n", encoding="utf-8")
    assert load(run_dir).source.image_size == 32 and load(run_dir, epoch=1).source.image_size == 32
    assert load("cornet_z").source.image_size is None


def test_unknown_specs_say_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown model 'resnet_999'.*known weights.*run folder"):
        load("resnet_999")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="neither a training run"):
        load(tmp_path / "empty")
    with pytest.raises(ValidationError, match="device 'tpu'"):
        load("cornet_z", device="tpu")


def test_features_command_takes_run_folders_model_files_and_the_base_as_weights(tmp_path: Path) -> None:
    from brainalign.data import Stimuli
    from brainalign.measure.features import extract, load_features

    images = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    folder = tmp_path / "images"
    folder.mkdir()
    for index, pixels in enumerate(images):
        Image.fromarray(pixels).save(folder / f"img{index}.png")
    run_dir, models = _run_folder(tmp_path / "run")
    base_file = save_model_file(models[0], run_dir / "base" / "model.safetensors", "cornet_z")
    stimuli = Stimuli.from_folder(folder)
    expected = {epoch: extract(model, stimuli, ["IT"], image_size=32, progress=False)["IT"]
                for epoch, model in zip((1, 2), models)}
    cases = [([str(run_dir)], 2), ([str(run_dir), "--epoch", "1"], 1), ([str(base_file)], 1),
             (["cornet_z", "--weights", str(base_file)], 1)]  # the demo's base model as --weights
    for number, (spec, epoch) in enumerate(cases):
        out = tmp_path / f"features{number}"
        assert run(["features", *spec, str(folder), "--out", str(out), "--layers", "IT", "--image-size", "32"]) == 0
        np.testing.assert_allclose(load_features(out)["IT"], expected[epoch], rtol=1e-5, atol=1e-6)
    assert run(["features", "cornet_z", str(folder), "--out", str(tmp_path / "x"), "--epoch", "1"]) == 2


def test_image_size_for_several_models(capsys) -> None:
    """--image-size wins; one recorded training size is used and said; models that disagree (or one that records
    none) get the default, with a warning when two recorded sizes differ."""
    from dataclasses import replace

    from brainalign.cli.features_cmd import DEFAULT_IMAGE_SIZE, image_size_for

    source = load("cornet_z").source
    at32, at48 = replace(source, image_size=32), replace(source, image_size=48)
    assert image_size_for(64, [at32]) == 64 and capsys.readouterr().err == ""
    assert image_size_for(None, [at32, at32]) == 32 and "image size 32 px" in capsys.readouterr().err
    assert image_size_for(None, [at32, source]) == DEFAULT_IMAGE_SIZE and capsys.readouterr().err == ""
    assert image_size_for(None, [at32, at48]) == DEFAULT_IMAGE_SIZE
    assert "trained at different image sizes ([32, 48])" in capsys.readouterr().err
