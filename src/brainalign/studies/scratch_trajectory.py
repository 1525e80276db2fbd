"""The training-from-scratch trajectory study (Scholte et al.; issue 14): does brain alignment peak early?

One architecture is trained from random initialisation with several initialisation seeds
(:func:`brainalign.align.scratch.train_from_scratch`), with checkpoints on a log-spaced schedule that
includes the untrained network (epoch 0) and optional sub-epoch points. At every checkpoint each
layer's RDM (1 - Pearson r between the layer's activations to two images) is correlated (Pearson by
default, as in the paper; Spearman optional) with every target RDM: EEG RDMs averaged over a window around
each time point named in the config (the paper: 80, 170 and 300 ms) and fMRI ROI RDMs (the paper: NSD
V1v, hV4, PPA); held-out classification accuracy is measured at the same checkpoints. The read-outs
(:mod:`brainalign.measure.rsa.trajectory`) are the mean and spread over seeds per checkpoint, the epoch of
peak alignment per layer and target, and the correlation over checkpoints between alignment and accuracy.

Target RDMs are group RDMs: the mean over subjects (and over the time points of an EEG window) of the
subjects' RDMs, on the stimuli the RDMs were measured on (never training images). They come from the
simulated observer (the held-out images of unseen categories; EEG RDMs per time point from
repetition-averaged channel patterns, fMRI RDMs per ROI from repetition-averaged voxel patterns), or
from RDM files written by :meth:`brainalign.data.RDMs.save` (e.g. ``brainalign rdm``), descriptor ``time``
(seconds) for EEG and ``roi`` for fMRI.

A study config is a YAML file with ``study: scratch_trajectory`` (so ``brainalign study`` runs it) and
the keys of :class:`ScratchStudyConfig`. Run directory::

    config.yaml  environment.json  timings.json  summary.json  DONE
    training/seed_<s>/   one training run per seed (brainalign.align.scratch)
    results/             scratch_trajectory.csv, scratch_summary.csv, scratch_peaks.csv
    figures/             scratch_trajectory.png + .svg
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal, Mapping, Optional

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, model_validator

from brainalign.align.config import ScratchTrainConfig
from brainalign.config import Seed, Strict, coerce_config
from brainalign.data import RDMs, Stimuli
from brainalign.errors import ConfigError, MissingDatasetError, ValidationError
from brainalign.studies.config import SCRATCH_STUDY, DatasetRequirement, raise_missing_datasets
from brainalign.studies.config import is_scratch_study as is_scratch_study  # re-exported (read before heavy imports)

if TYPE_CHECKING:
    from brainalign.runs import Run

STUDY_KIND = SCRATCH_STUDY
FIGURE = "scratch_trajectory"


class TargetSet(Strict):
    """Target RDMs of one modality on one stimulus set: EEG windows or fMRI ROIs."""

    name: str = Field(..., description="short name, e.g. things-eeg2 or nsd")
    modality: Literal["eeg", "fmri"]
    source: Literal["simulated", "files"] = Field(
        "files", description="simulated: the observer of train.data.simulate (its held-out images); files: rdms"
    )
    rdms: Optional[str] = Field(None, description="files: RDMs .npz (RDMs.save, e.g. brainalign rdm); may hold {subject}")
    subjects: list[str] = Field(default_factory=list, description="fills {subject} in rdms")
    stimuli: Optional[str] = Field(None, description="files: the images of the RDMs (folder, sub-folders read; or CSV id,path)")
    times_ms: list[float] = Field(default_factory=list, description="EEG: window centres in ms after stimulus onset")
    window_ms: float = Field(20.0, gt=0, description="EEG: window width in ms (time points within +-width/2 are averaged)")
    rois: list[str] = Field(default_factory=list, description="fMRI: ROI names (descriptor roi of the RDMs)")
    eeg_rdm: Literal["correlation", "decoding"] = Field(
        "correlation", description="simulated EEG: RDM per time point (1 - Pearson over channels, or pairwise decoding)"
    )

    @model_validator(mode="after")
    def _complete(self) -> "TargetSet":
        if self.modality == "eeg" and not self.times_ms:
            raise ValueError("an EEG target needs times_ms (window centres, e.g. [80, 170, 300])")
        if self.modality == "fmri" and not self.rois:
            raise ValueError("an fMRI target needs rois (e.g. [V1v, hV4, PPA])")
        if self.source == "files" and (self.rdms is None or self.stimuli is None):
            raise ValueError("source 'files' needs rdms (an RDMs .npz) and stimuli (the images)")
        if self.rdms is not None and "{subject}" in self.rdms and not self.subjects:
            raise ValueError(f"rdms {self.rdms!r} holds {{subject}} but subjects is empty; list them")
        return self

    def rdm_paths(self) -> list[str]:
        """Every RDMs file of this target (one per subject when ``rdms`` holds ``{subject}``)."""
        if self.rdms is None:
            return []
        if "{subject}" not in self.rdms:
            return [self.rdms]
        return [self.rdms.replace("{subject}", subject) for subject in self.subjects]


class ScratchEvaluation(Strict):
    """How layer RDMs are computed and compared with the targets."""

    layers: Optional[list[str]] = Field(None, description="model layers (default: the model's read-out layers)")
    image_size: Optional[int] = Field(None, ge=32, description="image side for features (default: train.data.image_size)")
    rdm_metric: Literal["correlation", "euclidean", "cosine"] = "correlation"
    compare_method: Literal["pearson", "spearman"] = Field("pearson", description="the paper: Pearson")
    batch_size: int = Field(64, ge=1)


class ScratchStudyConfig(Strict):
    """A training-from-scratch trajectory study (see the module docstring)."""

    study: Literal["scratch_trajectory"] = STUDY_KIND
    name: str
    title: Optional[str] = None
    out_dir: str = "runs/scratch_trajectory"
    datasets: list[DatasetRequirement] = Field(default_factory=list)
    seeds: list[Seed] = Field(default_factory=lambda: [0, 1, 2], min_length=1, description="initialisation seeds")
    train: ScratchTrainConfig = Field(default_factory=ScratchTrainConfig, description="template of every seed's run")
    targets: list[TargetSet] = Field(..., min_length=1)
    evaluation: ScratchEvaluation = Field(default_factory=ScratchEvaluation)

    @model_validator(mode="after")
    def _distinct(self) -> "ScratchStudyConfig":
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds {self.seeds} repeat a seed; list each once")
        if any(target.source == "simulated" for target in self.targets) and self.train.data.source != "simulated":
            raise ValueError("simulated targets need train.data.source: simulated (the same simulated observer)")
        return self


@dataclass(frozen=True)
class TargetRDMs:
    """Group target RDMs on ``stimuli`` (same ids, same order): descriptors ``target``, ``modality``, ``dataset``."""

    stimuli: Stimuli
    rdms: RDMs


def load_targets(config: ScratchStudyConfig) -> list[TargetRDMs]:
    """Every target set's group RDMs, checked (windows inside the recording, ROIs present, images there)."""
    return [_target_rdms(target, config) for target in config.targets]


def run_scratch_study(config: ScratchStudyConfig | Mapping[str, Any] | str | os.PathLike[str],
                      out_dir: str | None = None, force: bool = False, resume: bool = False,
                      progress: bool = True) -> Path:
    """Run the study ``config`` (object, dict or YAML path) into ``out_dir`` (default ``config.out_dir``);
    return the run directory. Data and targets are checked before anything is written; ``resume`` keeps
    an unfinished study, skips finished seeds and resumes an interrupted one from its last checkpoint."""
    from brainalign.runs import check_run_dir, open_run

    config = coerce_config(ScratchStudyConfig, config, "scratch-trajectory study config")
    check_run_dir(out_dir or config.out_dir, "scratch_study", force=force, resume=resume)
    raise_missing_datasets(config.name, [dataset for dataset in config.datasets if not Path(dataset.path).exists()])
    targets = load_targets(config)
    from brainalign.align.scratch import load_classification_data

    load_classification_data(config.train.data)  # the task's images are checked before training starts
    run_dir = Path(out_dir or config.out_dir)
    with open_run(run_dir, "scratch_study", force=force, resume=resume) as run:
        _run(config, targets, run, progress)
    return run_dir


def _run(config: ScratchStudyConfig, targets: list[TargetRDMs], run: "Run", progress: bool) -> None:
    """The body of :func:`run_scratch_study` inside its open run folder."""
    from brainalign.align.scratch import train_from_scratch
    from brainalign.runs import atomic_write_json, atomic_write_text, environment_info, is_finished, mark_finished

    run_dir = run.path
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    atomic_write_json(run_dir / "environment.json", environment_info(config.seeds[0]))
    run.keep()  # from here on a failure leaves the run for --resume
    timings: dict[str, float] = {}
    runs = {seed: run_dir / "training" / f"seed_{seed}" for seed in config.seeds}
    with _timed(timings, "training from scratch"):
        for seed, seed_dir in runs.items():
            if not is_finished(seed_dir):
                train_from_scratch(config.train.model_copy(update={"out_dir": str(seed_dir), "seed": seed, "progress": progress}),
                                   resume=True)
    with _timed(timings, "alignment per checkpoint"):
        table = measure_checkpoints(config, runs, targets, progress)
    with _timed(timings, "read-outs and figure"):
        summary = write_results(run_dir, config, table)
    timings["total"] = round(sum(timings.values()), 2)
    atomic_write_json(run_dir / "timings.json", timings)
    mark_finished(run_dir, {"peaks": summary["best_layers"]})


def measure_checkpoints(config: ScratchStudyConfig, runs: Mapping[int, Path], targets: list[TargetRDMs],
                        progress: bool = True) -> pd.DataFrame:
    """The long table: one row per seed x checkpoint x layer x target with ``similarity`` and the
    checkpoint's held-out ``accuracy`` (columns of ``scratch_trajectory.csv``)."""
    from brainalign.models.files import checkpoint_dir, checkpoint_epochs
    from brainalign.align.scratch import STEP
    from brainalign.measure.rsa.trajectory import rsa_trajectory
    from brainalign.runs import read_jsonl

    evaluation = config.evaluation
    checkpoints, accuracy = [], {}
    for seed, seed_dir in runs.items():
        records = {record[STEP]: record for record in read_jsonl(seed_dir / "metrics.jsonl")}
        for step in checkpoint_epochs(seed_dir, STEP):
            epoch = records[step]["epoch"]
            checkpoints.append((epoch, seed, checkpoint_dir(seed_dir, step, STEP)))
            accuracy[(epoch, seed)] = records[step]["val_top1"]
    frames = [
        rsa_trajectory(checkpoints, target.stimuli, target.rdms, layers=evaluation.layers, metric=evaluation.rdm_metric,
                       method=evaluation.compare_method, accuracy=accuracy, batch_size=evaluation.batch_size,
                       image_size=evaluation.image_size or config.train.data.image_size, progress=progress)
        for target in targets
    ]
    table = pd.concat(frames, ignore_index=True)
    return table[["seed", "epoch", "layer", "target", "modality", "similarity", "accuracy"]]


def write_results(run_dir: Path, config: ScratchStudyConfig, table: pd.DataFrame) -> dict[str, Any]:
    """Result tables, the figure and ``summary.json`` of a measured study; return the summary."""
    from brainalign.measure.rsa.trajectory import peak_summary, trajectory_summary
    from brainalign.report import plot_scratch_trajectory, table_path, write_table
    from brainalign.runs import atomic_write_json

    trajectory_path = table_path(run_dir, "scratch_trajectory")
    write_table(table, trajectory_path, "scratch_trajectory")
    keys = ["layer", "target"]
    summary_table = trajectory_summary(table, keys)
    summary_table.to_csv(run_dir / "results" / "scratch_summary.csv", index=False)
    peaks = _in_table_order(peak_summary(table, keys, method=config.evaluation.compare_method), table, keys)
    write_table(peaks, table_path(run_dir, "scratch_peaks"), "scratch_peaks")
    plot_scratch_trajectory(trajectory_path, run_dir / "figures" / FIGURE)
    best = peaks.loc[peaks.groupby("target", sort=False)["peak"].idxmax()]
    final_epoch = float(table["epoch"].max())
    accuracy = table.drop_duplicates(["seed", "epoch"]).groupby("epoch")["accuracy"].mean()
    summary = {
        "title": config.title or f"brainalign study: {config.name}",
        "measure": (f"{config.evaluation.compare_method} correlation between each layer's RDM "
                    f"({config.evaluation.rdm_metric} distance) and each target's group RDM, at every checkpoint"),
        "model": config.train.model.name,
        "seeds": config.seeds,
        "epochs": final_epoch,
        "accuracy": {"untrained": float(accuracy.iloc[0]), "final": float(accuracy.iloc[-1]),
                     "peak_epoch": float(accuracy.idxmax())},
        "best_layers": [
            {"target": row.target, "layer": row.layer, "peak_epoch": float(row.peak_epoch), "peak": float(row.peak),
             "untrained": float(row.untrained), "final": float(row.final),
             "seed_peak_epoch_mean": float(row.seed_peak_epoch_mean), "accuracy_r_mean": _number(row.accuracy_r_mean)}
            for row in best.itertuples()
        ],
    }
    atomic_write_json(run_dir / "summary.json", summary)
    return summary


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """Per target: the layer with the highest seed-mean peak, where it peaks, and the relation to accuracy."""
    accuracy = summary["accuracy"]
    lines = [f"held-out accuracy: {accuracy['untrained']:.3f} untrained -> {accuracy['final']:.3f} at epoch "
             f"{summary['epochs']:g} (peak at epoch {accuracy['peak_epoch']:g})",
             f"{'target':<16} {'layer':<10} {'untrained':>9} {'peak':>7} {'at epoch':>8} {'final':>7} {'r(acc)':>7}"]
    for row in summary["best_layers"]:
        r = "n/a" if row["accuracy_r_mean"] is None else f"{row['accuracy_r_mean']:.2f}"
        lines.append(f"{row['target']:<16} {row['layer']:<10} {row['untrained']:>9.3f} {row['peak']:>7.3f} "
                     f"{row['peak_epoch']:>8.3g} {row['final']:>7.3f} {r:>7}")
    return lines


def _target_rdms(target: TargetSet, config: ScratchStudyConfig) -> TargetRDMs:
    where = f"targets[{target.name}]"
    if target.source == "simulated":
        stimuli, stack = _simulated_rdms(target, config)
    else:
        absent = [path for path in [*target.rdm_paths(), str(target.stimuli)] if not Path(path).exists()]
        if absent:
            raise MissingDatasetError(f"{where}: {absent} do not exist; get the data named under datasets: in the "
                                      "config, or fix rdms/stimuli")
        stacks = [RDMs.load(path) for path in target.rdm_paths()]
        reference = stacks[0].stimulus_ids
        try:
            stack = RDMs.concat([other.match_stimuli(reference) for other in stacks])
            folder = Path(str(target.stimuli))
            stimuli = (Stimuli.from_folder(folder, recursive=True) if folder.is_dir() else Stimuli.from_csv(folder)).subset(reference)
        except ValidationError as error:
            raise ConfigError(f"{where}: the RDMs in {target.rdm_paths()} and the images {target.stimuli} do not "
                              f"match ({error}); use the images the RDMs were computed on") from None
    rows = _eeg_windows(stack, target, where) if target.modality == "eeg" else _rois(stack, target, where)
    names = [name for name, _ in rows]
    dissimilarities = np.stack([stack.dissimilarities[mask].mean(axis=0) for _, mask in rows])
    descriptors = pd.DataFrame({"target": names, "modality": target.modality, "dataset": target.name})
    return TargetRDMs(stimuli, RDMs(dissimilarities, stack.stimulus_ids, descriptors))


def _simulated_rdms(target: TargetSet, config: ScratchStudyConfig) -> tuple[Stimuli, RDMs]:
    from brainalign.align.data import simulated_observer
    from brainalign.measure.rsa.neural import neural_rdms

    options = {**config.train.data.simulate, "modality": target.modality}
    dataset = simulated_observer(options)
    subjects = target.subjects or dataset.subjects
    unknown = [subject for subject in subjects if subject not in dataset.subjects]
    if unknown:
        raise ConfigError(f"targets[{target.name}].subjects: {unknown} are not simulated subjects {dataset.subjects}")
    stack = RDMs.concat([neural_rdms(dataset.test[subject].match_stimuli(dataset.test_stimuli), eeg_method=target.eeg_rdm)
                         for subject in subjects])
    return dataset.test_stimuli, stack


def _eeg_windows(stack: RDMs, target: TargetSet, where: str) -> list[tuple[str, np.ndarray]]:
    if "time" not in stack.descriptors.columns:
        raise ConfigError(f"{where}: the EEG RDMs have no descriptor 'time' (seconds) (have "
                          f"{list(stack.descriptors.columns)}); compute them per time point, e.g. brainalign rdm RESPONSES.npz")
    times_ms = stack.descriptors["time"].to_numpy(float) * 1000.0
    rows = []
    for centre in target.times_ms:
        mask = np.abs(times_ms - centre) <= target.window_ms / 2 + 1e-6
        if not mask.any():
            raise ConfigError(f"{where}.times_ms: no EEG time point within {centre:g} +- {target.window_ms / 2:g} ms "
                              f"(the RDMs cover {times_ms.min():g} to {times_ms.max():g} ms); choose centres inside")
        rows.append((f"EEG {centre:g} ms", mask))
    return rows


def _rois(stack: RDMs, target: TargetSet, where: str) -> list[tuple[str, np.ndarray]]:
    available = list(pd.unique(stack.descriptors["roi"])) if "roi" in stack.descriptors.columns else []
    missing = [roi for roi in target.rois if roi not in available]
    if missing:
        raise ConfigError(f"{where}.rois: {missing} are not among the fMRI RDMs' ROIs {available}; fix the names")
    return [(f"fMRI {roi}", (stack.descriptors["roi"] == roi).to_numpy()) for roi in target.rois]


def _in_table_order(frame: pd.DataFrame, table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``frame`` sorted by ``keys`` in the order their values first appear in ``table`` (config order)."""
    ranks = [frame[key].map({value: rank for rank, value in enumerate(pd.unique(table[key]))}) for key in reversed(keys)]
    return frame.iloc[np.lexsort(ranks)].reset_index(drop=True)


def _number(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 2)
