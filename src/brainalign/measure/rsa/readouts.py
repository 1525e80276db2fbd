"""The papers' read-outs as tidy tables: model-vs-neural similarity for every RDM pair, EEG time
courses per layer and their peak / 50-200 ms values, fMRI similarity per ROI (= best layer), improvement
and improvement ratio against a base model, and the correlation of EEG and fMRI improvements across models.

Definitions (ReAlnet: Lu, Wang & Golomb, "Achieving more human brain-like vision via human EEG
representational alignment", Results "ReAlnet is more similar to human EEG" and Fig. 2; ReAlnet-fMRI:
Lu & Wang 2025, "Teaching CORnet human fMRI representations", Results on fMRI similarity per ROI):
improvement = aligned - base; improvement ratio = (aligned - base) / base; EEG improvements are read at
the peak time point of the similarity time course and as the mean over 50-200 ms; fMRI similarity per ROI
is the best layer's."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

import numpy as np
from numpy.typing import ArrayLike
import pandas as pd

from brainalign.errors import ValidationError
from brainalign.data.rdms import RDMs
from brainalign.measure.rsa.comparison import compare


def similarity_table(model_rdms: RDMs, neural_rdms: RDMs, method: str = "spearman") -> pd.DataFrame:
    """One row per (model RDM, neural RDM): both RDMs' descriptor columns plus ``similarity``.

    A descriptor column present on both sides gets the suffixes ``_model`` and ``_neural``.
    """
    similarity = compare(model_rdms, neural_rdms, method)  # (n_model, n_neural)
    left = model_rdms.descriptors.reset_index(drop=True)
    right = neural_rdms.descriptors.reset_index(drop=True)
    shared = set(left.columns) & set(right.columns)
    left = left.rename(columns={c: f"{c}_model" for c in shared})
    right = right.rename(columns={c: f"{c}_neural" for c in shared})
    model_index, neural_index = np.indices(similarity.shape).reshape(2, -1)
    table = pd.concat(
        [left.iloc[model_index].reset_index(drop=True), right.iloc[neural_index].reset_index(drop=True)], axis=1
    )
    table["similarity"] = similarity.ravel()
    return table


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValidationError(f"{what}: missing descriptor column(s) {missing}; have {list(table.columns)}")


def eeg_timecourses(model_rdms: RDMs, eeg_rdms: RDMs, method: str = "spearman",
                    layer_column: str = "layer", time_column: str = "time") -> pd.DataFrame:
    """Similarity of each model layer's RDM with the EEG RDM at every time point.

    model_rdms: descriptor ``layer_column``; eeg_rdms: descriptor ``time_column`` (``time_index``
    is used when ``time`` is absent), other columns (e.g. ``subject``) are kept. Rows follow the
    model RDMs' order (layers), then the EEG RDMs' order (time).
    """
    if time_column not in eeg_rdms.descriptors.columns and "time_index" in eeg_rdms.descriptors.columns:
        time_column = "time_index"
    _require(model_rdms.descriptors, [layer_column], "model_rdms")
    _require(eeg_rdms.descriptors, [time_column], "eeg_rdms")
    return similarity_table(model_rdms, eeg_rdms, method)


def roi_similarity(model_rdms: RDMs, fmri_rdms: RDMs, method: str = "spearman",
                   layer_column: str = "layer", roi_column: str = "roi") -> pd.DataFrame:
    """fMRI similarity per ROI = the maximum over model layers (the papers' definition).

    Returns one row per neural RDM (ROI, and e.g. subject): its descriptor columns, ``similarity``
    (best over layers) and ``best_layer``.
    """
    _require(model_rdms.descriptors, [layer_column], "model_rdms")
    _require(fmri_rdms.descriptors, [roi_column], "fmri_rdms")
    similarity = compare(model_rdms, fmri_rdms, method)  # (n_layers, n_neural)
    best = similarity.argmax(axis=0)
    table = fmri_rdms.descriptors.reset_index(drop=True).copy()
    table["similarity"] = similarity.max(axis=0)
    table["best_layer"] = model_rdms.descriptors[layer_column].to_numpy()[best]
    return table


EEG_WINDOW = (0.05, 0.2)  # seconds, inclusive: ReAlnet's 50-200 ms average
# The readout names of the result tables' ``readout`` column (written by studies, read by the report):
WHOLE = "whole response"  # each layer vs the subject's whole held-out response
ROI = "roi best layer"  # per fMRI ROI, the best layer's similarity
PEAK = "eeg peak"  # EEG time course at the reference model's peak
WINDOW = f"eeg {EEG_WINDOW[0] * 1000:g}-{EEG_WINDOW[1] * 1000:g} ms"  # EEG time course averaged over EEG_WINDOW
EEG_COURSE = "eeg time course"  # every EEG time point (noise ceilings)
CROSS_ROI = "cross-dataset roi"  # per ROI of a cross_evaluation entry (noise ceilings)
CROSS_EEG = "cross-dataset eeg time course"  # every time point of a cross_evaluation entry (noise ceilings)


def in_window(times: "np.ndarray | Sequence[float]", window: tuple[float, float] = EEG_WINDOW) -> np.ndarray:
    """Boolean mask of ``times`` (s) inside ``window`` (inclusive, 1e-9 s tolerance: sample times such as
    -0.2 + 25 / 100 = 0.04999999999999999 belong to the 50 ms point)."""
    seconds = np.asarray(times, dtype=float)
    return (seconds >= window[0] - 1e-9) & (seconds <= window[1] + 1e-9)


# similarities compared elementwise: a float, an array or a pandas Series/DataFrame (the result has the same type)
Improvable = TypeVar("Improvable", float, np.ndarray, pd.Series, pd.DataFrame)


@dataclass(frozen=True)
class TimecourseReadout:
    """Peak and window values of paired time courses (one row per subject).

    ``peak_index``/``peak_time`` (s): the time point where the *reference*'s mean over subjects peaks (chosen
    without looking at the model, so selecting it cannot favour the model); ``model_peak``,
    ``reference_peak``: each subject's value there ``(n_subjects,)``; ``model_window``,
    ``reference_window``: each subject's mean over ``window`` ``(n_subjects,)``.
    """

    peak_index: int
    peak_time: float
    model_peak: np.ndarray
    reference_peak: np.ndarray
    model_window: np.ndarray
    reference_window: np.ndarray
    window: tuple[float, float]


def timecourse_readout(model: ArrayLike, reference: ArrayLike, times: ArrayLike,
                       window: tuple[float, float] = EEG_WINDOW) -> TimecourseReadout:
    """ReAlnet's EEG read-outs of a layer: the values at the peak time point and the mean over ``window``
    (seconds, both ends included) of ``model`` and ``reference`` time courses ``(n_subjects, n_times)``
    at ``times`` (s). The peak is the time of the maximum of the reference's across-subject mean."""
    first, second = np.asarray(model, dtype=float), np.asarray(reference, dtype=float)
    seconds = np.asarray(times, dtype=float)
    if first.ndim != 2 or first.shape != second.shape or first.shape[1] != len(seconds):
        raise ValidationError(f"model {first.shape} and reference {second.shape} must both be (n_subjects, "
                              f"n_times) with n_times = len(times) = {len(seconds)}")
    inside = in_window(seconds, window)
    if not inside.any():
        raise ValidationError(f"times {seconds.min():g}..{seconds.max():g} s hold no point of the window "
                              f"{window[0]:g}-{window[1]:g} s")
    peak = int(np.argmax(second.mean(axis=0)))
    return TimecourseReadout(peak, float(seconds[peak]), first[:, peak], second[:, peak],
                             first[:, inside].mean(axis=1), second[:, inside].mean(axis=1), window)


def improvement(aligned: Improvable, base: Improvable) -> Improvable:
    """``aligned - base`` (arrays, Series or scalars)."""
    return aligned - base


def improvement_ratio(aligned: Improvable, base: Improvable) -> Improvable:
    """``(aligned - base) / base``; ``base == 0`` gives inf/NaN (numpy semantics)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (aligned - base) / base


def improvement_table(aligned: pd.DataFrame, base: pd.DataFrame, on: Sequence[str],
                      value: str = "similarity") -> pd.DataFrame:
    """Join an aligned and a base read-out table on ``on`` (e.g. ``["time"]`` or ``["roi", "subject"]``)
    and add ``improvement`` and ``improvement_ratio``; columns ``aligned`` and ``base`` hold ``value``."""
    _require(aligned, list(on) + [value], "aligned")
    _require(base, list(on) + [value], "base")
    merged = aligned[list(on) + [value]].merge(base[list(on) + [value]], on=list(on), suffixes=("_aligned", "_base"),
                                               validate="one_to_one")
    merged = merged.rename(columns={f"{value}_aligned": "aligned", f"{value}_base": "base"})
    merged["improvement"] = improvement(merged["aligned"], merged["base"])
    merged["improvement_ratio"] = improvement_ratio(merged["aligned"], merged["base"])
    return merged


def improvement_correlation(eeg_improvements: ArrayLike, fmri_improvements: ArrayLike,
                            method: str = "pearson") -> tuple[float, float]:
    """Correlation (r, p) across models between their EEG and fMRI improvements ``(n_models,)`` each."""
    from scipy import stats

    eeg, fmri = np.asarray(eeg_improvements, dtype=float), np.asarray(fmri_improvements, dtype=float)
    if eeg.shape != fmri.shape or eeg.ndim != 1 or len(eeg) < 3:
        raise ValidationError(
            f"improvements: need two equally long 1-D arrays with >= 3 models, got {eeg.shape} and {fmri.shape}"
        )
    if method == "pearson":
        result = stats.pearsonr(eeg, fmri)
    elif method == "spearman":
        result = stats.spearmanr(eeg, fmri)
    else:
        raise ValidationError(f"method: {method!r} is not 'pearson' or 'spearman'")
    return float(result[0]), float(result[1])
