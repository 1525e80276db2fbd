"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported):
``brainalign rdm`` (features or responses -> RDMs file + figure) and ``brainalign rsa``
(model RDMs vs neural RDMs/responses -> CSV, statistics across subjects with noise ceilings, figure)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional

import typer

from brainalign.cli.app import FORCE_HELP, app

if TYPE_CHECKING:
    import pandas as pd

    from brainalign.data.rdms import RDMs

ORDER_HELP = ("CSV naming the stimulus ids of the rows of an RDM file that carries none (a plain .npy/.npz/.mat "
              "array), in row order: column 'id', or 'file'/'path' (file names without suffix).")
KEY_HELP = "Array/variable of a plain .npz/.mat RDM file to read (default: every RDM in it; see brainalign rdms)."


def _rdms(path: Path, key: str | None, metric: str, eeg: str, classifier: str, permutations: int,
          memory_limit: int | None = None, scratch: Path | None = None, npy: Literal["features", "rdms"] = "features",
          ) -> "RDMs":
    """RDMs of a command-line input (:func:`brainalign.measure.rdms_from_path`; a ``.npy`` holds ``npy``)."""
    from brainalign.measure.rsa.sources import rdms_from_path

    return rdms_from_path(path, key=key, metric=metric, eeg_method=eeg, memory_limit=memory_limit, scratch=scratch,
                          npy=npy, classifier=classifier, n_permutations=permutations)


@app.command("rdm")
def rdm_command(
    source: Path = typer.Argument(..., help="Features folder (brainalign features), .npy (n_stimuli, n_features), "
                                            "or a Responses .npz (EEG: one RDM per time point; fMRI: per ROI)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output RDMs file (.npz); a PNG preview is written beside it."),
    metric: str = typer.Option("correlation", help="correlation (1 - Pearson r), euclidean, sqeuclidean, cosine."),
    eeg: str = typer.Option("decoding", help="EEG RDMs: decoding (pairwise decoding accuracy) or correlation."),
    classifier: str = typer.Option("lda", help="Decoding classifier: lda (sklearn-exact shrinkage LDA), "
                                               "shared_lda or ncm (fast)."),
    permutations: int = typer.Option(5, min=1, help="Decoding: pseudo-trial permutations."),
    memory: float = typer.Option(1.0, help="Features: GB of working memory (feature panels and products); "
                                           "RDMs larger than this are written to a scratch file beside --out."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out and its preview if brainalign wrote them "
                                                      "(a file brainalign did not write is never replaced)."),
) -> None:
    """Compute RDMs from features or neural responses and save them (condensed, with descriptors)."""
    import tempfile

    from brainalign.data.rdms import is_rdms_file
    from brainalign.errors import ValidationError
    from brainalign.report.quicklook import is_quicklook_figure, plot_rdms
    from brainalign.runs import check_output_file, output_folder

    if out.suffix != ".npz":
        raise ValidationError(f"--out {out}: must end in .npz")
    check_output_file(out, force, is_rdms_file)
    check_output_file(out.with_suffix(".png"), force, is_quicklook_figure)
    if not 0 < memory < math.inf:
        raise ValidationError(f"--memory {memory}: must be a finite number > 0 (GB of working memory)")
    with output_folder(out.parent), tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as scratch:
        rdms = _rdms(source, None, metric, eeg, classifier, permutations, memory_limit=int(memory * 2**30),
                     scratch=Path(scratch) / "dissimilarities.npy")
        rdms.save(out)
        figure = plot_rdms(_preview_stimuli(rdms), out.with_suffix(".png"))
        summary = f"{rdms.n_rdms} RDMs on {rdms.n_stimuli} stimuli"
        del rdms  # release the scratch file's memory map before its folder is removed
    typer.echo(f"{summary} -> {out} (preview {figure})")


def _preview_stimuli(rdms: "RDMs", max_stimuli: int = 400) -> "RDMs":
    """RDMs on at most ``max_stimuli`` evenly spaced stimuli (gathered from the condensed vectors, so a
    huge memory-mapped stack is never expanded to square matrices)."""
    import numpy as np

    from brainalign.data.rdms import RDMs
    from brainalign.measure.rsa.gram import condensed_offset

    n = rdms.n_stimuli
    if n <= max_stimuli:
        return rdms
    keep = np.linspace(0, n - 1, max_stimuli).round().astype(np.int64)
    rows, cols = np.triu_indices(max_stimuli, k=1)
    first, second = keep[rows], keep[cols]
    positions = condensed_offset(first, n) + second - first - 1
    return RDMs(rdms.dissimilarities[:, positions], [rdms.stimulus_ids[k] for k in keep], rdms.descriptors,
                rdms.dissimilarity_measure, rdms.stimulus_descriptors.iloc[keep].reset_index(drop=True))


@app.command("rsa")
def rsa_command(
    model_rdms: Path = typer.Argument(..., help="Model RDMs: an RDMs .npz (brainalign rdm), a features folder or .npy."),
    neural: list[Path] = typer.Argument(
        ..., help="Neural RDMs (.npz from brainalign rdm, a plain .npz/.npy/.mat RDM file), or a Responses .npz; "
                  "several files (e.g. one per subject) are stacked, each file's RDMs without a subject descriptor "
                  "getting the file name as their subject."
    ),
    key: Optional[str] = typer.Option(None, help=KEY_HELP),
    order: Optional[Path] = typer.Option(None, help=ORDER_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: rsa.csv, rsa_summary.csv and rsa.png."),
    method: str = typer.Option("spearman", help="spearman, pearson or kendall_tau_a."),
    subject: str = typer.Option("subject", help="Neural RDM descriptor naming the subject (the unit of the "
                                                "statistics); without it every neural RDM of a target is a unit."),
    correction: str = typer.Option("holm", help="Correction of the p-values over all tests: holm, fdr_bh, "
                                                "bonferroni or none."),
    eeg: str = typer.Option("decoding", help="EEG responses: decoding or correlation RDMs."),
    classifier: str = typer.Option("lda", help="Decoding classifier for EEG responses: lda, shared_lda or ncm."),
    permutations: int = typer.Option(5, min=1, help="Decoding: pseudo-trial permutations."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Similarity of every model RDM with every neural RDM -> OUT/rsa.csv; across subjects per model RDM and
    target (time point or ROI): mean, SEM, two-sided t-test against 0 and noise ceiling -> OUT/rsa_summary.csv,
    printed, and drawn in OUT/rsa.png."""
    from brainalign.runs import atomic_write_text, check_run_dir, mark_finished, open_run

    check_run_dir(out, "rsa", force=force, resumable=False)
    from brainalign.data.order import read_order
    from brainalign.data.rdms import RDMs
    from brainalign.errors import ValidationError
    from brainalign.measure.rsa.across_subjects import subject_statistics
    from brainalign.measure.rsa.comparison import METHODS
    from brainalign.measure.rsa.readouts import similarity_table
    from brainalign.measure.rsa.sources import paired_rdms
    from brainalign.measure.statistics import CORRECTIONS
    from brainalign.report.quicklook import plot_similarity

    if method not in METHODS:
        raise ValidationError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if correction not in CORRECTIONS:
        raise ValidationError(f"--correction {correction!r}: choose one of {', '.join(CORRECTIONS)}")
    stimulus_order = None if order is None else read_order(order)
    model_stack = _rdms(model_rdms, None, "correlation", eeg, classifier, permutations)
    stacks = []
    for path in neural:
        models, rdms, warnings = paired_rdms(model_stack, _rdms(path, key, "correlation", eeg, classifier, permutations, npy="rdms"),
                                             stimulus_order, model_source=str(model_rdms), neural_source=str(path),
                                             order_source=f"order file {order}")
        for warning in warnings:
            typer.echo(f"warning: {warning}", err=True)
        if len(neural) > 1 and subject not in rdms.descriptors.columns:
            rdms.descriptors[subject] = path.stem
        stacks.append(rdms)
    neural_rdms = RDMs.concat(stacks)
    table = similarity_table(models, neural_rdms, method)
    statistics = subject_statistics(models, neural_rdms, method, subject_column=subject, correction=correction)
    with open_run(out, "rsa", force=force, resumable=False):
        atomic_write_text(out / "rsa.csv", table.to_csv(index=False))
        atomic_write_text(out / "rsa_summary.csv", statistics.to_csv(index=False))
        figure = plot_similarity(statistics, out / "rsa.png", method=method)
        mark_finished(out, {"comparisons": len(table)})
    for line in statistics_lines(statistics):
        typer.echo(line)
    typer.echo(f"{len(table)} comparisons -> {out / 'rsa.csv'}; across units -> {out / 'rsa_summary.csv'}, {figure}")


def statistics_lines(statistics: "pd.DataFrame", max_rows: int = 24) -> list[str]:
    """A plain-text table of :func:`~brainalign.measure.rsa.across_subjects.subject_statistics` (with more than
    ``max_rows`` rows: each model RDM's row at its highest mean), with the unit and the test below it."""
    from brainalign.measure.rsa.across_subjects import STATISTICS

    labels = [column for column in statistics.columns if column not in STATISTICS]
    rows = statistics
    note = ""
    models = [column for column in labels if not column.startswith(("time", "roi"))]
    if len(rows) > max_rows:
        rows = rows.loc[rows.groupby(models, sort=False)["mean"].idxmax()] if models else rows.nlargest(1, "mean")
        note = f" (each model RDM at its highest mean; all {len(statistics)} rows in rsa_summary.csv)"
    shown = rows[labels].astype(str)
    shown["n"] = rows["n"].astype(int).astype(str)
    for column in ("mean", "sem"):
        shown[column] = rows[column].map(lambda value: f"{value:.4f}")
    shown["95% CI"] = [f"[{low:.3f}, {high:.3f}]" for low, high in zip(rows["ci_low"], rows["ci_high"])]
    for column in ("p_value", "p_corrected"):
        shown[column] = rows[column].map(lambda value: f"{value:.3g}")
    shown["noise ceiling"] = [f"{low:.3f}-{high:.3f}" for low, high in zip(rows["ceiling_lower"], rows["ceiling_upper"])]
    return [f"RSA similarity across units{note}:", shown.to_string(index=False),
            f"units: {statistics['unit'].iloc[0]}", f"test: {statistics['test'].iloc[0]}"]
