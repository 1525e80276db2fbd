"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported):
``brainalign features`` (layer activations to .npy files) and ``brainalign models`` (what can be built)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from brainalign.cli.app import app

MODEL_HELP = ("A model name (cornet_s, cornet_z, a torchvision classifier such as resnet50), known weights "
              "(cornet_s-imagenet), a brainalign model file (.safetensors naming its architecture, e.g. "
              "RUN/base/model.safetensors) or an alignment run folder (see brainalign.models.load).")
WEIGHTS_HELP = ("Weights for a model name: a file (.pth/.pt/.safetensors), a known name (cornet_s-imagenet) or a "
                "torchvision weights name (DEFAULT); default random initialisation.")
EPOCH_HELP = "Checkpoint epoch of a run folder (default: the last)."
DEVICE_HELP = "torch device: auto, cpu, cuda or cuda:N."


@app.command("features")
def features_command(
    model: str = typer.Argument(..., help=MODEL_HELP),
    images: Path = typer.Argument(..., help="A folder of images or a CSV with columns id,path[,concept]."),
    order: Optional[Path] = typer.Option(None, help="For a folder: a CSV of stimulus ids (column 'id', or 'file'/"
                                                    "'path': file names without suffix) giving the order of the "
                                                    "rows (images it does not list are left out)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: one <layer>.npy per layer + features.json."),
    layers: Optional[str] = typer.Option(None, help="Comma-separated layers (default: the model's read-out layers)."),
    weights: Optional[str] = typer.Option(None, help=WEIGHTS_HELP),
    epoch: Optional[int] = typer.Option(None, help=EPOCH_HELP),
    image_size: int = typer.Option(224, help="Images are resized to this many pixels per side."),
    batch_size: int = typer.Option(32, help="Images per forward pass."),
    device: str = typer.Option("cpu", help=DEVICE_HELP),
    force: bool = typer.Option(False, "--force", help="Overwrite features already in --out."),
) -> None:
    """Extract layer activations (n_stimuli, n_features) of MODEL for IMAGES into --out."""
    from brainalign.data.stimuli import Stimuli
    from brainalign.errors import RunExistsError, ValidationError
    from brainalign.measure.features import INDEX_FILE, extract
    from brainalign.models.loader import load

    if (out / INDEX_FILE).exists() and not force:
        raise RunExistsError(f"{out} already holds extracted features ({INDEX_FILE}); pass --force to overwrite")
    if images.suffix.lower() == ".csv":
        if order is not None:
            raise ValidationError(f"--order {order} goes with a folder of images; {images} is a CSV, whose rows "
                                  "already give the order")
        stimuli = Stimuli.from_csv(images)
    else:
        stimuli = Stimuli.from_folder(images) if order is None else Stimuli.from_folder(images).in_order(order)
    network = load(model, weights=weights, epoch=epoch, device=device).model
    chosen = None if layers is None else [name.strip() for name in layers.split(",") if name.strip()]
    features = extract(network, stimuli, chosen, batch_size=batch_size, device=device, image_size=image_size, out_dir=out)
    for layer, array in features.items():
        typer.echo(f"{layer}: {array.shape[0]} stimuli x {array.shape[1]} features -> {out / (layer + '.npy')}")


@app.command("models")
def models_command() -> None:
    """List the model names and known weights brainalign can build and load."""
    from brainalign.models.catalogue import KNOWN_WEIGHTS, model_names

    typer.echo("models: " + ", ".join(model_names()))
    for name, known in KNOWN_WEIGHTS.items():
        typer.echo(f"weights {name}: {known.url}")
