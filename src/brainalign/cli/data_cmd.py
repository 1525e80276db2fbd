"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported):
``brainalign fetch`` (public data/weights into a cache), ``brainalign simulate`` (the simulated observer
to files), ``brainalign convert-things-eeg2`` (pickled THINGS-EEG2 files to safe .npz),
``brainalign convert-kamitani`` (bdpy fMRI files to .npz) and ``brainalign rdms`` (what an RDM file holds)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from brainalign.cli.app import FORCE_HELP, app
from brainalign import MAX_SEED


@app.command("fetch")
def fetch_command(
    name: Optional[str] = typer.Argument(None, help="Source name (see --list)."),
    cache: Path = typer.Option(Path("data_cache"), "--cache", help="Folder the file is downloaded into."),
    sha256: Optional[str] = typer.Option(None, help="Pin the full SHA-256 of the file."),
    url: Optional[str] = typer.Option(None, help="Download from this mirror instead of the registry URL."),
    list_sources: bool = typer.Option(False, "--list", help="List the known sources and exit."),
) -> None:
    """Download a public dataset file or model weights (checksum-verified, atomic) into --cache."""
    from brainalign.data.downloads import REGISTRY, fetch, file_sha256

    if list_sources or name is None:
        for entry in REGISTRY.values():
            where = entry.url or f"manual download from {entry.page}"
            typer.echo(f"{entry.name}: {entry.description}\n    {where}\n    checksum: {entry.checksum_note}")
        return
    path = fetch(name, cache, sha256=sha256, url=url, progress=True)
    typer.echo(f"{path} (sha256 {file_sha256(path)})")


@app.command("simulate")
def simulate_command(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (images, stimulus CSVs, responses .npz, ground truth)."),
    seed: int = typer.Option(0, min=0, max=MAX_SEED, help="Random seed; the same seed gives identical files."),
    modality: str = typer.Option("eeg", help="eeg (17 channels x 20 times) or fmri (ROIs V1..LOC, VC)."),
    subjects: int = typer.Option(3, min=1, help="Number of simulated subjects."),
    snr: float = typer.Option(0.5, help="Single-trial signal-to-noise variance ratio."),
    image_size: int = typer.Option(64, min=32, help="Image side in pixels."),
    train_per_category: int = typer.Option(20, help="Training images per category (16 categories)."),
    test_per_category: int = typer.Option(10, help="Test images per category (8 new categories)."),
    pretrain_per_category: int = typer.Option(40, help="Pretraining images per training category."),
    val_per_category: int = typer.Option(10, help="Held-out labelled images per training category (val_stimuli.csv)."),
    individual_brains: float = typer.Option(0.5, help="How much each subject's brain differs from the shared one (0 = identical)."),
    novel_test_values: bool = typer.Option(True, help="Hold one colour and one shape out of training (test categories carry them)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Write a simulated experiment (the demo's default data) as ordinary files into --out."""
    from brainalign.runs import check_run_dir

    check_run_dir(out, "simulate", force=force, resumable=False)  # before the heavy imports and the simulation
    from brainalign.data.simulation import simulate

    dataset = simulate(
        seed=seed, modality=modality, n_subjects=subjects, snr=snr, image_size=image_size,
        train_per_category=train_per_category, test_per_category=test_per_category,
        pretrain_per_category=pretrain_per_category, val_per_category=val_per_category,
        individual_brains=individual_brains, novel_test_values=novel_test_values,
    )
    folder = dataset.save(out, force=force)
    typer.echo(
        f"{folder}: {len(dataset.train_stimuli)} train / {len(dataset.test_stimuli)} test / "
        f"{len(dataset.pretrain_stimuli)} pretraining / {len(dataset.val_stimuli)} held-out labelled images, subjects {', '.join(dataset.subjects)}"
    )


@app.command("convert-things-eeg2")
def convert_things_eeg2_command(
    root: Path = typer.Argument(..., help="THINGS-EEG2 folder (preprocessed_data/sub-XX/*.npy, image_set/image_metadata.npy)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the safe files sub-XX/{train,test}.npz."),
    subject: list[int] = typer.Option([1], "--subject", "-s", help="Subject number(s); repeat the option for several."),
    trust: bool = typer.Option(False, "--trust", help="Allow unpickling the published files (only for files you trust)."),
    metadata: Optional[Path] = typer.Option(None, help="image_metadata.npy (default: found under ROOT)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Re-save pickled THINGS-EEG2 files as pickle-free .npz (then load them without --trust); convert all
    subjects into one --out in one call (repeat --subject)."""
    from brainalign.data.things_eeg2 import convert_things_eeg2

    for path in convert_things_eeg2(root, out, subjects=subject, allow_pickle=trust, metadata=metadata, force=force):
        typer.echo(str(path))


@app.command("convert-kamitani")
def convert_kamitani_command(
    paths: list[Path] = typer.Argument(..., help="Kamitani-lab bdpy HDF5 file(s) of one subject (Shen 2019 sub-XX_perceptionNaturalImage{Training,Test}_original_VC.h5, GOD SubjectN.h5)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for <split>.npz (train.npz, test.npz)."),
    split: Optional[str] = typer.Option(None, help="train | test | imagery (default: by DataType, else from the file name)."),
    roi: Optional[list[str]] = typer.Option(None, "--roi", help="Region to keep; repeat the option (default: V1 V2 V3 V4 LOC VC)."),
    subject: Optional[str] = typer.Option(None, help="Subject name stored in the files (default: the sub-XX of the file name)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Convert bdpy fMRI files to Responses .npz: every repetition, whole visual cortex (VC) and each ROI."""
    from brainalign.data.kamitani import ROIS, convert_kamitani

    for written in convert_kamitani(paths, out, split=split, rois=roi or ROIS, subject=subject, force=force):
        typer.echo(str(written))


@app.command("rdms")
def rdms_command(
    path: Path = typer.Argument(..., help="RDM file: .npz (brainalign rdm or plain arrays), .npy or .mat."),
    key: Optional[str] = typer.Option(None, help="Variable/array to read (default: every RDM in the file)."),
) -> None:
    """List the RDMs a file holds (name, size, mean dissimilarity) and their dissimilarity measure."""
    from brainalign.data.rdms import RDMs

    rdms = RDMs.load(path, key=key)
    names = rdms.descriptors.astype(str).agg(" | ".join, axis=1) if len(rdms.descriptors.columns) else None
    typer.echo(f"{rdms.n_rdms} RDMs on {rdms.n_stimuli} stimuli, measure: {rdms.dissimilarity_measure or 'not recorded'}")
    for index, values in enumerate(rdms.dissimilarities):
        name = names.iloc[index] if names is not None else str(index)
        typer.echo(f"{name}: {rdms.n_stimuli} x {rdms.n_stimuli}, mean dissimilarity {values.mean():.4f}")
