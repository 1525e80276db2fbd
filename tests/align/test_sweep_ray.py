"""The Ray backend on a local Ray instance (2 CPUs, no dashboard): jobs with per-job resources, and a job
whose worker process is killed mid-training resumes from its checkpoint to the weights of an unkilled run."""
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from brainalign.align import run_sweep, sweep_jobs
from brainalign.align.config import SweepConfig
from brainalign.align.checkpoint import checkpoint_dir
from brainalign.config import parse_config
from brainalign.runs import is_finished, read_jsonl

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'brainalign[ray]')")
EPOCHS = 6  # long enough to be killed after the first checkpoint


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance (2 CPUs) for this module."""
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as error:  # Ray waits 30 s for its raylet; on a busy machine start-up can take longer
        if "timed out during startup" not in str(error):
            raise
        ray.shutdown()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _sweep(tiny_config, out_dir, controls):
    template = tiny_config("unused", epochs=EPOCHS)
    template.pop("out_dir")
    return {"out_dir": str(out_dir), "subjects": ["sub-01"], "controls": controls, "train": template,
            "resources": {"num_cpus": 1, "num_gpus": 0}}


def _job_worker() -> int:
    """The pid of the Ray worker (a descendant of this process) running a sweep job: its process title
    (``/proc/<pid>/cmdline``) starts with ``ray::run_job``."""
    parents: dict[int, int] = {}
    titles: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            titles[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    ours = {os.getpid()}
    for _ in range(6):  # descendants up to six generations (driver -> raylet -> worker)
        ours |= {pid for pid, parent in parents.items() if parent in ours}
    workers = [pid for pid in ours if titles.get(pid, "").startswith("ray::run_job")]
    assert workers, f"no ray::run_job worker among {[titles.get(pid, '')[:40] for pid in ours]}"
    return workers[0]


def test_sweep_on_ray_survives_a_killed_worker(local_ray, tiny_config, tmp_path):
    reference_dirs = run_sweep(_sweep(tiny_config, tmp_path / "reference", ["none", "control_beta0"]), backend="ray")
    assert len(reference_dirs) == 2 and all(is_finished(d) for d in reference_dirs)

    outcome: dict[str, object] = {}
    config = _sweep(tiny_config, tmp_path / "killed", ["none"])

    def run() -> None:
        try:
            outcome["run_dirs"] = run_sweep(config, backend="ray")
        except BaseException as error:  # reported by the assertions below
            outcome["error"] = error

    sweep = threading.Thread(target=run)
    sweep.start()
    run_dir = Path(sweep_jobs(parse_config(SweepConfig, config), ["sub-01"])[0].config.out_dir)
    first = checkpoint_dir(run_dir, 1) / "state.pt"
    deadline = time.monotonic() + 300
    while not first.exists() and sweep.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "error" not in outcome, outcome
    assert first.exists() and not is_finished(run_dir)  # killed mid-job, after its first checkpoint
    worker = _job_worker()
    weights = first.parent / "model.safetensors"
    first_written = weights.stat().st_mtime_ns
    os.kill(worker, signal.SIGKILL)
    sweep.join(timeout=300)
    assert not sweep.is_alive() and outcome["run_dirs"] == [run_dir] and is_finished(run_dir)
    assert weights.stat().st_mtime_ns == first_written  # the retry resumed; it did not start over
    reference = reference_dirs[0]
    for name in ("model", "head"):
        a = load_file(str(checkpoint_dir(reference, EPOCHS) / f"{name}.safetensors"))
        b = load_file(str(checkpoint_dir(run_dir, EPOCHS) / f"{name}.safetensors"))
        assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a), name
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in read_jsonl(reference / "metrics.jsonl")] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in read_jsonl(run_dir / "metrics.jsonl")]
