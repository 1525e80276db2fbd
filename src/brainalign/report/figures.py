"""Figures of the ReAlnet analyses, one function each, drawn from result files alone.

Each function reads result files (formats in :mod:`brainalign.report.results`), draws a matplotlib
``Figure`` (no pyplot state, no backend switch), writes ``out_stem.png`` and ``out_stem.svg`` and returns
both paths. Every figure is :data:`FIGURE_WIDTH` inches wide with the same fonts, so the report shows
them at one scale, and every model keeps one colour in every figure (:func:`model_colour`). Across
subjects a line or bar is the mean, a band or error bar the standard error of the mean (SEM) unless the
function says it is a confidence interval, and dots are single subjects. Similarities are Spearman rho.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from functools import partial
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator
from matplotlib.typing import RcKeyType
from scipy.stats import spearmanr

from brainalign.align.controls import beta_suffix, label_stem
from brainalign.measure.rsa.readouts import EEG_COURSE
from brainalign.measure.statistics import paired_difference, ratio_of_means
from brainalign.report.results import ALL_SUBJECTS, read_predictions, read_table
from brainalign.runs import atomic_write_with

PathLike = str | os.PathLike[str]
FIGURE_WIDTH = 10.0  # inches, every figure
DPI = 150
STYLE: dict[RcKeyType, Any] = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8,
         "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none"}
CEILING_COLOUR = "#bdbdbd"
_FAMILY_COLOURS = {
    "base": "#4d4d4d",
    "aligned": "#d62728",
    "control_beta0": "#1f77b4",
    "control_no_contrastive": "#ff7f0e",
    "control_unpaired": "#2ca02c",
}
_OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#843c39")
SIMILARITY_LABEL = "similarity (Spearman rho)"
_REFERENCE_STYLES: tuple[tuple[Any, str], ...] = (  # (line style, significance marker) per reference of a difference
    ("-", "o"), ((0, (5, 2)), "s"), ((0, (5, 2, 1, 2)), "^"), ((0, (1, 1.5)), "D"), ((0, (8, 2, 1, 2, 1, 2)), "v"))


def model_colour(model: str) -> str:
    """The colour of ``model`` in every figure: one hue per model family (base grey, aligned red, beta-0
    blue, no-contrastive orange, unpaired green); labels with ``_beta<b>`` get a shade of it, lighter for
    small and darker for large beta, never the plain hue; any other label a fixed colour from its name."""
    stem, beta = label_stem(model), beta_suffix(model).removeprefix("_beta")
    if stem not in _FAMILY_COLOURS:
        return _OTHER_COLOURS[zlib.crc32(model.encode()) % len(_OTHER_COLOURS)]
    colour = np.array(mcolors.to_rgb(_FAMILY_COLOURS[stem]))
    try:
        position = float(np.clip((np.log10(float(beta)) - 1.5) / 1.5, -1.0, 1.0)) if beta else None
    except ValueError:
        position = None
    if position is None:
        return mcolors.to_hex(_FAMILY_COLOURS[stem])
    shade = np.copysign(0.12 + 0.45 * abs(position), position if position != 0 else 1.0)  # never the plain hue
    mixed = colour * (1 - shade) if shade > 0 else colour + (1 - colour) * -shade
    red, green, blue = (float(value) for value in np.clip(mixed, 0, 1))
    return mcolors.to_hex((red, green, blue))


def model_colours(models: Iterable[str]) -> dict[str, str]:
    """``{model: model_colour(model)}``."""
    return {model: model_colour(model) for model in models}


def plot_similarity_bars(similarity_csv: PathLike, out_stem: PathLike, readout: str | None = None,
                         ceiling_csv: PathLike | None = None) -> list[Path]:
    """Similarity per target and model (rows of ``readout`` only when given): bars = mean across subjects,
    error bars = SEM, dots = subjects; a grey band per target = its noise ceiling (lower to upper) when
    ``ceiling_csv`` has it."""
    table = read_table(similarity_csv, "similarity")
    if readout is not None and "readout" in table.columns:
        table = table[table["readout"] == readout]
    return _similarity_figure(table, _ceiling(ceiling_csv, readout), out_stem)


def plot_rsa_timecourses(timecourses_csv: PathLike, out_stem: PathLike, ceiling_csv: PathLike | None = None,
                         kind: str = "rsa_timecourses") -> list[Path]:
    """RSA time courses per layer on one shared y-axis: a line per model (mean across subjects) with an SEM
    band, the EEG noise ceiling as a grey band (lower to upper) when given. ``kind="cross_timecourses"``
    averages each model over its training subjects first and uses the other dataset's subjects."""
    table = read_table(timecourses_csv, kind)
    if kind == "cross_timecourses":
        table = (table.groupby(["dataset", "model", "data_subject", "layer", "time"], sort=False)["similarity"]
                 .mean().reset_index().rename(columns={"data_subject": "subject"}))
    ceiling = _ceiling(ceiling_csv, EEG_COURSE)
    layers = _ordered(table["layer"])
    with rc_context(STYLE):
        fig, axes = _panels(len(layers), panel_height=2.8)
        for ax, layer in zip(axes, layers):
            stats = _mean_sem(table[table["layer"] == layer], ["model", "time"], "similarity")
            if ceiling is not None:
                ax.fill_between(ceiling["time"] * 1000.0, ceiling["lower"], ceiling["upper"], color=CEILING_COLOUR,
                                alpha=0.5, lw=0, label="noise ceiling")
            for model in _ordered(table["model"]):
                _line(ax, stats[stats["model"] == model], "time", model_colour(model), model, scale=1000.0)
            ax.axhline(0.0, color="black", lw=0.6, ls=":")
            ax.set_title(f"layer {layer}")
            ax.set_xlabel("time (ms)")
        axes[0].set_ylabel(SIMILARITY_LABEL)
        _legend(fig, axes[0], table["model"], extra=ceiling is not None)
        return _save(fig, out_stem)


def plot_rsa_differences(significance_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Difference curves model - reference per layer on one shared y-axis (mean across subjects, SEM band),
    one line per pair coloured by the model, with a line style and marker per reference (base: solid, filled
    dots; each control its own dash pattern and open marker); time points in a significant cluster (or
    FDR-significant) are marked under the curves, one row per pair, with the marker of its reference."""
    table = read_table(significance_csv, "rsa_significance")
    table = table.assign(reference=table["reference"] if "reference" in table.columns else "base")
    pairs = list(dict.fromkeys(zip(table["model"], table["reference"])))
    references = list(dict.fromkeys(reference for _, reference in pairs))
    references = sorted(references, key=lambda name: name != "base")  # base first: solid line, filled dots
    styles = {name: _REFERENCE_STYLES[index % len(_REFERENCE_STYLES)] for index, name in enumerate(references)}
    layers = _ordered(table["layer"])
    with rc_context(STYLE):
        fig, axes = _panels(len(layers), panel_height=2.8)
        low = float(np.nanmin(table["difference"] - table["sem"].fillna(0))) if "difference" in table else 0.0
        high = float(np.nanmax(table["difference"] + table["sem"].fillna(0))) if "difference" in table else 1.0
        step = 0.06 * max(high - low, 1e-6)
        for ax, layer in zip(axes, layers):
            for rank, (model, reference) in enumerate(pairs):
                rows = table[(table["layer"] == layer) & (table["model"] == model)
                             & (table["reference"] == reference)].sort_values("time")
                colour, (style, marker) = model_colour(model), styles[reference]
                fill = colour if reference == "base" else "white"
                time_ms = rows["time"].to_numpy(float) * 1000.0
                ax.plot(time_ms, rows["difference"], color=colour, ls=style, lw=1.4)
                ax.fill_between(time_ms, rows["difference"] - rows["sem"], rows["difference"] + rows["sem"],
                                color=colour, alpha=0.15, lw=0)
                marked = rows["significant"].to_numpy(bool)
                ax.plot(time_ms[marked], np.full(marked.sum(), low - step * (rank + 1)), marker, ms=3.5,
                        color=colour, mfc=fill, ls="none")
            ax.axhline(0.0, color="black", lw=0.6)
            ax.set_title(f"layer {layer}")
            ax.set_xlabel("time (ms)")
        axes[0].set_ylabel("difference in similarity (rho)")
        handles = [Line2D([], [], color=model_colour(model), ls=styles[reference][0], lw=1.4,
                          marker=styles[reference][1], ms=4, mfc=model_colour(model) if reference == "base" else "white")
                   for model, reference in pairs]
        labels = [f"{model} - {reference}" for model, reference in pairs]
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3), frameon=False,
                   handlelength=3.2)
        return _save(fig, out_stem)


def plot_improvement(improvement_csv: PathLike, out_stem: PathLike, reference: str = "base",
                     readouts: Sequence[str] | None = None, confidence: float = 0.95) -> list[Path]:
    """Improvement ratio over ``reference`` in percent, one panel per readout (EEG peak, EEG 50-200 ms, ROI,
    ...): bar = ratio of the group means (mean model - mean reference) / mean reference, whiskers = its
    bootstrap ``confidence`` interval over subjects, dots = single subjects' ratios; 0 % = no change."""
    table = read_table(improvement_csv, "improvement")
    table = table[table.get("reference", pd.Series("base", index=table.index)) == reference]
    names = list(readouts) if readouts is not None else _ordered(table.get("readout", pd.Series(["similarity"])))
    if "readout" not in table.columns:
        table = table.assign(readout=names[0])
    names = [name for name in names if (table["readout"] == name).any()]
    with rc_context(STYLE):
        fig, axes = _panels(len(names), panel_height=3.0, columns=min(len(names), 2), sharey=False)
        for ax, readout in zip(axes, names):
            rows = table[table["readout"] == readout]
            targets, models = _ordered(rows["target"]), _ordered(rows["model"])
            width = 0.8 / max(len(models), 1)
            for rank, model in enumerate(models):
                for index, target in enumerate(targets):
                    cell = rows[(rows["model"] == model) & (rows["target"] == target)]
                    if cell.empty:
                        continue
                    ratio, lo, hi = ratio_of_means(cell["aligned"].to_numpy(), cell["base"].to_numpy(),
                                                   confidence) if len(cell) > 1 else (
                        float(cell["improvement_ratio"].iloc[0]), np.nan, np.nan)
                    centre = index + (rank - (len(models) - 1) / 2) * width
                    ax.bar(centre, 100 * ratio, width * 0.9, color=model_colour(model), alpha=0.8,
                           label=model if index == 0 else None)
                    if np.isfinite(lo):
                        ax.errorbar(centre, 100 * ratio, yerr=[[100 * (ratio - lo)], [100 * (hi - ratio)]],
                                    color="black", lw=0.9, capsize=2)
                    ax.scatter(centre + _jitter(len(cell), width), 100 * cell["improvement_ratio"], s=8,
                               color="black", lw=0, zorder=3)
            ax.axhline(0.0, color="black", lw=0.6)
            ax.set_xticks(range(len(targets)), targets, rotation=30 if len(targets) > 6 else 0)
            ax.set_title(readout)
            ax.set_ylabel(f"improvement over {reference} (%)")
        _legend(fig, axes[0], table["model"])
        return _save(fig, out_stem)


def plot_cross_similarity(cross_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Similarity on other fMRI datasets per ROI (``dataset ROI``) and model, drawn like
    :func:`plot_similarity_bars` with the other dataset's subjects as the dots (each averaged over the
    training subjects' models)."""
    table = read_table(cross_csv, "cross_similarity")
    table = table.groupby(["dataset", "target", "model", "data_subject"], sort=False)["similarity"].mean().reset_index()
    table = table.assign(target=table["dataset"] + " " + table["target"], subject=table["data_subject"])
    return _similarity_figure(table, None, out_stem)


def plot_improvement_correlation(correlation_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Pearson r across aligned models between EEG and fMRI improvements: a matrix EEG readout x ROI on a
    symmetric colour scale (-1..1) with r and p written in each cell."""
    table = read_table(correlation_csv, "improvement_correlation")
    rows, columns = _ordered(table["eeg_readout"]), _ordered(table["roi"])
    r = table.pivot(index="eeg_readout", columns="roi", values="r").reindex(index=rows, columns=columns)
    p = table.pivot(index="eeg_readout", columns="roi", values="p_value").reindex(index=rows, columns=columns)
    with rc_context(STYLE):
        fig = _figure(0.45 * len(rows) + 1.6)
        ax = fig.add_subplot()
        image = ax.imshow(r.to_numpy(float), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        for (i, j), value in np.ndenumerate(r.to_numpy(float)):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}\np={p.iloc[i, j]:.2g}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(columns)), columns)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_xlabel("fMRI ROI (best-layer improvement over base)")
        ax.set_ylabel("EEG improvement over base")
        fig.colorbar(image, ax=ax, label="Pearson r across models", shrink=0.9)
        return _save(fig, out_stem)


def plot_variability(variability_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Individual variability (1 - Spearman rho between two models' RDMs): top, one matrix per layer of the
    between-subject pairs (first seed of each subject), on one colour scale set by the off-diagonal values
    (the diagonal is blank); bottom, per layer the mean +- SEM over pairs between subjects next to the
    baseline, pairs of seeds of the same subject, when the study has several seeds."""
    table = read_table(variability_csv, "variability")
    table = table.assign(pair=table["pair"] if "pair" in table.columns else "between subjects")
    between = table[table["pair"] == "between subjects"]
    first = _first_seed_models(pd.concat([between["model_a"], between["model_b"]]))
    shown = between[between["model_a"].isin(first) & between["model_b"].isin(first)]
    layers = _ordered(table["layer"])
    index = {model: position for position, model in enumerate(first)}
    with rc_context(STYLE):
        fig = _figure(2.6 + 0.12 * len(first) + 2.6)
        grid = fig.add_gridspec(2, len(layers), height_ratios=[1.4, 1.0])
        vmax = max(float(shown["variability"].max()), 1e-6)
        image = None
        for column, layer in enumerate(layers):
            ax = fig.add_subplot(grid[0, column])
            matrix = np.full((len(first), len(first)), np.nan)
            rows = shown[shown["layer"] == layer]
            a, b = rows["model_a"].map(index).to_numpy(), rows["model_b"].map(index).to_numpy()
            matrix[a, b] = matrix[b, a] = rows["variability"].to_numpy()
            image = ax.imshow(np.ma.masked_invalid(matrix), vmin=0.0, vmax=vmax, cmap="viridis")
            ticks = [model.split(" seed")[0].split(" ", 1)[-1] for model in first]
            ax.set_xticks(range(len(first)), ticks if len(first) <= 12 else [], rotation=90, fontsize=7)
            ax.set_yticks(range(len(first)), ticks if column == 0 and len(first) <= 12 else [], fontsize=7)
            ax.set_title(f"layer {layer}")
        if image is not None:
            fig.colorbar(image, ax=fig.axes, shrink=0.6, label="1 - Spearman rho", location="right")
        bars = fig.add_subplot(grid[1, :])
        stats = _mean_sem(table, ["layer", "pair"], "variability")
        kinds = _ordered(table["pair"])
        width = 0.8 / len(kinds)
        for rank, kind in enumerate(kinds):
            rows = stats[stats["pair"] == kind].set_index("layer").reindex(layers)
            centres = np.arange(len(layers)) + (rank - (len(kinds) - 1) / 2) * width
            bars.bar(centres, rows["mean"], width * 0.9, yerr=rows["sem"], capsize=2,
                     color="#9467bd" if kind == "between subjects" else CEILING_COLOUR,
                     label=f"{kind} ({int(rows['count'].max())} pairs per layer)")
        bars.set_xticks(range(len(layers)), [f"layer {layer}" for layer in layers])
        bars.set_ylabel("1 - Spearman rho")
        bars.legend(frameon=False, loc="upper left")
        return _save(fig, out_stem)


def plot_robustness(robustness_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Accuracy against attack strength epsilon, top-1 (and top-5 when the file has it) in rows: left raw
    (dashed black line: chance, from the file's top-1 ``chance`` column when it has one; top-5 chance is five
    times that, at most 1), right baseline-aligned
    (accuracy minus the model's own clean accuracy, columns ``<metric>_aligned``, so models with different
    clean accuracy compare from the same start). Colour: model; line style: attack. Mean and SEM over
    subjects when the file has several rows per model, attack and epsilon. Written by studies and by
    ``brainalign robustness`` alike."""
    table = read_table(robustness_csv, "robustness")
    table = table.assign(attack=table["attack"] if "attack" in table.columns else "")
    metrics = ["top1"] + (["top5"] if "top5" in table.columns and table["top5"].notna().any() else [])
    chance = float(table["chance"].iloc[0]) if "chance" in table.columns and table["chance"].notna().any() else None
    styles = {attack: ("-", "--", ":", "-.")[rank % 4] for rank, attack in enumerate(_ordered(table["attack"]))}
    with rc_context(STYLE):
        fig, axes = _panels(2 * len(metrics), panel_height=3.0, columns=2, sharey=False)
        for row, metric in enumerate(metrics):
            name = "top-1" if metric == "top1" else "top-5"
            for ax, column in zip(axes[2 * row:2 * row + 2], (metric, f"{metric}_aligned")):
                stats = _mean_sem(table, ["model", "attack", "eps"], column)
                for (model, attack), rows in stats.groupby(["model", "attack"], sort=False):
                    rows = rows.sort_values("eps")
                    label = " / ".join(str(part) for part in (model, attack) if part != "")
                    ax.errorbar(rows["eps"], rows["mean"], yerr=rows["sem"], color=model_colour(str(model)),
                                ls=styles[attack], label=label, marker="o", ms=3, capsize=2, lw=1.4)
                ax.set_xlabel("attack strength epsilon (L-inf, pixel units)")
            raw, aligned = axes[2 * row], axes[2 * row + 1]
            if chance is not None:  # top-5: five guesses of 1 / classes each
                raw.axhline(min(1.0, chance * (1 if metric == "top1" else 5)), color="black", ls="--", lw=0.8,
                            label="chance")
            raw.set(ylabel=f"{name} accuracy", title=f"{name}, raw", ylim=(-0.02, 1.02))
            aligned.set(ylabel=f"{name} - clean {name}", title=f"{name}, baseline-aligned (minus clean accuracy)")
            aligned.axhline(0.0, color="grey", lw=0.8, ls=":")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 6), frameon=False)
        return _save(fig, out_stem)


def plot_dimensions(dimensions_csv: PathLike, out_stem: PathLike, baseline: str = "base") -> list[Path]:
    """Squared partial correlations per object dimension: top, bars per model (mean across subjects, SEM
    error bars); bottom, each other model minus ``baseline`` (mean of the per-subject differences, SEM)."""
    table = read_table(dimensions_csv, "dimensions")
    table = table.assign(subject=table["subject"] if "subject" in table.columns else ALL_SUBJECTS)
    dimensions, models = _ordered(table["dimension"]), _ordered(table["model"])
    stats = _mean_sem(table, ["model", "dimension"], "squared_partial")
    positions = np.arange(len(dimensions))
    others = [model for model in models if model != baseline]
    with rc_context(STYLE):
        fig = _figure(6.0)
        top, bottom = fig.subplots(2, 1, sharex=True)
        width = 0.8 / len(models)
        for rank, model in enumerate(models):
            rows = stats[stats["model"] == model].set_index("dimension").reindex(dimensions)
            top.bar(positions + (rank - (len(models) - 1) / 2) * width, rows["mean"], width, yerr=rows["sem"],
                    color=model_colour(model), label=model, capsize=1.5, error_kw={"lw": 0.7})
        top.set_ylabel("squared partial rho")
        wide = table.pivot_table(index=["dimension", "subject"], columns="model", values="squared_partial")
        if baseline in wide.columns and others:
            width = 0.8 / len(others)
            for rank, model in enumerate(others):
                difference = (wide[model] - wide[baseline]).rename("difference").reset_index()
                rows = _mean_sem(difference, ["dimension"], "difference").set_index("dimension").reindex(dimensions)
                bottom.bar(positions + (rank - (len(others) - 1) / 2) * width, rows["mean"], width, yerr=rows["sem"],
                           color=model_colour(model), capsize=1.5, error_kw={"lw": 0.7})
            bottom.set_title(f"difference from {baseline} (mean of per-subject differences +- SEM)")
        bottom.axhline(0.0, color="black", lw=0.6)
        bottom.set_ylabel("difference")
        bottom.set_xticks(positions, dimensions, rotation=90)
        _legend(fig, top, table["model"])
        return _save(fig, out_stem)


def plot_trajectory(trajectory_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Alignment across training epochs (log-scaled epoch axis): top, similarity per target; bottom,
    accuracy when the file has it. Seeds of one subject are averaged first; the line is the mean over
    subjects with an SEM band (over seeds when the study has one subject). Epoch-0 values (the base model)
    are dashed horizontal lines, since a log axis cannot show epoch 0."""
    table = read_table(trajectory_csv, "trajectory")
    unit = _trajectory_unit(table)
    has_accuracy = "accuracy" in table.columns and table["accuracy"].notna().any()
    targets = _ordered(table["target"])
    palette = {target: mcolors.to_hex(f"C{index % 10}") for index, target in enumerate(targets)}
    with rc_context(STYLE):
        fig = _figure(5.6 if has_accuracy else 3.2)
        axes = list(fig.subplots(2 if has_accuracy else 1, 1, sharex=True, squeeze=False)[:, 0])
        per_unit = table.groupby([unit, "target", "epoch"], sort=False)["similarity"].mean().reset_index()
        stats = _mean_sem(per_unit, ["target", "epoch"], "similarity")
        for target in targets:
            _epoch_curve(axes[0], stats[stats["target"] == target], palette[target], str(target))
        axes[0].set_ylabel(SIMILARITY_LABEL)
        if has_accuracy:
            accuracy = table.drop_duplicates(["seed", "epoch"]).groupby([unit, "epoch"], sort=False)["accuracy"].mean()
            stats = _mean_sem(accuracy.reset_index().assign(target="accuracy"), ["target", "epoch"], "accuracy")
            _epoch_curve(axes[1], stats, "black", "top-1 accuracy")
            axes[1].set_ylabel("top-1 accuracy")
        epochs = sorted(int(epoch) for epoch in table["epoch"].unique() if epoch > 0)
        axes[-1].set_xscale("log")
        ticks = epochs if len(epochs) <= 12 else np.geomspace(1, epochs[-1], 8).tolist()
        axes[-1].xaxis.set_major_locator(FixedLocator(ticks))
        axes[-1].xaxis.set_major_formatter(FormatStrFormatter("%d"))
        axes[-1].xaxis.set_minor_locator(NullLocator())
        axes[-1].set_xlabel("training epoch (log scale; dashed: before training)")
        for ax in axes:
            ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return _save(fig, out_stem)


def plot_scratch_trajectory(trajectory_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Alignment across training from scratch, drawn like Scholte et al.'s figure: one panel per target
    (EEG time window or fMRI ROI), x = training epoch on a log axis (symmetric-log, linear below the first
    checkpoint after 0 so the untrained network at epoch 0 stays visible), a line per layer (mean over
    seeds, band = +-1 SD over seeds) and held-out accuracy (mean over seeds, dashed) on a twin y axis."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    table = read_table(trajectory_csv, "scratch_trajectory")
    targets = _ordered(table["target"])
    layers = _ordered(table["layer"])
    colours = {layer: colormaps["viridis"](index / max(1, len(layers) - 1)) for index, layer in enumerate(layers)}
    epochs = np.sort(table["epoch"].unique())
    first = float(epochs[epochs > 0].min()) if (epochs > 0).any() else 1.0
    accuracy = table.drop_duplicates(["seed", "epoch"]).groupby("epoch")["accuracy"].agg(["mean", "std"]).fillna(0.0)
    with rc_context(STYLE):
        fig, axes = _panels(len(targets), panel_height=3.0, columns=min(3, len(targets)), sharey=False)
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
            ax.set_title(str(target))
            ax.set_xlabel("training epoch (log scale; 0 = untrained)")
            ax.set_ylabel("similarity (r)")
            twin = ax.twinx()
            twin.spines["right"].set_visible(True)
            twin.plot(accuracy.index, accuracy["mean"], color="black", ls="--", lw=1.0, label="accuracy")
            twin.fill_between(accuracy.index, accuracy["mean"] - accuracy["std"], accuracy["mean"] + accuracy["std"],
                              color="black", alpha=0.08, lw=0)
            twin.set_ylim(0, 1)
            twin.set_ylabel("held-out accuracy")
        handles, labels = axes[0].get_legend_handles_labels()
        note = f"mean +- SD over {table['seed'].nunique()} initialisation seed(s)"
        fig.legend([*handles, Line2D([], [], color="black", ls="--")], [*labels, "held-out accuracy (right axis)"],
                   loc="outside lower center", ncols=len(labels) + 1, frameon=False, title=note)
        return _save(fig, out_stem)


def plot_predictions(predictions_npz: PathLike, out_stem: PathLike, max_examples: int = 4) -> list[Path]:
    """Predicted vs recorded responses for example stimuli: one row per example with its image (when
    stored), the recorded and the predicted response on one shared symmetric colour scale with a colour
    bar (channels x times; lines for other shapes), channel names on the y-axis, and a scatter of predicted
    against recorded values with Spearman rho."""
    arrays = read_predictions(predictions_npz)
    count = min(max_examples, arrays["real"].shape[0])
    has_images = "images" in arrays
    columns = 3 + int(has_images)
    limit = max(float(np.abs(arrays["real"][:count]).max()), float(np.abs(arrays["predicted"][:count]).max()), 1e-12)
    with rc_context(STYLE):
        fig = _figure(2.4 * count + 0.6)
        grid = fig.subplots(count, columns, squeeze=False,
                            gridspec_kw={"width_ratios": ([0.7] if has_images else []) + [1.2, 1.2, 1.0]})
        image = None
        for row in range(count):
            axes = list(grid[row])
            if has_images:
                image_ax = axes.pop(0)
                image_ax.imshow(arrays["images"][row])
                image_ax.set_axis_off()
                image_ax.set_title(str(arrays["stimulus_ids"][row]))
            real, predicted = arrays["real"][row], arrays["predicted"][row]
            for ax, values, name in ((axes[0], real, "recorded"), (axes[1], predicted, "predicted")):
                image = _draw_response(ax, values, limit, arrays, first_column=ax is axes[0]) or image
                ax.set_title(name if has_images else f"{arrays['stimulus_ids'][row]}: {name}")
            rho = spearmanr(real.ravel(), predicted.ravel()).statistic
            axes[2].scatter(real.ravel(), predicted.ravel(), s=3, alpha=0.5, color=model_colour("aligned"))
            axes[2].axline((0.0, 0.0), slope=1.0, color="black", lw=0.6, ls=":")
            axes[2].set_title(f"Spearman rho = {rho:.2f}")
            axes[2].set_xlabel("recorded")
            axes[2].set_ylabel("predicted")
        if image is not None:
            fig.colorbar(image, ax=grid[:, 1 + int(has_images)].tolist(), shrink=0.8, label="response (recorded units)")
        return _save(fig, out_stem)


def plot_ground_truth(ground_truth_csv: PathLike, out_stem: PathLike) -> list[Path]:
    """Similarity of every layer with every hidden stage of the subject's simulated brain (noise-free), one
    panel per stage: bars = mean across subjects, error bars = SEM, dots = subjects."""
    table = read_table(ground_truth_csv, "ground_truth").rename(columns={"layer": "target"})
    stages = _ordered(table["stage"])
    with rc_context(STYLE):
        fig, axes = _panels(len(stages), panel_height=2.6, columns=2)
        for ax, stage in zip(axes, stages):
            _grouped_bars(ax, table[table["stage"] == stage], "similarity", None)
            ax.set_title(f"hidden stage: {stage}")
        for ax in axes[::2]:
            ax.set_ylabel(SIMILARITY_LABEL)
        _legend(fig, axes[0], table["model"])
        return _save(fig, out_stem)


def plot_comparisons(comparisons_csv: PathLike, out_stem: PathLike, confidence: float = 0.95) -> list[Path]:
    """The headline comparisons, one row each: dots = subjects' differences (model - reference, similarity
    units), a bar = their mean with its t confidence interval; a claim holds where the interval lies right of
    0 (the dotted line)."""
    table = read_table(comparisons_csv, "comparisons")
    names = _ordered(table["comparison"])
    with rc_context(STYLE):
        fig = _figure(0.9 + 0.38 * len(names))
        ax = fig.add_subplot()
        for row, name in enumerate(names):
            values = table[table["comparison"] == name]["difference"].to_numpy(float)
            colour = model_colour(str(table[table["comparison"] == name]["reference"].iloc[0]))
            ax.scatter(values, row + _jitter(len(values), 0.6), s=9, color="black", lw=0, zorder=3)
            if len(values) > 1:
                interval = paired_difference(values, None, confidence=confidence)
                ax.plot([interval.ci_low, interval.ci_high], [row, row], color=colour, lw=2.5, solid_capstyle="butt")
            ax.plot([values.mean()], [row], marker="D", ms=5, color=colour, zorder=4)
        ax.axvline(0.0, color="black", lw=0.8, ls=":")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel(f"difference in similarity (Spearman rho); bar: mean and {confidence:.0%} CI over subjects")
        return _save(fig, out_stem)


# ---- helpers ------------------------------------------------------------------------------------------
def _figure(height: float) -> Figure:
    return Figure(figsize=(FIGURE_WIDTH, height), layout="constrained")


def _panels(count: int, panel_height: float, columns: int | None = None,
            sharey: bool = True) -> tuple[Figure, list[Axes]]:
    """``count`` panels in rows of ``columns`` (default up to 4), sharing the y-axis unless told."""
    columns = columns or min(count, 4)
    rows = -(-count // columns)
    fig = _figure(panel_height * rows + 0.6)
    grid = fig.subplots(rows, columns, squeeze=False, sharey=sharey)
    axes = list(grid.ravel())
    for spare in axes[count:]:
        spare.set_axis_off()
    return fig, axes[:count]


def _legend(fig: Figure, ax: Axes, models: Iterable[str], extra: bool = False) -> None:
    """One legend below the figure, models in their order of appearance (plus extra handles of ``ax``)."""
    handles, labels = ax.get_legend_handles_labels()
    order = {label: handle for handle, label in zip(handles, labels)}
    names = [name for name in _ordered(pd.Series(list(models))) if name in order]
    names += [label for label in order if label not in names and extra]
    fig.legend([order[name] for name in names], names, loc="outside lower center", ncols=min(len(names), 6),
               frameon=False)


def _similarity_figure(table: pd.DataFrame, ceiling: pd.DataFrame | None, out_stem: PathLike) -> list[Path]:
    """Grouped similarity bars per target and model (with noise-ceiling bands) in a figure of their own."""
    with rc_context(STYLE):
        fig = _figure(3.6)
        ax = fig.add_subplot()
        _grouped_bars(ax, table, "similarity", ceiling)
        ax.set_ylabel(SIMILARITY_LABEL)
        _legend(fig, ax, table["model"], extra=ceiling is not None)
        return _save(fig, out_stem)


def _grouped_bars(ax: Axes, table: pd.DataFrame, value: str, ceiling: pd.DataFrame | None) -> None:
    targets, models = _ordered(table["target"]), _ordered(table["model"])
    stats = _mean_sem(table, ["target", "model"], value).set_index(["target", "model"])
    width = 0.8 / len(models)
    shared = ceiling is not None and len(ceiling) == 1 and not set(ceiling["target"]) & set(targets)
    for index, target in enumerate(targets):
        if ceiling is not None and (shared or target in set(ceiling["target"])):
            # a ceiling per target, or one neural target every layer is compared with (the whole response)
            bound = ceiling.iloc[0] if shared else ceiling[ceiling["target"] == target].iloc[0]
            ax.fill_between([index - 0.45, index + 0.45], bound["lower"], bound["upper"], color=CEILING_COLOUR,
                            alpha=0.6, lw=0, label="noise ceiling" if index == 0 else None, zorder=0)
        for rank, model in enumerate(models):
            if (target, model) not in stats.index:
                continue
            centre = index + (rank - (len(models) - 1) / 2) * width
            mean, sem = stats.loc[(target, model), ["mean", "sem"]]
            ax.bar(centre, mean, width * 0.9, yerr=sem, color=model_colour(model), alpha=0.85, capsize=2,
                   label=model if index == 0 else None)
            subjects = table[(table["target"] == target) & (table["model"] == model)][value].to_numpy(float)
            ax.scatter(centre + _jitter(len(subjects), width), subjects, s=9, color="black", zorder=3, lw=0)
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xticks(range(len(targets)), targets, rotation=30 if len(targets) > 8 else 0)


def _ceiling(ceiling_csv: PathLike | None, readout: str | None) -> pd.DataFrame | None:
    if ceiling_csv is None or not Path(ceiling_csv).exists():
        return None
    table = read_table(ceiling_csv, "noise_ceiling")
    rows = table if readout is None else table[table["readout"] == readout]
    return rows.sort_values("time") if len(rows) else None


def _line(ax: Axes, rows: pd.DataFrame, x: str, colour: str, label: str, scale: float = 1.0) -> None:
    rows = rows.sort_values(x)
    values = rows[x].to_numpy(float) * scale
    ax.plot(values, rows["mean"], color=colour, label=label, lw=1.5)
    ax.fill_between(values, rows["mean"] - rows["sem"], rows["mean"] + rows["sem"], color=colour, alpha=0.2, lw=0)


def _jitter(count: int, width: float) -> np.ndarray:
    return np.random.default_rng(count).uniform(-0.2, 0.2, count) * width


def _epoch_curve(ax: Axes, stats: pd.DataFrame, colour: str, label: str) -> None:
    rows = stats.sort_values("epoch")
    trained = rows[rows["epoch"] > 0]
    ax.plot(trained["epoch"], trained["mean"], marker="o", ms=3, color=colour, label=label, lw=1.5)
    ax.fill_between(trained["epoch"], trained["mean"] - trained["sem"], trained["mean"] + trained["sem"],
                    color=colour, alpha=0.2, lw=0)
    for value in rows.loc[rows["epoch"] <= 0, "mean"]:
        ax.axhline(value, color=colour, ls="--", lw=0.9)


def _trajectory_unit(table: pd.DataFrame) -> str:
    """``subject`` when the runs span several subjects (seeds averaged within each), else ``seed``."""
    return "subject" if "subject" in table.columns and table["subject"].nunique() > 1 else "seed"


def _first_seed_models(models: pd.Series) -> list[str]:
    """Model names ('<label> <subject> seed <s>'), one per label and subject: the lowest seed."""
    chosen: dict[str, tuple[int, str]] = {}
    for name in _ordered(models):
        stem, _, seed = name.rpartition(" seed ")
        key, number = (stem or name), int(seed) if seed.isdigit() else 0
        if key not in chosen or number < chosen[key][0]:
            chosen[key] = (number, name)
    return [name for _, name in chosen.values()]


def _draw_response(ax: Axes, values: np.ndarray, limit: float, arrays: dict[str, np.ndarray],
                   first_column: bool):
    if values.ndim != 2:
        ax.plot(values.ravel(), lw=0.8, color="black")
        ax.set_ylim(-limit, limit)
        ax.set_xlabel("feature")
        return None
    extent = None
    if "times" in arrays and len(arrays["times"]) == values.shape[1]:
        times_ms = np.asarray(arrays["times"], float) * 1000.0
        extent = (times_ms[0], times_ms[-1], values.shape[0] - 0.5, -0.5)
        ax.set_xlabel("time (ms)")
    image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent,
                      interpolation="nearest")
    names = [str(name) for name in arrays["channels"]] if "channels" in arrays else None
    if names is not None and len(names) == values.shape[0]:
        step = max(1, len(names) // 9)
        ax.set_yticks(range(0, len(names), step), names[::step] if first_column else [])
    else:
        ax.set_ylabel("channel")
    return image


def _mean_sem(table: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean and SEM (ddof=1; 0 for a single value) of ``value`` per ``keys``, keys in first-seen order."""
    stats = table.groupby(keys, sort=False)[value].agg(["mean", "std", "count"]).reset_index()
    stats["sem"] = (stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
    return stats


def _ordered(values: pd.Series) -> list[str]:
    return list(pd.unique(values))


def _save(fig: Figure, out_stem: PathLike) -> list[Path]:
    """Write ``out_stem.png`` (150 dpi) and ``out_stem.svg`` atomically; return the paths."""
    stem = Path(out_stem)
    paths = []
    for suffix, dpi in ((".png", float(DPI)), (".svg", "figure")):  # "figure": matplotlib's default
        target = stem.with_name(stem.name + suffix)
        atomic_write_with(target, partial(_savefig, fig, fmt=suffix[1:], dpi=dpi))
        paths.append(target)
    return paths


def _savefig(fig: Figure, temp: Path, fmt: str, dpi: float | str) -> None:
    fig.savefig(temp, format=fmt, dpi=dpi)

