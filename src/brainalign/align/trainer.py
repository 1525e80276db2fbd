"""Alignment training (ReAlnet / ReAlnet-fMRI): one personalised model per subject, resumable.

A run directory holds ``config.yaml`` (every default filled in), ``environment.json``, ``base/`` (the
pre-trained base model when the config pre-trains it), ``pseudo_labels.safetensors`` (argmax of the
frozen base model, computed once per training image), ``target.npz`` (the fitted target: PCA and
z-score statistics, :mod:`brainalign.align.targets`), ``metrics.jsonl`` + ``metrics.csv`` (one row per
epoch: ce, mse, contrastive, total, test_spearman, seconds), ``checkpoints/epoch_NNN/`` and ``DONE``.
Data order is a function of (seed, epoch) and the RNG state is checkpointed, so a killed run resumed
with ``resume=True`` ends with exactly the weights of an uninterrupted run.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import scipy.stats
import torch
from safetensors.torch import load_file, save_file

from brainalign.align.checkpoint import (
    GRAD_SCALER,
    check_resume_config,
    drop_resume_state,
    load_state,
    restore_checkpoint,
    rng_state,
    save_checkpoint,
    truncate_metrics,
)
from brainalign.align.controls import neural_weight, shuffles_pairs, uses_contrastive
from brainalign.align.data import AlignmentData, ImageBank, load_alignment_data
from brainalign.align.head import EncoderHead
from brainalign.align.targets import TARGET_FILE
from brainalign.align.loss import alignment_loss
from brainalign.align.optim import adam
from brainalign.align.pretrain import build_base, predicted_classes, save_base
from brainalign.align.config import DEFAULT_EPOCHS, TrainConfig
from brainalign.config import coerce_config, config_to_yaml
from brainalign.errors import TrainingError
from brainalign.models.base import LayeredModel
from brainalign.models.device import Acceleration, backward_step
from brainalign.models.files import MODEL_FILE, load_model_file
from brainalign.progress import track
from brainalign.runs import (
    append_jsonl,
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    environment_info,
    Run,
    check_run_dir,
    mark_finished,
    open_run,
    read_jsonl,
)

METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
BASE_MODEL = Path("base") / MODEL_FILE
PSEUDO_LABELS = "pseudo_labels.safetensors"


def train(
    config: TrainConfig | Mapping[str, Any] | str | os.PathLike[str],
    resume: bool = False,
    force: bool = False,
    stop_after: int | None = None,
    parent: str | None = None,
) -> Path:
    """Run one alignment training; return its run directory (``config.out_dir``).

    ``config``: a :class:`TrainConfig`, a dict of the same keys, or a YAML path. ``resume`` continues an
    unfinished run from its last checkpoint; ``force`` overwrites a finished one. ``stop_after`` ends
    the run after that epoch without marking it finished (as if it were killed; resume continues it).
    ``parent``: the run folder this run is nested in when that run is open in another process (a sweep's
    Ray workers; see :func:`brainalign.runs.open_run`).
    """
    config = coerce_config(TrainConfig, config, "training config")
    run_dir = Path(config.out_dir)
    check_run_dir(run_dir, "train", force=force, resume=resume, parent=parent)
    resuming = resume and not force and (run_dir / "config.yaml").exists()
    if resuming:
        check_resume_config(run_dir, config)
    data = load_alignment_data(config.data)  # bad data fails here, before anything is written
    acceleration = config.training.acceleration()  # a bad device or precision fails here too, before anything is written
    with open_run(run_dir, "train", force=force, resume=resume, parent=parent) as run:
        _train(config, data, acceleration, run, resuming, stop_after)
    return run_dir


def _train(config: TrainConfig, data: AlignmentData, acceleration: Acceleration, run: Run, resuming: bool,
           stop_after: int | None) -> None:
    """The body of :func:`train` inside its open run folder."""
    run_dir = Path(config.out_dir)
    if not resuming:
        atomic_write_text(run_dir / "config.yaml", config_to_yaml(config))
        atomic_write_json(run_dir / "environment.json", environment_info(config.seed))
        data.target.save(run_dir / TARGET_FILE)  # maps predictions back to channels x times / voxels
    device = acceleration.device
    model = acceleration.prepare(_base_model(config, data, run_dir, device))
    if (run_dir / BASE_MODEL).exists():
        run.keep()  # a pre-trained base model is kept for --resume whatever fails next
    images = ImageBank(data.train_stimuli, config.data.image_size)
    pseudo_labels = _pseudo_labels(model, images, run_dir, config.training.eval_batch_size, device)
    layers = model.check_layers(config.model.layers)
    torch.manual_seed(config.seed + 1)  # the head starts from the same weights whatever came before
    head = acceleration.prepare(EncoderHead.for_model(model, data.n_features, layers, config.data.image_size))
    optimizer = adam([*model.parameters(), *head.parameters()], lr=config.training.lr)
    scaler = acceleration.grad_scaler()
    start = 0
    if resuming:
        start = restore_checkpoint(run_dir, model, optimizer, head)
        truncate_metrics(run_dir / METRICS_JSONL, "epoch", start)
        if scaler is not None and start:
            scaler.load_state_dict(load_state(run_dir, start)[GRAD_SCALER])
    epochs = config.training.epochs or DEFAULT_EPOCHS[data.modality]
    test_images = None if data.test_stimuli is None else ImageBank(data.test_stimuli, config.data.image_size)
    run.keep()  # from here on a failure leaves the run for --resume (before, it removes what it wrote)
    for epoch in range(start + 1, epochs + 1):
        started = time.perf_counter()
        model.train()
        head.train()
        targets = _training_targets(data, config, epoch)
        sums = _train_epoch(config, epoch, epochs, model, head, optimizer, scaler, images, targets, pseudo_labels,
                            layers, acceleration)
        record: dict[str, Any] = {"epoch": epoch, **sums}
        if test_images is not None and data.test_targets is not None:
            predicted = predict_responses(model, head, test_images, layers, config.training.eval_batch_size,
                                          device, acceleration)
            record["test_spearman"] = generation_spearman(predicted, data.test_targets)
        record["seconds"] = round(time.perf_counter() - started, 3)
        append_jsonl(run_dir / METRICS_JSONL, record)
        write_metrics_csv(run_dir)
        state = {"optimizer": optimizer.state_dict(), "epoch": epoch, **rng_state()}
        if scaler is not None:
            state[GRAD_SCALER] = scaler.state_dict()
        save_checkpoint(run_dir, epoch, model, head, config.model.name, state, keep=config.training.keep_checkpoints,
                        image_size=config.data.image_size)
        if stop_after is not None and epoch >= stop_after and epoch < epochs:
            return
    metrics = read_jsonl(run_dir / METRICS_JSONL)
    mark_finished(run_dir, {"epochs": epochs, "subject": data.subject, "final": metrics[-1] if metrics else {}})
    drop_resume_state(run_dir, epochs)  # after DONE: a kill in between leaves a resumable run


def predict_responses(
    model: LayeredModel,
    head: EncoderHead,
    images: ImageBank,
    layers: list[str],
    batch_size: int,
    device: torch.device,
    acceleration: Acceleration | None = None,
) -> np.ndarray:
    """Predicted responses ``(n_images, n_features)`` float32 (eval mode, no gradient, no autocast);
    ``acceleration`` (default: none on ``device``) sets the images' memory format."""
    acceleration = acceleration or Acceleration(device)
    model.eval()
    head.eval()
    outputs = []
    batches = torch.arange(len(images)).split(batch_size)
    with torch.no_grad():
        for pixels in images.batches(batches, device, acceleration.memory_format):
            _, layer_outputs = model.forward_layers(pixels, layers)
            outputs.append(head(layer_outputs).float().cpu())
    return torch.cat(outputs).numpy()


def generation_spearman(predicted: np.ndarray, real: np.ndarray) -> float:
    """Mean over images of the Spearman correlation between predicted and real responses ``(n, d)``."""
    predicted_ranks = scipy.stats.rankdata(predicted, axis=1)
    real_ranks = scipy.stats.rankdata(real, axis=1)
    predicted_ranks -= predicted_ranks.mean(axis=1, keepdims=True)
    real_ranks -= real_ranks.mean(axis=1, keepdims=True)
    numerator = (predicted_ranks * real_ranks).sum(axis=1)
    denominator = np.sqrt((predicted_ranks**2).sum(axis=1) * (real_ranks**2).sum(axis=1))
    return float(np.mean(numerator / np.where(denominator > 0, denominator, 1.0)))


def _train_epoch(
    config: TrainConfig,
    epoch: int,
    epochs: int,
    model: LayeredModel,
    head: EncoderHead,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    images: ImageBank,
    targets: torch.Tensor,
    pseudo_labels: torch.Tensor,
    layers: list[str],
    acceleration: Acceleration,
) -> dict[str, float]:
    """One pass over the training images in the (seed, epoch) order; mean loss terms over batches. The
    images of the next batches are gathered in the background (:meth:`ImageBank.batches`)."""
    settings = config.training
    device = acceleration.device
    forward = acceleration.compiled(model.forward_layers)
    beta = neural_weight(settings.control, settings.beta)
    contrastive = uses_contrastive(settings.control, settings.contrastive)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
    batches = [batch for batch in order.split(settings.batch_size) if len(batch) >= 2]
    sums = dict.fromkeys(("ce", "mse", "contrastive", "total"), 0.0)
    loaded = images.batches(batches, device, acceleration.memory_format)
    for batch, pixels in zip(track(batches, f"epoch {epoch}/{epochs}", disable=not config.progress), loaded):
        with acceleration.autocast():
            logits, layer_outputs = forward(pixels, layers)
            predicted = head(layer_outputs)
        terms = alignment_loss(
            logits,
            pseudo_labels[batch].to(device),
            predicted,
            targets[batch].to(device),
            beta=beta,
            contrastive=contrastive,
            correlation=settings.correlation,
            strength=settings.soft_rank_strength,
        )
        values = terms.as_floats()
        if not math.isfinite(values["total"]):
            raise TrainingError(
                f"training diverged in epoch {epoch}: the loss is {values} (not finite), so this epoch was not saved; "
                f"lower training.lr (now {settings.lr}) or training.beta (now {settings.beta}) in the config and "
                "train again"
            )
        optimizer.zero_grad(set_to_none=True)
        backward_step(terms.total, optimizer, scaler)
        for name, value in values.items():
            sums[name] += value
    return {name: value / max(1, len(batches)) for name, value in sums.items()}


def _training_targets(data: AlignmentData, config: TrainConfig, epoch: int) -> torch.Tensor:
    """Training targets ``(n_train, n_features)`` of ``epoch``; for ``control_unpaired`` shuffled across images,
    anew every epoch (``training.unpaired_shuffle: every_epoch``, seeded by unpaired_seed, seed and epoch) or
    once for the run (``fixed``, seeded by unpaired_seed)."""
    targets = torch.from_numpy(data.train_targets)
    if not shuffles_pairs(config.training.control):
        return targets
    settings = config.training
    seed = (settings.unpaired_seed if settings.unpaired_shuffle == "fixed"
            else (settings.unpaired_seed * 1_000_003 + config.seed) * 100_003 + epoch)
    return targets[torch.randperm(len(targets), generator=torch.Generator().manual_seed(seed))]


def _base_model(config: TrainConfig, data: AlignmentData, run_dir: Path, device: torch.device) -> LayeredModel:
    """The base model; a pre-trained one is saved in ``run_dir/base`` once and reused on resume."""
    saved = run_dir / BASE_MODEL
    if saved.exists():
        return load_model_file(saved, device)
    history: list[dict] = []
    model = build_base(config, data, device, history)
    if config.model.pretrain is not None:
        save_base(model, saved, config, history)
    return model


def _pseudo_labels(
    model: LayeredModel, images: ImageBank, run_dir: Path, batch_size: int, device: torch.device
) -> torch.Tensor:
    """Argmax of the frozen base model (eval mode) per training image ``(n,)`` int64, cached in the run."""
    path = run_dir / PSEUDO_LABELS
    if path.exists():
        return load_file(str(path))["pseudo_labels"]
    labels = predicted_classes(model, images, batch_size, device)
    with atomic_path(path) as temp:
        save_file({"pseudo_labels": labels}, str(temp))
    return labels


def write_metrics_csv(run_dir: Path) -> None:
    """``metrics.csv``: the records of ``metrics.jsonl`` as a table (one row per record)."""
    import pandas as pd

    atomic_write_text(run_dir / METRICS_CSV, pd.DataFrame(read_jsonl(run_dir / METRICS_JSONL)).to_csv(index=False))
