"""Image cache: image files decoded and resized once to uint8, memory-mapped, and fed by a background loader.

A training set larger than memory as float32 (THINGS-EEG2: 16,540 images x 3 x 224 x 224 x 4 B = 10 GB) is
decoded once into ``uint8`` pixels (2.5 GB at 224 px) in a ``.npy`` file that every later run maps into
memory. The layout is ``(n_images, size, size, 3)`` (NHWC, RGB), rows in stimulus order: a row is an image
as decoders produce it, and ``permute(0, 3, 1, 2)`` of a batch is a ``channels_last`` tensor for free.

Where: ``.brainalign-cache/`` beside the images (the common folder of the image files) when that folder is
writable, else ``$XDG_CACHE_HOME/brainalign/images`` (``~/.cache/...``); ``BRAINALIGN_IMAGE_CACHE`` names
another folder. The folder holds a ``CACHEDIR.TAG``; brainalign refuses to write into an existing folder
without it (it is somebody else's) and only ever writes and deletes files named ``images-*``.

Key: ``images-<set>-<size>px-<files>.npy``. ``<set>`` hashes the stimulus ids and the resolved image paths
(in order); ``<files>`` hashes every file's byte size and modification time (``st_size``, ``st_mtime_ns``),
so an edited, replaced or touched image gives a new key and the cache is rebuilt (the stale cache of the
same set and size is then deleted). The manifest ``images-...json`` beside it records the layout and the
SHA-256 of every image's bytes (read while building; ``content_sha256`` hashes them in order), so a
cache's provenance can be checked against the files.

Building streams: a thread pool (one thread per available core; Pillow decodes and resizes without the
GIL) decodes and resizes one image at a time per thread straight into the memory-mapped file, so memory
beyond the map stays at a few decoded images per thread. The file is written under a temporary name and
renamed into place, under an exclusive lock (``images-<set>-<size>px.lock``), so two processes never
both build it: the second waits and then opens the first one's cache.

Normalisation happens per batch on the training device (:func:`normalise`): uint8 goes over the bus,
floats are made where they are used. Resizing is Pillow's bilinear (antialiased) on uint8 pixels, so
cached pixels differ from the in-memory float path (:meth:`Stimuli.load`) by at most a rounding step.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import queue
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import torch

from brainalign.cores import available_cores
from brainalign.data.stimuli import IMAGENET_MEAN, IMAGENET_STD, Stimuli, decoding_image, missing_image_error
from brainalign.errors import ValidationError
from brainalign.runs import atomic_path, atomic_write_json

CACHE_VERSION = 1
CACHE_FOLDER = ".brainalign-cache"
CACHE_ENV = "BRAINALIGN_IMAGE_CACHE"
CACHEDIR_TAG = "CACHEDIR.TAG"
_TAG_TEXT = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by brainalign (decoded image caches).\n"
)
LAYOUT = "uint8 (n_images, size, size, 3) NHWC RGB, rows in stimulus order"

Item = TypeVar("Item")
Result = TypeVar("Result")


class ImageCache:
    """The decoded images of one :class:`Stimuli` at one size: ``pixels`` uint8 ``(n, size, size, 3)``
    memory-mapped from ``path``. Open (building when needed) with :meth:`open`."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size
        # copy-on-write map: writable for torch (no copy, no warning), never written back to the file
        self.pixels: np.ndarray = np.load(path, mmap_mode="c")
        self._tensor = torch.from_numpy(self.pixels)

    def __len__(self) -> int:
        return int(self.pixels.shape[0])

    @classmethod
    def open(
        cls,
        stimuli: Stimuli,
        size: int,
        folder: str | os.PathLike[str] | None = None,
        workers: int | None = None,
    ) -> "ImageCache":
        """The cache of ``stimuli`` (image files) at ``size`` px, built first when it is missing or stale.

        ``folder``: where caches live (default: see the module docstring); ``workers``: decoding threads
        (default: every available core).
        """
        if stimuli.paths is None:
            raise ValidationError("the image cache holds image files; in-memory stimuli need no cache")
        root = cache_folder(stimuli) if folder is None else Path(folder)
        set_key, files_key = cache_keys(stimuli, size)
        stem = f"images-{set_key}-{size}px"
        path = root / f"{stem}-{files_key}.npy"
        if path.exists():
            return cls(path, size)
        _claim_folder(root)
        with _locked(root / f"{stem}.lock"):
            if not path.exists():  # another process may have built it while we waited
                for stale in root.glob(f"{stem}-*.*"):
                    stale.unlink()
                manifest = build_cache(stimuli, size, path, workers)
                atomic_write_json(path.with_suffix(".json"), {**manifest, "set_key": set_key, "files_key": files_key})
        return cls(path, size)

    def gather(self, indices: torch.Tensor) -> torch.Tensor:
        """Images ``indices`` (int64 ``(b,)``) as uint8 ``(b, size, size, 3)``, a new tensor."""
        return torch.index_select(self._tensor, 0, indices)


def cache_keys(stimuli: Stimuli, size: int) -> tuple[str, str]:
    """``(set key, files key)`` of image files at ``size`` (see the module docstring); raises naming a
    missing file."""
    paths = stimuli.paths or []
    described = json.dumps([CACHE_VERSION, size, stimuli.ids, [str(path.resolve()) for path in paths]])
    stats = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise missing_image_error(path) from None
        stats.append((stat.st_size, stat.st_mtime_ns))
    return _short_hash(described.encode()), _short_hash(json.dumps(stats).encode())


def cache_folder(stimuli: Stimuli) -> Path:
    """Where the cache of ``stimuli`` lives: ``$BRAINALIGN_IMAGE_CACHE``, else ``.brainalign-cache`` in the
    images' common folder when writable, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    parents = {path.resolve().parent for path in stimuli.paths or []}
    common = Path(os.path.commonpath([str(parent) for parent in parents])) if parents else Path.cwd()
    existing = common / CACHE_FOLDER
    if os.access(existing if existing.is_dir() else common, os.W_OK):
        return existing
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "brainalign" / "images"


def build_cache(stimuli: Stimuli, size: int, path: Path, workers: int | None = None) -> dict[str, object]:
    """Decode and resize every image of ``stimuli`` into ``path`` (uint8 NHWC ``.npy``, written atomically)
    with ``workers`` threads; return the manifest (layout, counts, SHA-256 of the files' bytes, seconds)."""
    paths = stimuli.paths or []
    threads = workers or available_cores()
    digests: list[str] = [""] * len(paths)
    started = time.perf_counter()
    with atomic_path(path) as temp:
        pixels = np.lib.format.open_memmap(temp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))

        def decode(index: int) -> None:
            digests[index], pixels[index] = _decode_resized(paths[index], size)

        for _ in ordered_map(decode, range(len(paths)), threads, in_flight=4 * threads):
            pass
        pixels.flush()
    return {
        "version": CACHE_VERSION,
        "layout": LAYOUT,
        "n_images": len(paths),
        "size": size,
        "resize": "Pillow bilinear (antialiased), RGB",
        "content_sha256": hashlib.sha256("".join(digests).encode()).hexdigest(),
        "file_sha256": digests,
        "threads": threads,
        "build_seconds": round(time.perf_counter() - started, 3),
    }


def ordered_map(
    function: Callable[[Item], Result], items: Iterable[Item], threads: int, in_flight: int
) -> Iterator[Result]:
    """``function`` over ``items`` on ``threads`` threads, results in order, at most ``in_flight`` pending
    (so a long stream is never queued, or held, all at once)."""
    pending: deque[Future[Result]] = deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


NORMALISE_IMAGES = 16  # images per step of normalise: 2.4 MB of 224 px bytes, cache-resident for 3 passes


def normalise(
    pixels: torch.Tensor,
    device: torch.device,
    memory_format: torch.memory_format = torch.contiguous_format,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """uint8 ``(b, h, w, 3)`` -> float32 ``(b, 3, h, w)`` on ``device`` in ``memory_format``,
    ``(pixels / 255 - mean) / std``: the bytes are moved, the floats made on the device, one fused
    multiply-add per channel straight from the bytes into the output (one pass, no float temporary:
    1.4x faster on the CPU than converting first)."""
    moved = pixels.to(device, non_blocking=True)
    batch, height, width, channels = moved.shape
    out = torch.empty((batch, channels, height, width), dtype=torch.float32, device=device, memory_format=memory_format)
    shifts = [torch.tensor(-mean[c] / std[c], device=device) for c in range(channels)]
    scales = [torch.tensor(1.0 / (std[c] * 255.0), device=device) for c in range(channels)]
    for start in range(0, batch, NORMALISE_IMAGES):  # the three channel passes read bytes still in cache
        part = slice(start, start + NORMALISE_IMAGES)
        for channel in range(channels):
            torch.addcmul(shifts[channel], moved[part, ..., channel], scales[channel], out=out[part, channel])
    return out


def prefetch(
    produce: Callable[[Item], Result], items: Sequence[Item], depth: int = 4, workers: int = 1
) -> Iterator[Result]:
    """``produce(item)`` for each item, in order, computed by ``workers`` background threads up to ``depth``
    items ahead, so the consumer (the training step) does not wait for it. Errors are raised in the consumer."""
    results: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for result in ordered_map(produce, items, workers, in_flight=depth):
                if stop.is_set():
                    return
                results.put((True, result))
        except BaseException as error:  # handed to the consumer, raised there
            results.put((False, error))

    thread = threading.Thread(target=work, name="brainalign-prefetch", daemon=True)
    thread.start()
    try:
        for _ in range(len(items)):
            ok, value = results.get()
            if not ok:
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                results.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


def _decode_resized(path: Path, size: int) -> tuple[str, np.ndarray]:
    """``(SHA-256 of the file's bytes, uint8 (size, size, 3) RGB)``; raises naming an undecodable file."""
    from PIL import Image

    with decoding_image(path):
        content = path.read_bytes()
        with Image.open(io.BytesIO(content)) as image:
            rgb = image.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
            return hashlib.sha256(content).hexdigest(), np.asarray(rgb)


def _claim_folder(root: Path) -> None:
    """Create the cache folder with its tag, or check that an existing one is brainalign's.

    A new folder appears with its tag already inside (made under a temporary name, then renamed), so a
    process or thread opening the cache at the same moment never sees it untagged and takes it for foreign."""
    tag = root / CACHEDIR_TAG
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        (staging / CACHEDIR_TAG).write_text(_TAG_TEXT)
        try:
            staging.rename(root)
        except OSError:  # another opener created it first: drop our empty twin and check theirs
            (staging / CACHEDIR_TAG).unlink()
            staging.rmdir()
    if not tag.exists():
        raise ValidationError(
            f"image cache folder {root} exists but was not made by brainalign (no {CACHEDIR_TAG}); brainalign "
            f"does not write into other folders: move it away, or set {CACHE_ENV} to another folder"
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created when missing) for the block."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _short_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]
