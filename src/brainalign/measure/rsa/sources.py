"""RDMs from whatever a user points at: a features folder, a feature matrix, recorded responses or an
RDM file. The command line's ``rdm`` and ``rsa`` read their inputs through :func:`rdms_from_path`."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from brainalign.data.rdms import RDMs
from brainalign.data.responses import Responses, is_responses_file
from brainalign.measure.rsa.gram import DEFAULT_MEMORY_LIMIT
from brainalign.measure.rsa.rdm import compute_rdms


def rdms_from_path(
    path: str | os.PathLike[str],
    key: str | None = None,
    metric: str = "correlation",
    eeg_method: str = "decoding",
    memory_limit: int | None = None,
    scratch: str | os.PathLike[str] | None = None,
    **decoding: Any,
) -> RDMs:
    """RDMs of ``path``:

    - a features folder (``brainalign features``, :func:`brainalign.measure.features.extract`) or a
      ``.npy`` feature matrix ``(n_stimuli, n_features)``: one ``metric`` RDM per layer
      (:func:`~brainalign.measure.compute_rdms`), streamed from the memory-mapped files with
      ``memory_limit`` bytes of working memory; RDMs larger than that are written to ``scratch`` (a
      ``.npy``) as they are produced, when given, instead of being held in memory;
    - a Responses ``.npz``: :func:`~brainalign.measure.neural_rdms` (EEG: one RDM per time point,
      ``eeg_method`` and ``**decoding``; fMRI: one per ROI);
    - any RDM file :meth:`brainalign.data.RDMs.load` reads (``key``: the array/variable of a plain
      ``.npz``/``.mat``).
    """
    from brainalign.measure.features import INDEX_FILE, load_features
    from brainalign.measure.rsa.neural import neural_rdms

    source = Path(path)
    if source.is_dir() or source.suffix == ".npy":
        index = source / INDEX_FILE
        ids = json.loads(index.read_text())["stimulus_ids"] if index.is_file() else None
        features = load_features(source) if source.is_dir() else np.load(source, mmap_mode="r")
        layers = list(features.values()) if isinstance(features, dict) else [features]
        n = layers[0].shape[0]
        limit = memory_limit or DEFAULT_MEMORY_LIMIT
        out = scratch if scratch is not None and 8 * len(layers) * n * (n - 1) // 2 > limit else None
        return compute_rdms(features, metric=metric, stimulus_ids=ids, memory_limit=limit, out=out)
    if is_responses_file(source):
        return neural_rdms(Responses.load(source), eeg_method=eeg_method, metric=metric, **decoding)
    return RDMs.load(source, key=key)
