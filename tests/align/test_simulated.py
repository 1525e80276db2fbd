"""Alignment on a tiny simulated observer: pre-trained base shared by a sweep, simulated-data configs."""
import numpy as np
import pytest

from brainalign.align import run_sweep
from brainalign.models import load
from brainalign.align.data import load_alignment_data
from brainalign.align.config import DataConfig
from brainalign.errors import ConfigError
from brainalign.runs import is_finished, read_jsonl

TINY = {"n_subjects": 2, "n_train_categories": 3, "n_test_categories": 2, "train_per_category": 6,
        "test_per_category": 4, "pretrain_per_category": 8, "image_size": 32}


def test_simulated_targets_are_zscored_on_training_data():
    data = load_alignment_data(DataConfig(simulate=TINY, subject="sub-02", image_size=32))
    assert data.subject == "sub-02" and data.modality == "eeg" and data.n_features == 17 * 20
    assert data.train_targets.shape == (18, 340) and data.test_targets.shape == (8, 340)
    np.testing.assert_allclose(data.train_targets.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(data.train_targets.std(axis=0), 1, atol=1e-3)
    assert data.test_responses.n_repetitions > 1  # held-out responses as recorded, for evaluation RDMs
    np.testing.assert_allclose(data.target.inverse(data.test_targets), data.test_responses.data.mean(1), atol=1e-4)
    assert data.pretrain_labels.max() == 2 and len(data.pretrain_stimuli) == 24
    with pytest.raises(ConfigError, match="sub-09"):
        load_alignment_data(DataConfig(simulate=TINY, subject="sub-09"))


def test_sweep_pretrains_one_base_and_aligns_every_subject(tmp_path):
    sweep = {
        "out_dir": str(tmp_path / "sweep"),
        "controls": ["none", "control_unpaired"],
        "train": {
            "model": {"name": "cornet_z", "pretrain": {"epochs": 1, "batch_size": 8}},
            "data": {"simulate": TINY, "image_size": 32},
            "training": {"epochs": 1, "batch_size": 6, "lr": 1e-3},
            "progress": False,
        },
    }
    run_dirs = run_sweep(sweep)
    assert [d.relative_to(tmp_path / "sweep").as_posix() for d in run_dirs] == [
        "sub-01/aligned_beta1_seed0", "sub-01/control_unpaired_beta1_seed0",
        "sub-02/aligned_beta1_seed0", "sub-02/control_unpaired_beta1_seed0",
    ]
    assert all(is_finished(d) for d in run_dirs)
    base = load(tmp_path / "sweep" / "base").model  # the folder holding model.safetensors
    assert base.num_classes == 3  # one class per simulated training category
    aligned = load(run_dirs[0]).model
    assert aligned.num_classes == 3
    assert any(not np.array_equal(a.detach().numpy(), b.detach().numpy())
               for a, b in zip(base.parameters(), aligned.parameters()))
    record = read_jsonl(run_dirs[0] / "metrics.jsonl")[0]
    assert np.isfinite(record["test_spearman"])
