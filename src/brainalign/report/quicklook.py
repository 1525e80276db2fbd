"""Quick-look figures of measurement results (PNG, matplotlib Agg); the report has the full figures."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from brainalign.data.rdms import RDMs
from brainalign.errors import ValidationError
from brainalign.runs import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _save(figure, path: str | os.PathLike[str]) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return Path(path)


def plot_rdms(rdms: RDMs, path: str | os.PathLike[str], max_rdms: int = 8) -> Path:
    """Square matrices of the first ``max_rdms`` RDMs, titled by their descriptors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = min(max_rdms, rdms.n_rdms)
    figure, axes = plt.subplots(1, count, figsize=(2.6 * count, 2.8), squeeze=False)
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    time_column = next((c for c in ("time", "time_index") if c in table.columns), None)
    layers = list(pd.unique(table[layer_column])) if layer_column in table.columns else [None]
    figure, axis = plt.subplots(figsize=(6.5, 3.8))
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


def plot_robustness_table(table: pd.DataFrame, path: str | Path | None = None, metric: str = "top1") -> "Figure":
    """Accuracy against epsilon, raw (left) and baseline-aligned (right), one line per model and attack.

    ``table``: output of :func:`attack_accuracy` or :func:`compare_robustness`; ``metric``: "top1" or
    "top5". With ``path``, the figure is written to ``path`` with suffixes ``.png`` and ``.svg``.
    """
    from matplotlib.figure import Figure

    from brainalign.runs import atomic_write_with

    if metric not in ("top1", "top5"):
        raise ValidationError(f"metric={metric!r}; choose 'top1' or 'top5'")
    missing = {"eps", metric, f"{metric}_aligned"} - set(table.columns)
    if missing:
        raise ValidationError(f"robustness table lacks column(s) {sorted(missing)}; pass attack_accuracy's output")
    figure = Figure(figsize=(9, 3.6))
    raw_axes, aligned_axes = figure.subplots(1, 2, sharex=True)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.3)
    frame = table.assign(model=table.get("model", ""), attack=table.get("attack", ""))
    colours = {model: f"C{rank % 10}" for rank, model in enumerate(dict.fromkeys(frame["model"]))}
    styles = {attack: ("-", "--", ":", "-.")[rank % 4] for rank, attack in enumerate(dict.fromkeys(frame["attack"]))}
    for (model, attack), rows in frame.groupby(["model", "attack"], sort=False):  # colour: model; line: attack
        rows = rows.sort_values("eps")
        label = " / ".join(str(part) for part in (model, attack) if part != "") or metric
        style = dict(color=colours[model], linestyle=styles[attack], marker="o", label=label)
        raw_axes.plot(rows["eps"], rows[metric], **style)
        aligned_axes.plot(rows["eps"], rows[f"{metric}_aligned"], **style)
    name = "top-1" if metric == "top1" else "top-5"
    raw_axes.set(xlabel="epsilon (L-inf, pixel units)", ylabel=f"{name} accuracy", title="raw", ylim=(-0.02, 1.02))
    aligned_axes.set(xlabel="epsilon (L-inf, pixel units)", ylabel=f"{name} accuracy - clean", title="baseline-aligned")
    aligned_axes.axhline(0.0, color="grey", linewidth=0.8, linestyle=":")
    aligned_axes.legend(fontsize="small")
    if path is not None:
        base = Path(path)
        for suffix in (".png", ".svg"):
            atomic_write_with(base.with_suffix(suffix), lambda temp, s=suffix: figure.savefig(temp, format=s[1:], dpi=150))
    return figure
