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


TORCH_FREE = """
import sys
from brainalign.cli import run
codes = [run(arguments) for arguments in {commands!r}]
print(codes, sorted(name for name in ('torch', 'torchvision') if name in sys.modules))
"""


def test_commands_that_need_no_model_do_not_import_torch(tmp_path) -> None:
    """--help, models and rdm/rsa on RDM and feature files start without torch (seconds of start-up)."""
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp_path / "features.npy", rng.standard_normal((6, 5)))
    half = rng.random((6, 6))
    neural = half + half.T
    np.fill_diagonal(neural, 0)
    np.save(tmp_path / "neural.npy", neural)
    commands = [["--help"], ["models"], ["rdm", str(tmp_path / "features.npy"), "--out", str(tmp_path / "m.npz")],
                ["rsa", str(tmp_path / "m.npz"), str(tmp_path / "neural.npy"), "--out", str(tmp_path / "rsa")]]
    out = subprocess.run([sys.executable, "-c", TORCH_FREE.format(commands=commands)], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[0, 0, 0, 0] []"


def test_help_imports_neither_numpy_nor_the_config_machinery() -> None:
    """The command table and --help need typer only: numpy and pydantic configs (0.7 s of start-up on a busy
    machine) are imported by the commands that use them."""
    code = ("import sys; from brainalign.cli import run; code = run(['--help']); "
            "print(code, sorted(name for name in ('numpy', 'brainalign.config') if name in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 []"


def test_every_public_name_resolves_and_the_architecture_note_says_where() -> None:
    """Each package's lazy map (its public names) imports, and ARCHITECTURE.md's table names each name in the
    entry of the module that defines it (one home per public name, written down)."""
    import importlib
    import re
    from pathlib import Path

    note = (Path(__file__).resolve().parents[1] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for package in ("data", "models", "align", "measure", "studies", "report", "interop"):
        module = importlib.import_module(f"brainalign.{package}")
        row = next(line for line in note.splitlines() if line.startswith(f"| `brainalign.{package}`"))
        entries = {match.group(1): match.group(2) for match in re.finditer(r"`([\w.]+)`: ([^·|]*)", row)}
        for name, home in module._NAMES.items():
            assert getattr(module, name) is not None
            defined_in = home.lstrip(".")
            assert re.search(rf"\b{name}\b", entries.get(defined_in, "")), (package, name, defined_in)
