"""Result files: the tables a study writes and the figures and report read (nothing else).

Every result of a study lives in ``RUN_DIR/results/`` as a long-format CSV (one row per value) or,
for response arrays, an ``.npz``. The report is rebuilt from these files alone.

Each table has a declared schema in :data:`TABLES`: its file name, what one row is, and its columns
with a dtype (``str``, ``float``, ``int``, ``bool``) and a description; ``python -c "from
brainalign.report.results import describe_tables; print(describe_tables())"`` prints them all.
:func:`write_table` and :func:`read_table` check the required columns and cast every declared column
to its dtype, so a table reads back with the types it was written with (ids stay strings). Extra
columns are allowed and kept. Similarities are Spearman rho (or the study's ``compare_method``)
between a model RDM and a neural RDM; times are in seconds; ratios are fractions (0.1 = 10 %).

``predictions.npz`` - predicted and recorded responses for example stimuli.
    ``real``, ``predicted``: float arrays ``(n_examples, *feature_shape)`` (EEG: channels x times);
    ``stimulus_ids``: str ``(n_examples,)``; optional ``images``: uint8 ``(n_examples, h, w, 3)``,
    ``times`` (s) and ``channels`` (str).

Run-level files read by the report (in ``RUN_DIR``): ``summary.json`` (keys in :data:`SUMMARY_KEYS`),
``config.yaml``, ``environment.json`` (:func:`brainalign.runs.environment_info`) and ``timings.json``
(step name -> seconds).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from brainalign.errors import DataFormatError
from brainalign.inputs import existing_file, read_json, reading
from brainalign.runs import atomic_write_with

RESULTS_DIR = "results"
ALL_SUBJECTS = "all"  # the subject of a network shared by every subject (the base model, a shared beta-0 run)
Dtype = Literal["str", "float", "int", "bool"]


@dataclass(frozen=True)
class Column:
    """One column of a result table: name, dtype, meaning (with units) and whether it must be present."""

    name: str
    dtype: Dtype
    description: str
    required: bool = True


@dataclass(frozen=True)
class TableFormat:
    """A result table: its file name in ``RUN_DIR/results``, what one row holds, and its columns."""

    filename: str
    row: str
    schema: tuple[Column, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The required column names."""
        return tuple(column.name for column in self.schema if column.required)

    def dtypes(self) -> dict[str, Dtype]:
        """Declared dtype of every column (required and optional)."""
        return {column.name: column.dtype for column in self.schema}


def _c(name: str, dtype: Dtype, description: str, required: bool = True) -> Column:
    return Column(name, dtype, description, required)


_MODEL = _c("model", "str", "model label: base, aligned, control_beta0, control_no_contrastive, control_unpaired "
            "(+ _beta<b> when a sweep has several betas)")
_SUBJECT = _c("subject", "str", "subject whose held-out data the value is measured on (the unit of inference); "
              "several seeds of one model and subject are averaged first")

TABLES: dict[str, TableFormat] = {
    "similarity": TableFormat("similarity.csv", "one model, target and subject", (
        _MODEL, _c("target", "str", "layer name (vs the whole held-out response RDM) or ROI (best layer)"),
        _SUBJECT, _c("similarity", "float", "RSA similarity (Spearman rho) of the model RDM with the neural RDM"),
        _c("readout", "str", "'whole response' (a layer vs every feature at once) or 'roi best layer'", False),
        _c("layer", "str", "the model layer behind the value (ROI: the best layer)", False),
    )),
    "rsa_timecourses": TableFormat("rsa_timecourses.csv", "one model, layer, subject and EEG time point", (
        _MODEL, _c("layer", "str", "model layer"), _SUBJECT, _c("time", "float", "seconds after stimulus onset"),
        _c("similarity", "float", "RSA similarity of the layer RDM with the EEG RDM at that time point"),
    )),
    "rsa_significance": TableFormat("rsa_significance.csv", "one model, reference, layer and time point", (
        _MODEL, _c("layer", "str", "model layer"), _c("time", "float", "seconds after stimulus onset"),
        _c("significant", "bool", "inside a significant cluster (cluster test) or FDR-significant time point"),
        _c("reference", "str", "the model the difference is taken against", False),
        _c("difference", "float", "mean over subjects of model - reference similarity", False),
        _c("sem", "float", "SEM over subjects of the difference", False),
        _c("p_value", "float", "cluster p (cluster test; NaN outside clusters) or FDR-corrected p", False),
        _c("n", "int", "number of subjects", False),
        _c("test", "str", "the test, e.g. 'two-sided cluster permutation test (1000 permutations)'", False),
    )),
    "improvement": TableFormat("improvement.csv", "one model, reference, readout, target and subject", (
        _MODEL, _c("target", "str", "layer (EEG readouts) or ROI / layer (similarity readouts)"), _SUBJECT,
        _c("base", "float", "similarity of the reference model (the base model unless ``reference`` says otherwise)"),
        _c("aligned", "float", "similarity of ``model``"),
        _c("improvement", "float", "aligned - base (similarity units)"),
        _c("improvement_ratio", "float", "(aligned - base) / base, a fraction (0.1 = 10 %)"),
        _c("reference", "str", "the model compared against (default base; a control of the same beta)", False),
        _c("readout", "str", "'eeg peak' (at the reference's peak time), 'eeg 50-200 ms' (mean over 50-200 ms), "
           "'roi best layer', 'whole response', or a cross-dataset readout", False),
        _c("time", "float", "EEG peak: the time of the peak (s); NaN otherwise", False),
    )),
    "comparisons": TableFormat("comparisons.csv", "one headline comparison and subject "
                               "(brainalign.studies.analyses.comparisons)", (
        _c("comparison", "str", "what minus what, e.g. 'aligned - control_beta0', 'aligned: within - cross subject', "
           "'<dataset>: aligned - control_beta0' (another modality of the same subjects)"),
        _c("claim", "str", "the claim the comparison tests (it holds when the difference is reliably above 0)"),
        _c("model", "str", "the model of the first term"), _c("reference", "str", "what it is compared with"),
        _c("readout", "str", "the similarity compared, e.g. 'whole response (IT)'"),
        _c("target", "str", "layer, or ROIs / layer of a cross-modal readout"), _SUBJECT,
        _c("model_value", "float", "the first term's similarity for this subject (seeds averaged)"),
        _c("reference_value", "float", "the reference's similarity for this subject (seeds averaged)"),
        _c("difference", "float", "model_value - reference_value (similarity units)"),
    )),
    "ground_truth": TableFormat("ground_truth.csv", "one model, subject, layer and hidden stage of the simulated "
                                "observer (brainalign.studies.analyses.ground_truth)", (
        _MODEL, _SUBJECT, _c("layer", "str", "model layer"),
        _c("stage", "str", "hidden stage of the subject's simulated brain: early, mid, high, object"),
        _c("similarity", "float", "RSA similarity of the layer RDM with the stage's noise-free RDM (held-out images)"),
    )),
    "noise_ceiling": TableFormat("noise_ceiling.csv", "one neural target", (
        _c("readout", "str", "'eeg time course', 'roi best layer', 'whole response', 'cross-dataset roi' or "
           "'cross-dataset eeg time course' (what it bounds)"),
        _c("target", "str", "time point (as text), ROI or 'whole response'; '<entry> <ROI or time>' for a "
           "cross_evaluation entry"),
        _c("lower", "float", "lower bound: mean over subjects of the similarity of a subject's RDM with the mean "
           "of the other subjects' RDMs"),
        _c("upper", "float", "upper bound: the same with the mean of all subjects' RDMs"),
        _c("n", "int", "number of subjects"),
        _c("time", "float", "seconds (EEG); NaN otherwise", False),
    )),
    "cross_similarity": TableFormat("cross_similarity.csv", "one model, training subject, data subject and ROI", (
        _c("dataset", "str", "name of the cross_evaluation entry"), _MODEL,
        _c("target", "str", "ROI"),
        _c("subject", "str", "the training subject of the model ('all' for the shared base model)"),
        _c("similarity", "float", "RSA similarity of the best layer for that ROI"),
        _c("modality", "str", "fmri", False), _c("data_subject", "str", "subject of the other dataset", False),
        _c("layer", "str", "the best layer", False),
    )),
    "cross_timecourses": TableFormat("cross_timecourses.csv", "one model, training subject, data subject, layer "
                                     "and time point of another EEG dataset", (
        _c("dataset", "str", "name of the cross_evaluation entry"), _MODEL,
        _c("subject", "str", "the training subject of the model ('all' for the shared base model)"),
        _c("data_subject", "str", "subject of the other dataset (the unit of inference of this readout)"),
        _c("layer", "str", "model layer"), _c("time", "float", "seconds after stimulus onset"),
        _c("similarity", "float", "RSA similarity of the layer RDM with the EEG decoding RDM at that time"),
    )),
    "improvement_correlation": TableFormat("improvement_correlation.csv", "one EEG readout x fMRI ROI pair", (
        _c("eeg_readout", "str", "EEG improvement: '<layer> 50-200 ms' or '<layer> peak'"),
        _c("roi", "str", "fMRI ROI (improvement of the best-layer similarity)"),
        _c("r", "float", "Pearson r across aligned models of their EEG and fMRI improvements over base"),
        _c("p_value", "float", "two-sided p of r"), _c("n", "int", "number of models (one per training subject)"),
    )),
    "variability": TableFormat("variability.csv", "one layer and pair of models", (
        _c("layer", "str", "model layer"), _c("model_a", "str", "first model (e.g. 'aligned sub-01 seed 0')"),
        _c("model_b", "str", "second model"),
        _c("variability", "float", "1 - Spearman rho between the two models' RDMs of the held-out images"),
        _c("pair", "str", "'between subjects' or 'same subject, other seed' (the baseline)", False),
    )),
    "robustness": TableFormat("robustness.csv", "one model (and subject, attack) and epsilon; written by brainalign "
                              "robustness and by studies (brainalign.measure.attack_accuracy's table plus model)", (
        _MODEL, _c("eps", "float", "attack strength, L-inf in pixel units [0, 1]"),
        _c("top1", "float", "top-1 accuracy (fraction)"),
        _c("top1_aligned", "float", "top-1 minus the model's clean (eps 0) top-1 accuracy"),
        _c("top5", "float", "top-5 accuracy (fraction)", False),
        _c("top5_aligned", "float", "top-5 minus the clean top-5 accuracy", False),
        _c("attack", "str", "fgsm or pgd", False), _c("n_images", "int", "images attacked", False),
        _c("subject", "str", "training subject of the model (several rows are averaged, SEM shown)", False),
        _c("chance", "float", "chance top-1 accuracy (1 / number of classes)", False),
    )),
    "dimensions": TableFormat("dimensions.csv", "one model, object dimension and subject", (
        _MODEL, _c("dimension", "str", "dimension label (drawn in file order)"),
        _c("squared_partial", "float", "squared partial Spearman rho of the model RDM with the dimension RDM, "
           "controlling the other dimensions"),
        _c("subject", "str", "subject whose model it is", False),
    )),
    "scratch_trajectory": TableFormat("scratch_trajectory.csv", "one seed, checkpoint, layer and target of "
                                      "training from scratch (brainalign.studies.scratch_trajectory)", (
        _c("seed", "int", "initialisation seed"),
        _c("epoch", "float", "training epoch (0 = the untrained network, fractions = sub-epoch checkpoints)"),
        _c("layer", "str", "model layer"), _c("target", "str", "e.g. 'EEG 170 ms', 'fMRI hV4'"),
        _c("similarity", "float", "correlation of the layer RDM with the target RDM"),
        _c("accuracy", "float", "held-out top-1 (fraction), the same for every layer and target of a checkpoint"),
        _c("modality", "str", "eeg or fmri", False),
    )),
    "scratch_peaks": TableFormat("scratch_peaks.csv", "one layer and target of a scratch trajectory "
                                 "(brainalign.measure.peak_summary)", (
        _c("layer", "str", "model layer"), _c("target", "str", "EEG time window or fMRI ROI"),
        _c("peak_epoch", "float", "epoch where the seed-mean curve peaks"),
        _c("peak", "float", "similarity at that peak"),
        _c("accuracy_r_mean", "float", "mean over seeds of the correlation over checkpoints with accuracy"),
    )),
    "trajectory": TableFormat("trajectory.csv", "one run (subject x seed), epoch and target", (
        _c("seed", "str", "run label, e.g. 'sub-01 seed 0'"), _c("epoch", "int", "training epoch (0 = before)"),
        _c("target", "str", "what the similarity is measured against"),
        _c("similarity", "float", "RSA similarity at that epoch"),
        _c("subject", "str", "subject of the run (seeds are averaged per subject, SEM over subjects)", False),
        _c("accuracy", "float", "top-1 accuracy (fraction) on the labelled images; NaN when none", False),
    )),
}
PREDICTIONS_FILE = "predictions.npz"

SUMMARY_KEYS: dict[str, str] = {
    "title": "title of the study",
    "simulated": "true when the data come from the simulated observer",
    "caveat": "what the numbers do not show (e.g. simulated data); the report prints it at the top",
    "measure": "what the per-model 'models' numbers are",
    "target": "the layer of the 'models' numbers",
    "subjects": "the subjects (units of inference)",
    "models": "per model: mean, sem, n across subjects of the headline similarity",
    "readouts": "the papers' headline readouts: readouts[kind][model][target][window] -> improvement over the "
                "reference ('base'): ratio of the group means with a bootstrap 95 % CI, mean improvement with its "
                "t 95 % CI, two-sided paired p and its corrected p, n; kind 'eeg' (targets = layers, windows "
                "'peak' and '50-200 ms'), 'roi' (targets = ROIs, window 'best layer')",
    "tests": "every paired test across subjects (see brainalign.studies.statistics.Comparison): model, reference, "
             "readout, target, n, mean_difference, ci_low, ci_high, cohens_dz, p_value, p_corrected, correction, "
             "family, n_better",
    "comparisons": "the headline comparisons (aligned - each control, within - cross subject, cross-modal aligned - "
                   "each control): per comparison the claim, mean difference over subjects with its t confidence "
                   "interval (ci_low, ci_high at confidence), n, cohens_dz, n_better, two-sided t p_value, exact "
                   "sign-flip p_sign_flip, p_corrected (Holm over the comparisons), verdict ('holds', 'not "
                   "supported', 'reversed': from the interval) and statement (one plain sentence)",
    "noise_ceiling": "per readout and target: lower and upper bound and n",
    "improvement_correlation": "EEG-vs-fMRI improvement correlation across models, when both exist",
    "notes": "free-text remarks shown under the summary",
}


class _Open(BaseModel):
    """A record of a run's JSON file: the named fields are checked, others are kept."""

    model_config = ConfigDict(extra="allow")


class _ModelSummary(_Open):
    mean: Optional[float]
    sem: Optional[float]


class _Readout(_Open):
    improvement_ratio: Optional[float]
    improvement: Optional[float]
    n: int
    p_value: Optional[float]
    time_ms: Optional[float] = None
    ratio_ci: list[Optional[float]] = [None, None]
    improvement_ci: list[Optional[float]] = [None, None]


class _Test(_Open):
    model: str
    n: int
    mean_difference: Optional[float]
    n_better: int


class _Summary(_Open):
    title: Optional[str] = None
    caveat: Optional[str] = None
    measure: Optional[str] = None
    models: dict[str, _ModelSummary] = {}
    readouts: dict[str, dict[str, dict[str, dict[str, _Readout]]]] = {}
    tests: list[_Test] = []
    notes: list[str] = []


class _Environment(_Open):
    versions: dict[str, str] = {}


_RUN_JSON: dict[str, type[BaseModel]] = {"summary.json": _Summary, "environment.json": _Environment}


def read_run_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A run's ``summary.json`` (see :data:`SUMMARY_KEYS`), ``environment.json`` or ``timings.json`` (step ->
    seconds); {} when absent. Raises :class:`DataFormatError` naming the file and the field when it is
    not UTF-8 JSON of the expected layout."""
    source = Path(path)
    if not source.exists():
        return {}
    fix = "re-run the study that writes it (or delete the file)"
    content = read_json(source, "result file", fix)
    schema = _RUN_JSON.get(source.name)
    try:
        if schema is not None:
            schema.model_validate(content)
        elif source.name == "timings.json":
            TypeAdapter(dict[str, float]).validate_python(content)
    except PydanticValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise DataFormatError(f"result file {source}: field '{field}' {first['msg'].lower()} "
                              f"(got {first.get('input')!r:.60}); {fix}") from None
    return content


def signed(value: float, digits: int = 4) -> str:
    """``value`` with its sign at ``digits`` decimals (``+0.0211``); a non-zero value that would print as 0
    gets two significant digits instead (``+3.0e-05``), so the side of 0 an interval's end lies on stays
    visible in every summary sentence and report table."""
    text = f"{value:+.{digits}f}"
    if value != 0 and np.isfinite(value) and float(text) == 0:
        return f"{value:+.1e}"
    return text


def describe_tables() -> str:
    """Every result table's file, row and columns (dtype, required, meaning) as Markdown."""
    lines = []
    for kind, table in TABLES.items():
        lines.append(f"- `{table.filename}` ({kind}): one row per {table.row}.")
        lines += [f"  - `{column.name}` ({column.dtype}{'' if column.required else ', optional'}): "
                  f"{column.description}" for column in table.schema]
    return "\n".join(lines)


def table_path(run_dir: str | os.PathLike[str], kind: str) -> Path:
    """Path of result table ``kind`` (a key of :data:`TABLES`) inside ``run_dir``."""
    return Path(run_dir) / RESULTS_DIR / _format(kind).filename


def typed(table: pd.DataFrame, kind: str, source: str = "table") -> pd.DataFrame:
    """``table`` checked against the schema of ``kind``: required columns present, declared columns cast
    to their dtypes and put first in schema order (extra columns kept after them)."""
    fmt = _format(kind)
    _check_columns(table, kind, source)
    declared = [column for column in fmt.schema if column.name in table.columns]
    out = table.copy()
    for column in declared:
        out[column.name] = _cast(out[column.name], column, kind, source)
    order = [column.name for column in declared] + [name for name in out.columns if name not in fmt.dtypes()]
    return out[order].reset_index(drop=True)


def write_table(table: pd.DataFrame, path: str | os.PathLike[str], kind: str) -> Path:
    """Check ``table`` against the schema of ``kind`` (see :func:`typed`) and write it atomically as CSV."""
    checked = typed(table, kind, str(path))
    return atomic_write_with(path, lambda temp: checked.to_csv(temp, index=False))


def read_table(path: str | os.PathLike[str], kind: str) -> pd.DataFrame:
    """Read result table ``kind`` from ``path`` with its declared dtypes; raise DataFormatError naming
    missing columns."""
    source = Path(path)
    strings = {column.name: str for column in _format(kind).schema if column.dtype == "str"}
    existing_file(source, "result file", "re-run the study that writes it")
    with reading(source, "result file", "re-run the study that writes it"):
        table = pd.read_csv(source, dtype=strings, keep_default_na=False, na_values=[""], encoding="utf-8")
    if table.empty:
        _check_columns(table, kind, str(source))
        raise DataFormatError(f"result file {source} has no rows; re-run the study that writes it")
    return typed(table, kind, str(source))


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
    source = existing_file(path, "result file", "re-run the study that writes it")
    with reading(source, "result file", "re-run the study that writes it"), np.load(source, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
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


def _check_columns(table: pd.DataFrame, kind: str, source: str) -> None:
    missing = [column for column in _format(kind).columns if column not in table.columns]
    if missing:
        raise DataFormatError(
            f"result file {source} lacks column(s) {', '.join(missing)}; a {kind} table needs "
            f"{', '.join(_format(kind).columns)} (see brainalign.report.results)"
        )


def _cast(values: pd.Series, column: Column, kind: str, source: str) -> pd.Series:
    try:
        if column.dtype == "str":
            return values.astype(object).where(values.isna(), values.astype(str))
        if column.dtype == "float":
            return pd.to_numeric(values).astype(float)
        if column.dtype == "int":
            return pd.to_numeric(values).astype(int)
        return values.map(_as_bool).astype(bool)
    except (ValueError, TypeError) as error:
        raise DataFormatError(f"result file {source}: column {column.name!r} of the {kind} table must hold "
                              f"{column.dtype} values ({error}); re-run the study that writes it") from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.strip().lower() in ("true", "1", "yes"):
            return True
        if value.strip().lower() in ("false", "0", "no", ""):
            return False
        raise ValueError(f"{value!r} is not a boolean")
    return bool(value)
