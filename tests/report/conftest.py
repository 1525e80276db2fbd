"""Fixtures of the report tests: a synthetic run directory with every result file and its report."""
from __future__ import annotations

from pathlib import Path

import pytest
from report_synthetic import write_synthetic_results


@pytest.fixture(scope="session")
def reported_run(tmp_path_factory) -> Path:
    """A run directory with every result file (small, random, seeded) and its built report.html."""
    from brainalign.report import build_report

    run_dir = write_synthetic_results(tmp_path_factory.mktemp("report") / "run")
    build_report(run_dir)
    return run_dir
