"""Training a classifier from random initialisation, with checkpoints on a log-spaced schedule.

The trajectory study of Scholte et al. (issue 14: networks trained from scratch with several
initialisation seeds, checkpoints on a log-spaced schedule that includes the untrained network) needs
the network at chosen points of training, not only per epoch. A run directory holds ``config.yaml``,
``environment.json``, ``metrics.jsonl`` + ``metrics.csv`` (one record per checkpoint: ``step``,
``epoch`` = step / steps per epoch, ``train_loss`` = mean cross-entropy since the previous checkpoint,
held-out ``val_top1``/``val_top5``, ``seconds``), ``checkpoints/step_NNN/{model.safetensors,state.pt}``
(step 0 = the untrained network) and ``DONE``.

The seed sets the initial weights (``torch.manual_seed(seed)`` right before the model is built) and the
order of the training images (a permutation per epoch drawn from ``(seed, epoch)``); the learning rate is
a function of the step. Checkpoints use the alignment trainer's machinery
(:mod:`brainalign.align.checkpoint`), so a killed run resumed with ``resume=True`` continues mid-epoch
from its last checkpoint and ends with exactly the weights of an uninterrupted run.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from brainalign.align.checkpoint import (
    check_resume_config,
    drop_resume_state,
    restore_checkpoint,
    rng_state,
    save_checkpoint,
    truncate_metrics,
)
from brainalign.align.config import CheckpointScheduleConfig, ScratchDataConfig, ScratchOptimizerConfig, ScratchTrainConfig
from brainalign.align.data import ImageBank, simulated_observer
from brainalign.align.optim import adam
from brainalign.align.trainer import METRICS_JSONL, write_metrics_csv
from brainalign.config import coerce_config, config_to_yaml
from brainalign.data.labelled import LabelledImages, load_labelled_images
from brainalign.errors import ConfigError, MissingDatasetError
from brainalign.models.base import LayeredModel
from brainalign.models.files import checkpoint_epochs
from brainalign.progress import track
from brainalign.runs import append_jsonl, atomic_write_json, atomic_write_text, environment_info, mark_finished, open_run, read_jsonl, Run, check_run_dir

STEP = "step"  # the checkpoint counter of a training from scratch (see brainalign.align.checkpoint)


@dataclass(frozen=True)
class ClassificationData:
    """A classification task: training and held-out labelled images (int labels ``(n,)``) of ``num_classes``
    classes; ``class_names[label]`` names a class where known."""

    train: LabelledImages
    val: LabelledImages
    num_classes: int
    class_names: list[str] | None = None


def load_classification_data(config: ScratchDataConfig) -> ClassificationData:
    """The task of ``config``: the simulated observer's pretraining images (training) and its held-out
    labelled images of the same categories (``val_stimuli``, accuracy), or labelled image files."""
    if config.source == "simulated":
        dataset = simulated_observer(config.simulate)
        if len(dataset.val_stimuli) == 0:
            raise ConfigError("data.simulate: val_per_category is 0; held-out accuracy needs held-out images (e.g. 10)")
        return ClassificationData(
            train=LabelledImages(dataset.pretrain_stimuli, np.asarray(dataset.pretrain_labels, dtype=np.int64)),
            val=dataset.val_set(),
            num_classes=len(dataset.train_categories),
            class_names=list(dataset.train_categories),
        )
    for key in ("train_images", "val_images", "class_index"):
        path = getattr(config, key)
        if path is not None and not Path(path).exists():
            raise MissingDatasetError(f"data.{key}: {path} does not exist; download the images or fix the path")
    train = load_labelled_images(str(config.train_images), config.class_index)
    val = load_labelled_images(str(config.val_images), config.class_index)
    return ClassificationData(train=train, val=val, num_classes=int(max(train.labels.max(), val.labels.max())) + 1)


def checkpoint_steps(schedule: CheckpointScheduleConfig, steps_per_epoch: int) -> list[int]:
    """Steps (optimisation updates done) at which a checkpoint is saved, ascending: 0 (the untrained
    network), ``schedule.count`` points log-spaced from ``first`` to ``epochs`` epochs, the ``extra``
    epochs, and the last step; each rounded to the nearest step, at least 1, duplicates once."""
    if steps_per_epoch < 1:
        raise ConfigError(f"steps_per_epoch={steps_per_epoch}; there must be at least one batch per epoch")
    total = total_steps(schedule, steps_per_epoch)
    log_spaced = np.geomspace(schedule.first, schedule.epochs, schedule.count) if schedule.count > 1 else [schedule.epochs]
    points = {min(total, max(1, round(float(epoch) * steps_per_epoch))) for epoch in [*log_spaced, *schedule.extra]}
    return sorted({0, total} | points)


def total_steps(schedule: CheckpointScheduleConfig, steps_per_epoch: int) -> int:
    """Number of optimisation steps of the whole training (``epochs`` x steps per epoch, at least 1)."""
    return max(1, round(schedule.epochs * steps_per_epoch))


def learning_rate(settings: ScratchOptimizerConfig, step: int, total: int) -> float:
    """Learning rate of update ``step`` (0-based) of ``total``: constant, or cosine from ``lr`` towards 0."""
    if settings.lr_schedule == "constant":
        return settings.lr
    return settings.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))


def epoch_order(seed: int, epoch: int, n_images: int) -> torch.Tensor:
    """The order of the training images in ``epoch`` (0-based): a permutation drawn from ``(seed, epoch)``."""
    return torch.randperm(n_images, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def initial_model(config: ScratchTrainConfig, num_classes: int) -> LayeredModel:
    """The untrained network of ``config``: ``config.model.name`` initialised under ``torch.manual_seed(seed)``."""
    from brainalign.models import build_model

    torch.manual_seed(config.seed)
    return build_model(config.model.name, num_classes=config.model.num_classes or num_classes)


def train_from_scratch(
    config: ScratchTrainConfig | Mapping[str, Any] | str | os.PathLike[str],
    resume: bool = False,
    force: bool = False,
    stop_after: int | None = None,
) -> Path:
    """Train ``config`` (a :class:`ScratchTrainConfig`, dict or YAML path) from random initialisation;
    return its run directory (``config.out_dir``).

    ``resume`` continues an unfinished run from its last checkpoint; ``force`` overwrites a finished one.
    ``stop_after`` ends the run at the first checkpoint at or after that step without marking it
    finished (as if it were killed; resume continues it).
    """
    config = coerce_config(ScratchTrainConfig, config, "training-from-scratch config")
    run_dir = Path(config.out_dir)
    check_run_dir(run_dir, "scratch_train", force=force, resume=resume)
    resuming = resume and not force and (run_dir / "config.yaml").exists()
    if resuming:
        check_resume_config(run_dir, config)
    data = load_classification_data(config.data)
    settings = config.training
    steps_per_epoch = len(data.train.stimuli) // settings.batch_size
    if steps_per_epoch < 1:
        raise ConfigError(
            f"training.batch_size={settings.batch_size} is larger than the {len(data.train.stimuli)} training "
            f"images; use a batch size of at most {len(data.train.stimuli)}"
        )
    schedule = checkpoint_steps(config.schedule, steps_per_epoch)
    with open_run(run_dir, "scratch_train", force=force, resume=resume) as run:
        _train(config, data, schedule, steps_per_epoch, run, resuming, stop_after)
    return run_dir


def _train(config: ScratchTrainConfig, data: ClassificationData, schedule: list[int], steps_per_epoch: int, run: Run,
           resuming: bool, stop_after: int | None) -> None:
    """The body of :func:`train_from_scratch` inside its open run folder."""
    run_dir, settings = Path(config.out_dir), config.training
    total = schedule[-1]
    if not resuming:
        atomic_write_text(run_dir / "config.yaml", config_to_yaml(config))
        atomic_write_json(run_dir / "environment.json", environment_info(config.seed))
    device = settings.torch_device()
    model = initial_model(config, data.num_classes).to(device)
    optimizer = _optimizer(settings, model)
    saved = checkpoint_epochs(run_dir, STEP)
    start = restore_checkpoint(run_dir, model, optimizer, unit=STEP) if saved else 0
    truncate_metrics(run_dir / METRICS_JSONL, STEP, start if saved else -1)  # records after the last checkpoint
    images = ImageBank(data.train.stimuli, config.data.image_size)
    labels = torch.as_tensor(data.train.labels, dtype=torch.long)
    record = _Checkpointer(config, data, run_dir, steps_per_epoch, device)
    run.keep()  # from here on a failure leaves the run for --resume (before, it removes what it wrote)
    if not saved:
        record(0, model, optimizer, losses=[])  # the untrained network
    losses: list[float] = []
    order = None
    for step in track(range(start, total), f"train {config.model.name} seed {config.seed}", disable=not config.progress):
        epoch, position = divmod(step, steps_per_epoch)
        if order is None or position == 0:
            order = epoch_order(config.seed, epoch, len(images))
        batch = order[position * settings.batch_size:(position + 1) * settings.batch_size]
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(settings, step, total)
        model.train()
        loss = F.cross_entropy(model(images.get(batch).to(device)), labels[batch].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if step + 1 in schedule:
            record(step + 1, model, optimizer, losses)
            losses = []
            if stop_after is not None and step + 1 >= stop_after and step + 1 < total:
                return
    final = read_jsonl(run_dir / METRICS_JSONL)[-1]
    mark_finished(run_dir, {"steps": total, "steps_per_epoch": steps_per_epoch, "final": final})
    drop_resume_state(run_dir, checkpoint_epochs(run_dir, STEP)[-1], STEP)  # after DONE: a kill in between leaves a resumable run


class _Checkpointer:
    """Saves a checkpoint and its metrics record (held-out accuracy, mean training loss since the last one)."""

    def __init__(self, config: ScratchTrainConfig, data: ClassificationData, run_dir: Path, steps_per_epoch: int,
                 device: torch.device) -> None:
        self.config, self.data, self.run_dir = config, data, run_dir
        self.steps_per_epoch, self.device = steps_per_epoch, device
        self.started = time.perf_counter()

    def __call__(self, step: int, model: LayeredModel, optimizer: torch.optim.Optimizer, losses: list[float]) -> None:
        from brainalign.measure.behaviour.classification import accuracy

        held_out = accuracy(model, self.data.val.stimuli, self.data.val.labels, batch_size=self.config.training.eval_batch_size,
                            image_size=self.config.data.image_size, device=self.device, progress=False)
        append_jsonl(self.run_dir / METRICS_JSONL, {
            STEP: step,
            "epoch": step / self.steps_per_epoch,
            "train_loss": float(np.mean(losses)) if losses else None,
            "val_top1": held_out.top1,
            "val_top5": held_out.top5,
            "seconds": round(time.perf_counter() - self.started, 3),
        })
        write_metrics_csv(self.run_dir)
        state = {"optimizer": optimizer.state_dict(), STEP: step, **rng_state()}
        save_checkpoint(self.run_dir, step, model, None, self.config.model.name, state, unit=STEP,
                        image_size=self.config.data.image_size)
        self.started = time.perf_counter()


def _optimizer(settings: ScratchOptimizerConfig, model: LayeredModel) -> torch.optim.Optimizer:
    parameters = list(model.parameters())
    if settings.optimizer == "adam":
        return adam(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.SGD(parameters, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
