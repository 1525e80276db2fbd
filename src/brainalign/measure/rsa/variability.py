"""Individual variability between personalised models: 1 - Spearman between their RDMs, per layer."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from brainalign.errors import ValidationError
from brainalign.data.rdms import RDMs
from brainalign.measure.rsa.comparison import compare


def variability_matrices(
    rdms: RDMs, model_column: str = "model", layer_column: str = "layer", method: str = "spearman"
) -> dict[str, pd.DataFrame]:
    """``{layer: DataFrame (n_models, n_models)}`` of 1 - correlation between the models' RDMs.

    rdms: one RDM per (model, layer), named by descriptor columns ``model_column`` and
    ``layer_column``. Layers keep their order of first appearance (depth order for extracted layers).
    """
    for column in (model_column, layer_column):
        if column not in rdms.descriptors.columns:
            raise ValidationError(
                f"rdms: no descriptor column {column!r} (have {list(rdms.descriptors.columns)}); "
                f"name the RDMs' model and layer columns"
            )
    matrices = {}
    for layer in pd.unique(rdms.descriptors[layer_column]):
        layer_rdms = rdms.select(**{layer_column: layer})
        models = [str(m) for m in layer_rdms.descriptors[model_column]]
        if len(set(models)) != len(models):
            raise ValidationError(f"rdms: layer {layer!r} has several RDMs for one model; give one per model")
        distance = 1.0 - compare(layer_rdms, None, method)
        np.fill_diagonal(distance, 0.0)
        matrices[str(layer)] = pd.DataFrame(distance, index=models, columns=models)
    return matrices


def variability_summary(matrices: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per layer (depth order): ``layer``, ``depth`` (0-based), ``mean``, ``sem``, ``n_pairs``
    over the distinct model pairs (upper triangle) of each variability matrix."""
    rows = []
    for depth, (layer, matrix) in enumerate(matrices.items()):
        values = matrix.to_numpy()[np.triu_indices(len(matrix), k=1)]
        sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.nan
        rows.append({"layer": layer, "depth": depth, "mean": float(values.mean()) if len(values) else np.nan,
                     "sem": float(sem), "n_pairs": len(values)})
    return pd.DataFrame(rows)


def individual_variability(rdms: RDMs, **columns: Any) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Both at once: ``(variability_matrices(rdms, ...), variability_summary(...))``."""
    matrices = variability_matrices(rdms, **columns)
    return matrices, variability_summary(matrices)
