"""The typer application object and the entry point that turns BrainAlignError into a clean message."""
from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from brainalign import __version__
from brainalign.errors import BrainAlignError

app = typer.Typer(
    name="brainalign",
    help="Align vision models with human brain responses and measure how brain-like they are.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

error_console = Console(stderr=True)

FORCE_HELP = ("Redo the brainalign run in the output folder: removes only the files brainalign wrote there "
              "(a folder brainalign did not write is never touched).")
RESUME_HELP = "Continue an unfinished run in the output folder (its finished parts are kept)."


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"brainalign {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """brainalign command line."""


INTERRUPTED = ("interrupted: every file finished so far is kept (files are written whole or not at all); run the "
               "same command with --resume to continue an unfinished run (a sweep continues by itself)")


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) during a command; not a KeyboardInterrupt, so typer does not turn it into a silent exit."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted()


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv``; return the exit code. Bad input prints one message, no traceback (exit 2);
    Ctrl-C prints what was kept and how to continue (exit 130)."""
    command = typer.main.get_command(app)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt) if main_thread else None
    try:
        command.main(args=argv, prog_name="brainalign", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except (Interrupted, KeyboardInterrupt):
        error_console.print(INTERRUPTED, style="red", markup=False, highlight=False, soft_wrap=True)
        return 130
    except BrainAlignError as error:
        error_console.print(f"[bold red]error:[/bold red] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
