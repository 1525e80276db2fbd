"""Run a study end to end: data check -> base model -> alignment sweep -> measurement -> statistics ->
result files -> report.

Run directory layout (``RUN_DIR``)::

    config.yaml  environment.json  timings.json  summary.json  report.html  DONE
    alignment/   the sweep (base/model.safetensors, <subject>/<label>_seed<seed>/ run directories)
    results/     result tables (formats in brainalign.report.results); cross_similarity.csv when the config
                 has cross_evaluation entries (brainalign.studies.cross)
    figures/     PNG + SVG, re-drawn from results/ by the report

``summary.json`` holds, per model, the mean, SEM and n across subjects of the headline similarity
(Spearman rho between the headline layer's RDM and the held-out response RDM), paired tests of
``aligned`` against every other model, and the subjects.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd
import yaml

from brainalign.align.sweep import check_sweep_data
from brainalign.align.config import SweepConfig
from brainalign.align.controls import ALIGNED_LABEL, model_rank
from brainalign.config import coerce_config
from brainalign.models.loader import load
from brainalign.progress import track
from brainalign.report import build_report, table_path, write_predictions, write_table
from brainalign.runs import atomic_write_json, atomic_write_text, environment_info, mark_finished, prepare_run_dir
from brainalign.studies import evaluate as ev
from brainalign.studies import statistics as st
from brainalign.studies.config import StudyConfig, check_datasets, check_regions
from brainalign.studies.cross import COLUMNS as CROSS_COLUMNS
from brainalign.studies.cross import measure_cross


def run_study(config: StudyConfig | Mapping[str, Any] | str | os.PathLike[str], out_dir: str | None = None,
              force: bool = False, resume: bool = False, progress: bool = True) -> Path:
    """Run ``config`` (a StudyConfig, dict or YAML path) into ``out_dir`` (default ``config.out_dir``);
    return the run directory. A finished run is kept unless ``force``; ``resume`` keeps an unfinished
    one and skips its finished training jobs."""
    config = coerce_config(StudyConfig, config, "study config")
    check_datasets(config)
    check_sweep_data(config.alignment)  # ids, channels, window, regions, PCA size: before anything is written
    check_regions(config)
    run_dir = prepare_run_dir(out_dir or config.out_dir, force=force, resume=resume)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    atomic_write_json(run_dir / "environment.json", environment_info(config.seed))
    timings: dict[str, float] = {}
    sweep = config.alignment.model_copy(update={
        "out_dir": str(run_dir / "alignment"),
        "train": config.alignment.train.model_copy(update={"progress": progress}),
    })
    with _timed(timings, "alignment (base pre-training + sweep)"):
        from brainalign.align import run_sweep

        run_sweep(sweep)
    with _timed(timings, "measurement"):
        results = measure(config, sweep, Path(sweep.out_dir), progress)
    with _timed(timings, "statistics and result files"):
        summary = write_results(run_dir, config, results)
    timings["total before report"] = round(sum(timings.values()), 2)
    atomic_write_json(run_dir / "timings.json", timings)
    with _timed(timings, "report"):
        build_report(run_dir, title=summary["title"])
    timings["total"] = round(timings.pop("total before report") + timings["report"], 2)
    atomic_write_json(run_dir / "timings.json", timings)  # the page shows every step but the report's own
    mark_finished(run_dir, {"summary": summary["models"]})
    return run_dir


def measure(config: StudyConfig, sweep: SweepConfig, sweep_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Every model on every subject's held-out data: result rows (see :mod:`brainalign.studies.evaluate`)."""
    evaluation = config.evaluation
    models = ev.trained_models(sweep_dir)
    subjects = list(dict.fromkeys(model.subject for model in models))
    base = ev.base_model(sweep, sweep_dir)
    labels = _category_labels(sweep.train.data)
    rows: dict[str, list] = {"similarity": [], "rsa_timecourses": [], "trajectory": [], "robustness": [],
                             "dimensions": []}
    first_aligned: dict[str, Any] = {}
    headline = None
    for subject in track(subjects, "measure subjects", disable=not progress):
        data = ev.held_out(sweep.train.data, subject)
        neural = ev.neural_targets(data, evaluation)
        base_rdms = ev.model_rdms(base, data.data.test_stimuli, evaluation)
        headline = evaluation.headline_layer or list(base_rdms.descriptors["layer"])[-1]
        _extend(rows, ev.similarity_rows(ev.BASE, subject, base_rdms, neural, evaluation.compare_method))
        dimensions = None
        if evaluation.dimensions:
            dimensions = ev.dimension_targets(evaluation.dimensions, sweep.train.data, data.data.test_stimuli)
            rows["dimensions"] += ev.dimension_rows(ev.BASE, subject, base_rdms, dimensions, headline)
        attack_set = _attack_set(evaluation, data, labels)
        if attack_set is not None:
            rows["robustness"] += _robustness_rows(ev.BASE, subject, base, attack_set, evaluation)
        subject_models = [model for model in models if model.subject == subject]
        for model in subject_models:
            network = load(model.run_dir).model
            rdms = ev.model_rdms(network, data.data.test_stimuli, evaluation)
            _extend(rows, ev.similarity_rows(model.label, subject, rdms, neural, evaluation.compare_method))
            first_seed = model.seed == min(other.seed for other in subject_models if other.label == model.label)
            if dimensions is not None:
                rows["dimensions"] += ev.dimension_rows(model.label, subject, rdms, dimensions, headline)
            if attack_set is not None and first_seed:
                rows["robustness"] += _robustness_rows(model.label, subject, network, attack_set, evaluation)
            if model.label == ALIGNED_LABEL and first_seed:
                first_aligned[subject] = (model, rdms, data)
            if model.label == ALIGNED_LABEL and evaluation.trajectory:
                trajectory = ev.trajectory_rows(model, data, neural["whole"], evaluation, headline, labels, base)
                rows["trajectory"] += [(f"{subject} seed {model.seed}", *row) for row in trajectory]
    results: dict[str, Any] = {"rows": rows, "headline": headline, "subjects": subjects}
    if evaluation.variability and len(first_aligned) > 1:
        results["variability"] = ev.variability_rows(
            {f"aligned {subject}": entry[1] for subject, entry in first_aligned.items()}, evaluation.compare_method)
    if evaluation.predictions and first_aligned:
        model, _, data = next(iter(first_aligned.values()))
        results["predictions"] = ev.predictions(model, data, evaluation, min(evaluation.predictions, 8))
    if config.cross_evaluation:
        results["cross"] = measure_cross(config, sweep_dir, base, progress)
    return results


def write_results(run_dir: Path, config: StudyConfig, results: dict[str, Any]) -> dict[str, Any]:
    """Write the result tables, significance and ``summary.json``; return the summary."""
    rows = results["rows"]
    similarity = _seed_mean(ev.frame(rows["similarity"], ["model", "target", "subject", "similarity"]),
                            ["model", "target", "subject"], "similarity")
    write_table(similarity, table_path(run_dir, "similarity"), "similarity")
    if len(similarity["model"].unique()) > 1:
        write_table(st.improvement_table(similarity), table_path(run_dir, "improvement"), "improvement")
    if rows["rsa_timecourses"]:
        courses = _seed_mean(ev.frame(rows["rsa_timecourses"], ["model", "layer", "subject", "time", "similarity"]),
                             ["model", "layer", "subject", "time"], "similarity")
        write_table(courses, table_path(run_dir, "rsa_timecourses"), "rsa_timecourses")
        significance = st.timecourse_significance(courses, config.evaluation.significance,
                                                   n_permutations=config.evaluation.permutations)
        if len(significance):
            write_table(significance, table_path(run_dir, "rsa_significance"), "rsa_significance")
    if rows["trajectory"]:
        trajectory = ev.frame(rows["trajectory"], ["seed", "epoch", "target", "similarity", "accuracy"])
        write_table(trajectory, table_path(run_dir, "trajectory"), "trajectory")
    if rows["dimensions"]:
        dimensions = _seed_mean(ev.frame(rows["dimensions"], ["model", "dimension", "subject", "squared_partial"]),
                                ["model", "dimension", "subject"], "squared_partial")
        write_table(dimensions, table_path(run_dir, "dimensions"), "dimensions")
    if rows["robustness"]:
        robustness = ev.frame(rows["robustness"], ["model", "subject", "eps", "top1", "top1_aligned"])
        write_table(robustness, table_path(run_dir, "robustness"), "robustness")
    if results.get("variability"):
        write_table(ev.frame(results["variability"], ["layer", "model_a", "model_b", "variability"]),
                    table_path(run_dir, "variability"), "variability")
    if results.get("cross"):
        keys = [column for column in CROSS_COLUMNS if column not in ("layer", "similarity")]
        cross = ev.frame(results["cross"], CROSS_COLUMNS).groupby(keys, sort=False).agg(
            similarity=("similarity", "mean"), layer=("layer", lambda layers: layers.mode().iloc[0])).reset_index()
        write_table(cross, table_path(run_dir, "cross_similarity"), "cross_similarity")  # seeds averaged
    if results.get("predictions"):
        prediction = results["predictions"]
        write_predictions(run_dir / "results" / "predictions.npz", prediction.pop("real"), prediction.pop("predicted"),
                          prediction.pop("stimulus_ids"), **prediction)
    headline = results["headline"]
    stats = st.summarize(similarity, headline)
    ordered = {model: stats[model] for model in sorted(stats, key=model_rank)}
    summary = {
        "title": config.title or f"brainalign study: {config.name}",
        "measure": (f"held-out RSA similarity: {config.evaluation.compare_method} correlation between the "
                    f"{headline} layer RDM and each subject's held-out response RDM"),
        "target": headline,
        "subjects": results["subjects"],
        "models": ordered,
        "tests": st.paired_tests(similarity, headline),
    }
    atomic_write_json(run_dir / "summary.json", summary)
    return summary


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """A short plain-text table of the summary (model, mean, SEM, n) for the terminal."""
    lines = [f"{'model':<24} {'mean':>8} {'SEM':>8} {'n':>3}"]
    lines += [f"{model:<24} {values['mean']:>8.4f} {values['sem']:>8.4f} {values['n']:>3}"
              for model, values in summary["models"].items()]
    return lines


def _attack_set(evaluation: Any, data: ev.HeldOut, labels: np.ndarray | None) -> tuple[Any, np.ndarray] | None:
    """``(stimuli, labels)`` attacked for robustness: the config's labelled image set, else the simulated
    training images with their category labels; None when robustness is off or nothing is labelled."""
    robustness = evaluation.robustness
    if robustness is None:
        return None
    if robustness.images is not None:
        from brainalign.data.labelled import load_labelled_images

        labelled = load_labelled_images(robustness.images, robustness.class_index)
        return labelled.stimuli, labelled.labels
    return None if labels is None else (data.data.train_stimuli, labels)


def _robustness_rows(label: str, subject: str, network: Any, attack_set: tuple[Any, np.ndarray],
                     evaluation: Any) -> list[tuple]:
    from brainalign.measure.behaviour.robustness import attack_accuracy

    stimuli, labels = attack_set
    table = attack_accuracy(network, stimuli, labels, evaluation.robustness.epsilons,
                            evaluation.robustness.attack, image_size=evaluation.image_size, progress=False)
    return [(label, subject, float(eps), float(top1), float(aligned))
            for eps, top1, aligned in zip(table["eps"], table["top1"], table["top1_aligned"])]


def _category_labels(data_config: Any) -> np.ndarray | None:
    """Class labels of the training images (simulated observer only: index of their category)."""
    if data_config.source != "simulated":
        return None
    from brainalign.align.data import simulated_observer

    dataset = simulated_observer(data_config.simulate)
    index = {name: position for position, name in enumerate(dataset.train_categories)}
    return np.array([index[concept] for concept in dataset.train_stimuli.concepts or []])


def _seed_mean(table: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    return table.groupby(keys, sort=False)[value].mean().reset_index()


def _extend(rows: dict[str, list], new: dict[str, list]) -> None:
    for kind, values in new.items():
        rows[kind] += values


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - started, 2)
