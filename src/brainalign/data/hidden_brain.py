"""The simulated observer's hidden "brain": a fixed, seeded network deliberately unlike CORnet.

Four stages (``early``, ``mid``, ``high``, ``object``) map to increasing cortical depth
(V1, V2/V3, V4, IT/LOC):

Images are first resampled to ``RETINA_SIZE`` pixels (any input size works).

- ``early``: a fixed Gabor energy bank on luminance plus rectified colour-opponent channels
  (red-green, blue-yellow), divisive normalisation, 2x pooling.
- ``mid`` / ``high``: random convolutions with squaring and absolute-value nonlinearities
  (energy units, not ReLUs) and divisive normalisation.
- ``object``: a random projection of the ``high`` map pooled globally, mixed with a nonlinear code
  of the object's *generative factors* (graded shape descriptors, hue, texture, size). The factors
  are visible in the image and shared across categories, so a model can learn this code from
  images, yet a classifier trained on the training categories only captures it partly.

Every stage is read out as a feature vector (spatially pooled), then z-scored with statistics fixed
by the caller (the training stimuli), so the same mapping applies to any image set.

Individual brains (:func:`individual_features`): each subject sees every shared stage code through a
subject-specific mixing ``A = V diag(exp(strength * z)) V^T`` (``V`` the code's principal axes on the
training images, ``z ~ N(0, 1)`` per axis and subject): every subject weights the shared dimensions
differently, the weighted-Euclidean (INDSCAL) model of individual differences in representational
geometry (Carroll & Chang 1970). ``strength`` is the SD of the log-weights; 0 gives identical brains.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from brainalign.data.procedural import SHAPE_DESCRIPTORS, SHAPES, TEXTURES

FeatureStats = dict[str, tuple[np.ndarray, np.ndarray]]  # part name -> (mean, std) per feature

STAGES = ("early", "mid", "high", "object")
FACTOR_WEIGHTS = {"shape": 1.6, "texture": 1.0, "colour": 0.6, "size": 1.5}
OBJECT_FACTOR_SHARE = 0.7  # share of variance of the 'object' stage coming from the factor code
HIGH_FACTOR_SHARE = 0.3  # the 'high' stage already carries some of it
RETINA_SIZE = 48  # every image is resampled to this many pixels before the first stage


@dataclass
class HiddenBrain:
    """Fixed weights of the hidden network (all drawn from one seed)."""

    gabor: torch.Tensor
    colour: torch.Tensor
    mid: torch.Tensor
    high: torch.Tensor
    object_projection: np.ndarray
    factor_hidden: np.ndarray
    factor_out: np.ndarray
    high_factor_projection: np.ndarray

    @classmethod
    def create(cls, seed: int) -> "HiddenBrain":
        rng = np.random.default_rng([seed, 7])
        n_factor_inputs = SHAPE_DESCRIPTORS.shape[1] + len(SHAPES) + len(TEXTURES) + 3 + 1
        return cls(
            gabor=_gabor_bank(size=7),
            colour=_colour_filters(size=7),
            mid=torch.from_numpy((rng.normal(0, 1, (32, 12, 5, 5)) / np.sqrt(12 * 25)).astype(np.float32)),
            high=torch.from_numpy((rng.normal(0, 1, (48, 32, 3, 3)) / np.sqrt(32 * 9)).astype(np.float32)),
            object_projection=rng.normal(0, 1, (96, 64)) / np.sqrt(96),
            factor_hidden=rng.normal(0, 1, (n_factor_inputs, 96)) * 1.2,
            factor_out=rng.normal(0, 1, (96, 64)) / np.sqrt(96),
            high_factor_projection=rng.normal(0, 1, (64, 192)) / np.sqrt(64),
        )

    def features(
        self, images: np.ndarray, factors: dict[str, np.ndarray], stats: "FeatureStats | None" = None
    ) -> tuple[dict[str, np.ndarray], "FeatureStats"]:
        """Stage features ``{stage: (n, d)}`` (float64, z-scored) for ``images`` uint8 ``(n, h, w, 3)``.

        ``stats``: the z-scoring statistics to use (pass those returned for the training images);
        by default they are computed from ``images`` themselves. Returns the features and the stats.
        """
        raw = self._raw_features(images)
        code = self.factor_code(factors)
        parts = {
            "early": raw["early"], "mid": raw["mid"], "high": raw["high"],
            "high_factors": code @ self.high_factor_projection,
            "object": raw["object"] @ self.object_projection, "object_factors": code,
        }
        if stats is None:
            stats = {name: (part.mean(0), np.where(part.std(0) > 0, part.std(0), 1.0)) for name, part in parts.items()}
        z = {name: (part - stats[name][0]) / stats[name][1] for name, part in parts.items()}
        stages = {
            "early": z["early"],
            "mid": z["mid"],
            "high": np.sqrt(1 - HIGH_FACTOR_SHARE) * z["high"] + np.sqrt(HIGH_FACTOR_SHARE) * z["high_factors"],
            "object": np.sqrt(1 - OBJECT_FACTOR_SHARE) * z["object"] + np.sqrt(OBJECT_FACTOR_SHARE) * z["object_factors"],
        }
        return stages, stats

    @torch.no_grad()
    def _raw_features(self, images: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
        parts = []
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(images[start:start + batch_size]).permute(0, 3, 1, 2).float() / 255.0
            batch = F.interpolate(batch, size=(RETINA_SIZE, RETINA_SIZE), mode="area")
            parts.append(self._image_stages(batch))
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _image_stages(self, batch: torch.Tensor) -> dict[str, np.ndarray]:
        red, green, blue = batch[:, 0:1], batch[:, 1:2], batch[:, 2:3]
        luminance = (red + green + blue) / 3
        opponent = torch.cat([red - green, blue - (red + green) / 2], dim=1)
        quadrature = F.conv2d(luminance, self.gabor, padding=3)  # (n, 16, h, w): 8 filters x even/odd
        energy = torch.sqrt(quadrature[:, 0::2] ** 2 + quadrature[:, 1::2] ** 2 + 1e-6)
        colour = F.conv2d(opponent, self.colour, padding=3, groups=2)
        early = torch.cat([energy, F.relu(colour), F.relu(-colour)], dim=1)  # (n, 12, h, w)
        early = F.avg_pool2d(_divisive_normalise(early), 2)
        mid = F.conv2d(early, self.mid, padding=2).square()
        mid = F.avg_pool2d(_divisive_normalise(mid), 2)
        high = F.conv2d(mid, self.high, padding=2, dilation=2).abs()
        high = F.avg_pool2d(_divisive_normalise(high), 2)
        return {
            "early": F.adaptive_avg_pool2d(early, 4).flatten(1).double().numpy(),
            "mid": F.adaptive_avg_pool2d(mid, 2).flatten(1).double().numpy(),
            "high": F.adaptive_avg_pool2d(high, 2).flatten(1).double().numpy(),
            "object": torch.cat([high.mean((2, 3)), high.amax((2, 3))], 1).double().numpy(),
        }

    def factor_code(self, factors: dict[str, np.ndarray]) -> np.ndarray:
        """Nonlinear 64-d code of the generative factors (position and rotation excluded): (n, 64)."""
        hue = np.array([colorsys.rgb_to_hsv(*rgb)[0] for rgb in factors["rgb"]]) * 2 * np.pi
        saturation = np.array([colorsys.rgb_to_hsv(*rgb)[1] for rgb in factors["rgb"]])
        inputs = np.concatenate(
            [
                FACTOR_WEIGHTS["shape"] * SHAPE_DESCRIPTORS[factors["shape"]],
                FACTOR_WEIGHTS["shape"] * 0.5 * np.eye(len(SHAPES))[factors["shape"]],
                FACTOR_WEIGHTS["texture"] * np.eye(len(TEXTURES))[factors["texture"]],
                FACTOR_WEIGHTS["colour"] * np.stack([saturation * np.cos(hue), saturation * np.sin(hue), saturation], 1),
                FACTOR_WEIGHTS["size"] * (factors["radius"][:, None] - 0.55) / 0.08,
            ],
            axis=1,
        )
        return np.tanh(inputs @ self.factor_hidden) @ self.factor_out


def principal_axes(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{stage: (d, d)}`` orthonormal principal axes (columns, by decreasing variance) of ``features`` ``{stage: (n, d)}``."""
    axes = {}
    for stage, values in features.items():
        centred = values - values.mean(0)
        _, vectors = np.linalg.eigh(centred.T @ centred / len(values))  # ascending; d x d is small
        axes[stage] = vectors[:, ::-1]
    return axes


def individual_features(
    train: dict[str, np.ndarray], test: dict[str, np.ndarray], axes: dict[str, np.ndarray], strength: float,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One subject's stage features ``{stage: (n, d)}`` of the training and test images.

    The shared features are seen through the subject's mixing ``A = V diag(exp(strength * z)) V^T``
    (``V``: the shared code's principal ``axes``; ``z ~ N(0, 1)`` per axis, drawn from ``rng``), then
    scaled to mean variance 1 on the training images. ``strength`` 0 returns the shared features unchanged;
    the draws from ``rng`` do not depend on ``strength``.
    """
    mixed_train, mixed_test = {}, {}
    for stage, values in train.items():
        weights = np.exp(strength * rng.standard_normal(values.shape[1]))
        mixing = (axes[stage] * weights) @ axes[stage].T
        mixed = values @ mixing
        scale = np.sqrt(mixed.var(0).mean())
        mixed_train[stage], mixed_test[stage] = mixed / scale, test[stage] @ mixing / scale
    return (train, test) if strength == 0 else (mixed_train, mixed_test)


def _divisive_normalise(x: torch.Tensor, sigma: float = 0.1) -> torch.Tensor:
    """Divide each unit by the local (3x3, all channels) mean activity: contrast gain control."""
    pool = F.avg_pool2d(x.abs().mean(1, keepdim=True), 3, stride=1, padding=1)
    return x / (sigma + pool)


def _gabor_bank(size: int) -> torch.Tensor:
    """(16, 1, size, size): 4 orientations x 2 frequencies x (even, odd) Gabor filters, zero mean."""
    half = size // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    filters = []
    for frequency in (0.15, 0.3):
        for theta in np.arange(4) * np.pi / 4:
            along = x * np.cos(theta) + y * np.sin(theta)
            envelope = np.exp(-(x**2 + y**2) / (2 * (0.45 / frequency) ** 2))
            for phase in (0.0, np.pi / 2):
                kernel = envelope * np.cos(2 * np.pi * frequency * along + phase)
                kernel -= kernel.mean()
                filters.append(kernel / np.abs(kernel).sum())
    return torch.tensor(np.array(filters)[:, None], dtype=torch.float32)


def _colour_filters(size: int) -> torch.Tensor:
    """(2, 1, size, size): a centre Gaussian per opponent channel (blob detectors for colour)."""
    half = size // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    blob = np.exp(-(x**2 + y**2) / (2 * 1.5**2))
    blob /= blob.sum()
    return torch.tensor(np.stack([blob, blob])[:, None], dtype=torch.float32)
