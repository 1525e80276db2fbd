"""Training targets built from :class:`~brainalign.data.Responses`: the one place they are made.

A :class:`~brainalign.align.config.TargetConfig` declares the target; :func:`fit_targets` fits it on the
subject's **training** responses and returns a :class:`TargetTransform` that turns any responses of the
same layout into targets ``(n_images, n_targets)``, and back. The steps, in order:

1. pattern: keep ``channels`` and the samples ``start <= t < stop`` of ``window`` (EEG), or the voxels
   of ``roi`` (fMRI); repetitions kept, values as recorded (:meth:`TargetTransform.pattern`);
2. average the repetitions of each image;
3. PCA (``pca_components``): the principal axes of the training images' averaged patterns
   (centred on their mean); every split is projected on the same axes;
4. z-score (``zscore``): each target feature (channel x time point, voxel or component) minus its
   mean over the training images, divided by its standard deviation over the training images
   (``ddof=0``; a constant feature is only centred). Held-out images use the training mean and std.

The papers' targets (ReAlnet, Lu et al. 2024, Methods "EEG data": THINGS-EEG2, 17 occipital and
parietal channels, 0-200 ms at 100 Hz = 20 samples, repetitions averaged = 340 values; ReAlnet-fMRI,
Lu & Wang 2025, Methods: whole visual cortex of Shen et al. 2019 reduced by PCA to 1024 dimensions
fitted on the training images) are these steps with the settings of ``configs/realnet_eeg.yaml`` and
``configs/realnet_fmri.yaml``. Neither paper states a z-score; brainalign z-scores by default so the
MSE weighs every target feature alike (README, fidelity notes). Evaluation RDMs never use steps 3-4:
they come from the unstandardised pattern (:meth:`TargetTransform.pattern`).

The fitted transform is saved in each run folder (``target.npz``, :meth:`TargetTransform.save`), so a
run's predictions map back to channels x times or voxels with :meth:`TargetTransform.inverse`.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from brainalign.align.config import TargetConfig
from brainalign.data import Responses
from brainalign.data.responses import time_window
from brainalign.errors import DataFormatError, ValidationError
from brainalign.runs import atomic_write_with

TARGET_FILE = "target.npz"


class ResponseAxes(Protocol):
    """What the target checks read: a :class:`Responses` or a :class:`~brainalign.data.responses.ResponsesLayout`."""

    @property
    def stimulus_ids(self) -> list[str]: ...

    @property
    def channels(self) -> list[str] | None: ...

    @property
    def times(self) -> np.ndarray | None: ...

    @property
    def rois(self) -> dict[str, np.ndarray] | None: ...

    @property
    def feature_shape(self) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class PatternAxes:
    """Which part of the responses a target is built from: ``channels`` and ``time_index`` (EEG) or
    ``roi`` (fMRI); ``feature_shape`` of one image's pattern, e.g. ``(17, 20)`` or ``(n_voxels,)``."""

    feature_shape: tuple[int, ...]
    channels: list[str] | None = None
    times: np.ndarray | None = None
    roi: str | None = None


@dataclass
class TargetTransform:
    """A target fitted on training responses (see the module docstring).

    ``pca_mean`` ``(n_pattern_features,)`` and ``pca_components`` ``(n_components, n_pattern_features)``
    when the target has a PCA; ``zscore_mean``/``zscore_std`` ``(n_targets,)`` when it is z-scored;
    ``fitted_on`` holds the training stimulus ids and the source file.
    """

    spec: TargetConfig
    axes: PatternAxes
    pca_mean: np.ndarray | None = None
    pca_components: np.ndarray | None = None
    explained_variance_ratio: np.ndarray | None = None
    zscore_mean: np.ndarray | None = None
    zscore_std: np.ndarray | None = None
    fitted_on: dict[str, Any] = field(default_factory=dict)

    @property
    def n_targets(self) -> int:
        """Length of one image's target vector (e.g. 340 for ReAlnet, 1024 for ReAlnet-fMRI)."""
        return len(self.pca_components) if self.pca_components is not None else int(np.prod(self.axes.feature_shape))

    def pattern(self, responses: Responses, source: str = "") -> Responses:
        """The part of ``responses`` the target is built from (every repetition, values as recorded)."""
        check_pattern(responses, self.spec, source or _source(responses))
        return _select(responses, self.spec)

    def apply(self, responses: Responses, source: str = "") -> np.ndarray:
        """Targets ``(n_images, n_targets)`` float32 of ``responses`` (rows in their stimulus order)."""
        values = self.pattern(responses, source).flatten().astype(np.float64)
        if self.pca_components is not None:
            values = (values - self.pca_mean) @ self.pca_components.T
        if self.zscore_mean is not None:
            values = (values - self.zscore_mean) / self.zscore_std
        return values.astype(np.float32)

    def inverse(self, targets: np.ndarray) -> np.ndarray:
        """Targets ``(n, n_targets)`` (e.g. a head's predictions) back to patterns ``(n, *feature_shape)``
        in the units of the recorded responses (z-score undone, PCA back-projected)."""
        values = np.asarray(targets, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.n_targets:
            raise ValidationError(f"inverse: targets have shape {values.shape}, expected (n, {self.n_targets})")
        if self.zscore_mean is not None and self.zscore_std is not None:
            values = values * self.zscore_std + self.zscore_mean
        if self.pca_components is not None:
            values = values @ self.pca_components + self.pca_mean
        return values.reshape(len(values), *self.axes.feature_shape).astype(np.float32)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted transform to one ``.npz`` (no pickle; atomic); :func:`load_target_transform` reads it."""
        meta = {"spec": self.spec.model_dump(mode="json"), "feature_shape": list(self.axes.feature_shape),
                "channels": self.axes.channels, "roi": self.axes.roi,
                "fitted_on": {key: value for key, value in self.fitted_on.items() if key != "stimulus_ids"}}
        arrays: dict[str, Any] = {"meta": np.array(json.dumps(meta)),
                  "fitted_on_ids": np.array(self.fitted_on.get("stimulus_ids", []), dtype=str)}
        optional = {"times": self.axes.times, "pca_mean": self.pca_mean, "pca_components": self.pca_components,
                    "explained_variance_ratio": self.explained_variance_ratio, "zscore_mean": self.zscore_mean,
                    "zscore_std": self.zscore_std}
        arrays.update({key: value for key, value in optional.items() if value is not None})
        return atomic_write_with(path, lambda temp: np.savez(temp, **arrays))


def load_target_transform(path: str | os.PathLike[str]) -> TargetTransform:
    """Read a transform written by :meth:`TargetTransform.save` (a run folder's ``target.npz``)."""
    source = Path(path)
    if source.is_dir():
        source = source / TARGET_FILE
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
        spec = TargetConfig.model_validate(meta["spec"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DataFormatError(
            f"{source} is not a target transform ({type(error).__name__}: {error}); it is written by `brainalign "
            f"train` into the run folder; re-run the training"
        ) from None
    axes = PatternAxes(tuple(meta["feature_shape"]), meta["channels"], arrays.pop("times", None), meta["roi"])
    fitted_on = {**meta["fitted_on"], "stimulus_ids": arrays.pop("fitted_on_ids").tolist()}
    return TargetTransform(spec, axes, fitted_on=fitted_on, **arrays)


def fit_targets(train: Responses, spec: TargetConfig, source: str = "") -> TargetTransform:
    """Fit ``spec`` on the training responses (pattern, PCA and z-score statistics from these images only).

    ``source`` names the responses in error messages (e.g. ``data.train_responses runs/sub-01/train.npz``).
    Raises :class:`ValidationError` naming the file and the fix when the layout cannot give the target.
    """
    source = source or _source(train)
    check_pattern(train, spec, source)
    check_pca(len(train), pattern_size(train, spec), spec, source)
    selected = _select(train, spec)
    axes = PatternAxes(selected.feature_shape, selected.channels, selected.times, spec.roi)
    transform = TargetTransform(spec, axes, fitted_on={"source": source, "n_images": len(train),
                                                       "stimulus_ids": list(train.stimulus_ids)})
    values = selected.flatten().astype(np.float64)
    if spec.pca_components is not None:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=spec.pca_components, svd_solver="full").fit(values)  # exact, deterministic
        transform.pca_mean, transform.pca_components = pca.mean_, pca.components_
        transform.explained_variance_ratio = pca.explained_variance_ratio_
        values = (values - pca.mean_) @ pca.components_.T
    if spec.zscore:
        std = values.std(axis=0)
        transform.zscore_mean, transform.zscore_std = values.mean(axis=0), np.where(std > 0, std, 1.0)
    return transform


def check_pattern(responses: ResponseAxes, spec: TargetConfig, source: str) -> None:
    """Raise one :class:`ValidationError` naming ``source`` and the fix when ``responses`` (or a file's
    layout) lacks a channel, a time window or a region that ``spec`` asks for."""
    if (spec.channels is not None or spec.window is not None) and responses.channels is None:
        raise ValidationError(
            f"{source} holds fMRI-like responses (regions {sorted(responses.rois or {})}), but data.target names "
            f"EEG channels/window; use data.target.roi for fMRI, or point the data at EEG responses"
        )
    if spec.roi is not None and not responses.rois:
        raise ValidationError(
            f"{source} has no regions of interest, but data.target.roi is {spec.roi!r}; remove data.target.roi, or "
            f"convert the fMRI file with its regions (brainalign convert-kamitani)"
        )
    if spec.roi is not None and responses.rois is not None and spec.roi not in responses.rois:
        raise ValidationError(
            f"{source} has no region {spec.roi!r} (it has {sorted(responses.rois)}); set data.target.roi to one of "
            f"them, or convert the file again with that region"
        )
    if spec.channels is not None:
        _channel_names(responses.channels, spec.channels, source)
    if spec.window is not None:
        _window_mask(np.asarray(responses.times, dtype=float), spec.window, source)


def check_pca(n_images: int, n_features: int, spec: TargetConfig, source: str) -> None:
    """Raise when a PCA of ``spec.pca_components`` cannot be fitted on ``n_images`` x ``n_features``."""
    if spec.pca_components is None:
        return
    limit = min(n_images, n_features)
    if spec.pca_components > limit:
        raise ValidationError(
            f"data.target.pca_components={spec.pca_components}, but {source} gives {n_images} training images x "
            f"{n_features} features{f' (region {spec.roi})' if spec.roi else ''}, so a PCA has at most {limit} "
            f"components; lower pca_components to <= {limit} or train on more images"
        )


def pattern_size(responses: ResponseAxes, spec: TargetConfig) -> int:
    """Number of features of one image's pattern (channels x window samples, or the region's voxels)."""
    shape = list(responses.feature_shape)
    if spec.roi is not None:
        return len(responses.rois[spec.roi])  # type: ignore[index]
    if spec.channels is not None:
        shape[0] = len(_channel_names(responses.channels, spec.channels, ""))
    if spec.window is not None:
        shape[-1] = int(_window_mask(np.asarray(responses.times, dtype=float), spec.window, "").sum())
    return int(np.prod(shape))


def _select(responses: Responses, spec: TargetConfig) -> Responses:
    selected = responses
    if spec.roi is not None:
        selected = selected.select_roi(spec.roi)
    if spec.channels is not None:
        selected = selected.select_channels(_channel_names(selected.channels, spec.channels, ""))
    if spec.window is not None:
        selected = selected.select_times(*spec.window)  # start <= t < stop, as _window_mask
    return selected


def _channel_names(available: Sequence[str] | None, wanted: list[str] | str, source: str) -> list[str]:
    """The channel names ``wanted`` picks from ``available``: a list (that order) or a regex (file order)."""
    names = list(available or [])
    if isinstance(wanted, list):
        missing = [name for name in wanted if name not in names]
        if missing:
            raise ValidationError(
                f"{source} lacks channel(s) {missing} named in data.target.channels (it has {names}); fix "
                f"data.target.channels, or use responses recorded with these channels"
            )
        return list(wanted)
    try:
        pattern = re.compile(wanted)
    except re.error as error:
        raise ValidationError(f"data.target.channels {wanted!r} is not a valid regular expression ({error})") from None
    chosen = [name for name in names if pattern.match(name)]
    if not chosen:
        raise ValidationError(
            f"no channel of {source} matches data.target.channels {wanted!r} (it has {names}); fix the expression"
        )
    return chosen


def _window_mask(times: np.ndarray, window: tuple[float, float], source: str) -> np.ndarray:
    """Samples with ``start <= t < stop``; the window must lie inside the epoch ``[t_0, t_last + 1 sample)``."""
    start, stop = window
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    if start < times[0] - 1e-9 or stop > times[-1] + step + 1e-9:
        raise ValidationError(
            f"data.target.window [{start:g}, {stop:g}) s lies outside the epoch of {source} (samples from "
            f"{times[0]:g} to {times[-1]:g} s, every {step:g} s); choose a window inside the epoch, in seconds"
        )
    mask = time_window(times, start, stop)
    if not mask.any():
        raise ValidationError(
            f"data.target.window [{start:g}, {stop:g}) s holds no sample of {source} (every {step:g} s); widen it"
        )
    return mask


def _source(responses: Any) -> str:
    return str(getattr(responses, "path", "") or responses.info.get("source") or "the responses")
