"""Object dimensions of the headline layer: squared partial Spearman correlation of the layer RDM with each
dimension RDM, controlling the others.

ReAlnet-fMRI (Lu & Wang 2025, Results "Internal representations of ReAlnet-fMRI"): for each THINGS dimension
d, feature RDM = |x_i(d) - x_j(d)|; the partial Spearman correlation of the model's IT RDM with RDM d
controlling the other dimensions, reported squared. On the simulated observer the dimensions are its
generative factors.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
import pandas as pd

from brainalign.align.config import DataConfig
from brainalign.align.data import simulated_observer
from brainalign.data.rdms import RDMs
from brainalign.data.stimuli import Stimuli
from brainalign.errors import DataFormatError
from brainalign.inputs import existing_file, reading
from brainalign.measure import dimension_rdms, partial_correlations, rank_rows
from brainalign.studies.analyses.base import Analysis
from brainalign.studies.context import StudyContext
from brainalign.studies.evaluate import BASE, seed_mean


def dimensions(context: StudyContext) -> Optional[pd.DataFrame]:
    """``dimensions`` table: one row per model, dimension and subject (seeds averaged)."""
    layer = context.headline_layer
    source = context.evaluation.dimensions
    if source is None:
        return None
    parts = []
    for subject in context.subjects:
        targets = dimension_targets(source, context.sweep.train.data,
                                    context.held_out(subject).stimuli)
        for label, seed, model in [(BASE, 0, None)] + [(m.label, m.seed, m) for m in context.models_of(subject)]:
            table = partial_correlations(context.layer_rdms(subject, model, [layer]), targets)
            parts.append(pd.DataFrame({"model": label, "dimension": table["dimension"].to_numpy(), "subject": subject,
                                       "seed": seed, "squared_partial": table["partial_r2"].to_numpy()}))
    return seed_mean(pd.concat(parts, ignore_index=True), "squared_partial")


def dimension_targets(source: str, data_config: DataConfig, stimuli: Stimuli) -> RDMs:
    """Object-dimension RDMs of the held-out images, one per dimension (descriptor ``dimension``).

    ``source="simulated"``: the observer's generative factors: ``|x_i - x_j|`` of red, green, blue,
    size, x and y position, and ``1[level_i != level_j]`` of shape, texture and colour; otherwise a CSV
    path whose first column holds stimulus ids and whose other columns are dimensions (e.g. the 49
    THINGS dimensions), each giving ``|x_i - x_j|``. A dimension whose ranked RDM is a linear
    combination of earlier ones is dropped (a partial correlation cannot control for it).
    """
    ids = list(stimuli.ids)
    if source == "simulated":
        factors = simulated_observer(data_config.simulate).ground_truth.test_factors
        embedding = pd.DataFrame({"red": factors["rgb"][:, 0], "green": factors["rgb"][:, 1],
                                  "blue": factors["rgb"][:, 2], "size": factors["radius"],
                                  "x position": factors["position"][:, 0], "y position": factors["position"][:, 1]})
        levels = {name: factors[name] for name in ("shape", "texture", "colour")}
    else:
        embedding = dimension_rows(read_dimension_table(source), ids, source)
        levels = {}
    continuous = dimension_rdms(embedding.to_numpy(), list(embedding.columns), ids)
    upper = np.triu_indices(len(ids), 1)
    categorical = [(values[:, None] != values[None, :])[upper].astype(float) for values in levels.values()]
    stack = np.vstack([continuous.dissimilarities, *categorical])
    labels = [*continuous.descriptors["dimension"], *(f"different {name}" for name in levels)]
    keep = _independent_rows(rank_rows(stack))
    return RDMs(stack[keep], ids, pd.DataFrame({"dimension": [labels[i] for i in keep]}))


def read_dimension_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A dimensions CSV: stimulus ids (first column, as the index) x one numeric column per dimension."""
    fix = "give a CSV whose first column holds stimulus ids and each other column one numeric dimension"
    existing_file(path, "dimensions table")
    with reading(path, "dimensions table", fix):
        table = pd.read_csv(path, index_col=0, encoding="utf-8")
    table.index = table.index.astype(str)
    numeric = table.apply(pd.to_numeric, errors="coerce")
    bad = [str(column) for column in table.columns if numeric[column].isna().any() or not np.isfinite(numeric[column]).all()]
    if table.empty or bad or len(table.columns) == 0:
        raise DataFormatError(f"dimensions table {path}: "
                              + (f"column(s) {bad[:5]} hold non-numbers or empty cells" if bad else "no rows or no dimension columns")
                              + f"; {fix}")
    if table.index.duplicated().any():
        raise DataFormatError(f"dimensions table {path} repeats stimulus ids {list(table.index[table.index.duplicated()][:3])}; {fix}")
    return numeric.astype(float)


def dimension_rows(table: pd.DataFrame, ids: list[str], source: str) -> pd.DataFrame:
    """The rows of dimensions ``table`` (read from ``source``) for stimulus ``ids``, in that order."""
    missing = [i for i in ids if i not in table.index]
    if missing:
        raise DataFormatError(f"evaluation.dimensions: {source} has no row for {len(missing)} of the {len(ids)} "
                              f"held-out images (e.g. {missing[:3]}); its first column must hold their stimulus ids")
    return table.loc[ids].reset_index(drop=True)


def _independent_rows(values: np.ndarray) -> list[int]:
    """Indices of the rows of ``values (n_rows, n)`` that are not constant and not a linear combination
    (with intercept) of the rows kept before them."""
    kept: list[int] = []
    basis = np.ones((1, values.shape[1]))
    for index, row in enumerate(values):
        candidate = np.vstack([basis, row])
        if np.linalg.matrix_rank(candidate, tol=1e-8 * np.abs(candidate).max()) == len(candidate):
            kept.append(index)
            basis = candidate
    return kept


ANALYSIS = Analysis("dimensions", "object-dimension partial correlations of the headline layer",
                    lambda config: bool(config.evaluation.dimensions), dimensions)
