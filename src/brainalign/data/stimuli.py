"""Stimuli: an ordered set of images (files or an in-memory array) with ids and optional concepts.

The order of ``ids`` is the single source of truth for every matrix built on the stimuli.
Preprocessing follows the papers: resize to ``size x size`` (224 by default; bilinear with
anti-aliasing, no crop) and normalise with the ImageNet mean/std.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from brainalign.data.order import read_order
from brainalign.errors import DataFormatError, ValidationError
from brainalign.inputs import about, read_csv_rows

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class Stimuli:
    """Ordered stimuli. Build with :meth:`from_folder`, :meth:`from_csv` or :meth:`from_array`.

    ``ids``: list[str] (unique, in order); ``concepts``: list[str] | None; image files in ``paths``
    or pixels in ``images`` (float32 ``(n, 3, h, w)`` in [0, 1]).
    """

    def __init__(
        self,
        ids: Sequence[str],
        paths: Sequence[str | os.PathLike[str]] | None = None,
        images: torch.Tensor | None = None,
        concepts: Sequence[str] | None = None,
    ) -> None:
        self.ids = [str(i) for i in ids]
        self.paths = None if paths is None else [Path(p) for p in paths]
        self.images = images
        self.concepts = None if concepts is None else [str(c) for c in concepts]
        if (self.paths is None) == (images is None):
            raise ValidationError("Stimuli needs exactly one of paths= (image files) or images= (an array)")
        n_images = len(self.paths) if self.paths is not None else len(images)  # type: ignore[arg-type]
        for field, values in (("ids", self.ids), ("concepts", self.concepts)):
            if values is not None and len(values) != n_images:
                raise ValidationError(f"Stimuli got {len(values)} {field} for {n_images} images; give one per image")
        duplicates = sorted(i for i, count in Counter(self.ids).items() if count > 1)
        if duplicates:
            raise ValidationError(f"stimulus ids must be unique; repeated: {duplicates[:10]}")

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str]) -> "Stimuli":
        """Every image file under ``folder``, sub-folders included, in natural order of the relative paths.

        Ids are the paths relative to ``folder`` without suffix: ``aardvark_01b`` for a file directly in
        ``folder``, ``00001_aardvark/aardvark_01b`` (``concept/stem``) for a file in a sub-folder, as in the
        THINGS-EEG2 ``image_set/training_images/<concept>/<image>.jpg`` layout. Natural order compares
        digit runs as numbers (``2.png`` before ``10.png``). ``concepts`` are the names of the files'
        folders when every image lies in a sub-folder, else None. Hidden files (``.name``) are skipped.
        """
        root = Path(folder)
        if not root.is_dir():
            raise DataFormatError(f"stimulus folder {root} does not exist or is not a folder")
        relative = [path.relative_to(root) for path in root.rglob("*")
                    if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()]
        relative = sorted((path for path in relative if not any(part.startswith(".") for part in path.parts)),
                          key=natural_key)
        if not relative:
            raise DataFormatError(
                f"stimulus folder {root} holds no image files ({', '.join(IMAGE_SUFFIXES)}), in it or its sub-folders"
            )
        ids = [path.with_suffix("").as_posix() for path in relative]
        nested = all(len(path.parts) > 1 for path in relative)
        return cls(ids, paths=[root / path for path in relative],
                   concepts=[path.parent.name for path in relative] if nested else None)

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> "Stimuli":
        """A CSV with columns ``id``, ``path`` and optional ``concept``; relative paths are relative to the CSV."""
        csv_path = Path(path)
        columns, rows = read_csv_rows(csv_path, "stimulus table", ("id", "path"),
                                      "it needs a header 'id,path' (optionally 'concept') and one image per row")
        paths = [_resolve(csv_path.parent, row["path"]) for row in rows]
        absent = [str(p) for p in paths if not p.is_file()]
        if absent:
            raise DataFormatError(
                f"stimulus table {csv_path} names {len(absent)} image file(s) that do not exist, e.g. "
                f"{absent[:5]}; relative paths are read relative to the CSV's folder"
            )
        concepts = [row["concept"] for row in rows] if "concept" in columns else None
        with about(f"stimulus table {csv_path}"):  # e.g. a repeated id
            return cls([row["id"] for row in rows], paths=paths, concepts=concepts)

    @classmethod
    def from_array(
        cls,
        images: np.ndarray | torch.Tensor,
        ids: Sequence[str] | None = None,
        concepts: Sequence[str] | None = None,
    ) -> "Stimuli":
        """In-memory images: uint8 ``(n, h, w, 3)`` or float ``(n, 3, h, w)`` in [0, 1].

        ``ids`` default to zero-padded positions (``"00"``, ``"01"``, ...).
        """
        pixels = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
        if pixels.dtype == torch.uint8:
            if pixels.ndim != 4 or pixels.shape[-1] != 3:
                raise ValidationError(f"uint8 images must have shape (n, h, w, 3); got {tuple(pixels.shape)}")
            pixels = pixels.permute(0, 3, 1, 2).float() / 255.0
        elif pixels.is_floating_point():
            if pixels.ndim != 4 or pixels.shape[1] != 3:
                raise ValidationError(f"float images must have shape (n, 3, h, w); got {tuple(pixels.shape)}")
            if not torch.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
                raise ValidationError(
                    "float images must be finite pixels in [0, 1]; got values in "
                    f"[{pixels.min().item():.3g}, {pixels.max().item():.3g}] (un-normalise them first)"
                )
            pixels = pixels.float()
        else:
            raise ValidationError(f"images must be uint8 (n, h, w, 3) or float (n, 3, h, w); got dtype {pixels.dtype}")
        if ids is None:
            width = len(str(max(len(pixels) - 1, 0)))
            ids = [f"{i:0{width}d}" for i in range(len(pixels))]
        return cls(ids, images=pixels.contiguous(), concepts=concepts)

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        source = f"files in {self.paths[0].parent}" if self.paths else "in-memory images"
        concepts = f", {len(set(self.concepts))} concepts" if self.concepts else ""
        return f"Stimuli({len(self)} {source}{concepts})"

    def subset(self, ids: Sequence[str]) -> "Stimuli":
        """A new Stimuli holding ``ids`` in the given order."""
        position = {stimulus_id: i for i, stimulus_id in enumerate(self.ids)}
        unknown = [i for i in ids if i not in position]
        if unknown:
            raise ValidationError(f"subset asks for {len(unknown)} unknown stimulus id(s), e.g. {unknown[:5]}")
        index = [position[i] for i in ids]
        return Stimuli(
            [self.ids[i] for i in index],
            paths=None if self.paths is None else [self.paths[i] for i in index],
            images=None if self.images is None else self.images[index],
            concepts=None if self.concepts is None else [self.concepts[i] for i in index],
        )

    def in_order(self, order_file: str | os.PathLike[str]) -> "Stimuli":
        """These stimuli in the order of ``order_file`` (a CSV of ids, :func:`brainalign.data.order.read_order`);
        stimuli it does not list are left out. Raises naming the file when it lists an unknown id."""
        ids = read_order(order_file)
        known = set(self.ids)
        unknown = [stimulus_id for stimulus_id in ids if stimulus_id not in known]
        if unknown:
            raise DataFormatError(
                f"order file {order_file} lists {len(unknown)} id(s) that are not among the stimuli, e.g. "
                f"{unknown[:5]}; ids are image paths relative to the folder without suffix (here: {self.ids[:3]}...)"
            )
        return self.subset(ids)

    def load(
        self,
        indices: Sequence[int] | np.ndarray | None = None,
        size: int = 224,
        normalize: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> torch.Tensor:
        """Images ``indices`` (default: all) as float32 ``(n, 3, size, size)``.

        Normalised with ``mean``/``std`` when ``normalize``; otherwise pixels in [0, 1].
        """
        chosen = range(len(self)) if indices is None else [int(i) for i in indices]
        pixels = torch.stack([self._pixels(i, size) for i in chosen]) if len(chosen) else torch.empty(0, 3, size, size)
        if not normalize:
            return pixels
        mean_t = torch.tensor(mean, dtype=pixels.dtype).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=pixels.dtype).view(1, 3, 1, 1)
        return (pixels - mean_t) / std_t

    def batches(
        self,
        batch_size: int,
        size: int = 224,
        normalize: bool = True,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(indices, images (len(indices), 3, size, size))`` batches in stimulus order."""
        if batch_size < 1:
            raise ValidationError(f"batch_size must be >= 1; got {batch_size}")
        for start in range(0, len(self), batch_size):
            indices = np.arange(start, min(start + batch_size, len(self)))
            yield indices, self.load(indices, size=size, normalize=normalize, mean=mean, std=std)

    def _pixels(self, index: int, size: int) -> torch.Tensor:
        """Image ``index`` as float32 ``(3, size, size)`` in [0, 1]."""
        if self.images is not None:
            pixels = self.images[index]
        else:
            pixels = _read_image(self.paths[index])  # type: ignore[index]
        if pixels.shape[-2:] == (size, size):
            return pixels
        resized = F.interpolate(pixels[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return resized[0].clamp_(0.0, 1.0)


def natural_key(path: str | os.PathLike[str]) -> tuple[tuple[int, int | str], ...]:
    """Sort key comparing digit runs as numbers and the rest case-sensitively (``2.png`` < ``10.png``)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"(\d+)", Path(path).as_posix()) if part)


def _resolve(base: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def missing_image_error(path: Path) -> DataFormatError:
    """The error for an image file listed in the stimuli but gone from disk."""
    return DataFormatError(f"image file {path} does not exist (was it moved after the stimuli were listed?)")


@contextlib.contextmanager
def decoding_image(path: Path) -> Iterator[None]:
    """Turn a failure to read or decode the image file ``path`` inside the block (gone, not an image,
    truncated, a decompression bomb: PIL's refusal of images above 2 x ``Image.MAX_IMAGE_PIXELS``) into one
    :class:`DataFormatError` naming it; the one home of these messages."""
    from PIL import Image, UnidentifiedImageError

    try:
        yield
    except FileNotFoundError:
        raise missing_image_error(path) from None
    except Image.DecompressionBombError as error:
        raise DataFormatError(
            f"image file {path} is too large to decode safely ({error}); resize it to a few megapixels first"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataFormatError(
            f"could not decode image file {path} ({error}); replace it with a valid PNG/JPEG or remove it"
        ) from None


def _read_image(path: Path) -> torch.Tensor:
    """Decode an image file to float32 ``(3, h, w)`` in [0, 1] (RGB)."""
    from PIL import Image

    with decoding_image(path), Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255.0
