"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported):
``brainalign rdm`` (features or responses -> RDMs file + figure) and ``brainalign rsa``
(model RDMs vs neural RDMs/responses -> CSV + figure)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from brainalign.cli.app import app


def _load_rdm_source(path: Path, eeg_method: str, metric: str, classifier: str, permutations: int,
                     memory_limit: int | None = None, scratch: Path | None = None) -> Any:
    """RDMs from an RDMs .npz, a Responses .npz, a MATLAB .mat of RDMs, a features folder (from
    ``brainalign features``) or a .npy feature matrix. Features are streamed from their memory-mapped
    files with ``memory_limit`` bytes of working memory; when the RDMs themselves are larger than that,
    they are written to ``scratch`` (a .npy) as they are produced instead of being held in memory."""
    import numpy as np

    from brainalign.errors import DataFormatError
    from brainalign.data.rdms import RDMs
    from brainalign.measure.rsa.gram import DEFAULT_MEMORY_LIMIT
    from brainalign.measure.rsa.rdm import compute_rdms

    if path.is_dir() or path.suffix == ".npy":
        import json

        from brainalign.measure.features import INDEX_FILE, load_features

        limit = memory_limit or DEFAULT_MEMORY_LIMIT
        ids = json.loads((path / INDEX_FILE).read_text())["stimulus_ids"] if (path / INDEX_FILE).exists() else None
        features = load_features(path) if path.is_dir() else np.load(path, mmap_mode="r")
        layers = list(features.values()) if isinstance(features, dict) else [features]
        n = layers[0].shape[0]
        output_bytes = 8 * len(layers) * n * (n - 1) // 2
        out = scratch if scratch is not None and output_bytes > limit else None
        return compute_rdms(features, metric=metric, stimulus_ids=ids, memory_limit=limit, out=out)
    if path.suffix.lower() == ".mat":
        from brainalign.data.rdm_files import load_rdms

        loaded = load_rdms(path)
        return RDMs.from_matrices(loaded.matrices, descriptors={"name": loaded.names})
    if path.suffix != ".npz" or not path.is_file():
        raise DataFormatError(
            f"{path}: expected an RDMs or Responses .npz, a .mat of RDMs, a features folder or a .npy "
            f"feature matrix"
        )
    with np.load(path, allow_pickle=False) as archive:
        keys = set(archive.files)
    if "dissimilarities" in keys:
        return RDMs.load(path)
    from brainalign.data.responses import Responses
    from brainalign.measure.rsa.neural import neural_rdms

    return neural_rdms(Responses.load(path), eeg_method=eeg_method, metric=metric, classifier=classifier,
                       n_permutations=permutations)


@app.command("rdm")
def rdm_command(
    source: Path = typer.Argument(..., help="Features folder (brainalign features), .npy (n_stimuli, n_features), "
                                            "or a Responses .npz (EEG: one RDM per time point; fMRI: per ROI)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output RDMs file (.npz); a PNG preview is written beside it."),
    metric: str = typer.Option("correlation", help="correlation (1 - Pearson r), euclidean, sqeuclidean, cosine."),
    eeg: str = typer.Option("decoding", help="EEG RDMs: decoding (pairwise decoding accuracy) or correlation."),
    classifier: str = typer.Option("lda", help="Decoding classifier: lda (sklearn-exact shrinkage LDA), "
                                               "shared_lda or ncm (fast)."),
    permutations: int = typer.Option(5, help="Decoding: pseudo-trial permutations."),
    memory: float = typer.Option(1.0, help="Features: GB of working memory (feature panels and products); "
                                           "RDMs larger than this are written to a scratch file beside --out."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Compute RDMs from features or neural responses and save them (condensed, with descriptors)."""
    import tempfile

    from brainalign.errors import RunExistsError, ValidationError
    from brainalign.report.quicklook import plot_rdms

    if out.suffix != ".npz":
        raise ValidationError(f"--out {out}: must end in .npz")
    if out.exists() and not force:
        raise RunExistsError(f"{out} exists; pass --force to overwrite it or choose another --out")
    if memory <= 0:
        raise ValidationError(f"--memory {memory}: must be > 0 (GB of working memory)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as scratch:
        rdms = _load_rdm_source(source, eeg, metric, classifier, permutations, memory_limit=int(memory * 2**30),
                                scratch=Path(scratch) / "dissimilarities.npy")
        rdms.save(out)
        figure = plot_rdms(_preview_stimuli(rdms), out.with_suffix(".png"))
        summary = f"{rdms.n_rdms} RDMs on {rdms.n_stimuli} stimuli"
        del rdms  # release the scratch file's memory map before its folder is removed
    typer.echo(f"{summary} -> {out} (preview {figure})")


def _preview_stimuli(rdms: Any, max_stimuli: int = 400) -> Any:
    """RDMs on at most ``max_stimuli`` evenly spaced stimuli (gathered from the condensed vectors, so a
    huge memory-mapped stack is never expanded to square matrices)."""
    import numpy as np

    from brainalign.data.rdms import RDMs
    from brainalign.measure.rsa.gram import condensed_offset

    n = rdms.n_stimuli
    if n <= max_stimuli:
        return rdms
    keep = np.linspace(0, n - 1, max_stimuli).round().astype(np.int64)
    rows, cols = np.triu_indices(max_stimuli, k=1)
    first, second = keep[rows], keep[cols]
    positions = condensed_offset(first, n) + second - first - 1  # type: ignore[arg-type]
    return RDMs(rdms.dissimilarities[:, positions], [rdms.stimulus_ids[k] for k in keep], rdms.descriptors)


@app.command("rsa")
def rsa_command(
    model_rdms: Path = typer.Argument(..., help="Model RDMs: an RDMs .npz (brainalign rdm), a features folder or .npy."),
    neural: Path = typer.Argument(
        ..., help="Neural RDMs (.npz from brainalign rdm, or a MATLAB .mat), or a Responses .npz."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: rsa.csv and rsa.png."),
    method: str = typer.Option("spearman", help="spearman, pearson or kendall_tau_a."),
    eeg: str = typer.Option("decoding", help="EEG responses: decoding or correlation RDMs."),
    classifier: str = typer.Option("lda", help="Decoding classifier for EEG responses: lda, shared_lda or ncm."),
    permutations: int = typer.Option(5, help="Decoding: pseudo-trial permutations."),
    force: bool = typer.Option(False, "--force", help="Overwrite results already in --out."),
) -> None:
    """Similarity of every model RDM with every neural RDM -> OUT/rsa.csv (+ rsa.png)."""
    from brainalign.errors import RunExistsError
    from brainalign.report.quicklook import plot_similarity
    from brainalign.measure.rsa.readouts import similarity_table
    from brainalign.runs import atomic_write_text

    if (out / "rsa.csv").exists() and not force:
        raise RunExistsError(f"{out / 'rsa.csv'} exists; pass --force to overwrite it or choose another --out")
    models = _load_rdm_source(model_rdms, eeg, "correlation", classifier, permutations)
    neural_rdms = _load_rdm_source(neural, eeg, "correlation", classifier, permutations)
    if models.stimulus_ids == [str(i) for i in range(models.n_stimuli)]:  # bare features: take the neural ids
        models = models.match_stimuli(neural_rdms.stimulus_ids)
    neural_rdms = neural_rdms.match_stimuli(models.stimulus_ids)
    table = similarity_table(models, neural_rdms, method)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "rsa.csv", table.to_csv(index=False))
    figure = plot_similarity(table, out / "rsa.png", method=method)
    best = table.loc[table["similarity"].idxmax()]
    typer.echo(f"{len(table)} comparisons -> {out / 'rsa.csv'}, {figure}; best {best['similarity']:.3f}: "
               + ", ".join(f"{k}={v}" for k, v in best.drop("similarity").items()))
