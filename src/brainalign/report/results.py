"""Result files: the tables a study writes and the figures and report read (nothing else).

Every result of a study lives in ``RUN_DIR/results/`` as a long-format CSV (one row per value) or,
for response arrays, an ``.npz``. The report is rebuilt from these files alone.

Formats (column names are exact; extra columns are allowed and ignored):

``rsa_timecourses.csv`` - RSA similarity of model layers to EEG time points, per subject.
    ``model`` (str), ``layer`` (str), ``subject`` (str), ``time`` (seconds, float),
    ``similarity`` (Spearman rho between the layer RDM and the EEG RDM at that time point).
``rsa_significance.csv`` - time points where a model's time course differs significantly from a
    comparison (e.g. cluster permutation test of aligned vs base across subjects).
    ``model``, ``layer``, ``time`` (s), ``significant`` (bool or 0/1); optional ``p_value``, ``test``
    (a label such as ``"aligned > base, cluster p<0.05"``).
``similarity.csv`` - one similarity per model, target and subject, e.g. an fMRI ROI (best layer)
    or the held-out responses of the simulated observer.
    ``model``, ``target`` (ROI or measure name), ``subject``, ``similarity``.
``cross_similarity.csv`` - every model scored on another dataset or modality (``cross_evaluation`` of a
    study config; :mod:`brainalign.studies.cross`). ``dataset`` (name of the entry), ``model``,
    ``subject`` (the training subject of the model; ``all`` for the shared base model), ``target``
    (fMRI: ROI; EEG: layer), ``similarity`` (fMRI: Spearman rho of the best layer for that ROI; EEG:
    peak over time points of the layer's RSA time course); optional ``modality`` (fmri/eeg),
    ``data_subject`` (the subject of the other dataset; one row each) and ``layer`` (fMRI: the best layer).
``improvement.csv`` - improvement of aligned models over their base model.
    ``model``, ``target``, ``subject``, ``base``, ``aligned``, ``improvement`` (aligned - base),
    ``improvement_ratio`` ((aligned - base) / base).
``variability.csv`` - individual variability (1 - Spearman rho between two models' RDMs) per layer.
    ``layer``, ``model_a``, ``model_b``, ``variability``; each unordered pair once or twice.
``robustness.csv`` - classification accuracy under an adversarial attack (written by ``brainalign
    robustness`` and by studies; :func:`brainalign.measure.attack_accuracy`'s table plus ``model``).
    ``model``, ``eps`` (attack strength, L-inf, pixel units in [0, 1]), ``top1`` (fraction in [0, 1]),
    ``top1_aligned`` (top1 minus the clean accuracy); optional ``top5``, ``top5_aligned``, ``attack``
    (fgsm/pgd), ``n_images`` and ``subject`` (several rows per model, attack and eps are averaged, SEM shown).
``dimensions.csv`` - squared partial Spearman correlation of a model RDM with each object-dimension
    RDM, controlling the others. ``model``, ``dimension`` (label), ``squared_partial``; optional
    ``subject``. Dimensions are drawn in file order.
``trajectory.csv`` - alignment across training epochs. ``seed``, ``epoch`` (int, 0 = before training),
    ``target`` (ROI, time window or measure), ``similarity``; optional ``accuracy`` (fraction, the
    same for every target of one seed and epoch).
``scratch_trajectory.csv`` - alignment across training from scratch (:mod:`brainalign.studies.scratch_trajectory`).
    ``seed`` (initialisation seed), ``epoch`` (float; 0 = the untrained network, fractions = sub-epoch
    checkpoints), ``layer``, ``target`` (e.g. ``EEG 170 ms``, ``fMRI hV4``), ``similarity`` (correlation of
    the layer RDM with the target RDM), ``accuracy`` (held-out top-1, the same for every layer and target of
    one seed and epoch); optional ``modality``.
``scratch_peaks.csv`` - per ``layer`` and ``target``: ``peak_epoch`` and ``peak`` of the seed-mean curve,
    ``untrained``, ``final``, ``drop_after_peak``, per-seed peak epochs (``seed_peak_epoch_mean`` ...),
    correlation over checkpoints with accuracy (``accuracy_r_mean``, ``accuracy_r_sd``,
    ``accuracy_r_of_means``), ``accuracy_peak_epoch``, ``n_seeds`` (:func:`brainalign.measure.peak_summary`).
``predictions.npz`` - predicted and recorded responses for example stimuli.
    ``real``, ``predicted``: float arrays ``(n_examples, *feature_shape)`` (EEG: channels x times);
    ``stimulus_ids``: str ``(n_examples,)``; optional ``images``: uint8 ``(n_examples, h, w, 3)``,
    ``times`` (s) and ``channels`` (str).

Run-level files read by the report (in ``RUN_DIR``): ``summary.json`` (``models``: per model ``mean``,
``sem``, ``n`` of the headline similarity; ``measure``: what it is; optional ``title``, ``notes`` and
``tests``: paired tests with ``model``, ``other``, ``n``, ``mean_difference``, ``n_better``,
``p_value``), ``config.yaml``, ``environment.json``
(:func:`brainalign.runs.environment_info`) and ``timings.json`` (step name -> seconds).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brainalign.errors import DataFormatError
from brainalign.runs import atomic_write_with

RESULTS_DIR = "results"


@dataclass(frozen=True)
class TableFormat:
    """A result table: its file name in ``RUN_DIR/results`` and the columns it must have."""

    filename: str
    columns: tuple[str, ...]


TABLES: dict[str, TableFormat] = {
    "rsa_timecourses": TableFormat("rsa_timecourses.csv", ("model", "layer", "subject", "time", "similarity")),
    "rsa_significance": TableFormat("rsa_significance.csv", ("model", "layer", "time", "significant")),
    "similarity": TableFormat("similarity.csv", ("model", "target", "subject", "similarity")),
    "cross_similarity": TableFormat("cross_similarity.csv", ("dataset", "model", "target", "subject", "similarity")),
    "improvement": TableFormat(
        "improvement.csv", ("model", "target", "subject", "base", "aligned", "improvement", "improvement_ratio")
    ),
    "variability": TableFormat("variability.csv", ("layer", "model_a", "model_b", "variability")),
    "robustness": TableFormat("robustness.csv", ("model", "eps", "top1", "top1_aligned")),
    "dimensions": TableFormat("dimensions.csv", ("model", "dimension", "squared_partial")),
    "trajectory": TableFormat("trajectory.csv", ("seed", "epoch", "target", "similarity")),
    "scratch_trajectory": TableFormat(
        "scratch_trajectory.csv", ("seed", "epoch", "layer", "target", "similarity", "accuracy")
    ),
    "scratch_peaks": TableFormat("scratch_peaks.csv", ("layer", "target", "peak_epoch", "peak", "accuracy_r_mean")),
}
PREDICTIONS_FILE = "predictions.npz"
_STRING_COLUMNS = ("model", "layer", "subject", "target", "model_a", "model_b", "dimension", "test", "dataset",
                   "modality", "data_subject", "attack")


def table_path(run_dir: str | os.PathLike[str], kind: str) -> Path:
    """Path of result table ``kind`` (a key of :data:`TABLES`) inside ``run_dir``."""
    return Path(run_dir) / RESULTS_DIR / _format(kind).filename


def write_table(table: pd.DataFrame, path: str | os.PathLike[str], kind: str) -> Path:
    """Check ``table`` has the columns of ``kind`` and write it atomically as CSV; return the path."""
    _check_columns(table, kind, Path(path))
    return atomic_write_with(path, lambda temp: table.to_csv(temp, index=False))


def read_table(path: str | os.PathLike[str], kind: str) -> pd.DataFrame:
    """Read result table ``kind`` from ``path``; raise DataFormatError naming missing columns."""
    source = Path(path)
    try:
        table = pd.read_csv(source, dtype={name: str for name in _STRING_COLUMNS})
    except FileNotFoundError:
        raise DataFormatError(f"result file {source} does not exist; re-run the study that writes it") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataFormatError(f"result file {source} is not a readable CSV ({error}); re-run the study") from None
    _check_columns(table, kind, source)
    if table.empty:
        raise DataFormatError(f"result file {source} has no rows; re-run the study that writes it")
    return table


def write_predictions(path: str | os.PathLike[str], real: np.ndarray, predicted: np.ndarray,
                      stimulus_ids: list[str], **extra: Any) -> Path:
    """Write example responses: ``real``/``predicted`` ``(n_examples, *feature_shape)``; ``extra``
    may hold ``images`` (uint8 (n, h, w, 3)), ``times`` (s) and ``channels``."""
    if np.shape(real) != np.shape(predicted) or len(stimulus_ids) != np.shape(real)[0]:
        raise DataFormatError(
            f"{path}: real {np.shape(real)}, predicted {np.shape(predicted)} and {len(stimulus_ids)} "
            "stimulus ids must agree (n_examples, *feature_shape)"
        )
    arrays: dict[str, Any] = {"real": np.asarray(real, np.float32), "predicted": np.asarray(predicted, np.float32),
              "stimulus_ids": np.asarray(stimulus_ids, dtype=str)}
    arrays.update({key: np.asarray(value) for key, value in extra.items() if value is not None})
    return atomic_write_with(path, lambda temp: np.savez_compressed(temp, **arrays))


def read_predictions(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a ``predictions.npz`` (see the module docstring); raise DataFormatError when malformed."""
    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise DataFormatError(f"result file {source} does not exist; re-run the study that writes it") from None
    except (OSError, ValueError) as error:
        raise DataFormatError(f"result file {source} is not a readable .npz ({error}); re-run the study") from None
    missing = [key for key in ("real", "predicted", "stimulus_ids") if key not in arrays]
    if missing or arrays.get("real", np.empty(0)).shape != arrays.get("predicted", np.empty(1)).shape:
        raise DataFormatError(
            f"{source} must hold arrays real and predicted of equal shape and stimulus_ids "
            f"(missing: {missing or 'none'}); re-run the study"
        )
    return arrays


def _format(kind: str) -> TableFormat:
    if kind not in TABLES:
        raise DataFormatError(f"unknown result table {kind!r}; known tables: {', '.join(TABLES)}")
    return TABLES[kind]


def _check_columns(table: pd.DataFrame, kind: str, source: Path) -> None:
    missing = [column for column in _format(kind).columns if column not in table.columns]
    if missing:
        raise DataFormatError(
            f"result file {source} lacks column(s) {', '.join(missing)}; a {kind} table needs "
            f"{', '.join(_format(kind).columns)} (see brainalign.report.results)"
        )
