"""Figures of the ReAlnet analyses, one function each, drawn from result files alone.

Each function reads one result file (formats in :mod:`brainalign.report.results`), draws on a
``matplotlib.figure.Figure`` (no pyplot, so no backend is switched and notebooks keep theirs), writes
``out_stem.png`` and ``out_stem.svg`` and returns both paths.
Across subjects (or seeds) a line or bar shows the mean, a band or error bar the standard error of
the mean (SEM), and dots the individual subjects.
"""
from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, MaxNLocator, NullLocator
from scipy.stats import spearmanr

from brainalign.report.results import read_predictions, read_table
from brainalign.runs import atomic_write_with

PathLike = str | os.PathLike[str]
_KNOWN_COLOURS = {
    "base": "#7f7f7f",
    "aligned": "#d62728",
    "control_beta0": "#1f77b4",
    "control_no_contrastive": "#ff7f0e",
    "control_unpaired": "#2ca02c",
}
_OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#843c39")


def model_colours(models: list[str]) -> dict[str, str]:
    """A fixed colour per model: the demo's models keep theirs; others take the next free one."""
    free = iter(_OTHER_COLOURS * (len(models) // len(_OTHER_COLOURS) + 1))
    return {model: _KNOWN_COLOURS.get(model) or next(free) for model in models}


def plot_rsa_timecourses(timecourses_csv: PathLike, out_stem: PathLike,
                         significance_csv: PathLike | None = None) -> list[Path]:
    """RSA time courses per layer: one panel per layer, a line per model (mean across subjects) with
    an SEM band; time points listed as significant in ``significance_csv`` are marked by dots in the
    model's colour below the curves. Time is shown in ms."""
    table = read_table(timecourses_csv, "rsa_timecourses")
    significance = read_table(significance_csv, "rsa_significance") if significance_csv else None
    layers = _ordered(table["layer"])
    models = _ordered(table["model"])
    colours = model_colours(models)
    fig, axes = _panels(len(layers), width=4.2, height=3.2)
    for ax, layer in zip(axes, layers):
        stats = _mean_sem(table[table["layer"] == layer], ["model", "time"], "similarity")
        low = np.nanmin(stats["mean"] - stats["sem"])
        high = np.nanmax(stats["mean"] + stats["sem"])
        step = 0.06 * max(high - low, 1e-6)
        for rank, model in enumerate(models):
            rows = stats[stats["model"] == model].sort_values("time")
            time_ms = rows["time"].to_numpy() * 1000.0
            ax.plot(time_ms, rows["mean"], color=colours[model], label=model, lw=1.6)
            ax.fill_between(time_ms, rows["mean"] - rows["sem"], rows["mean"] + rows["sem"],
                            color=colours[model], alpha=0.2, lw=0)
            if significance is not None:
                marked = significance[(significance["layer"] == layer) & (significance["model"] == model)
                                      & significance["significant"].astype(bool)]
                ax.plot(marked["time"].to_numpy() * 1000.0, np.full(len(marked), low - step * (rank + 1)),
                        "o", ms=3, color=colours[model])
        ax.axhline(0.0, color="black", lw=0.6, ls=":")
        ax.set_title(f"layer {layer}")
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel("RSA similarity (Spearman rho)")
    note = "dots: significant time points" + _tests_label(significance)
    return _finish(fig, axes, out_stem, note if significance is not None else None)


def plot_similarity_bars(similarity_csv: PathLike, out_stem: PathLike,
                         ylabel: str = "similarity (Spearman rho)") -> list[Path]:
    """Similarity per target (e.g. fMRI ROI) and model: bars = mean across subjects, error bars = SEM,
    dots = individual subjects."""
    table = read_table(similarity_csv, "similarity")
    return _grouped_bars(table, "similarity", out_stem, ylabel)


def plot_cross_similarity(cross_csv: PathLike, out_stem: PathLike,
                          ylabel: str = "similarity (Spearman rho)") -> list[Path]:
    """Similarity on other datasets/modalities per target (``dataset target``) and model, drawn like
    :func:`plot_similarity_bars`: values averaged over the other dataset's subjects first; bars = mean
    across training subjects, error bars = SEM, dots = training subjects (the base model: one dot)."""
    table = read_table(cross_csv, "cross_similarity")
    table = table.groupby(["dataset", "target", "model", "subject"], sort=False)["similarity"].mean().reset_index()
    table["target"] = table["dataset"] + " " + table["target"]
    n_subjects = table.loc[table["subject"] != "all", "subject"].nunique()
    title = f"mean +- SEM over {n_subjects} training subject(s), base: one shared model; dots = subjects"
    return _grouped_bars(table, "similarity", out_stem, ylabel, title)


def plot_improvement_ratios(improvement_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Improvement ratio (aligned - base) / base in percent per target and aligned model: bars = mean
    across subjects, error bars = SEM, dots = subjects; 0 % = no change from the base model."""
    table = read_table(improvement_csv, "improvement").copy()
    table["improvement_ratio"] = 100.0 * table["improvement_ratio"].astype(float)
    return _grouped_bars(table, "improvement_ratio", out_stem, "improvement over base (%)")


def plot_variability(variability_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Individual variability matrices (1 - Spearman rho between two models' RDMs), one per layer,
    on a shared colour scale; the panel title gives the mean over distinct pairs."""
    table = read_table(variability_csv, "variability")
    layers = _ordered(table["layer"])
    models = _ordered(pd.concat([table["model_a"], table["model_b"]]))
    index = {model: position for position, model in enumerate(models)}
    matrices = np.zeros((len(layers), len(models), len(models)))
    for layer_index, layer in enumerate(layers):
        rows = table[table["layer"] == layer]
        rows_a = rows["model_a"].map(index).to_numpy()
        rows_b = rows["model_b"].map(index).to_numpy()
        matrices[layer_index, rows_a, rows_b] = rows["variability"].to_numpy()
        matrices[layer_index, rows_b, rows_a] = rows["variability"].to_numpy()
    vmax = max(float(matrices.max()), 1e-6)
    fig, axes = _panels(len(layers), width=3.4, height=3.3)
    upper = np.triu_indices(len(models), 1)
    for ax, layer, matrix in zip(axes, layers, matrices):
        image = ax.imshow(matrix, vmin=0.0, vmax=vmax, cmap="viridis")
        ax.set_xticks(range(len(models)), models, rotation=90, fontsize=7)
        ax.set_yticks(range(len(models)), models if ax is axes[0] else [], fontsize=7)
        mean = matrix[upper].mean() if len(models) > 1 else 0.0
        ax.set_title(f"layer {layer}\nmean {mean:.3f}", fontsize=9)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="1 - Spearman rho")
    return _save(fig, out_stem, tight=False)


def plot_robustness(robustness_csv: PathLike, out_stem: PathLike, metric: str = "top1") -> list[Path]:
    """Accuracy against attack strength epsilon: left raw, right baseline-aligned (accuracy minus the
    clean accuracy, column ``<metric>_aligned``, so models with different clean accuracy compare at
    equal starting points). Colour: model; line style: attack. Mean and SEM over subjects when the file
    has several rows per model, attack and epsilon. ``metric``: ``top1`` or ``top5``."""
    from brainalign.errors import ValidationError

    if metric not in ("top1", "top5"):
        raise ValidationError(f"metric={metric!r}; choose 'top1' or 'top5'")
    table = read_table(robustness_csv, "robustness")
    table = table.assign(attack=table["attack"] if "attack" in table.columns else "")
    models = _ordered(table["model"])
    colours = model_colours(models)
    styles = {attack: ("-", "--", ":", "-.")[rank % 4] for rank, attack in enumerate(_ordered(table["attack"]))}
    fig, axes = _panels(2, width=4.4, height=3.4)
    for ax, column in zip(axes, (metric, f"{metric}_aligned")):
        stats = _mean_sem(table, ["model", "attack", "eps"], column)
        for (model, attack), rows in stats.groupby(["model", "attack"], sort=False):
            rows = rows.sort_values("eps")
            label = " / ".join(str(part) for part in (model, attack) if part != "")
            ax.errorbar(rows["eps"], rows["mean"], yerr=rows["sem"], color=colours[model], ls=styles[attack],
                        label=label, marker="o", ms=3, capsize=2, lw=1.4)
        ax.set_xlabel("attack strength epsilon (L-inf, pixel units)")
    name = "top-1" if metric == "top1" else "top-5"
    axes[0].set(ylabel=f"{name} accuracy", title="raw")
    axes[1].set(ylabel=f"{name} accuracy - clean accuracy", title="baseline-aligned")
    axes[1].axhline(0.0, color="grey", lw=0.8, ls=":")
    return _finish(fig, axes, out_stem)


def plot_dimensions(dimensions_csv: PathLike, out_stem: PathLike, baseline: str = "base") -> list[Path]:
    """Squared partial correlations per object dimension: top, one bar per model and dimension
    (mean over subjects); bottom, the difference of each other model from ``baseline``."""
    table = read_table(dimensions_csv, "dimensions")
    stats = _mean_sem(table, ["model", "dimension"], "squared_partial")
    dimensions = _ordered(table["dimension"])
    models = _ordered(table["model"])
    colours = model_colours(models)
    values = stats.pivot(index="dimension", columns="model", values="mean").reindex(index=dimensions)
    positions = np.arange(len(dimensions))
    fig, (top, bottom) = _subplots(2, 1, figsize=(max(6.0, 0.28 * len(dimensions) + 2), 6.4), sharex=True)
    width = 0.8 / len(models)
    for rank, model in enumerate(models):
        top.bar(positions + (rank - (len(models) - 1) / 2) * width, values[model], width, color=colours[model],
                label=model)
    top.set_ylabel("squared partial rho")
    others = [model for model in models if model != baseline]
    if baseline in values.columns and others:
        width = 0.8 / len(others)
        for rank, model in enumerate(others):
            bottom.bar(positions + (rank - (len(others) - 1) / 2) * width, values[model] - values[baseline], width,
                       color=colours[model], label=f"{model} - {baseline}")
        bottom.set_title(f"difference from {baseline}", fontsize=9)
    bottom.axhline(0.0, color="black", lw=0.6)
    bottom.set_ylabel("difference")
    bottom.set_xticks(positions, dimensions, rotation=90, fontsize=7)
    return _finish(fig, [top, bottom], out_stem, legend_on_first=True)


def plot_trajectory(trajectory_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Alignment across training epochs (log-scaled epoch axis): top, similarity per target (mean and
    SEM across the runs named in column ``seed``, e.g. seeds or subject x seed); bottom, accuracy when the file has it. Epoch-0 values (before training) are
    drawn as dashed horizontal lines, since a log axis cannot show epoch 0."""
    table = read_table(trajectory_csv, "trajectory")
    has_accuracy = "accuracy" in table.columns and table["accuracy"].notna().any()
    targets = _ordered(table["target"])
    colours = {target: matplotlib.colormaps["tab10"](index % 10) for index, target in enumerate(targets)}
    fig, axes = _subplots(2 if has_accuracy else 1, 1, figsize=(6.0, 6.0 if has_accuracy else 3.6),
                          sharex=True, squeeze=False)
    axes = list(axes[:, 0])
    stats = _mean_sem(table, ["target", "epoch"], "similarity")
    for target in targets:
        _epoch_curve(axes[0], stats[stats["target"] == target], colours[target], str(target))
    axes[0].set_ylabel("similarity (Spearman rho)")
    if has_accuracy:
        per_epoch = table.drop_duplicates(["seed", "epoch"])
        _epoch_curve(axes[1], _mean_sem(per_epoch.assign(target="accuracy"), ["target", "epoch"], "accuracy"),
                     "black", "accuracy")
        axes[1].set_ylabel("accuracy")
    epochs = sorted(int(epoch) for epoch in table["epoch"].unique() if epoch > 0)
    axes[-1].set_xscale("log")
    ticks = epochs if len(epochs) <= 12 else np.geomspace(1, epochs[-1], 8).tolist()
    axes[-1].xaxis.set_major_locator(FixedLocator(ticks))
    axes[-1].xaxis.set_major_formatter(FormatStrFormatter("%d"))
    axes[-1].xaxis.set_minor_locator(NullLocator())
    axes[-1].set_xlabel("training epoch (log scale; dashed: before training)")
    runs = table["seed"].nunique()
    return _finish(fig, axes, out_stem, f"mean and SEM over {runs} run(s) (column seed)", legend_on_first=True)


def plot_scratch_trajectory(trajectory_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Alignment across training from scratch, drawn like Scholte et al.'s figure: one panel per target
    (EEG time window or fMRI ROI), x = training epoch on a log axis (symmetric-log, linear below the first
    checkpoint after 0 so the untrained network at epoch 0 stays visible), a line per layer (mean over
    seeds, band = +-1 SD over seeds) and held-out accuracy (mean over seeds, dashed) on a twin y axis."""
    table = read_table(trajectory_csv, "scratch_trajectory")
    targets = _ordered(table["target"])
    layers = _ordered(table["layer"])
    colours = {layer: matplotlib.colormaps["viridis"](index / max(1, len(layers) - 1)) for index, layer in enumerate(layers)}
    epochs = np.sort(table["epoch"].unique())
    first = float(epochs[epochs > 0].min()) if (epochs > 0).any() else 1.0
    accuracy = table.drop_duplicates(["seed", "epoch"]).groupby("epoch")["accuracy"].agg(["mean", "std"]).fillna(0.0)
    columns = min(3, len(targets))
    fig, grid = _subplots(-(-len(targets) // columns), columns, figsize=(4.4 * columns, 3.3 * -(-len(targets) // columns)),
                          squeeze=False)
    axes = list(grid.ravel())
    for spare in axes[len(targets):]:
        spare.set_axis_off()
    for ax, target in zip(axes, targets):
        rows = table[table["target"] == target]
        for layer in layers:
            stats = rows[rows["layer"] == layer].groupby("epoch")["similarity"].agg(["mean", "std"]).fillna(0.0)
            ax.plot(stats.index, stats["mean"], marker="o", ms=2.5, lw=1.4, color=colours[layer], label=layer)
            ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"],
                            color=colours[layer], alpha=0.15, lw=0)
        ax.set_xscale("symlog", linthresh=first, linscale=0.5)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(0, epochs.max() * 1.05)
        ax.set_title(str(target), fontsize=9)
        ax.set_xlabel("training epoch (log scale; 0 = untrained)", fontsize=7)
        ax.set_ylabel("similarity (r)", fontsize=8)
        twin = ax.twinx()
        twin.plot(accuracy.index, accuracy["mean"], color="black", ls="--", lw=1.0, label="accuracy")
        twin.fill_between(accuracy.index, accuracy["mean"] - accuracy["std"], accuracy["mean"] + accuracy["std"],
                          color="black", alpha=0.08, lw=0)
        twin.set_ylim(0, 1)
        twin.set_ylabel("held-out accuracy", fontsize=8)
        twin.tick_params(labelsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend([*handles, Line2D([], [], color="black", ls="--")], [*labels, "held-out accuracy (right axis)"],
               fontsize=7, frameon=False, loc="lower center", ncol=len(labels) + 1, bbox_to_anchor=(0.5, 0.0))
    note = f"mean +- SD over {table['seed'].nunique()} initialisation seed(s)"
    fig.text(0.01, 0.005, note, fontsize=7, va="bottom")
    return _save(fig, out_stem, tight=False)


def plot_predictions(predictions_npz: PathLike, out_stem: PathLike, max_examples: int = 4) -> list[Path]:
    """Predicted vs recorded responses for example stimuli: one row per example with its image (when
    stored), the recorded and predicted response (heatmaps for channels x times, lines otherwise; each
    panel on its own symmetric scale, whose maximum |value| the title gives, since predictions are
    shrunk towards 0) and a scatter of predicted against recorded values with Spearman rho."""
    arrays = read_predictions(predictions_npz)
    count = min(max_examples, arrays["real"].shape[0])
    has_images = "images" in arrays
    columns = 3 + int(has_images)
    fig, grid = _subplots(count, columns, figsize=(2.6 * columns, 2.3 * count), squeeze=False)
    for row in range(count):
        axes = list(grid[row])
        if has_images:
            image_ax = axes.pop(0)
            image_ax.imshow(arrays["images"][row])
            image_ax.set_axis_off()
            image_ax.set_title(str(arrays["stimulus_ids"][row]), fontsize=8)
        real, predicted = arrays["real"][row], arrays["predicted"][row]
        for ax, values, name in ((axes[0], real, "recorded"), (axes[1], predicted, "predicted")):
            scale = max(float(np.abs(values).max()), 1e-12)
            _draw_response(ax, values, scale, arrays)
            name = f"{name} (max |value| {scale:.2g})"
            ax.set_title(name if has_images else f"{arrays['stimulus_ids'][row]}: {name}", fontsize=8)
        rho = spearmanr(real.ravel(), predicted.ravel()).statistic
        axes[2].scatter(real.ravel(), predicted.ravel(), s=3, alpha=0.5, color="#d62728")
        axes[2].axline((0.0, 0.0), slope=1.0, color="black", lw=0.6, ls=":")
        axes[2].set_title(f"rho = {rho:.2f}", fontsize=8)
        axes[2].set_xlabel("recorded", fontsize=7)
        axes[2].set_ylabel("predicted", fontsize=7)
    return _save(fig, out_stem)


def _draw_response(ax: Axes, values: np.ndarray, limit: float, arrays: dict[str, np.ndarray]) -> None:
    if values.ndim == 2:
        extent = None
        if "times" in arrays and len(arrays["times"]) == values.shape[1]:
            times_ms = np.asarray(arrays["times"], float) * 1000.0
            extent = (times_ms[0], times_ms[-1], values.shape[0] - 0.5, -0.5)
            ax.set_xlabel("time (ms)", fontsize=7)
        ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent,
                  interpolation="nearest")
        ax.set_ylabel("channel", fontsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.plot(values.ravel(), lw=0.8, color="black")
        ax.set_ylim(-limit, limit)
        ax.set_xlabel("feature", fontsize=7)
    ax.tick_params(labelsize=6)


def _epoch_curve(ax: Axes, stats: pd.DataFrame, colour: Any, label: str) -> None:
    rows = stats.sort_values("epoch")
    trained = rows[rows["epoch"] > 0]
    ax.plot(trained["epoch"], trained["mean"], marker="o", ms=3, color=colour, label=label, lw=1.5)
    ax.fill_between(trained["epoch"], trained["mean"] - trained["sem"], trained["mean"] + trained["sem"],
                    color=colour, alpha=0.2, lw=0)
    for value in rows.loc[rows["epoch"] <= 0, "mean"]:
        ax.axhline(value, color=colour, ls="--", lw=0.9)


def _grouped_bars(table: pd.DataFrame, value: str, out_stem: PathLike, ylabel: str,
                  title: str | None = None) -> list[Path]:
    targets = _ordered(table["target"])
    models = _ordered(table["model"])
    colours = model_colours(models)
    stats = _mean_sem(table, ["target", "model"], value).set_index(["target", "model"])
    width = 0.8 / len(models)
    rng = np.random.default_rng(0)
    fig, ax = _subplots(figsize=(max(4.5, 1.1 * len(targets) * max(len(models), 2) * 0.55 + 2), 3.8))
    for target_index, target in enumerate(targets):
        for rank, model in enumerate(models):
            if (target, model) not in stats.index:
                continue
            centre = target_index + (rank - (len(models) - 1) / 2) * width
            mean, sem = stats.loc[(target, model), ["mean", "sem"]]
            ax.bar(centre, mean, width * 0.9, yerr=sem, color=colours[model], alpha=0.75, capsize=2,
                   label=model if target_index == 0 else None)
            subjects = table[(table["target"] == target) & (table["model"] == model)][value].to_numpy(float)
            jitter = rng.uniform(-0.2, 0.2, len(subjects)) * width
            ax.scatter(centre + jitter, subjects, s=9, color="black", zorder=3, lw=0)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(range(len(targets)), targets)
    ax.set_ylabel(ylabel)
    n_subjects = table["subject"].nunique()
    ax.set_title(title or f"mean +- SEM over {n_subjects} subject(s); dots = subjects", fontsize=9)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, out_stem)


def _mean_sem(table: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean and SEM (ddof=1; 0 for a single value) of ``value`` per ``keys``, keys in first-seen order."""
    grouped = table.groupby(keys, sort=False)[value]
    stats = grouped.agg(["mean", "std", "count"]).reset_index()
    stats["sem"] = (stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
    return stats


def _ordered(values: pd.Series) -> list[str]:
    return list(pd.unique(values))


def _tests_label(significance: pd.DataFrame | None) -> str:
    if significance is None or "test" not in significance.columns:
        return ""
    return " (" + "; ".join(map(str, _ordered(significance["test"].dropna()))) + ")"


def _subplots(*grid: int, figsize: tuple[float, float], **options: Any) -> tuple[Figure, Any]:
    """``(figure, axes)`` like ``pyplot.subplots``, on a plain Figure (nothing global is touched)."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **options)


def _panels(count: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    columns = min(count, 4)
    rows = -(-count // columns)
    fig, grid = _subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    axes = list(grid.ravel())
    for spare in axes[count:]:
        spare.set_axis_off()
    return fig, axes[:count]


def _finish(fig: Figure, axes: list[Axes], out_stem: PathLike, note: str | None = None,
            legend_on_first: bool = False) -> list[Path]:
    """Add one legend (from the first axes) beside the last (or first) panel, an optional note, save."""
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0 if legend_on_first else -1].legend(handles, labels, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if note:
        fig.text(0.01, 0.005, note, fontsize=7, va="bottom")
    return _save(fig, out_stem)


def _save(fig: Figure, out_stem: PathLike, tight: bool = True) -> list[Path]:
    """Write ``out_stem.png`` (150 dpi) and ``out_stem.svg`` atomically, close the figure, return paths."""
    stem = Path(out_stem)
    if tight:
        fig.tight_layout(rect=(0, 0.03, 1, 1))
    paths = []
    for suffix, dpi in ((".png", 150.0), (".svg", "figure")):  # "figure": matplotlib's default
        target = stem.with_name(stem.name + suffix)
        atomic_write_with(target, partial(_savefig, fig, fmt=suffix[1:], dpi=dpi))
        paths.append(target)
    return paths


def _savefig(fig: Figure, temp: Path, fmt: str, dpi: float | str) -> None:
    fig.savefig(temp, format=fmt, bbox_inches="tight", dpi=dpi)
