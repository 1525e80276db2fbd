"""The training input pipeline vs the CORnet-S step, and the projected cost of the papers' studies on one GPU.

Measured on this machine:

- **cold cache build**: ``--images`` procedurally generated 500 x 500 JPEGs (smooth colour fields, shapes,
  noise; quality 90, about the size of THINGS photos) decoded and resized to 224 px into the uint8 image
  cache (:class:`brainalign.data.image_cache.ImageCache`) by every core. Reported: images/s, the CPU time
  per wall second (cores kept busy), and the peak growth of the process's anonymous memory (``RssAnon``,
  sampled every 10 ms: the memory-mapped cache is file-backed and not counted). The JPEGs were just written,
  so they are read from the page cache (no disk reads).
- **warm epoch**: every image once in a random order through the training loader
  (:meth:`brainalign.align.data.ImageBank.batches`: background gather from the memory-mapped cache,
  float conversion and ImageNet normalisation), float32 ``(b, 3, 224, 224)`` batches delivered; images/s
  at batch 16 (the papers') and 256.
- **step**: one ReAlnet training step of CORnet-S (``benchmarks/bench_train_step.py``'s ``full`` variant:
  CE + MSE + soft-rank contrastive, Adam) at 224 px, batch 16, float32 on the CPU; images/s.
- **FLOPs per step** of that step (``torch.utils.flop_counter``; forward + backward, a multiply-add = 2).

Projected (not measured): the GPU time of the papers' studies from those FLOPs at an assumed achieved rate
(``--gpu-tflops``, default 80 TFLOP/s: about a quarter of an A100's 312 TFLOP/s dense bf16 peak, a usual
utilisation for a mid-sized convnet at small batch). Prints everything with the load average and writes
``benchmarks/results/bench_input_pipeline.txt``.

    .venv/bin/python benchmarks/bench_input_pipeline.py [--images 3000]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from brainalign.align.data import ImageBank
from brainalign.data import Stimuli
from brainalign.cores import available_cores
from brainalign.data.image_cache import CACHE_ENV, ImageCache
from brainalign.runs import atomic_write_text

sys.path.insert(0, str(Path(__file__).parent))
from bench_train_step import make_step, time_step  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "bench_input_pipeline.txt"
# The papers' studies (image-steps = runs x epochs x training images).
STUDIES = {
    "ReAlnet (THINGS-EEG2): 10 subjects x (4 betas + 3 controls), 30 epochs, 16,540 images": 70 * 30 * 16_540,
    "ReAlnet-fMRI (Shen 2019): 3 subjects x (5 betas + 3 controls), 5 epochs, 1,200 images": 24 * 5 * 1_200,
}


def write_jpegs(folder: Path, count: int, side: int, seed: int) -> None:
    """``count`` photo-like ``side`` x ``side`` JPEGs: a blurred colour field, random shapes, sensor noise."""
    folder.mkdir(parents=True, exist_ok=True)

    noise = np.random.default_rng(seed).normal(0, 6, (4, side, side, 3)).astype(np.int16)  # sensor noise tiles

    def one(index: int) -> None:
        rng = np.random.default_rng([seed, index])
        field = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((side, side), Image.BICUBIC)
        draw = ImageDraw.Draw(field)
        for _ in range(8):
            x0, y0 = rng.integers(0, side, 2)
            x1, y1 = x0 + rng.integers(20, side // 2), y0 + rng.integers(20, side // 2)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
        pixels = np.asarray(field.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.int16) + noise[index % 4]
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"img{index:05d}.jpg", quality=90)

    with ThreadPoolExecutor(available_cores()) as pool:
        list(pool.map(one, range(count)))


class AnonymousMemory:
    """Peak growth of this process's ``RssAnon`` (bytes) while in the block, sampled every 10 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def now() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
        return 0

    def __enter__(self) -> "AnonymousMemory":
        self.baseline = self.now()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.now() - self.baseline)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cold_build(stimuli: Stimuli, size: int, folder: Path) -> dict[str, float]:
    started, cpu = time.perf_counter(), cpu_seconds()
    with AnonymousMemory() as memory:
        cache = ImageCache.open(stimuli, size, folder=folder)
    wall = time.perf_counter() - started
    return {"seconds": wall, "images_per_second": len(stimuli) / wall, "cores_busy": (cpu_seconds() - cpu) / wall,
            "peak_anon_mb": memory.peak / 2**20, "cache_mb": cache.path.stat().st_size / 2**20}


def warm_epoch(stimuli: Stimuli, size: int, batch: int, seed: int) -> dict[str, float]:
    """One epoch of float32 batches from the (already built) cache: images/s and CPU ms per image."""
    bank = ImageBank(stimuli, size, preload_limit=0)
    order = torch.randperm(len(stimuli), generator=torch.Generator().manual_seed(seed))
    batches = list(order.split(batch))
    started, cpu = time.perf_counter(), cpu_seconds()
    delivered = 0
    for pixels in bank.batches(batches, torch.device("cpu")):
        assert pixels.dtype == torch.float32 and pixels.shape[1:] == (3, size, size)
        delivered += len(pixels)
    wall = time.perf_counter() - started
    return {"images_per_second": delivered / wall, "cpu_ms_per_image": (cpu_seconds() - cpu) / delivered * 1e3}


def step_flops(batch: int, size: int) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    step = make_step("full", False, batch, size, 340)
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--source-size", type=int, default=500)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--step-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed training steps (median)")
    parser.add_argument("--gpu-tflops", type=float, default=80.0, help="assumed achieved GPU bf16 TFLOP/s")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-step", action="store_true", help="measure the loader only (nothing written)")
    args = parser.parse_args()
    lines = [f"bench_input_pipeline on {available_cores()} cores, torch threads {torch.get_num_threads()}, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "load average at start (1/5/15 min): " + " ".join(f"{x:.1f}" for x in os.getloadavg())]

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    for line in lines:
        print(line)
    with tempfile.TemporaryDirectory(prefix="bench_input_") as temp:
        root = Path(temp)
        started = time.perf_counter()
        write_jpegs(root / "images", args.images, args.source_size, seed=0)
        jpeg_mb = sum(p.stat().st_size for p in (root / "images").iterdir()) / 2**20
        say(f"wrote {args.images} {args.source_size}x{args.source_size} JPEGs ({jpeg_mb / args.images * 1024:.0f} kB "
            f"each) in {time.perf_counter() - started:.1f} s")
        os.environ[CACHE_ENV] = str(root / "cache")
        stimuli = Stimuli.from_folder(root / "images")
        cold = cold_build(stimuli, args.size, root / "cache")
        say(f"MEASURED cold cache build: {cold['images_per_second']:.0f} images/s ({cold['seconds']:.1f} s), "
            f"{cold['cores_busy']:.2f} cores busy (CPU s per wall s), peak anonymous memory "
            f"+{cold['peak_anon_mb']:.0f} MB beyond the {cold['cache_mb']:.0f} MB memory-mapped cache")
        warm = {batch: warm_epoch(stimuli, args.size, batch, seed=batch) for batch in (16, 256)}
        for batch, rate in warm.items():
            say(f"MEASURED warm epoch, batch {batch}: {rate['images_per_second']:.0f} images/s of float32 {args.size} px "
                f"batches ({rate['cpu_ms_per_image']:.2f} CPU ms per image)")
        if args.skip_step:
            return
    seconds = time_step(make_step("full", False, args.step_batch, args.size, 340), args.repeats)
    step_rate = args.step_batch / seconds
    say(f"MEASURED CORnet-S ReAlnet train step (float32, CPU, batch {args.step_batch}, {args.size} px): "
        f"{seconds:.2f} s/step = {step_rate:.2f} images/s; loader / step = {warm[16]['images_per_second'] / step_rate:.0f}x")
    flops = step_flops(args.step_batch, args.size)
    per_image = flops / args.step_batch
    say(f"MEASURED FLOPs per step (batch {args.step_batch}): {flops / 1e9:.1f} GFLOP = {per_image / 1e9:.2f} "
        f"GFLOP per image (forward + backward)")
    gpu_rate = args.gpu_tflops * 1e12 / per_image
    say(f"ASSUMED GPU: {args.gpu_tflops:.0f} TFLOP/s achieved in bf16 (A100 dense bf16 peak 312 TFLOP/s)")
    say(f"PROJECTED GPU step: {gpu_rate:.0f} images/s; warm loader (batch 16) feeds "
        f"{warm[16]['images_per_second'] / gpu_rate:.2f}x of it on these cores")
    for study, image_steps in STUDIES.items():
        say(f"PROJECTED {study}: {image_steps / 1e6:.2f} M image-steps = {image_steps * per_image / 1e15:.0f} "
            f"PFLOP = {image_steps / gpu_rate / 3600:.2f} GPU-hours on one GPU; on these 2 CPU cores "
            f"{image_steps / step_rate / 86400:.0f} days")
    say("load average at end (1/5/15 min): " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
