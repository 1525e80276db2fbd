"""The package imports cheaply and the CLI answers --help and --version."""
from __future__ import annotations

import subprocess
import sys

import brainalign
from brainalign.cli import run


def test_version_and_base_error() -> None:
    assert brainalign.__version__ == "0.1.0"
    assert issubclass(brainalign.errors.ValidationError, brainalign.BrainAlignError)


def test_cli_version(capsys) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"brainalign {brainalign.__version__}"


def test_cli_help_lists_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "brainalign", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage" in out
