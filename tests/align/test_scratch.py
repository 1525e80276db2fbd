"""Training from scratch: the checkpoint schedule, the untrained network at step 0, seeded initialisation,
held-out accuracy per checkpoint, and a killed run that resumes bit-identically."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from brainalign.models.files import checkpoint_dir, checkpoint_epochs
from brainalign.align.config import CheckpointScheduleConfig, ScratchOptimizerConfig
from brainalign.align.scratch import (
    STEP,
    checkpoint_steps,
    initial_model,
    learning_rate,
    load_classification_data,
    train_from_scratch,
)
from brainalign.config import parse_config
from brainalign.align.config import ScratchTrainConfig
from brainalign.errors import ConfigError, RunExistsError
from brainalign.runs import is_finished, read_jsonl

TINY_SIMULATION = {"seed": 0, "n_train_categories": 4, "n_test_categories": 2, "train_per_category": 2,
                   "test_per_category": 5, "pretrain_per_category": 9, "val_per_category": 3, "n_subjects": 2,
                   "image_size": 32}


def tiny_scratch_config(out_dir, seed: int = 0, **schedule) -> dict:
    """4 categories x 9 training images (+ 3 held-out ones), batch 8 -> 4 steps per epoch, CORnet-Z at 32 px."""
    return {
        "out_dir": str(out_dir), "seed": seed, "model": {"name": "cornet_z"},
        "data": {"simulate": TINY_SIMULATION, "image_size": 32},
        "training": {"optimizer": "sgd", "lr": 0.05, "batch_size": 8},
        "schedule": {"epochs": 2, "count": 3, "first": 0.25, **schedule}, "progress": False,
    }


def _weights(run_dir, step):
    return load_file(str(checkpoint_dir(run_dir, step, STEP) / "model.safetensors"))


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def _metrics(run_dir):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in read_jsonl(run_dir / "metrics.jsonl")]


def test_checkpoint_schedule_is_log_spaced_with_step_zero_and_sub_epochs() -> None:
    schedule = CheckpointScheduleConfig(epochs=16, count=5, first=0.125)
    steps = checkpoint_steps(schedule, steps_per_epoch=8)
    # geomspace(0.125, 16, 5) = 0.125, 0.42, 1.41, 4.76, 16 epochs -> steps 1, 3, 11, 38, 128
    assert steps == [0, 1, 3, 11, 38, 128]
    assert checkpoint_steps(CheckpointScheduleConfig(epochs=2, count=4, first=0.1), 2) == [0, 1, 4]  # rounded, once
    assert checkpoint_steps(CheckpointScheduleConfig(epochs=3, count=1, extra=[0.5]), 4) == [0, 2, 12]
    with pytest.raises(ConfigError, match="after the end of training"):
        parse_config(CheckpointScheduleConfig, {"epochs": 1, "first": 2})
    with pytest.raises(ConfigError, match="outside"):
        parse_config(CheckpointScheduleConfig, {"epochs": 1, "extra": [3]})


def test_cosine_learning_rate() -> None:
    settings = ScratchOptimizerConfig(lr=0.2)
    assert learning_rate(settings, 0, 10) == pytest.approx(0.2)
    assert learning_rate(settings, 5, 10) == pytest.approx(0.1)
    assert learning_rate(settings, 9, 10) == pytest.approx(0.1 * (1 + math.cos(math.pi * 0.9)))
    assert learning_rate(ScratchOptimizerConfig(lr=0.2, lr_schedule="constant"), 9, 10) == 0.2


def test_simulated_task_trains_on_pretraining_images_and_holds_out_the_val_set() -> None:
    config = parse_config(ScratchTrainConfig, tiny_scratch_config("unused"))
    data = load_classification_data(config.data)
    assert len(data.train.stimuli) == 36 and len(data.val.stimuli) == 12 and data.num_classes == 4
    assert not set(data.train.stimuli.ids) & set(data.val.stimuli.ids)
    assert np.bincount(data.val.labels).tolist() == [3, 3, 3, 3] and np.bincount(data.train.labels).tolist() == [9] * 4
    no_val = parse_config(ScratchTrainConfig, {"data": {"simulate": {**TINY_SIMULATION, "val_per_category": 0}}})
    with pytest.raises(ConfigError, match="val_per_category is 0"):
        load_classification_data(no_val.data)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One finished tiny run (seed 0) and its config."""
    config = tiny_scratch_config(tmp_path_factory.mktemp("scratch") / "seed0")
    return train_from_scratch(config), config


def test_run_schedule_untrained_step_zero_seeds_and_accuracy(reference, tmp_path) -> None:
    run_dir, config = reference
    assert is_finished(run_dir)
    expected = checkpoint_steps(CheckpointScheduleConfig(**config["schedule"]), steps_per_epoch=4)
    assert expected == [0, 1, 3, 8] and checkpoint_epochs(run_dir, STEP) == expected
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    assert [record["step"] for record in metrics] == expected
    assert [record["epoch"] for record in metrics] == [step / 4 for step in expected]
    assert metrics[0]["train_loss"] is None and all(record["train_loss"] > 0 for record in metrics[1:])
    assert all(0 <= record["val_top1"] <= record["val_top5"] <= 1 for record in metrics)
    # step 0 is the untrained network: exactly the seeded initialisation, and training changed it
    untrained = initial_model(parse_config(ScratchTrainConfig, config), num_classes=4).state_dict()
    assert _same(_weights(run_dir, 0), untrained)
    assert not _same(_weights(run_dir, 0), _weights(run_dir, 8))
    # the seed changes the initialisation (and the same seed repeats it)
    other = initial_model(parse_config(ScratchTrainConfig, tiny_scratch_config(tmp_path, seed=1)), 4).state_dict()
    again = initial_model(parse_config(ScratchTrainConfig, config), 4).state_dict()
    assert _same(untrained, again) and not _same(untrained, other)
    with pytest.raises(RunExistsError, match="--force"):
        train_from_scratch(config)


def test_killed_run_resumes_mid_epoch_bit_identically(reference, tmp_path) -> None:
    reference, _ = reference
    interrupted = tiny_scratch_config(tmp_path / "interrupted")
    run_dir = train_from_scratch(interrupted, stop_after=3)  # step 3 lies inside epoch 1 (4 steps per epoch)
    assert not is_finished(run_dir) and checkpoint_epochs(run_dir, STEP) == [0, 1, 3]
    train_from_scratch(interrupted, resume=True)
    assert is_finished(run_dir)
    for step in (0, 1, 3, 8):
        assert _same(_weights(reference, step), _weights(run_dir, step)), step
    assert _metrics(reference) == _metrics(run_dir)
    changed = tiny_scratch_config(tmp_path / "interrupted", epochs=3)
    (run_dir / "DONE").unlink()
    with pytest.raises(ConfigError, match="different config"):
        train_from_scratch(changed, resume=True)


def test_batch_larger_than_the_task_is_named(tmp_path) -> None:
    config = tiny_scratch_config(tmp_path / "big")
    config["training"]["batch_size"] = 64
    with pytest.raises(ConfigError, match="batch_size=64"):
        train_from_scratch(config)
    assert not (tmp_path / "big").exists()


def test_a_torchvision_resnet_trains_from_scratch_too(tmp_path) -> None:
    """Any model name: a torchvision ResNet-18 (random weights, a 4-class head) trains on the same schedule."""
    config = tiny_scratch_config(tmp_path / "resnet", epochs=1, count=1, first=1)
    config["model"] = {"name": "resnet18"}
    untrained = initial_model(parse_config(ScratchTrainConfig, config), num_classes=4)
    with torch.no_grad():
        assert untrained.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 4)  # eval: batch norm statistics kept
    other = initial_model(parse_config(ScratchTrainConfig, {**config, "seed": 1}), num_classes=4)
    assert not _same(untrained.state_dict(), other.state_dict())
    run_dir = train_from_scratch(config)
    assert checkpoint_epochs(run_dir, STEP) == [0, 4]
    assert _same(_weights(run_dir, 0), untrained.state_dict()) and not _same(_weights(run_dir, 0), _weights(run_dir, 4))
    assert [record["epoch"] for record in read_jsonl(run_dir / "metrics.jsonl")] == [0.0, 1.0]
