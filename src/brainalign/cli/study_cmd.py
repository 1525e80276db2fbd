"""CLI: ``brainalign demo``, ``brainalign study CONFIG`` and ``brainalign report RUN_DIR``."""
from __future__ import annotations

from pathlib import Path

import typer

from brainalign.cli.app import app


@app.command()
def report(run_dir: Path = typer.Argument(..., help="Run directory written by a study or the demo.")) -> None:
    """Rebuild RUN_DIR/report.html (and its figures) from the run's result files alone."""
    from brainalign.report import build_report

    typer.echo(f"report: {build_report(run_dir)}")
