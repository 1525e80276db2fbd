import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from brainalign.align import load_head, train
from brainalign.models import load
from brainalign.align.checkpoint import checkpoint_dir, load_state
from brainalign.errors import ConfigError, RunExistsError
from brainalign.runs import TEMP_PREFIX, is_finished, read_jsonl


def _tensors(run_dir, epoch, name):
    return load_file(str(checkpoint_dir(run_dir, epoch) / f"{name}.safetensors"))


def _assert_same_weights(run_a, run_b, epoch):
    for name in ("model", "head"):
        a, b = _tensors(run_a, epoch, name), _tensors(run_b, epoch, name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[key], b[key]) for key in a), name


def _metrics(run_dir):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in read_jsonl(run_dir / "metrics.jsonl")]


def test_run_layout_metrics_and_loading(tiny_config):
    run_dir = train(tiny_config("full"))
    assert is_finished(run_dir)
    for name in ("config.yaml", "environment.json", "metrics.csv", "pseudo_labels.safetensors"):
        assert (run_dir / name).is_file()
    for epoch in (1, 2):
        assert {p.name for p in checkpoint_dir(run_dir, epoch).iterdir()} == {"model.safetensors", "head.safetensors", "state.pt"}
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == [1, 2]
    for record in metrics:
        assert {"ce", "mse", "contrastive", "total", "test_spearman"} <= record.keys()
        assert np.isclose(record["total"], record["ce"] + record["mse"] + record["contrastive"], rtol=1e-4)
        assert -1 <= record["test_spearman"] <= 1
    assert (run_dir / "metrics.csv").read_text().splitlines()[0].startswith("epoch,ce,mse,contrastive,total")
    model = load(run_dir).model
    saved = _tensors(run_dir, 2, "model")
    assert all(torch.equal(value, saved[key]) for key, value in model.state_dict().items())
    assert not model.training
    head = load_head(run_dir, epoch=1)
    _, outputs = model.forward_layers(torch.zeros(2, 3, 32, 32))
    assert head(outputs).shape == (2, 340)


def test_same_seed_same_numbers_and_resume_is_bit_identical(tiny_config):
    """Determinism (two fresh runs) and kill-and-resume (stop after epoch 1, resume) end identical."""
    config = tiny_config("a")
    first = train(config)
    second = train(tiny_config("b"))
    _assert_same_weights(first, second, 2)
    assert _metrics(first) == _metrics(second)

    interrupted = tiny_config("c")
    run_dir = train(interrupted, stop_after=1)
    assert not is_finished(run_dir) and not checkpoint_dir(run_dir, 2).exists()
    assert "optimizer" in load_state(run_dir, 1)  # the newest checkpoint of an unfinished run can resume
    train(interrupted, resume=True)
    assert is_finished(run_dir)
    _assert_same_weights(first, run_dir, 2)
    assert _metrics(first) == _metrics(run_dir)
    for epoch in (1, 2):  # finished: every checkpoint keeps its weights and RNG states, not the optimizer's
        assert set(load_state(run_dir, epoch)) == {"epoch", "torch_rng"}


def test_contrastive_term_changes_the_encoder_weights(tiny_config):
    with_term = train(tiny_config("with", epochs=1, beta=1.0))
    without = train(tiny_config("without", epochs=1, beta=1.0, control="control_no_contrastive"))
    for name in ("model", "head"):
        a, b = _tensors(with_term, 1, name), _tensors(without, 1, name)
        assert any(not torch.equal(a[key], b[key]) for key in a if a[key].is_floating_point())


def test_controls(tiny_config):
    beta0 = read_jsonl(train(tiny_config("beta0", epochs=1, control="control_beta0")) / "metrics.jsonl")[0]
    assert np.isclose(beta0["total"], beta0["ce"])
    paired = train(tiny_config("paired", epochs=1, correlation="pearson"))
    unpaired = train(tiny_config("unpaired", epochs=1, correlation="pearson", control="control_unpaired"))
    paired_mse = read_jsonl(paired / "metrics.jsonl")[0]["mse"]
    unpaired_mse = read_jsonl(unpaired / "metrics.jsonl")[0]["mse"]
    assert paired_mse != unpaired_mse  # same images and seed, targets shuffled across images


def test_beta0_network_does_not_depend_on_the_responses(tiny_config, tiny_data, tmp_path):
    """Why a sweep trains control_beta0 once per seed for subjects who share their training images."""
    from brainalign.data import Responses

    recorded = Responses.load(tiny_data / "train" / "responses.npz")
    other = tmp_path / "other_subject.npz"
    Responses(np.random.default_rng(1).normal(size=recorded.data.shape), recorded.stimulus_ids, "eeg",
              subject="sub-02", channels=recorded.channels, times=recorded.times, sfreq=100.0).save(other)
    first = train(tiny_config("beta0_a", epochs=1, control="control_beta0"))
    config = tiny_config("beta0_b", epochs=1, control="control_beta0")
    config["data"]["train_responses"] = str(other)
    second = train(config)
    a, b = _tensors(first, 1, "model"), _tensors(second, 1, "model")
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_unpaired_shuffle_is_seeded_and_new_every_epoch_unless_fixed():
    from brainalign.align.trainer import _training_targets
    from brainalign.align.config import TrainConfig
    from brainalign.config import parse_config
    from types import SimpleNamespace

    data = SimpleNamespace(train_targets=np.arange(40, dtype=np.float32).reshape(20, 2))
    def targets(epoch=1, seed=0, **training):
        return _training_targets(data, parse_config(TrainConfig, {"seed": seed, "training": training}), epoch)
    assert torch.equal(targets(), torch.from_numpy(data.train_targets))
    shuffled = targets(control="control_unpaired", unpaired_seed=3)
    assert torch.equal(shuffled, targets(control="control_unpaired", unpaired_seed=3))  # resumable
    assert not torch.equal(shuffled, targets(control="control_unpaired", unpaired_seed=4))
    assert not torch.equal(shuffled, targets(2, control="control_unpaired", unpaired_seed=3))  # a new epoch
    assert not torch.equal(shuffled, targets(1, 1, control="control_unpaired", unpaired_seed=3))  # another seed
    assert sorted(shuffled[:, 0].tolist()) == data.train_targets[:, 0].tolist()
    fixed = targets(control="control_unpaired", unpaired_seed=3, unpaired_shuffle="fixed")
    assert torch.equal(fixed, targets(5, 1, control="control_unpaired", unpaired_seed=3, unpaired_shuffle="fixed"))


def test_bf16_autocast_runs(tiny_config):
    record = read_jsonl(train(tiny_config("bf16", epochs=1, amp="bf16")) / "metrics.jsonl")[0]
    assert all(np.isfinite(record[key]) for key in ("ce", "mse", "contrastive", "total", "test_spearman"))


def test_finished_run_is_kept_and_resume_needs_the_same_config(tiny_config):
    config = tiny_config("kept", epochs=1)
    run_dir = train(config)
    with pytest.raises(RunExistsError, match="--force"):
        train(config)
    changed = tiny_config("kept", epochs=1, lr=0.5)
    (run_dir / "DONE").unlink()
    with pytest.raises(ConfigError, match="different config"):
        train(changed, resume=True)
    assert train(changed, force=True) == run_dir


@pytest.mark.slow
def test_killed_process_resumes_to_the_same_weights(tiny_config, tmp_path):
    """SIGKILL a `brainalign train` process after its first checkpoint; --resume ends identical."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    reference = train(tiny_config("reference", epochs=2))
    config = tiny_config("killed", epochs=2)
    config_file = tmp_path / "killed.yaml"
    config_file.write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "brainalign", "train", str(config_file)],
        # Same thread count as this process: float reductions differ between thread counts.
        env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "MKL_NUM_THREADS": str(torch.get_num_threads())},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first_checkpoint = checkpoint_dir(config["out_dir"], 1) / "state.pt"
    deadline = time.monotonic() + 120
    while not first_checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    run_dir = reference.parent / "killed"
    assert first_checkpoint.exists() and not is_finished(run_dir)
    orphan = first_checkpoint.parent / f"{TEMP_PREFIX}state.pt.k1ll3d_x.pt"  # what a kill during the checkpoint write leaves
    orphan.write_bytes(b"half a checkpoint")
    train(config, resume=True)
    assert not orphan.exists()
    _assert_same_weights(reference, run_dir, 2)
    assert _metrics(reference) == _metrics(run_dir)


def test_large_sets_train_from_the_image_cache_and_resume_bit_identically(tiny_config, tmp_path, monkeypatch):
    """Image sets above the preload limit go through the uint8 cache and the background loader."""
    monkeypatch.setattr("brainalign.align.data.PRELOAD_LIMIT_BYTES", 0)
    monkeypatch.setenv("BRAINALIGN_IMAGE_CACHE", str(tmp_path / "cache"))
    first = train(tiny_config("cached"))
    assert len(list((tmp_path / "cache").glob("images-*.npy"))) == 2  # training and held-out images
    interrupted = tiny_config("cached_resumed")
    run_dir = train(interrupted, stop_after=1)
    train(interrupted, resume=True)
    _assert_same_weights(first, run_dir, 2)
    assert _metrics(first) == _metrics(run_dir)


def test_fp16_needs_a_gpu_and_fails_before_writing(tiny_config):
    config = tiny_config("fp16", amp="fp16", device="cpu")
    with pytest.raises(ConfigError, match="training.amp: amp fp16 needs a CUDA device"):
        train(config)
    assert not os.path.exists(config["out_dir"])


def test_a_run_failing_before_its_first_epoch_leaves_no_debris(tiny_config):
    """A config error found after the run folder was opened (an unknown layer) removes what it wrote."""
    from pathlib import Path

    from brainalign.errors import BrainAlignError

    config = tiny_config("bad_layer", epochs=1)
    config["model"]["layers"] = ["V9"]
    with pytest.raises(BrainAlignError, match="V9"):
        train(config)
    assert not Path(config["out_dir"]).exists()


def test_a_non_finite_loss_stops_training_with_a_clear_error(tiny_config, monkeypatch):
    """A diverged loss (NaN) stops the run with one error naming the settings to change; the epoch is not
    saved and the run is never marked finished."""
    import dataclasses

    from brainalign.align import trainer
    from brainalign.errors import TrainingError

    real_loss = trainer.alignment_loss

    def diverging(*args, **kwargs):
        terms = real_loss(*args, **kwargs)
        return dataclasses.replace(terms, total=terms.total * float("nan"))

    monkeypatch.setattr(trainer, "alignment_loss", diverging)
    config = tiny_config("diverged")
    with pytest.raises(TrainingError, match=r"epoch 1.*not finite.*training\.lr.*training\.beta"):
        train(config)
    run_dir = Path(config["out_dir"])
    assert not is_finished(run_dir) and not (run_dir / "checkpoints").exists()


def test_keep_checkpoints_keeps_the_newest_epochs_only(tiny_config):
    run_dir = train(tiny_config("keep", keep_checkpoints=1))
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["epoch_002"]
    assert set(load_state(run_dir, 2)) == {"epoch", "torch_rng"}  # finished: no optimizer state
