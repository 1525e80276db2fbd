"""Benchmark of the measurement engine at full-dataset scale (issue 18), all measured in this one run.

    python benchmarks/bench_scale.py            # full sizes (an 8 GB temporary file; many minutes)
    python benchmarks/bench_scale.py --quick    # small sizes, a minute (smoke test)

Sections:

1. Correlation RDM of 10,000 stimuli x 200,000 float32 features read from a memory-mapped ``.npy``
   (generated in ``--tmp`` with bounded memory, deleted afterwards): wall time; peak anonymous memory
   of the process that computes it (a thread samples ``RssAnon`` of ``/proc/self/status`` every 10 ms;
   file-backed pages of the mapped input are not anonymous, so they are not counted), given as the
   increase over the process's baseline after imports, and beyond the output (``8 * n_pairs`` bytes);
   the ratio to the symmetric-product floor measured in the same run (the best of numpy's ``X @ X.T``
   = a symmetric rank-k update, and half of a full float32 GEMM by numpy and by torch, timed on the
   first ``--floor-features`` features in memory and scaled linearly to all features); float32 error
   against float64 on all pairs of ``--error-rows`` random stimuli (exact float64 correlations).
   rsatoolbox cannot hold this input (it converts the data to a float64 array of n x F); it is timed on
   ``--rsa-stimuli`` stimuli and extrapolated by pair count.
2. Exact-LDA decoding RDMs of 10 subjects at the THINGS-EEG2 test shape (200 stimuli x 80 trials x 17
   channels x 100 times; 4 pseudo-trials x 5 permutations): one multi-subject call (wall and CPU time:
   its workers run one torch thread each, so CPU time / cores estimates the wall time on an idle machine)
   vs per-subject calls with ``--decoding-threads`` torch threads (default 1), with the largest difference
   between them.
3. 100,000 Spearman comparisons (100 model RDMs x 1000 neural RDMs of 200 stimuli): brainalign
   ``compare`` vs rsatoolbox ``compare`` and the sort floor (``np.sort`` of all 1100 vectors).

The machine may be shared: the load average is printed before and after each section; ratios measured
in the same run are more reliable than absolute times.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np


def row(name: str, seconds: float, note: str = "") -> None:
    print(f"  {name:<56s} {seconds:10.2f} s   {note}", flush=True)


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def rss_anon() -> int:
    """Anonymous resident memory of this process in bytes (RssAnon in /proc/self/status)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"RssAnon:\s+(\d+) kB", text).group(1)) * 1024  # type: ignore[union-attr]


class PeakSampler:
    """Samples :func:`rss_anon` every ``interval`` seconds in a thread; ``peak`` is the largest sample."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval, self.peak = interval, rss_anon()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_anon())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())


def write_features(path: Path, n: int, n_features: int, seed: int = 0, rows_per_chunk: int = 64) -> None:
    """ReLU-like float32 features with per-stimulus offsets, written in row chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, n_features))
    for start in range(0, n, rows_per_chunk):
        rows = min(rows_per_chunk, n - start)
        block = rng.standard_normal((rows, n_features), dtype=np.float32)
        np.maximum(block, 0, out=block)
        block += 0.5 + rng.standard_normal((rows, 1), dtype=np.float32)
        mapped[start:start + rows] = block
    mapped.flush()
    del mapped


def _rdm_child(path: str, memory_limit: int, error_rows: int, queue: Any) -> None:
    """Runs in a fresh process: the RDM with its peak anonymous memory, and the float32 error."""
    import torch  # noqa: F401  (imported before the baseline, as any brainalign session would)

    from brainalign.measure import compute_rdms
    from brainalign.measure.rsa.gram import condensed_offset

    features = np.load(path, mmap_mode="r")
    n = features.shape[0]
    baseline = rss_anon()
    with PeakSampler() as sampler:
        start, cpu = time.perf_counter(), time.process_time()
        rdms = compute_rdms(features, memory_limit=memory_limit, progress=False)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    values = rdms.dissimilarities[0]
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(n, size=min(error_rows, n), replace=False))
    exact = np.corrcoef(np.asarray(features[rows], dtype=np.float64))
    first, second = np.triu_indices(len(rows), k=1)
    i, j = rows[first], rows[second]
    ours = values[condensed_offset(i, n) + j - i - 1]
    error = float(np.abs(ours - (1.0 - exact[first, second])).max())
    queue.put(dict(seconds=seconds, cpu=cpu, baseline=baseline, peak=sampler.peak, output=values.nbytes,
                   error=error, pairs=len(first)))


def symmetric_floor(path: Path, n_features_used: int, repeats: int = 1) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of the symmetric product of all features per BLAS route, from in-memory
    products of the first ``n_features_used`` features scaled to all of them."""
    import torch

    mapped = np.load(path, mmap_mode="r")
    n, n_features = mapped.shape
    block = np.ascontiguousarray(mapped[:, :n_features_used])
    other = block.copy()
    scale = n_features / n_features_used
    symmetric = (n + 1) / (2 * n)

    def best(function: Any) -> tuple[float, float]:
        """Best wall seconds and the CPU seconds of that run."""
        times = []
        for _ in range(repeats):
            start, cpu = time.perf_counter(), time.process_time()
            function()
            times.append((time.perf_counter() - start, time.process_time() - cpu))
        return min(times)

    out = np.empty((n, n), dtype=np.float32)
    tensor, tensor_other = torch.from_numpy(block), torch.from_numpy(other)
    routes = {
        "numpy X @ X.T (symmetric rank-k update)": (lambda: np.matmul(block, block.T, out=out), scale),
        "numpy GEMM X @ Y.T / 2": (lambda: np.matmul(block, other.T, out=out), scale * symmetric),
        "torch GEMM X @ Y.T / 2": (lambda: torch.mm(tensor, tensor_other.T), scale * symmetric),
    }
    return {name: tuple(value * factor for value in best(function)) for name, (function, factor) in routes.items()}


def bench_rdm(n: int, n_features: int, tmp: str, memory_limit: int, floor_features: int, error_rows: int,
              rsa_stimuli: int) -> None:
    print(f"\n[1] correlation RDM, {n} stimuli x {n_features} float32 features from a memory-mapped .npy; {load()}")
    folder = Path(tempfile.mkdtemp(prefix="brainalign_bench_scale_", dir=tmp))
    try:
        path = folder / "features.npy"
        start = time.perf_counter()
        write_features(path, n, n_features)
        row(f"write the input ({path.stat().st_size / 1e9:.1f} GB, row chunks)", time.perf_counter() - start)
        floors = symmetric_floor(path, min(floor_features, n_features))
        print("  floor before: " + "; ".join(f"{name} {wall:.1f} s (CPU {cpu:.1f} s)"
                                            for name, (wall, cpu) in floors.items()), flush=True)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=_rdm_child, args=(str(path), memory_limit, error_rows, queue))
        child.start()
        result = queue.get()
        child.join()
        floors_after = symmetric_floor(path, min(floor_features, n_features))
        for name, (seconds, cpu) in floors.items():
            row(f"floor: {name}", min(seconds, floors_after[name][0]), "(before / after: "
                f"{seconds:.1f} / {floors_after[name][0]:.1f} s; CPU {cpu:.1f} / {floors_after[name][1]:.1f} s)")
        floor = min(value[0] for value in [*floors.values(), *floors_after.values()])
        floor_cpu = min(value[1] for value in [*floors.values(), *floors_after.values()])
        full = floor * 2 * n / (n + 1)
        row("brainalign compute_rdms (float32, streamed)", result["seconds"],
            f"= {result['seconds'] / floor:.2f}x the symmetric-product floor ({result['seconds'] / full:.2f}x "
            f"the full product); CPU {result['cpu']:.1f} s = {result['cpu'] / floor_cpu:.2f}x the floor's CPU")
        gib = 2**30
        print(f"  peak anonymous memory: {(result['peak'] - result['baseline']) / gib:.2f} GiB over the baseline "
              f"({result['baseline'] / gib:.2f} GiB after imports), output {result['output'] / gib:.2f} GiB, "
              f"so {(result['peak'] - result['baseline'] - result['output']) / gib:.2f} GiB beyond the output "
              f"(memory_limit {memory_limit / gib:.2f} GiB)")
        print(f"  float32 error vs float64 on {result['pairs']} sampled pairs: max |err| = {result['error']:.1e}")
        _rsatoolbox_rdm(path, rsa_stimuli, n, result["seconds"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"  {load()}")


def _rsatoolbox_rdm(path: Path, subset: int, n: int, ours: float) -> None:
    try:
        from rsatoolbox.data import Dataset
        from rsatoolbox.rdm import calc_rdm
    except ImportError:
        print("  rsatoolbox not installed: skipped")
        return
    import contextlib
    import io

    features = np.asarray(np.load(path, mmap_mode="r")[:subset])
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # rsatoolbox prints progress dots
        calc_rdm(Dataset(features), method="correlation")
    seconds = (time.perf_counter() - start) * (n * (n - 1)) / (subset * (subset - 1))
    need = n * features.shape[1] * 8 / 1e9
    row(f"rsatoolbox calc_rdm (extrapolated from {subset} stimuli)", seconds,
        f"brainalign is {seconds / ours:.1f}x faster; rsatoolbox would hold >= {need:.0f} GB of float64 data")


def bench_decoding(n_subjects: int, n_stimuli: int, n_trials: int, n_channels: int, n_times: int,
                   n_permutations: int, thread_counts: list[int]) -> None:
    from brainalign.measure import decoding_rdms

    print(f"\n[2] exact-LDA decoding RDMs, {n_subjects} subjects x {n_stimuli} stimuli x {n_trials} trials x "
          f"{n_channels} channels x {n_times} times, 4 pseudo-trials x {n_permutations} permutations; {load()}")
    rng = np.random.default_rng(2)
    subjects = []
    for _ in range(n_subjects):
        patterns = rng.standard_normal((n_stimuli, n_channels, 1)) * np.hanning(n_times)[None, None, :]
        noise = rng.standard_normal((n_stimuli, n_trials, n_channels, n_times), dtype=np.float32)
        subjects.append((0.3 * patterns[:, None] + noise).astype(np.float32))
    options = dict(classifier="lda", n_permutations=n_permutations, progress=False)
    start, cpu = time.perf_counter(), time.process_time()
    together = decoding_rdms(subjects, **options)
    batched, cpu = time.perf_counter() - start, time.process_time() - cpu
    row(f"brainalign decoding_rdms, {n_subjects} subjects in one call", batched,
        f"{batched / n_subjects:.2f} s per subject; {os.cpu_count()} cores; CPU {cpu:.1f} s "
        f"(one torch thread per worker, so CPU / cores estimates the time on an idle machine)")
    for threads in thread_counts:
        start, cpu = time.perf_counter(), time.process_time()
        single = [decoding_rdms(trials, num_threads=threads, **options) for trials in subjects]
        separate, cpu = time.perf_counter() - start, time.process_time() - cpu
        difference = max(float(np.abs(together.dissimilarities[k * n_times:(k + 1) * n_times]
                                      - rdms.dissimilarities).max()) for k, rdms in enumerate(single))
        row(f"brainalign decoding_rdms, {n_subjects} per-subject calls, {threads} thread(s)", separate,
            f"one call is {separate / batched:.2f}x faster; CPU {cpu:.1f} s ({cpu / n_subjects:.2f} s per "
            f"subject); max |difference| = {difference:.1e}")
    print(f"  {load()}")


def bench_compare(n_models: int, n_neural: int, n_stimuli: int) -> None:
    from brainalign.measure import compare

    n_pairs = n_stimuli * (n_stimuli - 1) // 2
    print(f"\n[3] {n_models * n_neural} Spearman comparisons: {n_models} model RDMs x {n_neural} neural RDMs of "
          f"{n_stimuli} stimuli ({n_pairs} pairs); {load()}")
    rng = np.random.default_rng(1)
    models, neural = rng.random((n_models, n_pairs)), rng.random((n_neural, n_pairs))
    start = time.perf_counter()
    np.sort(models, axis=1), np.sort(neural, axis=1)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    ours = compare(models, neural, "spearman")
    seconds = time.perf_counter() - start
    row("sort floor (np.sort of all vectors)", floor)
    row("brainalign compare", seconds, f"= {seconds / floor:.2f}x the sort floor")
    try:
        from rsatoolbox.rdm import RDMs as RsaRDMs
        from rsatoolbox.rdm import compare as rsa_compare
    except ImportError:
        print("  rsatoolbox not installed: skipped")
        return
    start = time.perf_counter()
    reference = rsa_compare(RsaRDMs(models), RsaRDMs(neural), "spearman")
    rsa_seconds = time.perf_counter() - start
    row("rsatoolbox compare", rsa_seconds, f"brainalign is {rsa_seconds / seconds:.1f}x faster; "
        f"max |diff| = {np.abs(ours - reference).max():.1e}")
    print(f"  {load()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: rdm,decoding,compare")
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="folder for the temporary feature file")
    parser.add_argument("--memory-limit", type=float, default=1.0, help="compute_rdms working memory, GiB")
    parser.add_argument("--decoding-threads", default="1",
                        help="comma-separated torch thread counts for the per-subject decoding calls (e.g. 2,1)")
    parser.add_argument("--rdm-size", type=int, nargs=2, metavar=("STIMULI", "FEATURES"),
                        help="another size for section 1 (e.g. 4000 50000 for a check on a busy machine)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    import torch

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), cpus {os.cpu_count()}; {load()}")
    if args.quick:
        sizes = dict(rdm=(1500, 20_000, 4096, 60, 300), decoding=(3, 40, 16, 17, 20, 1), compare=(20, 100, 60))
    else:
        sizes = dict(rdm=(10_000, 200_000, 16_384, 200, 300), decoding=(10, 200, 80, 17, 100, 5),
                     compare=(100, 1000, 200))
    if args.rdm_size:
        sizes["rdm"] = (*args.rdm_size, *sizes["rdm"][2:])
    started = time.perf_counter()
    if "rdm" not in skip:
        bench_rdm(*sizes["rdm"][:2], args.tmp, int(args.memory_limit * 2**30), *sizes["rdm"][2:])
    if "decoding" not in skip:
        bench_decoding(*sizes["decoding"], [int(x) for x in args.decoding_threads.split(",")])
    if "compare" not in skip:
        bench_compare(*sizes["compare"])
    print(f"\ntotal {time.perf_counter() - started:.1f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
