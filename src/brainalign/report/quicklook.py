"""Quick-look figures of the command line's in-memory results (PNG); the report's figures of result files
are in :mod:`brainalign.report.figures`. Drawn on plain ``matplotlib.figure.Figure`` objects (no pyplot:
nothing switches the backend)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from brainalign import __version__
from brainalign.data.rdms import RDMs
from brainalign.report.figures import CEILING_COLOUR, STYLE
from brainalign.runs import atomic_path


SOFTWARE = "brainalign"


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``figure`` as a PNG whose ``Software`` text names brainalign (:func:`is_quicklook_figure`)."""
    with atomic_path(path) as temp:
        figure.savefig(temp, dpi=120, bbox_inches="tight", metadata={"Software": f"{SOFTWARE} {__version__}"})
    return Path(path)


def is_quicklook_figure(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a PNG brainalign drew here (its ``Software`` text names brainalign)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            software = getattr(image, "text", {}).get("Software", "")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # not an image brainalign drew
        return False
    return isinstance(software, str) and software.split(" ")[0] == SOFTWARE


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


def plot_similarity(statistics: pd.DataFrame, path: str | os.PathLike[str], method: str = "spearman",
                    alpha: float = 0.05) -> Path:
    """:func:`similarity_figure` written to ``path`` (PNG)."""
    return _save(similarity_figure(statistics, method, alpha), path)


def similarity_figure(statistics: pd.DataFrame, method: str = "spearman", alpha: float = 0.05) -> Figure:
    """The table of :func:`brainalign.measure.rsa.across_subjects.subject_statistics` as a figure: mean
    across units with SEM and the noise ceiling as a grey band.

    Time targets (EEG): a line per model RDM over time (ms) with an SEM band, and dots under the curves at
    the time points where ``p_corrected < alpha``. Other targets (ROIs, or a single target): bars per target
    and model RDM with SEM error bars; the figure widens with the number of bars and long or many tick
    labels turn vertical, so labels never overlap.
    """
    from brainalign.measure.rsa.across_subjects import STATISTICS

    labels = [column for column in statistics.columns if column not in STATISTICS]
    time_column = next((c for c in ("time", "time_neural", "time_index", "time_index_neural") if c in labels), None)
    targets = [time_column] if time_column else [c for c in labels if c in ("roi", "roi_neural")]
    models = [c for c in labels if c not in targets and not c.startswith("time")]
    names = statistics[models].astype(str).agg(", ".join, axis=1) if models else "model"
    table = statistics.assign(_model=names)
    order = list(pd.unique(table["_model"]))
    with rc_context(STYLE):
        if time_column is not None:
            figure = Figure(figsize=(7.5, 4.4), layout="constrained")
            axis = figure.subplots()
            _similarity_over_time(axis, table, order, time_column, alpha)
            note = f"; dots: p corrected < {alpha:g}"
        else:
            figure, axis = _similarity_bars(table, order, targets, models)
            note = ""
        axis.axhline(0, color="grey", linewidth=0.5)
        axis.set_ylabel(f"RSA similarity ({method})")
        axis.set_title(f"mean \u00b1 SEM over n = {int(table['n'].max())} "
                       f"{str(table['unit'].iloc[0]).split(' (')[0]}; grey: noise ceiling{note}")
        handles, legend_labels = axis.get_legend_handles_labels()
        if handles:
            figure.legend(handles, legend_labels, loc="outside lower center", ncols=min(6, len(handles)),
                          frameon=False)
    return figure


def _similarity_over_time(axis: Axes, table: pd.DataFrame, order: list[str], time_column: str, alpha: float) -> None:
    scale = 1.0 if "index" in time_column else 1000.0
    first = table[table["_model"] == order[0]].sort_values(time_column)
    if first["ceiling_upper"].notna().any():
        axis.fill_between(first[time_column].to_numpy(float) * scale, first["ceiling_lower"], first["ceiling_upper"],
                          color=CEILING_COLOUR, alpha=0.5, lw=0, label="noise ceiling")
    sem = table["sem"].fillna(0.0)
    low, high = float(np.nanmin(table["mean"] - sem)), float(np.nanmax(table["mean"] + sem))
    for rank, name in enumerate(order):
        rows = table[table["_model"] == name].sort_values(time_column)
        x, mean, spread = rows[time_column].to_numpy(float) * scale, rows["mean"], rows["sem"].fillna(0.0)
        line, = axis.plot(x, mean, lw=1.5, label=name)
        axis.fill_between(x, mean - spread, mean + spread, color=line.get_color(), alpha=0.2, lw=0)
        marked = (rows["p_corrected"] < alpha).to_numpy()
        axis.plot(x[marked], np.full(marked.sum(), low - 0.05 * max(high - low, 1e-6) * (rank + 1)), "o", ms=3,
                  color=line.get_color())
    axis.set_xlabel("time (ms)" if scale == 1000.0 else "time index")


def _similarity_bars(table: pd.DataFrame, order: list[str], targets: list[str],
                     models: list[str]) -> tuple[Figure, Axes]:
    keys = table[targets].astype(str).agg(", ".join, axis=1) if targets else ""
    table = table.assign(_target=keys)
    groups = list(pd.unique(table["_target"]))
    single = len(groups) == 1  # one target: a bar per model RDM
    ticks = order if single else groups
    n_bars = len(order) * len(groups)
    figure = Figure(figsize=(min(max(6.5, 0.3 * n_bars + 2.0), 30.0), 4.4), layout="constrained")
    axis = figure.subplots()
    width = 0.8 if single else 0.8 / len(order)
    for index, group in enumerate(groups):
        rows = table[table["_target"] == group].set_index("_model").reindex(order)
        centres = np.arange(len(order)) if single else index + (np.arange(len(order)) - (len(order) - 1) / 2) * width
        if rows["ceiling_upper"].notna().any():
            span = [centres[0] - width / 2, centres[-1] + width / 2]
            axis.fill_between(span, rows["ceiling_lower"].iloc[0], rows["ceiling_upper"].iloc[0], color=CEILING_COLOUR,
                              alpha=0.6, lw=0, zorder=0, label="noise ceiling" if index == 0 else None)
        for rank, (centre, name) in enumerate(zip(centres, order)):
            axis.bar(centre, rows.loc[name, "mean"], width * 0.9, yerr=rows.loc[name, "sem"], capsize=2,
                     color="C0" if single else f"C{rank % 10}", label=None if single or index else name)
    slant = len(ticks) > 4 or max(len(tick) for tick in ticks) > 12
    axis.set_xticks(range(len(ticks)), ticks, rotation=90 if slant else 0)
    axis.set_xlabel(", ".join(models if single else targets))
    return figure, axis
