"""Run a study end to end: data check -> base model -> alignment sweep -> measurement -> statistics ->
result files -> report.

Run directory layout (``RUN_DIR``)::

    config.yaml  environment.json  timings.json  summary.json  report.html  DONE
    alignment/   the sweep (base/model.safetensors, <subject>/<label>_seed<seed>/ run directories)
    results/     one table per analysis (brainalign.studies.analyses; formats in brainalign.report.results)
    figures/     PNG + SVG, re-drawn from results/ by the report

``summary.json`` (:mod:`brainalign.studies.summary`) holds the papers' headline readouts per model with
two-sided p-values and confidence intervals, every paired test, the noise ceilings and the subjects.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import pandas as pd
import yaml

from brainalign.align.sweep import check_sweep_data
from brainalign.config import coerce_config
from brainalign.report import build_report
from brainalign.report.results import typed
from brainalign.runs import atomic_write_json, atomic_write_text, Run, check_run_dir, environment_info, mark_finished, open_run
from brainalign.studies import evaluate as ev
from brainalign.studies.analyses import ANALYSES, Analysis
from brainalign.studies.config import StudyConfig, check_datasets, check_evaluation, check_regions
from brainalign.studies.context import StudyContext
from brainalign.studies.summary import build_summary


def run_study(config: StudyConfig | Mapping[str, Any] | str | os.PathLike[str], out_dir: str | None = None,
              force: bool = False, resume: bool = False, progress: bool = True) -> Path:
    """Run ``config`` (a StudyConfig, dict or YAML path) into ``out_dir`` (default ``config.out_dir``);
    return the run directory. A finished run is kept unless ``force``; ``resume`` keeps an unfinished
    one and skips its finished training jobs."""
    config = coerce_config(StudyConfig, config, "study config")
    check_run_dir(out_dir or config.out_dir, "study", force=force, resume=resume)
    check_datasets(config)
    check_sweep_data(config.alignment)  # ids, channels, window, regions, PCA size: before anything is written
    check_regions(config)
    check_evaluation(config)
    run_dir = Path(out_dir or config.out_dir)
    with open_run(run_dir, "study", force=force, resume=resume) as run:
        _run(config, run, progress)
    return run_dir


def _run(config: StudyConfig, run: Run, progress: bool) -> None:
    """The body of :func:`run_study` inside its open run folder."""
    run_dir = run.path
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(resolved(config, run_dir).model_dump(mode="json"),
                                                              sort_keys=False))
    atomic_write_json(run_dir / "environment.json", environment_info(config.seed))
    run.keep()  # from here on a failure leaves the run for --resume
    timings: dict[str, float] = {}
    sweep = config.alignment.model_copy(update={
        "out_dir": str(run_dir / "alignment"),
        "train": config.alignment.train.model_copy(update={"progress": progress}),
    })
    with _timed(timings, "alignment (base pre-training + sweep)"):
        from brainalign.align import run_sweep

        run_sweep(sweep)  # a sweep folder always continues: a resumed study skips its finished jobs
    sweep_dir = Path(sweep.out_dir)
    context = StudyContext(config, sweep, sweep_dir, ev.base_model(sweep, sweep_dir), ev.trained_models(sweep_dir),
                           progress)
    with _timed(timings, "analyses"):
        run_analyses(context, run_dir)
    with _timed(timings, "statistics and summary"):
        summary = write_summary(run_dir, context)
    timings["total before report"] = round(sum(timings.values()), 2)
    atomic_write_json(run_dir / "timings.json", timings)
    with _timed(timings, "report"):
        build_report(run_dir, title=summary["title"])
    timings["total"] = round(timings.pop("total before report") + timings["report"], 2)
    atomic_write_json(run_dir / "timings.json", timings)  # the page shows every step but the report's own
    mark_finished(run_dir, {"summary": summary["models"]})


def resolved(config: StudyConfig, run_dir: Path) -> StudyConfig:
    """``config`` with the folders it actually writes: ``out_dir`` = the run directory, the sweep in
    ``alignment/`` (each training job in ``alignment/<subject>/<label>_seed<seed>``)."""
    sweep_dir = str(run_dir / "alignment")
    return config.model_copy(update={"out_dir": str(run_dir), "alignment": config.alignment.model_copy(update={
        "out_dir": sweep_dir, "train": config.alignment.train.model_copy(update={"out_dir": sweep_dir})})})


def run_analyses(context: StudyContext, run_dir: Path,
                 analyses: Sequence[Analysis] = ANALYSES) -> dict[str, pd.DataFrame]:
    """Run every enabled analysis (default :data:`~brainalign.studies.analyses.ANALYSES`) in order, writing
    each result into ``run_dir/results``; return the tables (name -> DataFrame)."""
    for analysis in analyses:
        if not analysis.enabled(context.config):
            continue
        missing = [name for name in analysis.needs if name not in context.frames]
        if missing:
            continue  # e.g. significance without time courses
        result = analysis.run(context)
        if result is None:
            continue
        if isinstance(result, pd.DataFrame):
            result = typed(result, analysis.name, f"analysis {analysis.name}")
            context.frames[analysis.name] = result
        analysis.save(run_dir, result)
    return context.frames


def write_summary(run_dir: Path, context: StudyContext) -> dict[str, Any]:
    """Write ``summary.json`` from the analyses' tables; return it."""
    summary = build_summary(context.config, context.frames, context.subjects, context.headline_layer)
    atomic_write_json(run_dir / "summary.json", summary)
    return summary


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 2)
