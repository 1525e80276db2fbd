"""The training-from-scratch trajectory study on a tiny simulated observer: the checkpoint schedule, epoch 0
is the untrained network, seeds change the initialisation, the peak epoch per layer and target; the real
config validates and names every download; bad targets are refused before anything is written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from brainalign.models.files import checkpoint_dir, checkpoint_epochs
from brainalign.align.config import ScratchTrainConfig
from brainalign.align.scratch import STEP, checkpoint_steps, initial_model
from brainalign.cli import run
from brainalign.config import load_config, parse_config
from brainalign.errors import ConfigError, MissingDatasetError, RunExistsError
from brainalign.measure import compare, compute_rdms
from brainalign.measure.features import extract
from brainalign.report import read_table, table_path
from brainalign.runs import is_finished
from brainalign.studies.scratch_trajectory import (
    ScratchStudyConfig,
    is_scratch_study,
    load_targets,
    run_scratch_study,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
LAYERS = ["V1", "V2", "V4", "IT"]
TARGETS = ["EEG 70 ms", "EEG 150 ms", "fMRI V1", "fMRI LOC"]


def tiny_study(out_dir: Path, **changes) -> dict:
    """CORnet-Z at 32 px on 4 simulated categories (36 training, 12 held-out images; batch 8 -> 4 steps per
    epoch), 2 seeds, checkpoints at steps 0, 1, 3, 8; EEG and fMRI targets on 10 held-out images."""
    simulation = {"seed": 0, "n_train_categories": 4, "n_test_categories": 2, "train_per_category": 2,
                  "test_per_category": 5, "pretrain_per_category": 9, "val_per_category": 3, "n_subjects": 2,
                  "image_size": 32}
    return {
        "study": "scratch_trajectory", "name": "tiny", "out_dir": str(out_dir), "seeds": [0, 1],
        "train": {"model": {"name": "cornet_z"},
                  "data": {"simulate": simulation, "image_size": 32},
                  "training": {"optimizer": "sgd", "lr": 0.05, "batch_size": 8},
                  "schedule": {"epochs": 2, "count": 3, "first": 0.25}, "progress": False},
        "targets": [{"name": "eeg", "modality": "eeg", "source": "simulated", "times_ms": [70, 150]},
                    {"name": "fmri", "modality": "fmri", "source": "simulated", "rois": ["V1", "LOC"]}],
        "evaluation": {"compare_method": "pearson"},
        **changes,
    }


@pytest.fixture(scope="module")
def tiny_study_run(tmp_path_factory) -> tuple[Path, ScratchStudyConfig]:
    config = ScratchStudyConfig.model_validate(tiny_study(tmp_path_factory.mktemp("scratch") / "study"))
    return run_scratch_study(config, progress=False), config


def _untrained(config: ScratchStudyConfig, seed: int) -> dict[str, torch.Tensor]:
    return initial_model(config.train.model_copy(update={"seed": seed}), num_classes=4).state_dict()


def test_schedule_untrained_epoch_zero_seeds_and_peaks(tiny_study_run) -> None:
    run_dir, config = tiny_study_run
    assert is_finished(run_dir)
    table = read_table(table_path(run_dir, "scratch_trajectory"), "scratch_trajectory")
    # the checkpoint schedule: step 0, the sub-epoch step 1 (a quarter epoch), log-spaced steps, the last step
    steps = checkpoint_steps(config.train.schedule, steps_per_epoch=4)
    assert steps == [0, 1, 3, 8]
    for seed in config.seeds:
        seed_dir = run_dir / "training" / f"seed_{seed}"
        assert checkpoint_epochs(seed_dir, STEP) == steps
        assert sorted(table.loc[table.seed == seed, "epoch"].unique()) == [step / 4 for step in steps]
    assert len(table) == 2 * 4 * len(LAYERS) * len(TARGETS)  # seeds x checkpoints x layers x targets
    assert set(table["target"]) == set(TARGETS) and table["accuracy"].between(0, 1).all()

    # epoch 0 is the untrained network: its weights are the seeded initialisation, and its row in the table
    # is that network's IT RDM correlated (Pearson) with the target RDM
    weights = {seed: load_file(str(checkpoint_dir(run_dir / "training" / f"seed_{seed}", 0, STEP) / "model.safetensors"))
               for seed in config.seeds}
    for seed in config.seeds:
        assert all(torch.equal(weights[seed][key], value) for key, value in _untrained(config, seed).items())
    targets = load_targets(config)
    untrained = initial_model(config.train, num_classes=4)
    features = extract(untrained, targets[0].stimuli, layers=["IT"], image_size=32, progress=False)
    expected = compare(compute_rdms(features, stimulus_ids=targets[0].stimuli.ids),
                       targets[0].rdms.select(target="EEG 70 ms"), method="pearson")[0, 0]
    row = table[(table.seed == 0) & (table.epoch == 0) & (table.layer == "IT") & (table.target == "EEG 70 ms")]
    assert row["similarity"].item() == pytest.approx(expected, abs=1e-6)

    # seeds change the initialisation: different step-0 weights and different untrained similarities
    assert any(not torch.equal(weights[0][key], weights[1][key]) for key in weights[0] if weights[0][key].is_floating_point())
    at_zero = table[table.epoch == 0].pivot_table(index=["layer", "target"], columns="seed", values="similarity")
    assert not np.allclose(at_zero[0], at_zero[1])

    # the peak epoch per layer and target: the argmax over epochs of the seed-mean curve
    peaks = read_table(table_path(run_dir, "scratch_peaks"), "scratch_peaks")
    assert sorted(zip(peaks.layer, peaks.target)) == sorted((layer, target) for layer in LAYERS for target in TARGETS)
    mean_curves = table.groupby(["layer", "target", "epoch"])["similarity"].mean().reset_index()
    for row in peaks.itertuples():
        curve = mean_curves[(mean_curves.layer == row.layer) & (mean_curves.target == row.target)]
        assert row.peak_epoch == curve["epoch"].iloc[curve["similarity"].to_numpy().argmax()]
        assert row.peak == pytest.approx(curve["similarity"].max())
    assert peaks["accuracy_r_mean"].dropna().between(-1, 1).all() and (peaks["n_seeds"] == 2).all()

    summary = json.loads((run_dir / "summary.json").read_text())
    assert [entry["target"] for entry in summary["best_layers"]] == TARGETS
    for suffix in (".png", ".svg"):
        assert (run_dir / "figures" / f"scratch_trajectory{suffix}").stat().st_size > 1000
    assert len(pd.read_csv(run_dir / "results" / "scratch_summary.csv")) == 4 * len(LAYERS) * len(TARGETS)
    with pytest.raises(RunExistsError, match="--force"):
        run_scratch_study(config, progress=False)


def test_killed_study_resumes_to_the_same_results(tiny_study_run, tmp_path: Path, monkeypatch) -> None:
    """A study killed while training seed 1 (mid-epoch, after step 3) continues with --resume: seed 0 is not
    trained again, seed 1 resumes from its last checkpoint, and the results equal an uninterrupted study's."""
    import brainalign.align.scratch as scratch

    reference, _ = tiny_study_run
    train = scratch.train_from_scratch

    def killed(config, resume=False, force=False, stop_after=None):
        if config.seed == 1:
            train(config, resume=resume, force=force, stop_after=3)
            raise RuntimeError("killed")
        return train(config, resume=resume, force=force, stop_after=stop_after)

    monkeypatch.setattr(scratch, "train_from_scratch", killed)
    config = tiny_study(tmp_path / "study")
    with pytest.raises(RuntimeError, match="killed"):
        run_scratch_study(config, progress=False)
    run_dir = tmp_path / "study"
    assert not is_finished(run_dir) and is_finished(run_dir / "training" / "seed_0")
    assert checkpoint_epochs(run_dir / "training" / "seed_1", STEP) == [0, 1, 3]
    seed0 = {path: path.stat().st_mtime_ns for path in (run_dir / "training" / "seed_0").rglob("*") if path.is_file()}
    monkeypatch.setattr(scratch, "train_from_scratch", train)
    with pytest.raises(RunExistsError):  # an unfinished study is continued only on request
        run_scratch_study(config, progress=False)
    assert run(["study", str(_yaml(tmp_path, config)), "--resume"]) == 0
    assert is_finished(run_dir)
    assert {path: path.stat().st_mtime_ns for path in seed0} == seed0  # seed 0 was not trained again
    resumed = read_table(table_path(run_dir, "scratch_trajectory"), "scratch_trajectory")
    uninterrupted = read_table(table_path(reference, "scratch_trajectory"), "scratch_trajectory")
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def _yaml(folder: Path, config: dict) -> Path:
    import yaml

    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_bad_targets_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    outside = tiny_study(tmp_path / "a")
    outside["targets"][0]["times_ms"] = [300]  # the simulated recording ends at 190 ms
    with pytest.raises(ConfigError, match="no EEG time point within 300"):
        run_scratch_study(outside, progress=False)
    unknown = tiny_study(tmp_path / "b")
    unknown["targets"][1]["rois"] = ["PPA"]
    with pytest.raises(ConfigError, match=r"\['PPA'\] are not among"):
        run_scratch_study(unknown, progress=False)
    with pytest.raises(ConfigError, match="needs times_ms"):
        parse_config(ScratchStudyConfig, tiny_study(tmp_path, targets=[{"name": "e", "modality": "eeg", "source": "simulated"}]))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_configs_validate_and_the_real_one_names_every_download(tmp_path: Path, monkeypatch) -> None:
    quick = load_config(ScratchStudyConfig, CONFIGS / "scratch_trajectory_sim.yaml")
    assert is_scratch_study(CONFIGS / "scratch_trajectory_sim.yaml")
    assert quick.train.data.source == "simulated" and len(quick.seeds) >= 3
    real = load_config(ScratchStudyConfig, CONFIGS / "scratch_trajectory_imagenet.yaml")
    assert real.train.model.name == "resnet50" and real.evaluation.compare_method == "pearson"
    assert [target.times_ms or target.rois for target in real.targets] == [[80, 170, 300], ["V1v", "hV4", "PPA"]]
    assert isinstance(real.train, ScratchTrainConfig) and real.train.schedule.first < 1  # sub-epoch checkpoints
    monkeypatch.chdir(tmp_path)  # relative data paths do not exist here
    with pytest.raises(MissingDatasetError) as caught:
        run_scratch_study(real)
    message = str(caught.value)
    for dataset in real.datasets:
        assert dataset.path in message and dataset.fetch.split()[0] in message
    assert message.count("download with:") == len(real.datasets)
    assert run(["study", str(CONFIGS / "scratch_trajectory_imagenet.yaml"), "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()
