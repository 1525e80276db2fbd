"""Procedural object images for the simulated observer: a textured, coloured shape on a noisy background.

A *category* is a combination ``(colour, texture, shape)``, named ``"red_striped_disk"``. Instances
vary in position, size, rotation, texture frequency/orientation, colour jitter and background, so
the category is recognisable but no two images are alike. The generative factors of every image are
returned too (the hidden brain reads some of them out).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("disk", "ellipse", "ring", "square", "triangle", "hexagon", "cross", "star")
TEXTURES = ("plain", "striped", "checkered", "dotted")
COLOURS = {
    "red": (0.85, 0.15, 0.12),
    "orange": (0.95, 0.55, 0.10),
    "yellow": (0.90, 0.85, 0.15),
    "green": (0.15, 0.70, 0.20),
    "cyan": (0.15, 0.75, 0.80),
    "blue": (0.15, 0.25, 0.85),
    "purple": (0.55, 0.20, 0.75),
    "white": (0.92, 0.92, 0.92),
}
# Graded shape descriptors (roundness, corners/8, elongation, hole, concavity): shapes that look
# alike get similar codes, so the brain's shape space has structure beyond category identity.
SHAPE_DESCRIPTORS = np.array(
    [
        [1.0, 0.0, 0.0, 0.0, 0.0],  # disk
        [0.8, 0.0, 1.0, 0.0, 0.0],  # ellipse
        [1.0, 0.0, 0.0, 1.0, 0.0],  # ring
        [0.2, 0.5, 0.0, 0.0, 0.0],  # square
        [0.0, 0.375, 0.3, 0.0, 0.0],  # triangle
        [0.6, 0.75, 0.0, 0.0, 0.0],  # hexagon
        [0.0, 1.0, 0.0, 0.0, 1.0],  # cross
        [0.3, 1.0, 0.0, 0.0, 0.8],  # star
    ]
)


@dataclass(frozen=True)
class Category:
    """One object category: indices into ``COLOURS``, ``TEXTURES``, ``SHAPES``."""

    colour: int
    texture: int
    shape: int

    @property
    def name(self) -> str:
        return f"{list(COLOURS)[self.colour]}_{TEXTURES[self.texture]}_{SHAPES[self.shape]}"


def all_categories() -> list[Category]:
    """Every colour x texture x shape combination (8 x 4 x 8 = 256), in a fixed order."""
    return [
        Category(c, t, s) for c in range(len(COLOURS)) for t in range(len(TEXTURES)) for s in range(len(SHAPES))
    ]


def render(categories: list[Category], size: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw one image per entry of ``categories``.

    Returns ``images`` uint8 ``(n, size, size, 3)`` and ``factors``: ``shape``/``texture``/``colour``
    (int indices), ``rgb`` (n, 3) the drawn colour, ``radius`` (object size, fraction of the half
    width), ``position`` (n, 2) in [-1, 1] units, ``rotation`` (rad).
    """
    n = len(categories)
    shape = np.array([c.shape for c in categories], dtype=int)
    texture = np.array([c.texture for c in categories], dtype=int)
    colour = np.array([c.colour for c in categories], dtype=int)
    palette = np.array(list(COLOURS.values()))
    rgb = np.clip(palette[colour] + rng.normal(0, 0.05, (n, 3)), 0, 1)
    radius = rng.uniform(0.42, 0.68, n)
    position = rng.uniform(-0.22, 0.22, (n, 2))
    rotation = rng.uniform(0, 2 * np.pi, n)
    frequency = rng.uniform(3.0, 5.0, n)
    orientation = rng.uniform(0, np.pi, n)

    axis = ((np.arange(size) + 0.5) / size * 2 - 1).astype(np.float32)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    dx = x[None] - position[:, 0, None, None].astype(np.float32)
    dy = y[None] - position[:, 1, None, None].astype(np.float32)
    cos, sin = np.cos(rotation).astype(np.float32)[:, None, None], np.sin(rotation).astype(np.float32)[:, None, None]
    scale = radius.astype(np.float32)[:, None, None]
    u, v = (cos * dx + sin * dy) / scale, (-sin * dx + cos * dy) / scale

    edge = 2.0 / size / scale
    mask = _sigmoid((1.0 - _shape_distance(u, v, shape)) / edge)
    pattern = _texture(u, v, texture, frequency, orientation)

    # channel-first while composing (broadcasting over a trailing axis of 3 is slow)
    background = rng.uniform(0.3, 0.6, (n, 1, 1, 1)).astype(np.float32) + _smooth_noise(n, size, rng) * 0.08
    foreground = rgb.astype(np.float32)[:, :, None, None] * (0.45 + 0.55 * pattern[:, None])
    images = background + (foreground - background) * mask[:, None]
    images += rng.standard_normal((n, 1, size, size), dtype=np.float32) * 0.02  # luminance noise
    factors = {
        "shape": shape, "texture": texture, "colour": colour, "rgb": rgb,
        "radius": radius, "position": position, "rotation": rotation,
    }
    pixels = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
    return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1)), factors


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _shape_distance(u: np.ndarray, v: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """A radial 'distance' per pixel that is < 1 inside the unit-size shape (n, h, w)."""
    distance = np.empty_like(u)
    for index, name in enumerate(SHAPES):
        chosen = shape == index
        if chosen.any():
            distance[chosen] = _SHAPE_FUNCTIONS[name](u[chosen], v[chosen])
    return distance


def _polygon(u: np.ndarray, v: np.ndarray, sides: int) -> np.ndarray:
    sector = 2 * np.pi / sides
    return np.hypot(u, v) * np.cos(np.mod(np.arctan2(v, u), sector) - sector / 2) / np.cos(np.pi / sides)


_SHAPE_FUNCTIONS = {
    "disk": lambda u, v: np.hypot(u, v),
    "ellipse": lambda u, v: np.hypot(u, 2.0 * v),
    # ring: inside when 0.55 < r < 1 (distance 1 at both edges)
    "ring": lambda u, v: 1.0 + np.abs(np.hypot(u, v) - 0.775) - 0.225,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) * 1.15,
    "triangle": lambda u, v: _polygon(u, v, 3) * 1.25,
    "hexagon": lambda u, v: _polygon(u, v, 6),
    "cross": lambda u, v: np.minimum(np.maximum(3 * np.abs(u), np.abs(v)), np.maximum(np.abs(u), 3 * np.abs(v))),
    "star": lambda u, v: np.hypot(u, v) / (0.55 + 0.45 * np.abs(np.cos(2.5 * np.arctan2(v, u)))),
}


def _texture(u: np.ndarray, v: np.ndarray, texture: np.ndarray, frequency: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """Pattern in [0, 1] drawn in object coordinates (it moves and rotates with the object)."""
    out = np.empty_like(u)
    for index, name in enumerate(TEXTURES):
        chosen = texture == index
        if chosen.any():
            f = frequency[chosen][:, None, None]
            o = orientation[chosen][:, None, None]
            out[chosen] = _TEXTURE_FUNCTIONS[name](u[chosen], v[chosen], f, o)
    return out


_TEXTURE_FUNCTIONS = {
    "plain": lambda u, v, f, o: np.ones_like(u),
    "striped": lambda u, v, f, o: 0.5 + 0.5 * np.tanh(4 * np.sin(np.pi * f * (u * np.cos(o) + v * np.sin(o)))),
    "checkered": lambda u, v, f, o: 0.5 + 0.5 * np.tanh(4 * np.sin(np.pi * f * u) * np.sin(np.pi * f * v)),
    "dotted": lambda u, v, f, o: _sigmoid(8 * (np.cos(np.pi * f * u) * np.cos(np.pi * f * v) - 0.4)),
}


def _smooth_noise(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency luminance noise (n, 1, size, size), roughly unit scale (a bilinear-upsampled 4x4 grid)."""
    coarse = rng.standard_normal((n, 4, 4), dtype=np.float32)
    positions = np.linspace(0, 3, size)
    interpolation = np.maximum(0.0, 1.0 - np.abs(positions[:, None] - np.arange(4)[None, :])).astype(np.float32)
    return (interpolation @ coarse @ interpolation.T)[:, None]
