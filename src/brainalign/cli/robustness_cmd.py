"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported):
``brainalign robustness`` (accuracy under FGSM/PGD attacks over an epsilon grid -> CSV + figure)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from brainalign.cli.app import FORCE_HELP, app
from brainalign.cli.features_cmd import DEVICE_HELP, EPOCH_HELP, IMAGE_SIZE_HELP, MODEL_HELP, image_size_for, warn_if_random
from brainalign import MAX_SEED

NO_WEIGHTS = "-"


@app.command("robustness")
def robustness_command(
    model: List[str] = typer.Option(
        ..., "--model", "-m",
        help=MODEL_HELP + " Repeat to compare models (base, aligned, controls) in one table and figure.",
    ),
    images: Path = typer.Option(
        ..., "--images", "-i",
        help="ImageNet-style folder tree root/<class>/<image> (with --class-index unless class folders are "
        "integers), or a CSV with header path,label.",
    ),
    eps: str = typer.Option("0:0.06:0.01", help="Epsilons in pixel units: start:stop:step (stop included) or a list 0,0.01,0.03."),
    attack: List[str] = typer.Option(["fgsm"], "--attack", "-a", help="fgsm or pgd; repeat for both."),
    weights: Optional[List[str]] = typer.Option(
        None, help=f"Weights for --model names (file or known name), once per --model ('{NO_WEIGHTS}' for none)."
    ),
    class_index: Optional[Path] = typer.Option(None, help="Class-index JSON/CSV mapping class folders or names to indices."),
    out: Path = typer.Option(Path("robustness"), "--out", "-o", help="Output folder (robustness.csv, .png, .svg)."),
    epoch: Optional[int] = typer.Option(None, help=EPOCH_HELP),
    image_size: Optional[int] = typer.Option(None, min=32, help=IMAGE_SIZE_HELP),
    batch_size: int = typer.Option(32, min=1, help="Images per attacked batch."),
    steps: int = typer.Option(10, min=1, help="PGD steps (step size 2.5 * eps / steps)."),
    limit: Optional[int] = typer.Option(None, min=1, help="Use a random subset of this many images (seeded)."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help="Seed of the image subset, of PGD's random start and of a random "
                                     "initialisation (a model name without --weights); recorded."),
    device: str = typer.Option("cpu", help=DEVICE_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Top-1/top-5 accuracy of each MODEL under white-box L-inf attacks at each epsilon (perturbations in
    pixel space before normalisation); writes robustness.csv and the raw + baseline-aligned curves."""
    from brainalign.runs import check_run_dir

    check_run_dir(out, "robustness", force=force, resumable=False)  # before the heavy imports
    import numpy as np

    from brainalign.errors import ValidationError
    from brainalign.data.labelled import load_labelled_images
    from brainalign.measure.behaviour.robustness import ATTACKS, compare_robustness, parse_eps
    from brainalign.models.files import is_run_folder
    from brainalign.models.loader import load
    from brainalign.report.figures import plot_robustness
    from brainalign.runs import atomic_write_json, atomic_write_text, environment_info, mark_finished, open_run

    unknown = [name for name in attack if name not in ATTACKS]
    if unknown:
        raise typer.BadParameter(f"{unknown[0]!r} is not an attack; choose from {list(ATTACKS)}", param_hint="--attack")
    eps_values = parse_eps(eps)
    weight_list = list(weights or [])
    if weight_list and len(weight_list) != len(model):
        raise ValidationError(
            f"--weights was given {len(weight_list)} time(s) for {len(model)} --model(s); give it once per --model "
            f"(use '{NO_WEIGHTS}' for a model without weights)"
        )
    labelled = load_labelled_images(images, class_index=class_index)
    stimuli, labels = labelled.stimuli, labelled.labels
    if limit is not None and limit < len(stimuli):
        chosen = np.sort(np.random.default_rng(seed).choice(len(stimuli), size=limit, replace=False))
        stimuli, labels = stimuli.subset([stimuli.ids[i] for i in chosen]), labels[chosen]
    networks, sources, loaded = {}, [], []
    for position, spec in enumerate(model):
        weight = weight_list[position] if weight_list else None
        from_run = epoch if is_run_folder(spec) else None  # --epoch applies to the run folders among --model
        network, source = load(spec, weights=None if weight == NO_WEIGHTS else weight, epoch=from_run, device=device,
                               seed=seed)
        warn_if_random(source)
        loaded.append(source)
        sources.append(source.to_dict())
        networks[source.label if source.label not in networks else f"{source.label}#{position + 1}"] = network
    size = image_size_for(image_size, loaded)
    with open_run(out, "robustness", force=force, resumable=False) as run:
        out_dir = run.path
        table = compare_robustness(
            networks, stimuli, labels, eps_values, attack,
            steps=steps, batch_size=batch_size, image_size=size, device=device, seed=seed,
        )
        atomic_write_text(out_dir / "robustness.csv", table.to_csv(index=False))
        plot_robustness(out_dir / "robustness.csv", out_dir / "robustness")
        atomic_write_json(
            out_dir / "environment.json",
            {**environment_info(seed), "models": model, "weights": weight_list, "sources": sources,
             "images": str(images), "n_images": len(stimuli), "image_size": size},
        )
        mark_finished(out_dir, {"models": list(networks), "attacks": attack, "eps": eps_values})
    typer.echo(table.to_string(index=False, float_format=lambda value: f"{value:.4f}"))
    typer.echo(f"wrote {out / 'robustness.csv'} and {out / 'robustness.png'} (+ .svg)")
