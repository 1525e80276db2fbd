"""Object-dimension analysis: feature RDMs per embedding dimension and partial correlations of model
RDMs with each dimension RDM, controlling for all the others (ReAlnet's internal analysis)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike
import pandas as pd

from brainalign.errors import DataFormatError, ValidationError
from brainalign.measure.rsa.ranks import rank_rows
from brainalign.data.rdms import RDMs, RDMsOrArray
from brainalign.measure.rsa.comparison import as_vectors

DIMENSION_MEASURE = "absolute_difference"  # |x_i(d) - x_j(d)|


def load_dimension_labels(path: str | os.PathLike[str]) -> list[str]:
    """Dimension labels, one per line (e.g. ``spose49_dimension_labels.txt``: 49 THINGS dimensions)."""
    try:
        labels = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise DataFormatError(f"{path}: cannot read dimension labels ({error}); pass a text file, one label a line") from None
    return labels


def dimension_rdms(
    embedding: ArrayLike, labels: Sequence[str] | None = None, stimulus_ids: Sequence[str] | None = None
) -> RDMs:
    """One feature RDM per dimension, ``|x_i(d) - x_j(d)|``.

    embedding: ``(n_stimuli, n_dimensions)`` (e.g. the 49-d THINGS/SPoSE embedding rows of the
    stimuli's concepts). Returns RDMs with descriptor column ``dimension`` (labels or 0..D-1).
    """
    values = np.asarray(embedding, dtype=np.float64)
    if values.ndim != 2:
        raise ValidationError(f"embedding: expected (n_stimuli, n_dimensions), got shape {values.shape}")
    names = list(labels) if labels is not None else [str(d) for d in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise ValidationError(f"labels: {len(names)} labels for {values.shape[1]} dimensions; pass one per column")
    rows, cols = np.triu_indices(values.shape[0], k=1)
    distances = np.abs(values[rows] - values[cols]).T  # (n_dimensions, n_pairs)
    return RDMs(distances, list(stimulus_ids) if stimulus_ids is not None else [], {"dimension": names},
                DIMENSION_MEASURE)


def partial_correlations(model_rdm: RDMsOrArray, dimension_rdms: RDMs, method: str = "spearman") -> pd.DataFrame:
    """Partial correlation of each model RDM with each dimension RDM, controlling all other dimensions.

    model_rdm: RDMs (one or more) or array ``(n_pairs,)`` / ``(n_models, n_pairs)``; dimension_rdms:
    RDMs or array ``(n_dimensions, n_pairs)``. method ``"spearman"`` rank-transforms every RDM first
    (ties averaged), ``"pearson"`` does not. The partial correlation equals residualising both
    variables on the other dimensions (least squares with intercept) and correlating the residuals;
    it is computed for all dimensions at once from the inverse correlation matrix ``P`` of
    ``[model, dimensions]``: ``r = -P[0, d] / sqrt(P[0, 0] P[d, d])``.

    Returns a long DataFrame: the model RDMs' descriptor columns (if any), ``model_index``,
    ``dimension`` (label or index), ``partial_r`` and ``partial_r2`` (squared, as reported in the paper).
    """
    if method not in ("spearman", "pearson"):
        raise ValidationError(f"method: {method!r} is not 'spearman' or 'pearson'")
    models, dimensions = as_vectors(model_rdm), as_vectors(dimension_rdms)
    if models.shape[1] != dimensions.shape[1]:
        raise ValidationError(
            f"model_rdm has {models.shape[1]} pairs, dimension_rdms {dimensions.shape[1]}: use the same stimuli"
        )
    if len(dimensions) + 2 > dimensions.shape[1]:
        raise ValidationError("dimension_rdms: more dimensions than stimulus pairs; use fewer dimensions")
    if method == "spearman":
        models, dimensions = rank_rows(models), rank_rows(dimensions)
    standard = _standardise_rows(np.vstack([dimensions, models]))
    correlation = standard @ standard.T  # (D + M, D + M)
    n_dims = len(dimensions)
    labels = _labels(dimension_rdms, n_dims)
    frames = []
    for index in range(len(models)):
        keep = np.r_[n_dims + index, np.arange(n_dims)]
        try:
            precision = np.linalg.inv(correlation[np.ix_(keep, keep)])
        except np.linalg.LinAlgError:
            raise ValidationError(
                "dimension_rdms: the RDMs are linearly dependent (singular correlation matrix); drop duplicates"
            ) from None
        partial = -precision[0, 1:] / np.sqrt(precision[0, 0] * np.diag(precision)[1:])
        frames.append(pd.DataFrame({"model_index": index, "dimension": labels, "partial_r": partial,
                                    "partial_r2": partial**2}))
    table = pd.concat(frames, ignore_index=True)
    descriptors = getattr(model_rdm, "descriptors", None)
    if descriptors is not None and len(descriptors.columns):
        table = descriptors.reset_index(drop=True).join(table.set_index("model_index"), how="right")
        table = table.reset_index(drop=True)
    return table


def _standardise_rows(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValidationError("RDMs: a constant RDM has no correlations; drop it")
    return centred / norms


def _labels(rdms: Any, n: int) -> list[Any]:
    descriptors = getattr(rdms, "descriptors", None)
    if descriptors is not None and "dimension" in descriptors.columns:
        return list(descriptors["dimension"])
    return list(range(n))


def dimension_differences(aligned: pd.DataFrame, base: pd.DataFrame, value: str = "partial_r2") -> pd.DataFrame:
    """Per dimension, ``aligned - base`` of ``value`` (tables from :func:`partial_correlations` of one
    model RDM each, e.g. the IT layer of the aligned and of the base model): columns ``dimension``,
    ``aligned``, ``base``, ``difference``, sorted by difference (largest gain first)."""
    merged = aligned[["dimension", value]].merge(base[["dimension", value]], on="dimension",
                                                   suffixes=("_aligned", "_base"), validate="one_to_one")
    merged = merged.rename(columns={f"{value}_aligned": "aligned", f"{value}_base": "base"})
    merged["difference"] = merged["aligned"] - merged["base"]
    return merged.sort_values("difference", ascending=False, ignore_index=True)
