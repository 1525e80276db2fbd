"""Pre-training of the base model on the simulated categories: stops on a plateau of held-out accuracy."""
import json

import numpy as np
import pytest
import torch

from brainalign.align.config import DataConfig, PretrainConfig
from brainalign.align.data import ImageBank, load_alignment_data
from brainalign.align.pretrain import predicted_classes, pretrain
from brainalign.errors import ConfigError
from brainalign.models import build_model

TINY = {"n_subjects": 1, "n_train_categories": 3, "n_test_categories": 2, "train_per_category": 2,
        "test_per_category": 2, "pretrain_per_category": 8, "val_per_category": 6, "image_size": 32}


def test_stops_on_a_held_out_plateau_and_keeps_the_best_epoch():
    data = load_alignment_data(DataConfig(simulate=TINY, image_size=32))
    val = ImageBank(data.val_stimuli, 32)
    settings = PretrainConfig(epochs=12, patience=2, lr=3e-3, batch_size=8)
    torch.manual_seed(0)
    model = build_model("cornet_z", num_classes=3)
    records = pretrain(model, ImageBank(data.pretrain_stimuli, 32), data.pretrain_labels, settings,
                       progress=False, held_out=(val, data.val_labels))
    accuracies = [record["held_out_accuracy"] for record in records]
    kept = records[-1]["kept"]
    assert accuracies[kept - 1] == max(accuracies) and accuracies.index(max(accuracies)) == kept - 1
    assert len(records) == 12 or len(records) == kept + settings.patience  # a plateau of `patience` epochs
    final = float((predicted_classes(model, val, 8, torch.device("cpu")) == torch.as_tensor(data.val_labels)).float().mean())
    assert final == pytest.approx(max(accuracies))
    assert all(np.isfinite(record["loss"]) for record in records)


def test_patience_needs_held_out_images():
    data = load_alignment_data(DataConfig(simulate={**TINY, "val_per_category": 0}, image_size=32))
    model = build_model("cornet_z", num_classes=3)
    with pytest.raises(ConfigError, match="val_per_category"):
        pretrain(model, ImageBank(data.pretrain_stimuli, 32), data.pretrain_labels,
                 PretrainConfig(epochs=2, patience=1), progress=False, held_out=None)


def test_sweep_base_records_its_pretraining(tmp_path):
    from brainalign.align import run_sweep

    run_sweep({"out_dir": str(tmp_path / "sweep"), "train": {
        "model": {"name": "cornet_z", "pretrain": {"epochs": 2, "patience": 1, "batch_size": 8}},
        "data": {"simulate": TINY, "image_size": 32}, "training": {"epochs": 1, "batch_size": 6}, "progress": False}})
    record = json.loads((tmp_path / "sweep" / "base" / "pretrain.json").read_text())["epochs"]
    assert 1 <= len(record) <= 2 and all(0 <= row["held_out_accuracy"] <= 1 for row in record)
