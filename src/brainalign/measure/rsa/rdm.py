"""RDMs from features: correlation / cosine / euclidean dissimilarities as streamed Gram products
(:mod:`brainalign.measure.rsa.gram`), in memory or written to a memory-mapped ``.npy`` as produced."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from brainalign.data.rdms import Descriptors, RDMs, descriptor_frame
from brainalign.errors import ValidationError
from brainalign.measure.rsa.gram import DEFAULT_MEMORY_LIMIT, gram_dissimilarities

if TYPE_CHECKING:
    import torch

Features = Union[np.ndarray, "torch.Tensor", Mapping[str, Union[np.ndarray, "torch.Tensor"]]]
"""``(n_stimuli, n_features)``, a stack ``(n_rdms, n_stimuli, n_features)``, or ``{name: (n_stimuli, ...)}``."""

METRICS = ("correlation", "euclidean", "sqeuclidean", "cosine")
_PROGRESS_WORK = 2e11  # multiply-adds (n^2 F / 2 summed over RDMs) above which a progress bar is shown


def compute_rdms(
    features: "Features",
    metric: str = "correlation",
    descriptors: Descriptors = None,
    stimulus_ids: Sequence[str] | None = None,
    device: str = "cpu",
    dtype: Any = None,
    chunk_features: int | None = None,
    stripe_rows: int | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    out: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> RDMs:
    """RDMs from features.

    features: ``(n_stimuli, n_features)`` array/tensor/memmap, or a dict ``{name: (n_stimuli, ...)}`` (one
    RDM per entry, trailing axes flattened; the name goes in descriptor column ``layer``), or a
    stack ``(n_rdms, n_stimuli, n_features)``. Memory-mapped features (e.g. ``np.load(path,
    mmap_mode="r")`` or :func:`~brainalign.measure.features.load_features`) are streamed, never loaded.
    metric: ``"correlation"`` (1 - Pearson r, the papers' choice), ``"euclidean"`` (plain L2 distance;
    note rsatoolbox's "euclidean" is the squared distance divided by n_features), ``"sqeuclidean"``
    or ``"cosine"`` (1 - cosine similarity).
    descriptors: one dict per RDM (merged over the ``layer`` column for dict input).
    dtype: torch dtype of the matrix products (default float32); each feature panel is shifted before
    its products and the shift is compensated exactly, and panels are accumulated in float64, so
    float32 results agree with float64 to ~1e-6 even at 200,000 features.
    chunk_features, stripe_rows: feature panel width (default: as wide as ``memory_limit`` allows) and
    rows per product stripe (default 1024); see :mod:`brainalign.measure.rsa.gram`.
    memory_limit: bytes of working memory beyond the output (panel buffer, stripe products, and with
    ``out`` the rows in progress); the output itself is ``8 * n_rdms * n * (n - 1) / 2`` bytes, in
    memory, or with ``out`` in a file.
    out: path of a ``.npy`` (float64 ``(n_rdms, n_pairs)``) written as the rows are produced (renamed into
    place when complete); the returned RDMs then hold a read-only memory map of it.
    progress: show a progress bar (default: for large inputs).
    """
    if metric not in METRICS:
        raise ValidationError(f"metric: {metric!r} is not one of {METRICS}")
    if isinstance(features, Mapping):
        names = list(features)
        blocks = [features[name] for name in names]
        extra = descriptor_frame(descriptors, len(names))
        frame = pd.concat([pd.DataFrame({"layer": names}), extra.drop(columns="layer", errors="ignore")], axis=1)
    else:
        blocks = list(features) if features.ndim == 3 else [features]
        frame = descriptor_frame(descriptors, len(blocks))
    sizes = {int(block.shape[0]) for block in blocks}
    if len(sizes) != 1:
        raise ValidationError(f"features: entries have different numbers of stimuli {sorted(sizes)}; use the same stimuli")
    n = sizes.pop()
    if n < 2:
        raise ValidationError(f"features: need >= 2 stimuli, got {n}")
    shape = (len(blocks), n * (n - 1) // 2)
    if progress is None:
        work = sum(n * n * int(np.prod(block.shape[1:])) / 2 for block in blocks)
        progress = work > _PROGRESS_WORK
    options: dict[str, Any] = dict(metric=metric, device=device, dtype=dtype, chunk_features=chunk_features,
                   stripe_rows=stripe_rows, memory_limit=memory_limit, progress=progress)
    ids = list(stimulus_ids) if stimulus_ids is not None else []
    if out is None:
        values = np.empty(shape)
        for block, row in zip(blocks, values):
            gram_dissimilarities(block, out=row, **options)
        return RDMs(values, ids, frame, metric)
    target = Path(out)
    if target.suffix != ".npy":
        raise ValidationError(f"out: {target} must end in .npy (a float64 (n_rdms, n_pairs) array)")
    from brainalign.runs import atomic_path

    with atomic_path(target) as temp:
        values = np.lib.format.open_memmap(temp, mode="w+", dtype=np.float64, shape=shape)
        for index, block in enumerate(blocks):
            gram_dissimilarities(block, out=values[index], **options)
        del values  # flushed and closed before the rename
    return RDMs(np.load(target, mmap_mode="r"), ids, frame, metric)
