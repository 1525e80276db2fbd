"""Self-contained HTML report of a run directory, rebuilt from its result files alone.

``build_report(run_dir)`` re-draws every figure whose result file exists (into ``RUN_DIR/figures/``,
PNG and SVG), and writes ``RUN_DIR/report.html``: figures embedded as base64 PNG data URIs (the page
opens from disk, offline, even when moved alone), tables of the headline numbers, the config,
library versions, seeds and run times. Formats of the files read: :mod:`brainalign.report.results`.
"""
from __future__ import annotations

import base64
import html
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from brainalign.errors import DataFormatError
from brainalign.report import figures
from brainalign.report.results import PREDICTIONS_FILE, RESULTS_DIR, read_table, table_path
from brainalign.runs import atomic_write_text

REPORT_FILE = "report.html"
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: its file stem, the result file it is drawn from, and how."""

    name: str
    title: str
    source: str  # a result table kind, or PREDICTIONS_FILE
    draw: Callable[[Path, Path], list[Path]]  # (run_dir, out_stem) -> written paths
    caption: str


def _from_table(kind: str, plot: Callable[..., list[Path]]) -> Callable[[Path, Path], list[Path]]:
    return lambda run_dir, out_stem: plot(table_path(run_dir, kind), out_stem)


def _draw_timecourses(run_dir: Path, out_stem: Path) -> list[Path]:
    marks = table_path(run_dir, "rsa_significance")
    return figures.plot_rsa_timecourses(table_path(run_dir, "rsa_timecourses"), out_stem,
                                        marks if marks.exists() else None)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("similarity", "Similarity per model", "similarity",
               _from_table("similarity", figures.plot_similarity_bars),
               "Bars: mean across subjects; error bars: SEM; dots: individual subjects."),
    FigureSpec("cross_similarity", "Similarity on other datasets and modalities", "cross_similarity",
               _from_table("cross_similarity", figures.plot_cross_similarity),
               "Every model scored on the cross-evaluation datasets (fMRI: best layer per ROI; EEG: peak of "
               "each layer's RSA time course), averaged over their subjects. Bars: mean across training "
               "subjects; error bars: SEM; dots: training subjects."),
    FigureSpec("improvement", "Improvement ratio over the base model", "improvement",
               _from_table("improvement", figures.plot_improvement_ratios),
               "(aligned - base) / base per subject, in percent."),
    FigureSpec("rsa_timecourses", "RSA time courses per layer", "rsa_timecourses", _draw_timecourses,
               "Spearman rho between layer RDMs and the EEG RDM at each time point; band: SEM across "
               "subjects; dots: significant time points."),
    FigureSpec("trajectory", "Alignment across training epochs", "trajectory",
               _from_table("trajectory", figures.plot_trajectory),
               "Similarity and accuracy per epoch (log-scaled), mean and SEM across seeds."),
    FigureSpec("variability", "Individual variability per layer", "variability",
               _from_table("variability", figures.plot_variability),
               "1 - Spearman rho between the RDMs of every pair of personalised models."),
    FigureSpec("robustness", "Adversarial robustness", "robustness",
               _from_table("robustness", figures.plot_robustness),
               "Accuracy against attack strength, raw and baseline-aligned (minus each model's clean accuracy)."),
    FigureSpec("dimensions", "Object dimensions", "dimensions",
               _from_table("dimensions", figures.plot_dimensions),
               "Squared partial Spearman correlation of the model RDM with each dimension RDM, and "
               "differences from the base model."),
    FigureSpec("predictions", "Predicted vs recorded responses", PREDICTIONS_FILE,
               lambda run_dir, out_stem: figures.plot_predictions(run_dir / RESULTS_DIR / PREDICTIONS_FILE, out_stem),
               "Responses of held-out example stimuli as recorded and as predicted by the encoder head."),
)


def draw_figures(run_dir: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """Draw every figure whose result file exists in ``run_dir``; return name -> [png, svg] paths."""
    root = Path(run_dir)
    drawn = {}
    for spec in FIGURES:
        if _source_path(root, spec).exists():
            drawn[spec.name] = spec.draw(root, root / FIGURES_DIR / spec.name)
    return drawn


def build_report(run_dir: str | os.PathLike[str], title: str | None = None) -> Path:
    """Re-draw the figures of ``run_dir`` from its result files and write ``report.html``; return its path."""
    root = Path(run_dir)
    if not root.is_dir():
        raise DataFormatError(f"run directory {root} does not exist; pass the folder a study or demo wrote")
    drawn = draw_figures(root)
    if not drawn and not (root / "summary.json").exists():
        raise DataFormatError(
            f"{root} holds no result files (neither summary.json nor {RESULTS_DIR}/*.csv); "
            "pass the folder a study or `brainalign demo` wrote"
        )
    summary = _read_json(root / "summary.json")
    environment = _read_json(root / "environment.json")
    sections = [
        _summary_section(summary),
        *(_figure_section(spec, drawn[spec.name]) for spec in FIGURES if spec.name in drawn),
        _tables_section(root),
        _timings_section(_read_json(root / "timings.json")),
        _environment_section(environment),
        _config_section(root / "config.yaml"),
    ]
    heading = title or summary.get("title") or f"brainalign report: {root.resolve().name}"
    page = _PAGE.format(title=html.escape(heading), created=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                        body="\n".join(section for section in sections if section))
    return atomic_write_text(root / REPORT_FILE, page)


def _source_path(root: Path, spec: FigureSpec) -> Path:
    return root / RESULTS_DIR / PREDICTIONS_FILE if spec.source == PREDICTIONS_FILE else table_path(root, spec.source)


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFormatError(f"{path} is not valid JSON ({error}); re-run the study that writes it") from None


def _summary_section(summary: dict) -> str:
    models = summary.get("models", {})
    if not models:
        return ""
    rows = [[model, f"{values['mean']:.4f}", f"{values['sem']:.4f}", str(values.get("n", ""))]
            for model, values in models.items()]
    tests = [[test["model"], test["other"], str(test["n"]), f"{test['mean_difference']:+.4f}",
              f"{test['n_better']}/{test['n']}", f"{test['p_value']:.3g}"] for test in summary.get("tests", [])]
    test_table = ("<p>Paired t-tests across subjects (two-sided):</p>"
                  + _html_table(["model", "vs", "n", "mean difference", "subjects better", "p"], tests)) if tests else ""
    notes = "".join(f"<p>{html.escape(str(note))}</p>" for note in summary.get("notes", []))
    measure = html.escape(str(summary.get("measure", "headline similarity")))
    return (f'<section id="summary"><h2>Summary</h2><p>{measure}: mean and SEM across subjects.</p>'
            f"{_html_table(['model', 'mean', 'SEM', 'n'], rows)}{test_table}{notes}</section>")


def _figure_section(spec: FigureSpec, paths: list[Path]) -> str:
    png = next(path for path in paths if path.suffix == ".png")
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    links = " ".join(f'<a href="{FIGURES_DIR}/{path.name}">{path.suffix[1:].upper()}</a>' for path in paths)
    return (f'<section id="fig-{spec.name}"><h2>{html.escape(spec.title)}</h2><figure>'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(spec.title)}" '
            f'data-file="{FIGURES_DIR}/{png.name}">'
            f"<figcaption>{html.escape(spec.caption)} Files: {links}</figcaption></figure></section>")


def _tables_section(root: Path) -> str:
    """Mean +- SEM (n) tables of the per-subject result tables present in ``root``."""
    blocks = []
    for kind, value, rows, columns in (("similarity", "similarity", "model", "target"),
                                       ("improvement", "improvement_ratio", "model", "target")):
        path = table_path(root, kind)
        if not path.exists():
            continue
        table = read_table(path, kind)
        stats = table.groupby([rows, columns], sort=False)[value].agg(["mean", "sem", "count"]).reset_index()
        stats["cell"] = [f"{mean:.4f} &plusmn; {0.0 if pd.isna(sem) else sem:.4f} (n={count})"
                         for mean, sem, count in zip(stats["mean"], stats["sem"], stats["count"])]
        pivot = stats.pivot(index=rows, columns=columns, values="cell")
        pivot = pivot.reindex(index=pd.unique(table[rows]), columns=pd.unique(table[columns])).fillna("")
        body = [[html.escape(str(index)), *row] for index, row in zip(pivot.index, pivot.to_numpy().tolist())]
        header = [rows, *map(str, pivot.columns)]
        blocks.append(f"<h3>{html.escape(kind)} ({html.escape(value)}), mean &plusmn; SEM</h3>"
                      + _html_table(header, body, escape=False))
    return f'<section id="tables"><h2>Tables</h2>{"".join(blocks)}</section>' if blocks else ""


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
    text = html.escape(path.read_text(encoding="utf-8"))
    return f'<section id="config"><h2>Configuration</h2><pre>{text}</pre></section>'


def _html_table(header: list[str], rows: list[list[str]], escape: bool = True) -> str:
    quote = html.escape if escape else (lambda text: text)
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{quote(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }}
th, td {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }}
th {{ background: #f3f3f3; }}
figure {{ margin: 0; }} img {{ max-width: 100%; height: auto; border: 1px solid #eee; }}
figcaption {{ font-size: .85rem; color: #555; }}
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
