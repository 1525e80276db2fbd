"""Sweeps: subjects x betas x controls x seeds as independent training jobs (local or on Ray).

Each job writes its own run directory ``out_dir/<subject>/<label>_seed<seed>`` (label ``aligned_beta10``,
``control_unpaired_beta10``, ``control_no_contrastive_beta10``; labels and controls:
:mod:`brainalign.align.controls`); ``out_dir/sweep.json`` lists them, each with its model ``label`` for
results (the beta appended only when the sweep has several betas). ``control_beta0`` never sees neural data,
so when every subject has the same training images (the simulated observer, or a ``train_stimuli`` path
without ``{subject}``) it is one network per seed, trained once into ``out_dir/control_beta0_seed<seed>``
and listed in ``sweep.json`` under every subject (:attr:`SweepJob.subjects`). The sweep folder is a
brainalign run (:mod:`brainalign.runs`) that a re-run always continues: finished jobs are skipped and
unfinished ones resume from their last checkpoint; ``force`` removes what the sweep wrote and runs every
job afresh. On Ray each job is a task asking for the
sweep's ``resources`` (CPUs, possibly fractional GPUs); a job whose worker dies (killed, node lost) is retried
up to :data:`MAX_RETRIES` times and resumes from its last checkpoint to the weights of an unkilled run.
When the template pre-trains the base model, it is pre-trained once into ``out_dir/base/model.safetensors``
and every job starts from that file (so all seeds and controls share one base model).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from brainalign.align.config import JobResources, SweepConfig, TrainConfig
from brainalign.align.controls import model_label, uses_beta
from brainalign.config import coerce_config
from brainalign.cores import available_cores
from brainalign.errors import ConfigError
from brainalign.progress import track
from brainalign.runs import atomic_write_json, check_run_dir, is_finished, open_run

BASE_MODEL_FILE = Path("base") / "model.safetensors"
MAX_RETRIES = 3  # Ray re-runs a job whose worker died this many times (each retry resumes the run)


@dataclass(frozen=True)
class SweepJob:
    """One training run of a sweep; ``subjects``: every subject it stands for (more than ``subject``, whose
    data it loads, only for a ``control_beta0`` shared by all subjects)."""

    name: str
    label: str
    subject: str
    beta: float
    control: str
    seed: int
    config: TrainConfig
    subjects: tuple[str, ...] = ()

    def summary(self) -> list[dict[str, Any]]:
        """The job's entries in ``sweep.json``: one per subject it stands for."""
        return [{
            "name": self.name,
            "label": self.label,
            "run_dir": self.config.out_dir,
            "subject": subject,
            "beta": self.beta,
            "control": self.control,
            "seed": self.seed,
        } for subject in self.subjects or (self.subject,)]


def sweep_jobs(config: SweepConfig, subjects: list[str]) -> list[SweepJob]:
    """Every (subject, beta, control, seed) job; ``control_beta0`` ignores beta and runs once per seed for all
    subjects when they share their training images (:func:`shares_beta0`), else once per subject and seed."""
    jobs: dict[str, SweepJob] = {}
    several_betas = len(set(config.betas)) > 1
    shared = shares_beta0(config, subjects)
    for subject in subjects:
        for control in config.controls:
            for beta in config.betas if uses_beta(control) else [0.0]:
                for seed in config.seeds:
                    folder = model_label(control, beta, with_beta=True)
                    if shared and not uses_beta(control):
                        if subject != subjects[0]:
                            continue
                        name = f"{folder}_seed{seed}"
                    else:
                        name = f"{subject}/{folder}_seed{seed}" if subject else f"{folder}_seed{seed}"
                    training: dict[str, object] = {"beta": beta, "control": control}
                    if control != "none" and config.control_keep_checkpoints is not None:
                        training["keep_checkpoints"] = config.control_keep_checkpoints
                    job_config = config.train.model_copy(
                        update={
                            "out_dir": str(Path(config.out_dir) / name),
                            "seed": seed,
                            "data": config.train.data.model_copy(update={"subject": subject or None}),
                            "training": config.train.training.model_copy(update=training),
                        }
                    )
                    label = model_label(control, beta, with_beta=several_betas)
                    stands_for = tuple(subjects) if shared and not uses_beta(control) else ()
                    jobs[name] = SweepJob(name, label, subject, beta, control, seed, job_config, stands_for)
    return list(jobs.values())


def shares_beta0(config: SweepConfig, subjects: list[str]) -> bool:
    """Whether ``control_beta0`` is one network per seed for all ``subjects``: it trains on the base model's
    pseudo-labels of the training images only, so it is when every subject has the same training images
    (the simulated observer; files: a ``train_stimuli`` path without ``{subject}``)."""
    data = config.train.data
    same_images = data.source == "simulated" or "{subject}" not in str(data.train_stimuli)
    return len(subjects) > 1 and same_images


def run_sweep(
    config: SweepConfig | Mapping[str, Any] | str | os.PathLike[str],
    backend: Literal["local", "ray"] = "local",
    force: bool = False,
    ray_address: str | None = None,
) -> list[Path]:
    """Run every job of the sweep (skipping finished ones unless ``force``); return their run directories.

    ``backend="local"`` runs jobs one after another in this process, or ``config.workers`` at a time in
    worker processes on this machine; ``"ray"`` submits them as parallel
    Ray tasks (each asking for ``config.resources``) to the cluster at ``ray_address`` (``"auto"``: the
    cluster this machine belongs to; default: ``RAY_ADDRESS`` or a new local instance), or to the Ray
    instance this process already started. Needs ``pip install 'brainalign[ray]'`` for Ray.
    """
    config = coerce_config(SweepConfig, config, "sweep config")
    if backend not in ("local", "ray"):
        raise ConfigError(f"backend={backend!r}; allowed values are 'local' and 'ray'")
    if ray_address is not None and backend != "ray":
        raise ConfigError(f"a Ray address ({ray_address}) needs backend 'ray' (--backend ray)")
    if backend == "ray":  # workers may start in another directory
        _require_ray()  # before anything is written
        config = config.model_copy(update={"out_dir": str(Path(config.out_dir).resolve())})
    out_dir = Path(config.out_dir)
    check_run_dir(out_dir, "sweep", force=force, resume=True)
    subjects = _subjects(config)
    check_sweep_data(config, subjects)
    with open_run(out_dir, "sweep", force=force, resume=True) as run:
        run.keep()  # a sweep folder always continues (its finished jobs are kept)
        config = _with_shared_base(config, out_dir)
        jobs = sweep_jobs(config, subjects)
        for job in jobs:
            run.claim(job.config.out_dir, "run")
        entries = sorted((entry for job in jobs for entry in job.summary()),
                         key=lambda entry: subjects.index(entry["subject"]))
        atomic_write_json(out_dir / "sweep.json", {"jobs": entries})
        pending = [job for job in jobs if force or not is_finished(job.config.out_dir)]
        if backend == "local" and config.workers > 1 and len(pending) > 1:
            _run_in_processes(pending, force, config.workers, str(run.path), config.train.progress)
        elif backend == "local":
            for job in track(pending, "sweep", disable=not config.train.progress or not pending):
                run_job(job.config.model_dump(mode="json"), force)
        elif pending:
            _run_on_ray(pending, force, ray_address, config.resources, str(run.path))
    return [Path(job.config.out_dir) for job in jobs]


def check_sweep_data(config: SweepConfig, subjects: list[str] | None = None) -> None:
    """Check every subject's data against the target before the sweep writes or computes anything
    (:func:`brainalign.align.data.check_alignment_data`)."""
    from brainalign.align.data import check_alignment_data

    check_alignment_data(config.train.data, _subjects(config) if subjects is None else subjects)


def run_job(config: dict[str, Any], force: bool = False, parent: str | None = None) -> str:
    """Train one job from its config dict (resuming an unfinished run); return its run directory.
    ``parent``: the sweep folder when the sweep runs in another process (Ray, worker processes)."""
    from brainalign.align.trainer import train

    return str(train(config, resume=not force, force=force, parent=parent))


def _run_in_processes(jobs: list[SweepJob], force: bool, workers: int, parent: str, progress: bool) -> None:
    """Train ``jobs`` ``workers`` at a time, each in a spawned process (a fresh interpreter: no threads or
    locks inherited) with ``cores // workers`` torch threads: small models train faster side by side than
    one at a time on every core. The first failing job's error is raised once the others have finished."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    quiet = _worker_configs(jobs)
    context = multiprocessing.get_context("spawn")
    threads = max(1, available_cores() // workers)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_start_worker,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(run_job, config, force, parent) for config in quiet]
        try:
            for future in track(as_completed(futures), "sweep", total=len(futures), disable=not progress):
                future.exception()  # wait for every job; errors are raised below, in job order
        except BaseException:  # Ctrl-C (the workers got it too and stopped) or an error here: start no more jobs
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    for future in futures:
        future.result()


def _worker_configs(jobs: list[SweepJob]) -> list[dict[str, Any]]:
    """The jobs' configs as plain dicts for another process, without progress bars (the sweep shows one)."""
    return [job.config.model_copy(update={"progress": False}).model_dump(mode="json") for job in jobs]


def _start_worker(threads: int) -> None:
    """A sweep worker process: ``threads`` torch threads; Ctrl-C (sent to the whole process group) ends it
    at once and quietly, the parent reports it (every finished file is kept; the jobs resume)."""
    import signal

    import torch

    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))


def _run_on_ray(jobs: list[SweepJob], force: bool, address: str | None, resources: JobResources,
                parent: str) -> None:
    ray = _require_ray()
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS"))
    task = ray.remote(num_cpus=resources.num_cpus, num_gpus=resources.num_gpus, max_retries=MAX_RETRIES)(run_job)
    quiet = _worker_configs(jobs)
    ray.get([task.remote(config, force, parent) for config in quiet])


def _require_ray() -> Any:
    """The ``ray`` module, or one error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray; install it with pip install 'brainalign[ray]'") from None
    return ray


def _with_shared_base(config: SweepConfig, out_dir: Path) -> SweepConfig:
    """Pre-train the template's base model once (when it asks for pre-training) and point jobs at it."""
    template = config.train
    if template.model.pretrain is None:
        return config
    base_file = out_dir / BASE_MODEL_FILE
    if not base_file.exists():
        from brainalign.align.pretrain import pretrain_base

        pretrain_base(template, base_file)
    model = template.model.model_copy(update={"weights": str(base_file), "pretrain": None})
    return config.model_copy(update={"train": template.model_copy(update={"model": model})})


def _subjects(config: SweepConfig) -> list[str]:
    if config.subjects:
        return list(config.subjects)
    data = config.train.data
    if data.source == "simulated":
        from brainalign.align.data import simulated_observer

        return list(simulated_observer(data.simulate).subjects)
    return [data.subject or ""]
