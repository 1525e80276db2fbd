"""Benchmark of the measurement engine against its peers, all measured in this one process.

    python benchmarks/bench_measure.py            # full sizes (THINGS-EEG2 test shape; several minutes)
    python benchmarks/bench_measure.py --quick    # small sizes, seconds (smoke test)

Sections (each prints seconds and ratios against peers timed in the same run):

1. Correlation RDM of 200 stimuli x 200,000 features (float32): brainalign ``compute_rdms`` vs
   rsatoolbox ``calc_rdm`` (float32 data), NeuroRA (pair loop of ``pearsonr``; timed on a subset of
   stimuli and extrapolated by pair count) and the GEMM floor (torch float32 ``X @ X.T``); error of
   the float32 result against float64.
2. 4000 Spearman comparisons of 200x200 RDMs (4000 model RDMs vs one neural RDM): brainalign
   ``compare`` vs rsatoolbox's batched ``compare`` and a scipy ``spearmanr`` loop, against the sort
   floor (``np.sort`` of the 4000 vectors); the largest absolute difference to rsatoolbox.
3. Decoding RDMs for the THINGS-EEG2 test shape (200 stimuli, 80 trials, 17 channels, 100 time
   points; 4 pseudo-trials, 5 permutations = 20 folds, MNN): brainalign ``lda`` (equals sklearn's
   shrinkage LDA), ``shared_lda`` and ``ncm`` vs per-pair scikit-learn loops (LDA lsqr shrinkage and
   LinearSVC, timed on a subset of fits and extrapolated to all pairs x times x folds) and NeuroRA's
   ``eegRDM_bydecoding`` (its own protocol; timed on a few pairs and extrapolated by pair count).

The machine may be shared with other jobs: the load average is printed before and after, and the
ratios are more reliable than the absolute times. Timings are the best of ``--repeats`` runs for the
fast calls and single runs for the slow ones.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any, Callable

import numpy as np


def best_time(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Best wall time (s) over ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def row(name: str, seconds: float, reference: float | None = None, note: str = "") -> None:
    ratio = f"{reference / seconds:9.1f}x" if reference is not None else " " * 10
    print(f"  {name:<52s} {seconds:10.3f} s {ratio}  {note}", flush=True)


def environment() -> None:
    import torch

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    print("env: " + ", ".join(f"{k}={os.environ.get(k, '<unset>')}"
                              for k in ("OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")))
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            print(f"  blas/openmp: {pool.get('internal_api')} {pool.get('version')} "
                  f"arch={pool.get('architecture')} threads={pool.get('num_threads')}")
    except ImportError:
        pass
    print(f"load average: {os.getloadavg()}")


def bench_correlation_rdm(n_stimuli: int, n_features: int, neurora_stimuli: int, repeats: int) -> None:
    import torch
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    from brainalign.measure import compute_rdms

    print(f"\n[1] correlation RDM, {n_stimuli} stimuli x {n_features} features, float32")
    rng = np.random.default_rng(0)
    # ReLU-like activations with a positive offset: where naive float32 centring loses digits
    features = (np.maximum(rng.standard_normal((n_stimuli, n_features), dtype=np.float32), 0) + 0.5)
    features += rng.standard_normal((n_stimuli, 1), dtype=np.float32)  # per-stimulus offsets
    ours_s, ours = best_time(lambda: compute_rdms(features), repeats)
    tensor = torch.from_numpy(features)
    gemm_s, _ = best_time(lambda: tensor @ tensor.T, repeats)
    dataset = Dataset(features)
    rsa_s, rsa = best_time(lambda: calc_rdm(dataset, method="correlation"), repeats)
    reference = compute_rdms(features.astype(np.float64), dtype=torch.float64).dissimilarities[0]
    exact = 1 - np.corrcoef(features.astype(np.float64))[np.triu_indices(n_stimuli, k=1)]
    ours_error = np.abs(ours.dissimilarities[0] - exact).max()
    rsa_error = np.abs(rsa.get_vectors()[0] - exact).max()
    row("brainalign compute_rdms (float32)", ours_s, None, f"max |err| vs float64 = {ours_error:.1e}")
    row("torch float32 GEMM X @ X.T (floor)", gemm_s, None,
        f"brainalign / floor = {ours_s / gemm_s:.1f}x")
    row("rsatoolbox calc_rdm (float32 data)", rsa_s, None,
        f"brainalign is {rsa_s / ours_s:.1f}x faster; rsatoolbox max |err| = {rsa_error:.1e}")
    print(f"  (float64 path vs numpy corrcoef: {np.abs(reference - exact).max():.1e})")
    neurora_time = _neurora_correlation(features[:neurora_stimuli])
    if neurora_time is not None:
        scale = (n_stimuli * (n_stimuli - 1)) / (neurora_stimuli * (neurora_stimuli - 1))
        row(f"NeuroRA bhvRDM pair loop (extrapolated from {neurora_stimuli})", neurora_time * scale, None,
            f"brainalign is {neurora_time * scale / ours_s:.0f}x faster")


def _neurora_correlation(features: np.ndarray) -> float | None:
    try:
        from neurora.rdm_cal import bhvRDM
    except ImportError:
        print("  NeuroRA not installed: skipped")
        return None
    import contextlib
    import io

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        seconds, _ = best_time(lambda: bhvRDM(features[:, :, None], sub_opt=0), 1)
    return seconds


def bench_compare(n_rdms: int, n_stimuli: int, scipy_subset: int, repeats: int) -> None:
    from rsatoolbox.rdm import RDMs as RsaRDMs
    from rsatoolbox.rdm import compare as rsa_compare
    from scipy import stats

    from brainalign.measure import compare

    n_pairs = n_stimuli * (n_stimuli - 1) // 2
    print(f"\n[2] {n_rdms} Spearman comparisons of {n_stimuli}x{n_stimuli} RDMs ({n_pairs} pairs each)")
    rng = np.random.default_rng(1)
    models = rng.random((n_rdms, n_pairs))
    neural = rng.random((1, n_pairs))
    floor_s, _ = best_time(lambda: np.sort(models, axis=1), repeats)
    ours_s, ours = best_time(lambda: compare(models, neural, "spearman"), repeats)
    rsa_models, rsa_neural = RsaRDMs(models), RsaRDMs(neural)
    rsa_s, rsa = best_time(lambda: rsa_compare(rsa_models, rsa_neural, "spearman"), 1)
    scipy_s, _ = best_time(lambda: [stats.spearmanr(v, neural[0])[0] for v in models[:scipy_subset]], 1)
    scipy_s *= n_rdms / scipy_subset
    row("sort floor (np.sort of all vectors)", floor_s)
    row("brainalign compare", ours_s, None, f"= {ours_s / floor_s:.2f}x the sort floor; "
        f"max |diff| vs rsatoolbox = {np.abs(ours - rsa).max():.1e}")
    row("rsatoolbox compare (batched)", rsa_s, None, f"brainalign is {rsa_s / ours_s:.1f}x faster")
    row(f"scipy spearmanr loop (extrapolated from {scipy_subset})", scipy_s, None,
        f"brainalign is {scipy_s / ours_s:.0f}x faster")


def bench_decoding(n_stimuli: int, n_trials: int, n_channels: int, n_times: int, n_permutations: int,
                   sklearn_fits: int, neurora_stimuli: int, run_lda: bool) -> None:
    import torch
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.svm import LinearSVC
    from threadpoolctl import threadpool_limits

    from brainalign.measure import decoding_rdms
    from brainalign.measure.rsa.decoding import pseudo_trial_folds

    n_pseudo = 4
    n_folds = n_pseudo * n_permutations
    n_pairs = n_stimuli * (n_stimuli - 1) // 2
    print(f"\n[3] decoding RDMs, {n_stimuli} stimuli x {n_trials} trials x {n_channels} channels x {n_times} "
          f"times; {n_pseudo} pseudo-trials x {n_permutations} permutations = {n_folds} folds, MNN")
    rng = np.random.default_rng(2)
    patterns = rng.standard_normal((n_stimuli, n_channels, 1)) * np.hanning(n_times)[None, None, :]
    trials = (0.3 * patterns[:, None] + rng.standard_normal((n_stimuli, n_trials, n_channels, n_times))).astype(np.float32)
    options = dict(n_pseudo=n_pseudo, n_permutations=n_permutations, progress=False)

    train, test = next(pseudo_trial_folds(trials, n_pseudo, 1, True, seed=0))
    m = n_pseudo - 1
    labels = np.r_[np.zeros(m), np.ones(m)]
    pair_rng = np.random.default_rng(3)
    picks = [(*sorted(pair_rng.choice(n_stimuli, 2, replace=False)), pair_rng.integers(n_times))
             for _ in range(sklearn_fits)]

    def per_pair(make_model: Callable[[], Any]) -> float:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, j, t in picks:
                model = make_model().fit(np.concatenate([train[i, :, :, t], train[j, :, :, t]]), labels)
                model.predict(np.stack([test[i, :, t], test[j, :, t]]))
        return (time.perf_counter() - start) / len(picks) * n_pairs * n_times * n_folds

    peers = {
        "sklearn LDA(lsqr, shrinkage=0.1) per pair": lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.1),
        "sklearn LinearSVC per pair": lambda: LinearSVC(),
    }
    default_threads = torch.get_num_threads()
    timings: dict[str, float] = {}
    # many small batched ops: on a busy machine one thread can beat two (no OpenMP barrier waits),
    # so everything here, peers included, is timed with the default threads and with one thread
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        with threadpool_limits(threads):
            for classifier in (("lda", "shared_lda", "ncm") if run_lda else ("shared_lda", "ncm")):
                seconds, rdms = best_time(lambda c=classifier: decoding_rdms(trials, classifier=c, **options), 1)
                timings[classifier] = min(seconds, timings.get(classifier, float("inf")))
                peak = rdms.dissimilarities.mean(axis=1).max()
                row(f"brainalign decoding_rdms {classifier}, {threads} thread(s)", seconds, None,
                    f"peak mean accuracy {peak:.3f}")
            for name, make_model in peers.items():
                seconds = per_pair(make_model)
                timings[name] = min(seconds, timings.get(name, float("inf")))
                row(f"{name}, {threads} thread(s) (from {len(picks)} fits)", seconds)
    torch.set_num_threads(default_threads)
    print("  ratios (best of the thread settings for each):")
    ours = {c: t for c, t in timings.items() if c in ("lda", "shared_lda", "ncm")}
    for name in peers:
        print(f"    {name}: " + ", ".join(f"{timings[name] / t:.0f}x slower than {c}" for c, t in ours.items()))
    neurora = _neurora_decoding(trials[:neurora_stimuli], n_pairs)
    if neurora is not None:
        ratios = ", ".join(f"{neurora / t:.0f}x vs {c}" for c, t in ours.items())
        row(f"NeuroRA eegRDM_bydecoding (extrapolated from {neurora_stimuli} stimuli)", neurora, None, ratios)


def _neurora_decoding(trials: np.ndarray, n_pairs: int) -> float | None:
    try:
        from neurora.rdm_cal import eegRDM_bydecoding
    except ImportError:
        print("  NeuroRA not installed: skipped")
        return None
    data = np.asarray(trials, dtype=np.float64)[:, None]  # [n_cons, n_subs=1, n_trials, n_chls, n_ts]
    subset_pairs = len(trials) * (len(trials) - 1) // 2
    import contextlib
    import io

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            seconds, _ = best_time(lambda: eegRDM_bydecoding(data), 1)
    return seconds / subset_pairs * n_pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test (seconds)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the fast calls (best time kept)")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip: rdm,compare,decoding")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    environment()
    if args.quick:
        sizes = dict(rdm=(60, 20_000, 20), compare=(400, 60, 50),
                     decoding=(30, 32, 17, 10, 1, 100, 3, True))
    else:
        sizes = dict(rdm=(200, 200_000, 50), compare=(4000, 200, 200),
                     decoding=(200, 80, 17, 100, 5, 400, 4, True))
    started = time.perf_counter()
    if "rdm" not in skip:
        bench_correlation_rdm(*sizes["rdm"], repeats=args.repeats)
    if "compare" not in skip:
        bench_compare(*sizes["compare"], repeats=args.repeats)
    if "decoding" not in skip:
        bench_decoding(*sizes["decoding"])
    print(f"\ntotal {time.perf_counter() - started:.1f} s; load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
