"""Self-contained HTML report of a run directory, rebuilt from its result files alone.

``build_report(run_dir)`` re-draws every figure whose result file exists (into ``RUN_DIR/figures/``,
PNG and SVG), and writes ``RUN_DIR/report.html``: figures embedded as base64 PNG data URIs (the page
opens from disk, offline, even when moved alone), each captioned with what is compared against what, in
which units and over how many subjects; per section a short "what these numbers mean"; the headline
readouts and tests of ``summary.json``; tables; the config, library versions, seeds and run times; and a
caveat at the top when the data are simulated. Formats of the files read: :mod:`brainalign.report.results`.
"""
from __future__ import annotations

import base64
import html
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from brainalign.errors import DataFormatError
from brainalign.inputs import read_text
from brainalign.report import figures
from brainalign.report.results import (
    ALL_SUBJECTS,
    PREDICTIONS_FILE,
    RESULTS_DIR,
    TABLES,
    read_predictions,
    read_run_json,
    read_table,
    signed,
    table_path,
)
from brainalign.measure.rsa.readouts import ROI, WHOLE
from brainalign.runs import atomic_write_text

REPORT_FILE = "report.html"
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: its file stem, section, title, the result file it is drawn from, how it is drawn,
    its caption (built from the result files: what vs what, units, n) and when it applies."""

    name: str
    section: str
    title: str
    source: str  # a result table kind, or PREDICTIONS_FILE
    draw: Callable[[Path, Path], list[Path]]  # (run_dir, out_stem) -> written paths
    caption: Callable[[Path], str]  # run_dir -> caption
    applies: Callable[[Path], bool] = lambda run_dir: True


@dataclass(frozen=True)
class Section:
    """A report section: title and what its numbers mean."""

    key: str
    title: str
    meaning: str


SECTIONS: tuple[Section, ...] = (
    Section("comparisons", "Headline comparisons", "Each claim as a difference per subject (dots; a subject's "
            "training seeds averaged first) with the mean over subjects and its 95 % confidence interval (bar). "
            "A claim holds only where the interval lies right of 0; an interval across 0 means the data do not "
            "support it, whatever the mean."),
    Section("similarity", "Held-out similarity", "RSA similarity is the Spearman correlation between the "
            "dissimilarities of a model layer and those of a subject's brain responses over the same held-out "
            "images (0 = unrelated, 1 = the same geometry). The noise ceiling bounds what any model can reach "
            "given how consistent the subjects are; a model near its lower bound explains about as much as "
            "another subject would."),
    Section("eeg", "EEG: similarity over time", "Each layer's similarity with the EEG response pattern at every "
            "time point after image onset. The difference curves show where a model beats (above 0) or trails "
            "(below 0) its reference, and the dots the time points where that holds across subjects after "
            "correcting for the many time points tested (a cluster test)."),
    Section("improvement", "Improvement over the base model", "The papers' headline numbers: how much more "
            "similar to the brain the aligned model is than the model it started from, as a ratio "
            "((aligned - base) / base; +10 % = a tenth more similarity), read at the peak of the base model's "
            "time course, averaged over 50-200 ms, and per fMRI region at each model's best layer. Whiskers are "
            "95 % confidence intervals over subjects: an interval that includes 0 means no reliable change."),
    Section("fmri", "fMRI regions", "Per region (V1 ... LOC) the similarity of the best-matching layer, searched "
            "over the four areas and the final pooled layer, as ReAlnet-fMRI reports it."),
    Section("cross", "Other datasets and modalities", "Every model scored on recordings it was not trained on "
            "(another modality or dataset). Gains here mean the alignment learned something about the brain's "
            "representation in general, not only about the training recordings."),
    Section("ground_truth", "Ground truth (simulation only)", "Similarity of each layer with each stage of the "
            "subject's hidden simulated brain, computed from its noise-free features: what the recordings were "
            "made from. A model that moves towards these stages learned the computation behind the responses, not "
            "only the recordings."),
    Section("variability", "Individual variability", "How different the personalised models of two subjects "
            "are (1 - Spearman rho between their RDMs). It is compared with the difference between two training "
            "seeds of one subject's model: only variability above that baseline reflects the subjects."),
    Section("trajectory", "Alignment across training", "Similarity (and accuracy) at every saved epoch; epoch 0 "
            "is the base model. A similarity that rises while accuracy holds means the alignment adds brain "
            "likeness without costing the task."),
    Section("dimensions", "Object dimensions", "How strongly each object dimension shapes the model's "
            "representation when the other dimensions are held constant (squared partial correlation), and "
            "how alignment changes that."),
    Section("robustness", "Adversarial robustness", "Accuracy when images are perturbed to fool the model (FGSM). "
            "The baseline-aligned panel starts every model at its own clean accuracy, so a flatter curve means a "
            "more robust model whatever its starting accuracy."),
    Section("predictions", "Predicted responses", "What the encoder head predicts for a few held-out images next "
            "to what was recorded, on one colour scale."),
)


def _n(run_dir: Path, kind: str, column: str = "subject", **where: str) -> int:
    """Distinct values of ``column`` (subjects: a network shared by all, subject ``all``, is not one)."""
    table = read_table(table_path(run_dir, kind), kind)
    for key, value in where.items():
        table = table[table[key] == value]
    if column not in table.columns:
        return 0
    return int(table[column][table[column] != ALL_SUBJECTS].nunique())


def _has_rows(kind: str, column: str, values: tuple[str, ...]) -> Callable[[Path], bool]:
    def check(run_dir: Path) -> bool:
        path = table_path(run_dir, kind)
        return path.exists() and column in (table := read_table(path, kind)).columns and table[column].isin(values).any()
    return check


def _ceiling_text(run_dir: Path) -> str:
    return "; grey: noise ceiling (lower to upper bound)" if table_path(run_dir, "noise_ceiling").exists() else ""


def _subjects_text(run_dir: Path, kind: str, **where: str) -> str:
    n = _n(run_dir, kind, **where)
    return f"n = {n} subject{'s' if n != 1 else ''} (each subject's seeds averaged first)"


def _from_table(table: str, plot: Callable[..., list[Path]], **options: Any) -> Callable[[Path, Path], list[Path]]:
    return lambda run_dir, out_stem: plot(table_path(run_dir, table), out_stem, **options)


def _with_ceiling(kind: str, plot: Callable[..., list[Path]], **options: Any) -> Callable[[Path, Path], list[Path]]:
    return lambda run_dir, out_stem: plot(table_path(run_dir, kind), out_stem,
                                          ceiling_csv=table_path(run_dir, "noise_ceiling"), **options)


def _improvement_readouts(run_dir: Path) -> list[str]:
    table = read_table(table_path(run_dir, "improvement"), "improvement")
    readouts = _ordered(table["readout"]) if "readout" in table.columns else ["similarity"]
    chosen = [r for r in readouts if r != WHOLE]
    return chosen or readouts


def _draw_improvement(run_dir: Path, out_stem: Path) -> list[Path]:
    return figures.plot_improvement(table_path(run_dir, "improvement"), out_stem,
                                    readouts=_improvement_readouts(run_dir))


def _caption_improvement(run_dir: Path) -> str:
    readouts = ", ".join(_improvement_readouts(run_dir))
    return ("Improvement ratio (model - base) / base in percent (the tables below give the same values in "
            f"percent), per readout ({readouts}) and target. Bars: ratio of the group means; whiskers: 95 % "
            f"bootstrap confidence interval over subjects; dots: single subjects' ratios; {_subjects_text(run_dir, 'improvement')}."
            " EEG peak: at the time point where the base model's mean time course peaks; 50-200 ms: the mean over "
            "that window.")


def _caption_trajectory(run_dir: Path) -> str:
    table = read_table(table_path(run_dir, "trajectory"), "trajectory")
    subjects = table["subject"].nunique() if "subject" in table.columns else 1
    runs = table["seed"].nunique()
    spread = (f"mean and SEM over {subjects} subjects (each subject's {runs // max(subjects, 1)} seed(s) averaged "
              "first)" if subjects > 1 else f"mean and SEM over {runs} seed(s) of one subject")
    return ("RSA similarity (Spearman rho) of the aligned models' headline layer with the held-out response RDM at "
            f"every saved epoch, and top-1 accuracy (fraction) on labelled images no model was aligned on; {spread}.")


def _caption_variability(run_dir: Path) -> str:
    table = read_table(table_path(run_dir, "variability"), "variability")
    has_seeds = "pair" in table.columns and (table["pair"] != "between subjects").any()
    baseline = ("grey bars: the baseline, pairs of seeds of the same subject" if has_seeds else
                "no seed baseline: the study trained one seed per subject, so the between-subject values cannot be "
                "told apart from seed-to-seed differences")
    return ("Individual variability, 1 - Spearman rho between the RDMs of the held-out images of two aligned models, "
            "per layer. Matrices: pairs of subjects (first seed), one colour scale, diagonal blank. Bars: mean +- "
            f"SEM over pairs between subjects (purple); {baseline}.")


def _caption_predictions(run_dir: Path) -> str:
    arrays = read_predictions(run_dir / RESULTS_DIR / PREDICTIONS_FILE)
    model = str(arrays["model"]) if "model" in arrays else "the first aligned model"
    return (f"Held-out responses of {arrays['real'].shape[0]} example images as recorded (repetitions averaged) and "
            f"as predicted by the encoder head of {model} (mapped back to recorded units), on one colour scale; "
            "right: predicted against recorded values with their Spearman rho.")


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("comparisons", "comparisons", "Headline comparisons per subject", "comparisons",
               _from_table("comparisons", figures.plot_comparisons),
               lambda d: ("Per comparison: dots = subjects' differences (model - reference, Spearman rho), diamond "
                          f"and bar = mean and 95 % t confidence interval over {_subjects_text(d, 'comparisons')}; "
                          "dotted line: no difference.")),
    FigureSpec("similarity", "similarity", "Similarity per layer to the whole held-out response", "similarity",
               _with_ceiling("similarity", figures.plot_similarity_bars, readout=WHOLE),
               lambda d: ("RSA similarity (Spearman rho) between each layer's RDM and the RDM of the subject's entire "
                          "held-out response (every channel x time point, or every voxel), per model. Bars: mean over "
                          f"{_subjects_text(d, 'similarity')}; error bars: SEM; dots: subjects{_ceiling_text(d)}."),
               _has_rows("similarity", "readout", (WHOLE,))),
    FigureSpec("rsa_timecourses", "eeg", "RSA time courses per layer", "rsa_timecourses",
               _with_ceiling("rsa_timecourses", figures.plot_rsa_timecourses),
               lambda d: ("RSA similarity (Spearman rho) between each layer's RDM and the EEG RDM at each time point "
                          f"(ms after image onset), one y-axis for all layers. Lines: mean over "
                          f"{_subjects_text(d, 'rsa_timecourses')}; bands: SEM{_ceiling_text(d)}.")),
    FigureSpec("rsa_differences", "eeg", "Difference curves: model minus reference", "rsa_significance",
               _from_table("rsa_significance", figures.plot_rsa_differences),
               lambda d: ("Similarity of each model minus its reference, rho units, per layer: colour = the model, "
                          "line style = the reference (solid: minus base; a dash pattern per control of the same beta, "
                          f"see the legend); lines: mean over n = {_significance_n(d)} subjects, bands: SEM. Markers "
                          "under the curves, one row per pair (filled dots: vs base; open squares, triangles, diamonds: "
                          "vs a control): time points where the difference "
                          f"is significant across subjects ({_significance_test(d)}).")),
    FigureSpec("improvement", "improvement", "Improvement ratio over the base model", "improvement",
               _draw_improvement, _caption_improvement),
    FigureSpec("similarity_roi", "fmri", "Similarity per fMRI region (best layer)", "similarity",
               _with_ceiling("similarity", figures.plot_similarity_bars, readout=ROI),
               lambda d: ("RSA similarity (Spearman rho) per ROI of the best of the layers (V1, V2, V4, IT and the "
                          f"final pooled layer), per model. Bars: mean over {_subjects_text(d, 'similarity')}; error "
                          f"bars: SEM; dots: subjects{_ceiling_text(d)}."),
               _has_rows("similarity", "readout", (ROI,))),
    FigureSpec("cross_similarity", "cross", "Similarity to the fMRI regions of other datasets", "cross_similarity",
               _from_table("cross_similarity", figures.plot_cross_similarity),
               lambda d: ("RSA similarity (Spearman rho) per ROI of each model's best layer on another dataset; each "
                          "model is averaged over the training subjects' models first. Bars: mean over "
                          f"n = {_n(d, 'cross_similarity', 'data_subject')} subjects of that dataset; error bars: SEM; "
                          "dots: its subjects.")),
    FigureSpec("cross_timecourses", "cross", "RSA time courses on other EEG datasets", "cross_timecourses",
               _from_table("cross_timecourses", figures.plot_rsa_timecourses, kind="cross_timecourses"),
               lambda d: ("RSA similarity (Spearman rho) of each layer's RDM with the decoding RDM of another EEG "
                          "dataset at each time point; each model is averaged over the training subjects' models "
                          f"first. Lines: mean over n = {_n(d, 'cross_timecourses', 'data_subject')} subjects of that "
                          "dataset; bands: SEM.")),
    FigureSpec("improvement_correlation", "cross", "EEG vs fMRI improvement across models", "improvement_correlation",
               _from_table("improvement_correlation", figures.plot_improvement_correlation),
               lambda d: ("Pearson r across the aligned models (one per training subject) between their EEG improvement "
                          "over base (per layer) and their fMRI improvement (best layer per ROI); n = "
                          f"{int(read_table(table_path(d, 'improvement_correlation'), 'improvement_correlation')['n'].max())}"
                          " models; p two-sided, uncorrected.")),
    FigureSpec("ground_truth", "ground_truth", "Similarity to the stages of the hidden brain", "ground_truth",
               _from_table("ground_truth", figures.plot_ground_truth),
               lambda d: ("RSA similarity (Spearman rho) of each layer's RDM with the noise-free RDM of each stage of "
                          "the subject's simulated brain (held-out images), per model. Bars: mean over "
                          f"{_subjects_text(d, 'ground_truth')}; error bars: SEM; dots: subjects.")),
    FigureSpec("variability", "variability", "Individual variability per layer", "variability",
               _from_table("variability", figures.plot_variability), _caption_variability),
    FigureSpec("trajectory", "trajectory", "Alignment across training epochs", "trajectory",
               _from_table("trajectory", figures.plot_trajectory), _caption_trajectory),
    FigureSpec("dimensions", "dimensions", "Object dimensions", "dimensions",
               _from_table("dimensions", figures.plot_dimensions),
               lambda d: ("Squared partial Spearman correlation of the headline layer's RDM with each dimension RDM, "
                          "controlling the other dimensions; top: bars = mean over "
                          f"{_subjects_text(d, 'dimensions')}, error bars = SEM; bottom: each model minus base.")),
    FigureSpec("robustness", "robustness", "Adversarial robustness (FGSM)", "robustness",
               _from_table("robustness", figures.plot_robustness),
               lambda d: ("Top-1 (and top-5) accuracy (fraction) under a white-box attack (FGSM unless the legend says "
                          "otherwise) against its strength epsilon (L-inf, pixel units), on held-out labelled images "
                          "no model was trained on; left raw with chance as a dashed line, right each model minus its "
                          "own clean accuracy; mean and SEM over n = "
                          f"{_n(d, 'robustness') if _n(d, 'robustness') else 1} training subjects' models (base: one "
                          "shared model).")),
    FigureSpec("predictions", "predictions", "Predicted vs recorded responses", PREDICTIONS_FILE,
               lambda run_dir, out_stem: figures.plot_predictions(run_dir / RESULTS_DIR / PREDICTIONS_FILE, out_stem),
               _caption_predictions),
)


def _significance_n(run_dir: Path) -> int:
    table = read_table(table_path(run_dir, "rsa_significance"), "rsa_significance")
    return int(table["n"].max()) if "n" in table.columns else _n(run_dir, "rsa_timecourses")


def _significance_test(run_dir: Path) -> str:
    table = read_table(table_path(run_dir, "rsa_significance"), "rsa_significance")
    return "; ".join(map(str, _ordered(table["test"].dropna()))) if "test" in table.columns else "see the study config"


def draw_figures(run_dir: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """Draw every figure whose result file exists in ``run_dir``; return name -> [png, svg] paths."""
    root = Path(run_dir)
    drawn = {}
    for spec in FIGURES:
        if _source_path(root, spec).exists() and spec.applies(root):
            drawn[spec.name] = spec.draw(root, root / FIGURES_DIR / spec.name)
    return drawn


def build_report(run_dir: str | os.PathLike[str], title: str | None = None) -> Path:
    """Re-draw the figures of ``run_dir`` from its result files and write ``report.html``; return its path."""
    root = Path(run_dir)
    if not root.is_dir():
        raise DataFormatError(f"run directory {root} does not exist; pass the folder a study or demo wrote")
    summary, timings, environment = (read_run_json(root / name)
                                     for name in ("summary.json", "timings.json", "environment.json"))
    check_result_files(root)  # every input is read before the first figure is drawn
    drawn = draw_figures(root)
    if not drawn and not (root / "summary.json").exists():
        raise DataFormatError(
            f"{root} holds no result files (neither summary.json nor {RESULTS_DIR}/*.csv); "
            "pass the folder a study or `brainalign demo` wrote"
        )
    sections = [_caveat(summary), _summary_section(summary)]
    for section in SECTIONS:
        specs = [spec for spec in FIGURES if spec.section == section.key and spec.name in drawn]
        if specs:
            sections.append(_section(section, [_figure_block(root, spec, drawn[spec.name]) for spec in specs]))
    sections += [_tables_section(root), _timings_section(timings), _environment_section(environment),
                 _config_section(root / "config.yaml")]
    heading = title or summary.get("title") or f"brainalign report: {root.resolve().name}"
    page = _PAGE.format(title=html.escape(heading), created=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                        body="\n".join(section for section in sections if section))
    return atomic_write_text(root / REPORT_FILE, page)


def _source_path(root: Path, spec: FigureSpec) -> Path:
    return root / RESULTS_DIR / PREDICTIONS_FILE if spec.source == PREDICTIONS_FILE else table_path(root, spec.source)


def check_result_files(root: Path) -> None:
    """Read every result table and the predictions of run folder ``root`` (raises naming a damaged one)."""
    for kind in TABLES:
        if table_path(root, kind).exists():
            read_table(table_path(root, kind), kind)
    if (root / RESULTS_DIR / PREDICTIONS_FILE).exists():
        read_predictions(root / RESULTS_DIR / PREDICTIONS_FILE)


def _caveat(summary: dict) -> str:
    caveat = summary.get("caveat") or ""
    return f'<p class="caveat"><strong>Caveat.</strong> {html.escape(caveat)}</p>' if caveat else ""


def _summary_section(summary: dict) -> str:
    models = summary.get("models", {})
    if not models:
        return ""
    rows = [[model, f"{values['mean']:.4f}", f"{values['sem']:.4f}", str(values.get("n", ""))]
            for model, values in models.items()]
    measure = html.escape(str(summary.get("measure", "headline similarity")))
    parts = [_comparisons_block(summary.get("comparisons", [])),
             f"<p>{measure}: mean and SEM across subjects.</p>", _html_table(["model", "mean", "SEM", "n"], rows)]
    parts.append(_readouts_table(summary.get("readouts", {})))
    tests = summary.get("tests", [])
    if tests:
        body = [[t["model"], t.get("reference", t.get("other", "")), t.get("readout", ""), t.get("target", ""),
                 str(t["n"]), signed(t['mean_difference']), _interval(t.get("ci_low"), t.get("ci_high")),
                 _number(t.get("cohens_dz")), f"{t['n_better']}/{t['n']}", _p(t.get("p_value")),
                 _p(t.get("p_corrected"))] for t in tests]
        header = ["model", "vs", "readout", "target", "n", "mean difference", "95 % CI", "d_z", "subjects higher",
                  "p", "p corrected"]
        parts.append(f"<details><summary>Every paired test across subjects ({len(tests)} tests; "
                     f"{html.escape(str(tests[0].get('alternative', 'two-sided')))}, corrected within each family of "
                     "one model on one readout)</summary>" + _html_table(header, body) + "</details>")
    parts += [f"<p>{html.escape(str(note))}</p>" for note in summary.get("notes", [])]
    return f'<section id="summary"><h2>Summary</h2>{"".join(parts)}</section>'


def _comparisons_block(comparisons: list[dict]) -> str:
    """The headline comparisons, each as its plain statement, then as a table (mean, CI, n, p)."""
    if not comparisons:
        return ""
    items = "".join(f"<li><strong>{html.escape(entry.get('verdict', ''))}</strong>: "
                    f"{html.escape(entry.get('statement', ''))}</li>" for entry in comparisons)
    rows = [[entry["comparison"], entry.get("readout", ""), signed(entry['mean']),
             _interval(entry.get("ci_low"), entry.get("ci_high")), str(entry["n"]), _p(entry.get("p_value")),
             _p(entry.get("p_sign_flip")), _p(entry.get("p_corrected")), entry.get("verdict", "")]
            for entry in comparisons]
    header = ["comparison", "readout", "mean difference", "95 % CI", "n", "p (t)", "p (sign flip)", "p (Holm)",
              "verdict"]
    return ("<h3>Headline comparisons</h3><p>Each difference is taken per subject (seeds averaged first) and "
            "summarised across subjects; a claim holds only when its interval lies above 0.</p>"
            f"<ul>{items}</ul>" + _html_table(header, rows))


def _readouts_table(readouts: dict) -> str:
    """The papers' headline readouts (ratios in percent) with CIs and p-values."""
    rows = []
    for kind, by_model in readouts.items():
        for model, by_target in by_model.items():
            for target, by_window in by_target.items():
                for window, entry in by_window.items():
                    ratio_ci = entry.get("ratio_ci", [np.nan, np.nan])
                    where = f"{window} ({entry['time_ms']:g} ms)" if "time_ms" in entry else window
                    rows.append([kind.upper() if kind in ("eeg", "roi") else kind, model, target, where,
                                 _percent(entry["improvement_ratio"]),
                                 _interval(100 * float(ratio_ci[0]), 100 * float(ratio_ci[1]), digits=1, unit=" %"),
                                 signed(entry['improvement']), _interval(*entry.get("improvement_ci", [np.nan] * 2)),
                                 str(entry["n"]), _p(entry["p_value"]), _p(entry.get("p_corrected"))])
    if not rows:
        return ""
    header = ["readout", "model", "layer / ROI", "where", "improvement ratio", "95 % CI", "improvement (rho)",
              "95 % CI", "n", "p (two-sided)", "p corrected"]
    return ("<h3>The papers' readouts: improvement over the base model</h3>"
            "<p>Improvement ratio = (mean model - mean base) / mean base over subjects, in percent, with a bootstrap "
            "confidence interval; improvement = mean of the per-subject differences (rho units) with a t interval; "
            "p from a paired t-test across subjects.</p>" + _html_table(header, rows))


def _section(section: Section, blocks: list[str]) -> str:
    return (f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>'
            f'<p class="meaning"><em>What these numbers mean.</em> {html.escape(section.meaning)}</p>'
            + "".join(blocks) + "</section>")


def _figure_block(root: Path, spec: FigureSpec, paths: list[Path]) -> str:
    png = next(path for path in paths if path.suffix == ".png")
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    links = " ".join(f'<a href="{FIGURES_DIR}/{path.name}">{path.suffix[1:].upper()}</a>' for path in paths)
    return (f'<figure id="fig-{spec.name}"><h3>{html.escape(spec.title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(spec.title)}" '
            f'data-file="{FIGURES_DIR}/{png.name}">'
            f"<figcaption>{html.escape(spec.caption(root))} Files: {links}</figcaption></figure>")


def _tables_section(root: Path) -> str:
    """Mean +- SEM (n) tables of the per-subject result tables present in ``root``, ratios in percent."""
    blocks = []
    specs = (("similarity", "similarity", "model", "target", 1.0, "similarity (Spearman rho)"),
             ("improvement", "improvement_ratio", "model", "target", 100.0, "improvement ratio over base (%)"))
    for kind, value, rows, columns, scale, label in specs:
        path = table_path(root, kind)
        if not path.exists():
            continue
        table = read_table(path, kind)
        if kind == "improvement" and "reference" in table.columns:
            table = table[table["reference"] == "base"]
        groups = _ordered(table["readout"]) if "readout" in table.columns else [None]
        for group in groups:
            part = table if group is None else table[table["readout"] == group]
            stats = part.groupby([rows, columns], sort=False)[value].agg(["mean", "sem", "count"]).reset_index()
            digits = 2 if scale != 1.0 else 4
            stats["cell"] = [f"{scale * mean:.{digits}f} &plusmn; {0.0 if pd.isna(sem) else scale * sem:.{digits}f} "
                             f"(n={count})" for mean, sem, count in zip(stats["mean"], stats["sem"], stats["count"])]
            pivot = stats.pivot(index=rows, columns=columns, values="cell")
            pivot = pivot.reindex(index=pd.unique(part[rows]), columns=pd.unique(part[columns])).fillna("")
            body = [[html.escape(str(index)), *row] for index, row in zip(pivot.index, pivot.to_numpy().tolist())]
            heading = f"{label}{'' if group is None else ', ' + group}: mean &plusmn; SEM over subjects"
            blocks.append(f"<h3>{heading}</h3>" + _html_table([rows, *map(str, pivot.columns)], body, escape=False))
    ceiling = table_path(root, "noise_ceiling")
    if ceiling.exists():
        table = read_table(ceiling, "noise_ceiling")
        body = [[readout, _ceiling_range(rows, "target"), f"{rows['lower'].max():.4f}", f"{rows['upper'].max():.4f}",
                 str(int(rows["n"].max()))] for readout, rows in table.groupby("readout", sort=False)]
        blocks.append("<h3>Noise ceilings (Spearman rho; EEG: the highest bound over time points)</h3>"
                      + _html_table(["readout", "targets", "lower", "upper", "n subjects"], body))
    return f'<section id="tables"><h2>Tables</h2>{"".join(blocks)}</section>' if blocks else ""


def _ceiling_range(rows: pd.DataFrame, column: str) -> str:
    values = list(rows[column])
    return ", ".join(values) if len(values) <= 6 else f"{values[0]} ... {values[-1]} ({len(values)})"


def _timings_section(timings: dict) -> str:
    if not timings:
        return ""
    rows = [[step, f"{float(seconds):.1f}"] for step, seconds in timings.items()]
    return f'<section id="timings"><h2>Run times</h2>{_html_table(["step", "seconds"], rows)}</section>'


def _environment_section(environment: dict) -> str:
    if not environment:
        return ""
    rows = [[key, str(environment.get(key, ""))] for key in ("seed", "python", "platform", "cpu_count", "time")]
    rows += [[name, version] for name, version in environment.get("versions", {}).items()]
    return (f'<section id="environment"><h2>Environment, versions and seeds</h2>'
            f'{_html_table(["item", "value"], rows)}</section>')


def _config_section(path: Path) -> str:
    if not path.exists():
        return ""
    text = html.escape(read_text(path, "config file", "re-run the study that writes it"))
    return ('<section id="config"><h2>Configuration</h2><p>The resolved study config (re-run it with '
            "<code>brainalign study config.yaml</code>); each training job writes into "
            "<code>alignment/&lt;subject&gt;/&lt;label&gt;_seed&lt;seed&gt;</code>, which overrides "
            f"<code>alignment.train.out_dir</code>.</p><pre>{text}</pre></section>")


def _html_table(header: list[str], rows: list[list[str]], escape: bool = True) -> str:
    quote = html.escape if escape else (lambda text: text)
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{quote(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: Any, digits: int = 2) -> str:
    return "" if value is None or not np.isfinite(float(value)) else f"{float(value):+.{digits}f}"


def _percent(value: Any) -> str:
    return "" if value is None or not np.isfinite(float(value)) else f"{100 * float(value):+.1f} %"


def _interval(low: Any, high: Any, digits: int = 4, unit: str = "") -> str:
    if low is None or high is None or not (np.isfinite(float(low)) and np.isfinite(float(high))):
        return ""
    return f"[{signed(float(low), digits)}, {signed(float(high), digits)}]{unit}"


def _p(value: Any) -> str:
    return "" if value is None or not np.isfinite(float(value)) else f"{float(value):.3g}"


def _ordered(values: pd.Series) -> list[str]:
    return list(pd.unique(values))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }}
h3 {{ font-size: 1.05rem; margin-top: 1.4rem; }}
table {{ border-collapse: collapse; margin: .5rem 0; font-size: .85rem; display: block; max-width: 100%;
        overflow-x: auto; }}
th, td {{ border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; }}
th {{ background: #f3f3f3; }}
figure {{ margin: 1rem 0; }} img {{ width: 100%; height: auto; border: 1px solid #eee; }}
figcaption {{ font-size: .85rem; color: #444; }}
.caveat {{ background: #fff4e5; border-left: 4px solid #f0a030; padding: .6rem .8rem; }}
.meaning {{ background: #f5f8fc; padding: .5rem .8rem; font-size: .92rem; }}
details {{ margin: .5rem 0; }} summary {{ cursor: pointer; }}
pre {{ background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: .85rem; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>Generated {created} by brainalign from the result files of this run directory
(<code>brainalign report RUN_DIR</code> rebuilds this page).</p>
{body}
</body>
</html>
"""
