"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported):
``brainalign train CONFIG`` (one alignment run) and ``brainalign sweep CONFIG`` (many, local or Ray)."""
from __future__ import annotations

from pathlib import Path

import typer

from brainalign.cli.app import FORCE_HELP, app


@app.command("train")
def train_command(
    config: Path = typer.Argument(..., help="Training config (YAML); see brainalign.config.TrainConfig."),
    resume: bool = typer.Option(False, "--resume", help="Continue an unfinished run from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Align a model to one subject's neural responses; writes checkpoints and metrics to out_dir."""
    from brainalign.align.config import TrainConfig
    from brainalign.config import coerce_config
    from brainalign.runs import check_run_dir, read_jsonl

    settings = coerce_config(TrainConfig, config, "training config")
    check_run_dir(settings.out_dir, "train", force=force, resume=resume)  # before the heavy imports
    from brainalign.align.trainer import train

    run_dir = train(settings, resume=resume, force=force)
    metrics = read_jsonl(run_dir / "metrics.jsonl")
    last = metrics[-1] if metrics else {}
    summary = ", ".join(f"{key} {value:.4g}" for key, value in last.items() if key not in ("epoch", "seconds"))
    typer.echo(f"finished {run_dir} (epoch {last.get('epoch', '?')}: {summary})")


@app.command("sweep")
def sweep_command(
    config: Path = typer.Argument(..., help="Sweep config (YAML); see brainalign.config.SweepConfig."),
    backend: str = typer.Option("local", help="local (one job after another) or ray (parallel Ray tasks)."),
    force: bool = typer.Option(False, "--force", help="Run every job afresh: " + FORCE_HELP[0].lower() + FORCE_HELP[1:]),
    address: str = typer.Option(
        None, help="Ray cluster to join with --backend ray: auto (the one this machine belongs to) or HOST:PORT "
        "(default: RAY_ADDRESS or a new local instance)."),
) -> None:
    """Run subjects x betas x controls x seeds into out_dir; a re-run continues it (finished jobs are skipped,
    killed ones resume)."""
    from brainalign.align.sweep import run_sweep
    from brainalign.align.config import load_sweep_config

    sweep = load_sweep_config(config)
    run_dirs = run_sweep(sweep, backend=backend, force=force, ray_address=address)  # type: ignore[arg-type]
    typer.echo(f"{len(run_dirs)} runs finished; job list in {Path(sweep.out_dir) / 'sweep.json'}")
