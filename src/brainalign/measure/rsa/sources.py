"""RDMs from whatever a user points at: a features folder, a feature matrix, recorded responses or an
RDM file, and two such inputs put on the same stimuli in the same order. The command line's ``rdm`` and
``rsa`` read their inputs through :func:`rdms_from_path`; ``rsa`` pairs them with :func:`paired_rdms`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, NamedTuple, Sequence

import numpy as np

from brainalign.data.rdms import RDMs
from brainalign.data.responses import Responses, is_responses_file
from brainalign.errors import DataFormatError, ValidationError
from brainalign.inputs import about, load_array
from brainalign.measure.rsa.gram import DEFAULT_MEMORY_LIMIT
from brainalign.measure.rsa.rdm import compute_rdms


def rdms_from_path(
    path: str | os.PathLike[str],
    key: str | None = None,
    metric: str = "correlation",
    eeg_method: str = "decoding",
    memory_limit: int | None = None,
    scratch: str | os.PathLike[str] | None = None,
    npy: Literal["features", "rdms"] = "features",
    **decoding: Any,
) -> RDMs:
    """RDMs of ``path``:

    - a features folder (``brainalign features``, :func:`brainalign.measure.features.extract`) or, with
      ``npy="features"``, a ``.npy`` feature matrix ``(n_stimuli, n_features)``: one ``metric`` RDM per layer
      (:func:`~brainalign.measure.compute_rdms`; a folder's provenance goes with them), streamed from the memory-mapped files with
      ``memory_limit`` bytes of working memory; RDMs larger than that are written to ``scratch`` (a
      ``.npy``) as they are produced, when given, instead of being held in memory;
    - a Responses ``.npz``: :func:`~brainalign.measure.neural_rdms` (EEG: one RDM per time point,
      ``eeg_method`` and ``**decoding``; fMRI: one per ROI);
    - any RDM file :meth:`brainalign.data.RDMs.load` reads (``key``: the array/variable of a plain
      ``.npz``/``.mat``), including a ``.npy`` with ``npy="rdms"``.

    Raises :class:`~brainalign.errors.DataFormatError` / :class:`~brainalign.errors.ValidationError`
    naming the file when it is missing, damaged or holds no usable numbers.
    """
    from brainalign.measure.features import load_features, read_feature_index, read_provenance
    from brainalign.measure.rsa.neural import neural_rdms

    source = Path(path)
    if source.is_dir() or (source.suffix == ".npy" and npy == "features"):
        if source.is_dir():
            features: dict[str, np.ndarray] | np.ndarray = load_features(source)
            ids = read_feature_index(source)["stimulus_ids"]
        else:
            features, ids = _feature_matrix(source), None
        layers = list(features.values()) if isinstance(features, dict) else [features]
        n = layers[0].shape[0]
        limit = memory_limit or DEFAULT_MEMORY_LIMIT
        out = scratch if scratch is not None and 8 * len(layers) * n * (n - 1) // 2 > limit else None
        with about(source):
            rdms = compute_rdms(features, metric=metric, stimulus_ids=ids, memory_limit=limit, out=out)
        rdms.provenance = read_provenance(source) if source.is_dir() else None
        return rdms
    if is_responses_file(source):
        responses = Responses.load(source)
        with about(source):
            return neural_rdms(responses, eeg_method=eeg_method, metric=metric, **decoding)
    return RDMs.load(source, key=key)


def _feature_matrix(source: Path) -> np.ndarray:
    """The ``(n_stimuli, n_features)`` matrix of a ``.npy`` file (memory-mapped)."""
    fix = "save the features as one numeric (n_stimuli, n_features) array with np.save"
    features = load_array(source, "feature matrix", fix, mmap=True)
    if features.ndim != 2:
        raise DataFormatError(f"feature matrix {source} has shape {features.shape}; {fix}")
    return features


class PairedRDMs(NamedTuple):
    """Model and neural RDMs on the same stimuli in the same order, and the warnings met on the way."""

    models: RDMs
    neural: RDMs
    warnings: list[str]


def paired_rdms(
    models: RDMs,
    neural: RDMs,
    order: Sequence[str] | None = None,
    model_source: str = "the model RDMs",
    neural_source: str = "the neural RDMs",
    order_source: str = "the order",
) -> PairedRDMs:
    """``models`` and ``neural`` on the model RDMs' stimuli, in their order.

    RDMs that carry ids (:attr:`RDMs.has_stimulus_ids`) are matched by id (the neural ones reordered or
    subset). RDMs read from a plain array carry none: ``order`` (ids in the order of their rows, e.g.
    :func:`brainalign.data.order.read_order`) names them; without it their rows are assumed to follow the
    other side's order, and a warning says so and how to give the order. Raises
    :class:`~brainalign.errors.ValidationError` when RDMs without ids differ in size from the other side
    (or from ``order``), or when ids do not cover the model RDMs' stimuli. ``model_source``,
    ``neural_source`` and ``order_source`` name the inputs in messages.
    """
    sides = {model_source: models, neural_source: neural}
    without_ids = [name for name, rdms in sides.items() if not rdms.has_stimulus_ids]
    warnings: list[str] = []
    if order is not None:
        ids = [str(i) for i in order]
        if not without_ids:
            warnings.append(f"both inputs carry stimulus ids; the order given ({len(ids)} ids) was not used")
        for name in without_ids:
            if sides[name].n_stimuli != len(ids):
                raise ValidationError(f"{name} are on {sides[name].n_stimuli} stimuli but {order_source} lists "
                                      f"{len(ids)} ids; give one id per row of the RDMs")
            sides[name] = sides[name].match_stimuli(ids)
        models, neural = sides[model_source], sides[neural_source]
    elif without_ids:
        if models.n_stimuli != neural.n_stimuli:
            raise ValidationError(
                f"{model_source} are on {models.n_stimuli} stimuli and {neural_source} on {neural.n_stimuli}, and "
                f"{' and '.join(without_ids)} carry no stimulus ids to match them by; compute both on the same "
                "stimuli, or give the ids of the RDMs' rows with --order FILE (order= in Python)"
            )
        reference = models if without_ids == [neural_source] else neural
        first = ", ".join(reference.stimulus_ids[:3])
        rows = f"the order of the other input ({first}, ...)" if reference.has_stimulus_ids else "the same order"
        warnings.append(
            f"{' and '.join(without_ids)} carry no stimulus ids: their rows are assumed to be in {rows}; if they are "
            "not, give their order with --order FILE (a CSV with an 'id' column, one row per RDM row)"
        )
        if without_ids == [model_source]:
            models = models.match_stimuli(neural.stimulus_ids)
        else:
            neural = neural.match_stimuli(models.stimulus_ids)
    missing = [i for i in models.stimulus_ids if i not in set(neural.stimulus_ids)]
    if missing:
        raise ValidationError(
            f"{neural_source} have no RDM rows for {len(missing)} of the {models.n_stimuli} stimuli of "
            f"{model_source} (e.g. {missing[:3]}); compute both on the same stimuli"
        )
    return PairedRDMs(models, neural.match_stimuli(models.stimulus_ids), warnings)
