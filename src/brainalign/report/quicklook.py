"""Quick-look figures of the command line's in-memory results (PNG); the report's figures of result files
are in :mod:`brainalign.report.figures`. Drawn on plain ``matplotlib.figure.Figure`` objects (no pyplot:
nothing switches the backend)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from brainalign.data.rdms import RDMs
from brainalign.runs import atomic_path


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=120, bbox_inches="tight")
    return Path(path)


def plot_rdms(rdms: RDMs, path: str | os.PathLike[str], max_rdms: int = 8) -> Path:
    """Square matrices of the first ``max_rdms`` RDMs, titled by their descriptors."""
    count = min(max_rdms, rdms.n_rdms)
    figure = Figure(figsize=(2.6 * count, 2.8))
    axes = figure.subplots(1, count, squeeze=False)
    for index, axis in enumerate(axes[0]):
        image = axis.imshow(rdms[index].matrices()[0], cmap="viridis")
        row = rdms.descriptors.iloc[index]
        axis.set_title(", ".join(f"{k}={v}" for k, v in row.items()) or f"RDM {index}", fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
        figure.colorbar(image, ax=axis, fraction=0.046)
    return _save(figure, path)


def plot_similarity(table: pd.DataFrame, path: str | os.PathLike[str], layer_column: str = "layer",
                    method: str = "spearman") -> Path:
    """RSA results: time courses per layer when the table has ``time``/``time_index`` (mean +- SEM
    over other rows such as subjects), otherwise bars per layer for each remaining neural descriptor."""
    time_column = next((c for c in ("time", "time_index") if c in table.columns), None)
    layers = list(pd.unique(table[layer_column])) if layer_column in table.columns else [None]
    figure = Figure(figsize=(6.5, 3.8))
    axis = figure.subplots()
    if time_column is not None:
        for layer in layers:
            rows = table if layer is None else table[table[layer_column] == layer]
            grouped = rows.groupby(time_column)["similarity"]
            mean, sem = grouped.mean(), grouped.sem().fillna(0.0)
            x = mean.index.to_numpy(dtype=float) * (1000.0 if time_column == "time" else 1.0)
            axis.plot(x, mean.to_numpy(), label="model" if layer is None else str(layer))
            axis.fill_between(x, mean - sem, mean + sem, alpha=0.2)
        axis.set_xlabel("time (ms)" if time_column == "time" else "time index")
    else:
        other = [c for c in table.columns if c not in (layer_column, "similarity") and table[c].nunique() > 1]
        groups = table.groupby(other[0]) if other else [("all", table)]
        names = [str(name) for name, _ in groups]
        width = 0.8 / max(1, len(layers))
        for offset, layer in enumerate(layers):
            values = [(rows if layer is None else rows[rows[layer_column] == layer])["similarity"].mean()
                      for _, rows in groups]
            axis.bar(np.arange(len(names)) + offset * width, values, width=width,
                     label="model" if layer is None else str(layer))
        axis.set_xticks(np.arange(len(names)) + width * (len(layers) - 1) / 2, names)
    axis.axhline(0, color="grey", linewidth=0.5)
    axis.set_ylabel(f"RSA similarity ({method})")
    axis.legend(title=layer_column, fontsize=8)
    return _save(figure, path)
