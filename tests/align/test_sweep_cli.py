import json
from pathlib import Path

import pytest
import yaml

from brainalign.align import run_sweep, sweep_jobs
from brainalign.cli import run
from brainalign.align.config import SweepConfig
from brainalign.config import parse_config
from brainalign.errors import ConfigError
from brainalign.runs import is_finished


def _sweep(tiny_config, tmp_path, **overrides):
    template = tiny_config("unused", epochs=1)
    template.pop("out_dir")
    return {"out_dir": str(tmp_path / "sweep"), "betas": [1.0], "seeds": [0], "train": template, **overrides}


def test_jobs_cover_the_grid_and_beta0_runs_once(tiny_config, tmp_path):
    config = parse_config(SweepConfig, _sweep(
        tiny_config, tmp_path, betas=[1.0, 10.0], seeds=[0, 1],
        controls=["none", "control_beta0", "control_unpaired"],
    ))
    jobs = sweep_jobs(config, ["sub-01", "sub-02"])
    names = [job.name for job in jobs]
    assert len(names) == len(set(names)) == 2 * 2 * (2 + 2) + 2  # beta0: one network per seed for all subjects
    assert "sub-02/aligned_beta10_seed1" in names and "control_beta0_seed0" in names
    beta0 = next(j for j in jobs if j.name == "control_beta0_seed1")
    assert beta0.subjects == ("sub-01", "sub-02") and beta0.config.seed == 1
    assert [entry["subject"] for entry in beta0.summary()] == ["sub-01", "sub-02"]
    job = next(j for j in jobs if j.name == "sub-02/control_unpaired_beta10_seed1")
    assert job.config.seed == 1 and job.config.training.beta == 10.0
    assert job.config.training.control == "control_unpaired" and job.config.data.subject == "sub-02"
    assert job.label == "control_unpaired_beta10"  # several betas: results tell them apart
    assert {j.label for j in jobs if j.control == "control_beta0"} == {"control_beta0"}
    assert job.config.out_dir.endswith("sub-02/control_unpaired_beta10_seed1")
    assert {j.config.training.keep_checkpoints for j in jobs} == {None}


def test_control_runs_can_keep_fewer_checkpoints(tiny_config, tmp_path):
    config = parse_config(SweepConfig, _sweep(tiny_config, tmp_path, controls=["none", "control_beta0"],
                                              control_keep_checkpoints=1))
    kept = {job.control: job.config.training.keep_checkpoints for job in sweep_jobs(config, ["sub-01", "sub-02"])}
    assert kept == {"none": None, "control_beta0": 1}  # the aligned runs keep every epoch for the trajectory


def test_local_sweep_runs_jobs_and_skips_finished_ones(tiny_config, tmp_path, monkeypatch):
    config = _sweep(tiny_config, tmp_path, controls=["none", "control_beta0"], subjects=["sub-01"])
    run_dirs = run_sweep(config)
    assert len(run_dirs) == 2 and all(is_finished(d) for d in run_dirs)
    listed = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["jobs"]
    assert [job["control"] for job in listed] == ["none", "control_beta0"]
    assert [job["label"] for job in listed] == ["aligned", "control_beta0"]  # one beta: no suffix in results
    calls = []
    monkeypatch.setattr("brainalign.align.sweep.run_job", lambda config, force=False: calls.append(config))
    run_sweep(config)
    assert calls == []  # finished jobs are skipped
    run_sweep(config, force=True)
    assert len(calls) == 2


def test_local_sweep_in_worker_processes_equals_one_thread_in_process(tiny_config, tmp_path):
    """workers: 2 trains two jobs at once in spawned processes of 1 torch thread each (2 cores here, or
    more); each ends with the weights of the same job trained in this process on 1 thread."""
    import torch
    from safetensors.torch import load_file

    from brainalign.align.checkpoint import checkpoint_dir
    from brainalign.cores import available_cores

    config = _sweep(tiny_config, tmp_path, controls=["none", "control_beta0"], subjects=["sub-01"], workers=2)
    run_dirs = run_sweep(config)
    assert all(is_finished(d) for d in run_dirs)
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, available_cores() // 2))
    try:
        reference = run_sweep({**config, "out_dir": str(tmp_path / "reference"), "workers": 1})
    finally:
        torch.set_num_threads(previous)
    for ours, theirs in zip(run_dirs, reference):
        a, b = (load_file(str(checkpoint_dir(d, 1) / "model.safetensors")) for d in (ours, theirs))
        assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_job_resources_and_ray_address_are_checked(tiny_config, tmp_path, capsys):
    config = parse_config(SweepConfig, _sweep(tiny_config, tmp_path, resources={"num_cpus": 2, "num_gpus": 0.25}))
    assert config.resources.num_gpus == 0.25 and config.resources.num_cpus == 2  # four jobs share a GPU
    with pytest.raises(ConfigError, match="whole GPUs"):
        parse_config(SweepConfig, _sweep(tiny_config, tmp_path, resources={"num_gpus": 1.5}))
    with pytest.raises(ConfigError, match="num_cpus"):
        parse_config(SweepConfig, _sweep(tiny_config, tmp_path, resources={"num_cpus": 0}))
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(_sweep(tiny_config, tmp_path, subjects=["sub-01"])))
    assert run(["sweep", str(config_file), "--address", "auto"]) == 2
    assert "--backend ray" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()  # refused before anything was written


def test_cli_train_resume_and_bad_config(tiny_config, tmp_path, capsys):
    config_file = tmp_path / "train.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config("cli", epochs=1)))
    assert run(["train", str(config_file)]) == 0
    assert "finished" in capsys.readouterr().out
    assert run(["train", str(config_file)]) == 2  # finished run kept
    assert "--force" in capsys.readouterr().err
    assert run(["train", str(config_file), "--force"]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  control: shuffled\n  betta: 3\n")
    assert run(["train", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "training.control" in err and "control_unpaired" in err and "betta" in err


def test_cli_sweep(tiny_config, tmp_path, capsys):
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(_sweep(tiny_config, tmp_path, subjects=["sub-01"])))
    assert run(["sweep", str(config_file)]) == 0
    assert "1 runs finished" in capsys.readouterr().out
    assert run(["sweep", str(config_file), "--backend", "slurm"]) == 2
    assert "'local' and 'ray'" in capsys.readouterr().err


def test_ray_backend_without_ray_is_refused_before_anything_is_written(tiny_config, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray raises ImportError
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(_sweep(tiny_config, tmp_path, subjects=["sub-01"])))
    assert run(["sweep", str(config_file), "--backend", "ray"]) == 2
    assert "pip install 'brainalign[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_ctrl_c_stops_a_sweep_in_worker_processes_quietly_and_it_resumes(tiny_config, tmp_path):
    """Ctrl-C reaches the whole process group: the workers stop without tracebacks, the command says what was
    kept (exit 130), no further job starts, and running the sweep again finishes it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from brainalign.models.files import checkpoint_epochs

    config = _sweep(tiny_config, tmp_path, controls=["none", "control_beta0"], subjects=["sub-01"], seeds=[0, 1],
                    workers=2)
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(config))
    process = subprocess.Popen([sys.executable, "-m", "brainalign", "sweep", str(config_file)], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    jobs = [Path(job.config.out_dir) for job in sweep_jobs(parse_config(SweepConfig, config), ["sub-01"])]
    deadline = time.monotonic() + 240
    while process.poll() is None and time.monotonic() < deadline and not any(
            job.is_dir() and checkpoint_epochs(job) for job in jobs):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert len(jobs) == 4 and process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not all(is_finished(job) for job in jobs)
    assert run(["sweep", str(config_file)]) == 0 and all(is_finished(job) for job in jobs)
