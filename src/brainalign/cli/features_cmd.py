"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported):
``brainalign features`` (layer activations to .npy files) and ``brainalign models`` (what can be built)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import typer

from brainalign.cli.app import FORCE_HELP, app
from brainalign import MAX_SEED
from brainalign.models.catalogue import DEFAULT_IMAGE_SIZE

if TYPE_CHECKING:
    from brainalign.models.loader import ModelSource

MODEL_HELP = ("A model name (cornet_s, cornet_z, a torchvision classifier such as resnet50), known weights "
              "(cornet_s-imagenet), a brainalign model file (.safetensors naming its architecture, e.g. "
              "RUN/base/model.safetensors) or an alignment run folder (see brainalign.models.load).")
WEIGHTS_HELP = ("Weights for a model name: a file (.pth/.pt/.safetensors), a known name (cornet_s-imagenet) or a "
                "torchvision weights name (DEFAULT); default random initialisation.")
EPOCH_HELP = "Checkpoint epoch of a run folder (default: the last)."
DEVICE_HELP = "torch device: auto, cpu, cuda or cuda:N."
SEED_HELP = "Seed of a random initialisation (a model name without --weights, a fresh classifier head); recorded."
IMAGE_SIZE_HELP = (f"Images are resized to this many pixels per side (default: the size the model was trained at, when "
                   f"its model file or run folder records it, else {DEFAULT_IMAGE_SIZE}).")


def warn_if_random(source: "ModelSource") -> None:
    """Print a warning line when ``source`` loaded no weights (a random initialisation)."""
    if source.random_weights:
        typer.echo(f"warning: {source.label} has random weights (initialised with seed {source.seed}); give "
                   "--weights, known weights (cornet_z-imagenet), a model file or a run folder for a trained model",
                   err=True)


def image_size_for(given: Optional[int], sources: Sequence["ModelSource"]) -> int:
    """``--image-size`` when given, else the training image size the models record (one for all of them,
    said on stderr), else :data:`DEFAULT_IMAGE_SIZE`."""
    if given is not None:
        return given
    recorded = {source.image_size for source in sources if source.image_size is not None}
    if len(recorded) == 1 and all(source.image_size is not None for source in sources):
        size = recorded.pop()
        typer.echo(f"image size {size} px: the size the model was trained at (--image-size to change it)", err=True)
        return size
    if len(recorded) > 1:
        typer.echo(f"warning: the models were trained at different image sizes ({sorted(recorded)}); all are shown "
                   f"images of {DEFAULT_IMAGE_SIZE} px: give --image-size", err=True)
    return DEFAULT_IMAGE_SIZE


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
    image_size: Optional[int] = typer.Option(None, min=32, help=IMAGE_SIZE_HELP),
    pool: str = typer.Option("none", help="Spatial pooling of each layer's maps (channels, height, width): none, "
                                          "avg or max, down to --pool-size x --pool-size per channel."),
    pool_size: int = typer.Option(1, min=1, help="With --pool: the pooled grid's side (1 = one value per channel)."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help=SEED_HELP),
    batch_size: int = typer.Option(32, min=1, help="Images per forward pass."),
    device: str = typer.Option("cpu", help=DEVICE_HELP),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Extract layer activations (n_stimuli, n_features) of MODEL for IMAGES into --out, with the model's
    provenance (weights file + sha256, seed, preprocessing, version) in features.json."""
    from brainalign.runs import check_run_dir, mark_finished, open_run

    check_run_dir(out, "features", force=force, resumable=False)  # before the heavy imports
    from brainalign.data.stimuli import Stimuli
    from brainalign.errors import ValidationError
    from brainalign.measure.features import extract
    from brainalign.models.loader import load

    if images.suffix.lower() == ".csv":
        if order is not None:
            raise ValidationError(f"--order {order} goes with a folder of images; {images} is a CSV, whose rows "
                                  "already give the order")
        stimuli = Stimuli.from_csv(images)
    else:
        stimuli = Stimuli.from_folder(images) if order is None else Stimuli.from_folder(images).in_order(order)
    network, source = load(model, weights=weights, epoch=epoch, device=device, seed=seed)
    warn_if_random(source)
    chosen = None if layers is None else [name.strip() for name in layers.split(",") if name.strip()]
    with open_run(out, "features", force=force, resumable=False):
        features = extract(network, stimuli, chosen, batch_size=batch_size, device=device,
                           image_size=image_size_for(image_size, [source]),
                           out_dir=out, pool=pool, pool_size=pool_size, source=source)
        mark_finished(out, {"layers": list(features)})
    for layer, array in features.items():
        typer.echo(f"{layer}: {array.shape[0]} stimuli x {array.shape[1]} features -> {out / (layer + '.npy')}")


@app.command("models")
def models_command(
    layers: Optional[str] = typer.Option(None, help="List the layers of this model (" + MODEL_HELP[2:] + ") with "
                                                    "their output shapes for one image."),
    weights: Optional[str] = typer.Option(None, help="With --layers: " + WEIGHTS_HELP),
    epoch: Optional[int] = typer.Option(None, help="With --layers: " + EPOCH_HELP),
    image_size: Optional[int] = typer.Option(None, min=32, help="With --layers: pixels per side of the probe image "
                                                               f"(default: as for features, {DEFAULT_IMAGE_SIZE} "
                                                               "or the size the model was trained at)."),
) -> None:
    """List the model names and known weights brainalign can build and load, or (--layers MODEL) a model's
    layers: dotted path, module type, output shape and number of features; * marks the default read-outs."""
    from brainalign.models.catalogue import KNOWN_WEIGHTS, model_names

    if layers is None:
        typer.echo("models: " + ", ".join(model_names()))
        for name, known in KNOWN_WEIGHTS.items():
            typer.echo(f"weights {name}: {known.url}")
        return
    import math

    from brainalign.models.loader import load

    network, source = load(layers, weights=weights, epoch=epoch)
    rows = network.output_shapes(image_size_for(image_size, [source]))
    width = max(len(name) for name in rows)
    typer.echo(f"  {'layer':<{width}}  {'module':<20} {'output shape':<20} {'features':>10}  (* default read-out)")
    for name, (kind, shape) in rows.items():
        mark = "*" if name in network.layer_names else " "
        typer.echo(f"{mark} {name:<{width}}  {kind:<20} {str(tuple(shape)):<20} {math.prod(shape):>10,}")
