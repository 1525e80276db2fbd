"""CLI: ``brainalign demo``, ``brainalign study CONFIG`` and ``brainalign report RUN_DIR``."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from brainalign.cli.app import FORCE_HELP, RESUME_HELP, app


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run directory to write."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    resume: bool = typer.Option(False, "--resume", help=RESUME_HELP),
) -> None:
    """Run the whole method on the simulated observer (a few minutes on 2 CPU cores) and write a report."""
    from brainalign.studies.demo import run_demo

    _print_result(run_demo(out, force=force, resume=resume))


@app.command()
def study(
    config: Path = typer.Argument(..., help="Study config YAML (see configs/)."),
    out: Path = typer.Option(None, "--out", help="Run directory (default: out_dir of the config)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    resume: bool = typer.Option(False, "--resume", help="Keep an unfinished run and skip its finished jobs."),
) -> None:
    """Run a study (data check, alignment sweep, measurement, statistics, figures, report); a config with
    ``study: scratch_trajectory`` runs the training-from-scratch trajectory study instead."""
    from brainalign.runs import check_run_dir
    from brainalign.studies.config import planned_run

    kind, folder = planned_run(config, out)
    if folder is not None:
        check_run_dir(folder, kind, force=force, resume=resume)  # before the heavy imports
    if kind == "scratch_study":
        _run_scratch_study(config, out, force, resume)
        return
    from brainalign.studies.pipeline import run_study

    _print_result(run_study(config, out_dir=None if out is None else str(out), force=force, resume=resume))


def _run_scratch_study(config: Path, out: Path | None, force: bool, resume: bool) -> None:
    from brainalign.studies.scratch_trajectory import run_scratch_study, summary_lines

    run_dir = run_scratch_study(config, out_dir=None if out is None else str(out), force=force, resume=resume)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    typer.echo(summary["measure"] + "; per target the layer with the highest seed-mean peak:")
    for line in summary_lines(summary):
        typer.echo("  " + line)
    typer.echo(f"results: {run_dir / 'results'}")
    typer.echo(f"figure:  {run_dir / 'figures' / 'scratch_trajectory.png'}")


@app.command()
def report(run_dir: Path = typer.Argument(..., help="Run directory written by a study or the demo.")) -> None:
    """Rebuild RUN_DIR/report.html (and its figures) from the run's result files alone."""
    from brainalign.runs import reopen_run

    with reopen_run(run_dir, "brainalign report"):
        from brainalign.report import build_report

        typer.echo(f"report: {build_report(run_dir)}")


def _print_result(run_dir: Path) -> None:
    from brainalign.studies.summary import summary_lines

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    typer.echo(summary["measure"] + " (mean and SEM across subjects):")
    for line in summary_lines(summary):
        typer.echo("  " + line)
    timings = json.loads((run_dir / "timings.json").read_text(encoding="utf-8"))
    typer.echo(f"total time: {timings.get('total', 0.0):.0f} s")
    typer.echo(f"summary: {run_dir / 'summary.json'}")
    typer.echo(f"report:  {run_dir / 'report.html'}")
