"""Command line: a thin typer layer over the Python API (every command is callable from Python)."""
from __future__ import annotations

from brainalign.cli import align_cmd, data_cmd, features_cmd, measure_cmd, robustness_cmd, study_cmd  # noqa: F401
from brainalign.cli.app import app, main, run

__all__ = ["app", "main", "run"]
