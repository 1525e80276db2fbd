"""Time-resolved EEG decoding RDMs: cross-validated pairwise decoding accuracy, all pairs and time points
at once (batched tensor algebra, no loop over stimulus pairs).

Protocol (Guggenmos et al. 2018, as used for THINGS-EEG2 RDMs in ReAlnet):

1. For each of ``n_permutations`` random permutations, every stimulus's trials are shuffled and
   averaged into ``n_pseudo`` pseudo-trials of ``n_trials // n_pseudo`` trials each (left-over
   trials are dropped for that permutation).
2. Leave-one-pseudo-trial-out: each pseudo-trial index in turn is the test set; the other
   ``n_pseudo - 1`` pseudo-trials of both stimuli train the classifier. The test accuracy of a pair
   is the mean over its two test pseudo-trials (0, 0.5 or 1); the RDM value is the mean over all
   folds and permutations (chance = 0.5).
3. Optional multivariate noise normalisation (MNN, ``noise_normalisation=True``), done once before
   the folds as in the THINGS-EEG2 preprocessing (Gifford et al. 2022): the noise covariance of
   all trials (residuals around each stimulus's mean, pooled over stimuli and time points,
   Ledoit-Wolf shrinkage) whitens every trial (applied to the pseudo-trials, which is the same: both
   steps are linear). It uses no class contrast, only each stimulus's own residuals, so the leak from
   test trials into the whitening is negligible.

Classifiers:

- ``"lda"``: a separate two-class LDA per pair and time point with a fixed shrinkage ``shrinkage``
  (0 < shrinkage <= 1). Predictions equal scikit-learn's
  ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)`` fitted on the pair's training
  pseudo-trials (per-class empirical covariance shrunk to ``mu * I``, averaged with equal priors).
  The per-pair covariance is a low-rank update of a scaled identity, solved with the Woodbury
  identity from Gram matrices of all pseudo-trials and a Schur complement: an ``(n_pseudo - 2)``-sized
  system per pair and time point, solved for all pairs at once with elementwise operations.
- ``"shared_lda"``: one within-class covariance per time point pooled over all stimuli (shrunk the
  same way): every pair's LDA is then nearest-class-mean after whitening. Much faster.
- ``"ncm"``: nearest class mean, Euclidean (after MNN when enabled).
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Sequence, cast

import numpy as np

from brainalign.cores import available_cores
from brainalign.errors import ValidationError
from brainalign.data.rdms import RDMs
from brainalign.data.responses import Responses

if TYPE_CHECKING:
    import torch

CLASSIFIERS = ("lda", "shared_lda", "ncm")
DECODING_MEASURE = "decoding_accuracy"  # the RDMs' dissimilarity_measure: pairwise accuracy, 0.5 = chance


def _trial_array(responses: Any) -> tuple[np.ndarray, list[str] | None, np.ndarray | None, dict[str, Any]]:
    """``(n_stimuli, n_trials, n_channels, n_times)`` float64 plus ids, times and descriptor fields."""
    data = getattr(responses, "data", responses)
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 3:  # (n, trials, features): a single time point
        data = data[..., None]
    if data.ndim != 4:
        raise ValidationError(
            f"responses: expected (n_stimuli, n_trials, n_channels, n_times) trials, got shape {data.shape}"
        )
    if not np.all(np.isfinite(data)):
        raise ValidationError("responses: trials contain NaN/inf; decoding needs complete trials (drop them)")
    ids = getattr(responses, "stimulus_ids", None)
    times = getattr(responses, "times", None)
    fields = {"subject": responses.subject} if getattr(responses, "subject", "") else {}
    return data, ids, times, fields


def pseudo_trial_folds(
    trials: np.ndarray,
    n_pseudo: int = 4,
    n_permutations: int = 5,
    noise_normalisation: bool = True,
    seed: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the cross-validation folds of the protocol (module docstring), as float64 arrays.

    trials: ``(n_stimuli, n_trials, n_channels, n_times)``. Each fold is ``(train, test)`` with
    train ``(n_stimuli, n_pseudo - 1, n_channels, n_times)`` and test ``(n_stimuli, n_channels,
    n_times)`` pseudo-trials (of trials whitened once when ``noise_normalisation``). Deterministic
    for a seed.
    """
    import torch

    n, n_trials, n_channels, n_times = trials.shape
    if not 2 <= n_pseudo <= n_trials:
        raise ValidationError(f"n_pseudo={n_pseudo}: needs 2 <= n_pseudo <= n_trials ({n_trials})")
    per_pseudo = n_trials // n_pseudo
    rng = np.random.default_rng(seed)
    data = torch.as_tensor(trials, dtype=torch.float64)
    whitener = noise_whitener(data) if noise_normalisation else None
    flat = data.reshape(n, n_trials, n_channels * n_times)
    for _ in range(n_permutations):
        order = np.argsort(rng.random((n, n_trials)), axis=1)[:, : per_pseudo * n_pseudo]
        # pseudo-trial sums as one batched product with 0/1 weights (reads the trials once, no copies)
        weights = torch.zeros((n, n_pseudo, n_trials), dtype=torch.float64)
        weights.scatter_(2, torch.as_tensor(order.reshape(n, n_pseudo, per_pseudo)), 1.0)
        pseudo = torch.bmm(weights, flat).div_(per_pseudo).reshape(n, n_pseudo, n_channels, n_times)
        if whitener is not None:  # whitening is linear: whitened means = means of whitened trials
            pseudo = torch.einsum("cd,npdt->npct", whitener, pseudo)
        for held_out in range(n_pseudo):
            keep = [k for k in range(n_pseudo) if k != held_out]
            yield pseudo[:, keep].numpy(), pseudo[:, held_out].contiguous().numpy()


def noise_whitener(trials: "torch.Tensor") -> "torch.Tensor":
    """``Sigma^{-1/2}`` ``(n_channels, n_channels)`` of the noise in ``trials (n, n_trials, c, t)``
    (torch float64): residuals around each stimulus's mean per time point, pooled over stimuli and
    time points, Ledoit-Wolf shrinkage (the formula of ``sklearn.covariance.ledoit_wolf``, centred)."""
    import torch

    n, n_trials, n_channels, n_times = trials.shape
    if n_trials < 2:
        raise ValidationError("noise_normalisation needs >= 2 training trials per stimulus; use more trials")
    n_samples = n * n_trials * n_times
    empirical, fourth = torch.zeros((n_channels, n_channels), dtype=trials.dtype), 0.0
    block = max(1, 2**16 // (n_trials * n_times))  # stimuli per step: bounded temporaries (~10 MB)
    for start in range(0, n, block):
        part = trials[start:start + block]
        residuals = (part - part.mean(dim=1, keepdim=True)).permute(0, 1, 3, 2).reshape(-1, n_channels)
        empirical += residuals.T @ residuals
        fourth += float(((residuals**2).sum(dim=1) ** 2).sum())
    empirical /= n_samples
    fourth /= n_samples
    mu = torch.trace(empirical) / n_channels
    delta = ((empirical - mu * torch.eye(n_channels, dtype=empirical.dtype)) ** 2).sum() / n_channels
    beta = min(float((fourth - (empirical**2).sum()) / (n_channels * n_samples)), float(delta))
    shrinkage = 0.0 if beta == 0 else beta / float(delta)
    covariance = (1 - shrinkage) * empirical + shrinkage * mu * torch.eye(n_channels, dtype=empirical.dtype)
    values, vectors = torch.linalg.eigh(covariance)
    return (vectors / torch.sqrt(torch.clamp(values, min=torch.finfo(values.dtype).tiny))) @ vectors.T


def decoding_rdms(
    responses: Responses | np.ndarray | Sequence[Responses | np.ndarray],
    classifier: str = "lda",
    n_pseudo: int = 4,
    n_permutations: int = 5,
    shrinkage: float = 0.1,
    noise_normalisation: bool = True,
    seed: int = 0,
    time_chunk: int = 8,
    device: str = "cpu",
    progress: bool = True,
    num_threads: int | None = None,
    n_jobs: int | None = None,
) -> RDMs:
    """Cross-validated pairwise decoding accuracy RDMs, one per time point (protocol: module docstring).

    responses: ``brainalign.data.Responses`` (EEG; ids, times and subject are kept) or an array
    ``(n_stimuli, n_trials, n_channels, n_times)`` (or ``(n_stimuli, n_trials, n_features)`` = one time
    point); or a list of these, one per subject, on the same stimuli: the subjects are decoded
    concurrently in ``n_jobs`` threads (default: one per core), each with one torch thread, and the
    result stacks subject 0's time points, then subject 1's, ... (descriptor ``subject_index``), equal to
    the per-subject calls. classifier: ``"lda"`` (equals sklearn shrinkage LDA with fixed
    ``shrinkage``), ``"shared_lda"`` or ``"ncm"``. Returns :class:`RDMs` with ``n_times`` RDMs per
    subject of accuracies in [0, 1]; descriptors ``time_index``, ``time`` (s, when known), ``subject``
    (when known). device: where ``"shared_lda"`` and ``"ncm"`` run (the exact ``"lda"`` runs on the CPU:
    its per-pair step is a compiled CPU loop). num_threads: torch threads during a single-subject call (None = torch's current
    setting). The work is many medium-sized batched ops; on a machine busy with other jobs, 1 thread
    is often fastest. Memory: about 4 float64 copies of one subject's trials per concurrent subject.
    """
    import torch

    options = (classifier, n_pseudo, n_permutations, shrinkage, noise_normalisation, seed, time_chunk, device)
    if isinstance(responses, (list, tuple)):
        return _many_subjects(list(responses), options, progress, n_jobs)
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        return _decoding_rdms(responses, *options, progress)
    finally:
        torch.set_num_threads(previous)


def _many_subjects(subjects: list[Any], options: tuple[Any, ...], progress: bool, n_jobs: int | None) -> RDMs:
    """Decoding RDMs of several subjects, concurrently (see :func:`decoding_rdms`)."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from brainalign.progress import track

    if not subjects:
        raise ValidationError("responses: an empty list; pass one subject's responses or a list of them")
    shapes = {np.shape(getattr(s, "data", s))[0] for s in subjects}
    ids = {tuple(getattr(s, "stimulus_ids", None) or ()) for s in subjects}
    if len(shapes) != 1 or len(ids) != 1:
        raise ValidationError(
            "responses: the subjects are on different stimuli (counts or ids differ); decode them on the same "
            "stimuli in the same order, or in separate calls"
        )
    workers = max(1, min(len(subjects), n_jobs or available_cores()))
    classifier, n_pseudo = options[:2]
    if classifier == "lda" and n_pseudo >= 3:
        _pair_decisions(n_pseudo - 2)  # compiled here, once, not by every worker at the same moment
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # one torch thread per subject: no OpenMP barriers between the workers
    try:
        with ThreadPoolExecutor(workers) as pool:
            decode = cast(Callable[..., RDMs], _decoding_rdms)  # options: the 8 settings after the responses
            futures = [pool.submit(decode, subject, *options, False) for subject in subjects]
            results = list(track((f.result() for f in futures), "decoding RDMs (subjects)", len(subjects),
                                 disable=not progress))
    finally:
        torch.set_num_threads(previous)
    for index, rdms in enumerate(results):
        rdms.descriptors["subject_index"] = index
    return RDMs.concat(results)


def _decoding_rdms(responses: Any, classifier: str, n_pseudo: int, n_permutations: int, shrinkage: float,
                   noise_normalisation: bool, seed: int, time_chunk: int, device: str, progress: bool) -> RDMs:
    from brainalign.progress import track

    if classifier not in CLASSIFIERS:
        raise ValidationError(f"classifier: {classifier!r} is not one of {CLASSIFIERS}")
    if classifier != "ncm" and not 0 < shrinkage <= 1:
        raise ValidationError(f"shrinkage={shrinkage}: must be in (0, 1] (a singular covariance otherwise)")
    trials, ids, times, fields = _trial_array(responses)
    n, _, _, n_times = trials.shape
    if classifier == "lda" and n_pseudo < 3:
        raise ValidationError("n_pseudo: 'lda' needs n_pseudo >= 3 (>= 2 training pseudo-trials per class)")
    folds = pseudo_trial_folds(trials, n_pseudo, n_permutations, noise_normalisation, seed)
    n_folds = n_pseudo * n_permutations
    folds = track(folds, "decoding RDMs (folds)", total=n_folds, disable=not progress)
    if classifier == "lda":
        plan = _PairPlan.make(n, n_pseudo - 2)
        counts = np.zeros((n_times, plan.n_pairs))
        for train, test in folds:
            _count_lda_correct(counts, plan, train, test, shrinkage, time_chunk)
        condensed = plan.squareform(counts, 0.5 / n_folds)
    else:
        total = np.zeros((n, n, n_times))
        for train, test in folds:
            total += nearest_mean_accuracy(train, test, shrinkage if classifier == "shared_lda" else None,
                                           device=device)
        rows, cols = np.triu_indices(n, k=1)
        condensed = (total[rows, cols] / n_folds).T
    descriptors = {"time_index": np.arange(n_times), **fields}
    if times is not None:
        descriptors["time"] = np.asarray(times, dtype=float)
    return RDMs(condensed, list(ids) if ids is not None else [], descriptors, DECODING_MEASURE)


def pairwise_lda_accuracy(train: np.ndarray, test: np.ndarray, shrinkage: float, time_chunk: int = 8) -> np.ndarray:
    """Test accuracy ``(n_pairs, n_times)`` (squareform pair order) of a shrinkage LDA per pair.

    train: ``(n, m, d, T)`` pseudo-trials (m >= 2 per class), test: ``(n, d, T)``. For pair (i, j),
    class i = 0, class j = 1; ``Sigma = c U U^T + lam I`` with ``U = [B_i, B_j]`` (each stimulus's
    centred training pseudo-trials in an orthonormal basis of k = m - 1 vectors, rotated so that
    ``B_i B_i^T`` is diagonal), ``c = (1 - a) / 2`` and ``lam = a (tr S_i + tr S_j) / (2 d)``. The
    decision ``(x - (mu_i + mu_j)/2)^T Sigma^{-1} (mu_j - mu_i)`` uses Woodbury and a Schur complement,
    so only a k x k system is solved per pair and time point. A test pseudo-trial is predicted j when
    the decision is > 0 (sklearn's rule). Per time point, a few GEMMs fill a grid of every
    stimulus-by-stimulus value (:func:`_grid_factors`, :func:`_fill_grid`; one buffer reused) and one
    compiled pass over the pairs reads each pair's values from it and decides (:func:`_pair_decisions`).
    ``time_chunk`` time points share the per-stimulus steps (means, bases, their eigendecompositions).
    Runs on the CPU.
    """
    n, m, _, n_times = train.shape
    plan = _PairPlan.make(n, m - 1)
    counts = np.zeros((n_times, plan.n_pairs))
    _count_lda_correct(counts, plan, train, test, shrinkage, time_chunk)
    return plan.squareform(counts, 0.5).T


def _count_lda_correct(counts: np.ndarray, plan: "_PairPlan", train: np.ndarray, test: np.ndarray,
                       shrinkage: float, time_chunk: int) -> None:
    """Add to ``counts (n_times, n_pairs)`` (the plan's pair order) the number of correctly decoded test
    pseudo-trials (0, 1 or 2) of each pair and time point (method: :func:`pairwise_lda_accuracy`)."""
    import torch

    n, _, _, n_times = train.shape
    k = plan.k
    grid = torch.empty(n * n + 2 * n * k * n + (n * k) ** 2, dtype=torch.float64)
    decide = _pair_decisions(k)
    for t0 in range(0, n_times, time_chunk):
        t1 = min(n_times, t0 + time_chunk)
        patterns = torch.as_tensor(train[..., t0:t1], dtype=torch.float64).permute(3, 0, 1, 2)
        tests = torch.as_tensor(test[..., t0:t1], dtype=torch.float64).permute(2, 0, 1)
        factors = _grid_factors(patterns.contiguous(), tests.contiguous(), shrinkage)
        for t in range(t1 - t0):
            _fill_grid(grid, [factor[t] for factor in factors[:-1]])
            decide(grid.numpy(), factors[-1][t].reshape(-1).numpy(), plan.rows, plan.cols, n, k, shrinkage < 1,
                   counts[t0 + t])


def _grid_factors(patterns: "torch.Tensor", tests: "torch.Tensor", shrinkage: float) -> list["torch.Tensor"]:
    """Per time point (first axis), the factors whose products :func:`_fill_grid` writes into the grid,
    and (last) the per-stimulus values the pairs also need.

    patterns ``(t, n, m, d)`` training pseudo-trials, tests ``(t, n, d)``. With ``B_sc`` stimulus s's
    basis vector c, ``mu_s`` its mean, ``x_s`` its test pseudo-trial and ``h_so = (mu_s + mu_o) / 2``,
    the grid's blocks are ``base[s, o] = (x_s - h_so) . (mu_o - mu_s)`` (n, n); ``V = B_sc . (mu_o - mu_s)``
    and ``Wc = B_sc . (x_o - h_so)`` (n k, 2, n: one GEMM with the per-row terms as extra columns) and
    ``cross[s, c, o, e] = B_sc . B_oe`` (n k, n k). Per stimulus ``(2 n k + n)``: ``E[s, c] = |B_sc|^2 +
    ridge_s``, ``ridge_s`` (the Woodbury system's diagonal is ``E[s, c] + ridge_o``) and ``beta[s, c] =
    B_sc . (x_s - mu_s)`` (so ``B_sc . (x_s - h_so) = beta[s, c] - V[s, c, o] / 2``). Only ``base``'s
    factors when ``shrinkage == 1`` (no covariance term).
    """
    import torch

    n_times, n, m, d = patterns.shape
    means = patterns.mean(dim=2)  # (t, n, d)
    ones, zeros = torch.ones_like(means[..., :1]), torch.zeros_like(means[..., :1])
    own = (tests * means).sum(dim=2, keepdim=True) - 0.5 * (means**2).sum(dim=2, keepdim=True)
    factors = [torch.cat([tests, ones, -own], dim=2),  # base = left @ right^T
               torch.cat([means, -0.5 * (means**2).sum(dim=2, keepdim=True), ones], dim=2)]
    if shrinkage == 1:
        return factors + [zeros]
    centred = (patterns - means[:, :, None]) / np.sqrt(m)  # (t, n, m, d): S_s = A^T A
    contrast = torch.as_tensor(_helmert(m), dtype=patterns.dtype, device=patterns.device)  # (m, k)
    # (t, n, k, d) with B B^T = A A^T (tensordot = one GEMM), then rotated so B_s B_s^T is diagonal
    basis = torch.tensordot(centred, contrast, dims=([2], [0])).transpose(2, 3)
    eigenvalues, rotation = torch.linalg.eigh(basis @ basis.transpose(2, 3))
    basis = rotation.transpose(2, 3) @ basis
    own_mu = (basis * means[:, :, None]).sum(dim=3).reshape(n_times, -1, 1)  # (t, n k, 1): B_sc . mu_s
    beta = (basis * (tests - means)[:, :, None]).sum(dim=3).reshape(n_times, -1)  # B_sc . (x_s - mu_s)
    flat = basis.reshape(n_times, -1, d)
    ridge = shrinkage / (1 - shrinkage) * (centred**2).sum(dim=(2, 3)) / d  # (t, n): lam_so / c = ridge_s + ridge_o
    return factors + [
        torch.cat([flat, -own_mu, -0.5 * own_mu], dim=2),  # V, Wc = left @ right^T
        torch.cat([torch.cat([means, ones, zeros], dim=2), torch.cat([tests - 0.5 * means, zeros, ones], dim=2)],
                  dim=1),
        flat,  # cross = flat @ flat^T
        torch.cat([(eigenvalues + ridge[..., None]).reshape(n_times, -1), ridge, beta], dim=1),
    ]


def _fill_grid(grid: "torch.Tensor", factors: list["torch.Tensor"]) -> None:
    """Write one time point's grid (layout: :func:`_grid_factors`, :class:`_PairPlan`) into ``grid``."""
    import torch

    n = factors[0].shape[0]
    torch.mm(factors[0], factors[1].T, out=grid[: n * n].view(n, n))
    if len(factors) == 2:
        return
    left, right, flat = factors[2:]
    rows = left.shape[0]  # n k
    torch.mm(left, right.T, out=grid[n * n:n * n + 2 * rows * n].view(rows, 2 * n))
    torch.mm(flat, flat.T, out=grid[n * n + 2 * rows * n:].view(rows, rows))


class _PairPlan(NamedTuple):
    """The order in which :func:`_pair_decisions` visits the pairs (i < j): tiles of ``tile x tile``
    stimuli, so that the reads of (i, j) and of (j, i) grid values both stay in short runs of nearby
    memory (cache-friendly); :meth:`squareform` puts counts back in squareform order."""

    k: int
    n_pairs: int
    rows: np.ndarray  # (n_pairs,) int64: i of each pair in plan order
    cols: np.ndarray  # (n_pairs,) int64: j
    to_squareform: np.ndarray  # column p of the result = plan pair to_squareform[p]

    @classmethod
    def make(cls, n: int, k: int, tile: int = 16) -> "_PairPlan":
        pairs_i, pairs_j = np.triu_indices(n, k=1)
        order = np.lexsort((pairs_j, pairs_i, pairs_j // tile, pairs_i // tile))  # plan pair p = squareform order[p]
        return cls(k, len(order), np.ascontiguousarray(pairs_i[order], dtype=np.int64),
                   np.ascontiguousarray(pairs_j[order], dtype=np.int64),
                   np.argsort(order))

    def squareform(self, counts: np.ndarray, scale: float) -> np.ndarray:
        """``counts (n_times, n_pairs)`` in the plan's order -> ``scale * counts`` in squareform order."""
        return counts[:, self.to_squareform] * scale


@functools.cache
def _pair_decisions(k: int) -> Callable[..., None]:
    """The compiled per-pair LDA decision for bases of ``k`` vectors (numba, compiled on the first request
    for that ``k`` in a process; ``k = 2``, i.e. the default 4 pseudo-trials, in closed form, other ``k`` by
    loops).

    ``decide(grid, per_stimulus, rows, cols, n, k, covariance, counts)`` adds to ``counts (n_pairs,)``
    the correct test pseudo-trials (0-2) of every pair (rows[p], cols[p]) at one time point. grid and
    per_stimulus: :func:`_fill_grid`'s buffer and :func:`_grid_factors`'s last factor at that time point.
    For pair (i, j): ``v_i[a] = V[i, a, j]``, ``v_j[b] = V[j, b, i]``, ``wc_i``/``wc_j`` likewise from Wc,
    ``C[a, b] = cross[i, a, j, b]``, ``D_i = diag(E[i, :] + ridge_j)``, ``D_j = diag(E[j, :] + ridge_i)``.
    The Woodbury system ``[[D_i, C], [C^T, D_j]] y = [v_i; v_j]`` is solved for ``z = -y_j`` from its Schur
    complement on the j block, ``S z = v_j + Q v_i`` with ``Q = C^T D_i^{-1}`` and ``S = D_j - Q C``
    (symmetric positive definite: elimination without pivoting), then ``y_i = D_i^{-1} (v_i + C z)``;
    the decisions are ``base[i, j] - Wd_i . y_i + wc_j . z`` (test i, correct when <= 0) and minus
    ``base[j, i] + wc_i . y_i - Wd_j . z`` (test j, correct when < 0: sklearn's rule), with ``Wd = beta -
    V / 2``. Without the covariance term (shrinkage 1) only ``base`` decides.

    One fused pass over the pairs replaces gathers into buffers and ~50 elementwise array operations per
    time point (each streaming every pair's values through memory): numba, since neither numpy nor torch
    fuses such a loop on the CPU. The closed form for ``k = 2`` (scalars in registers, the 2 x 2 Schur
    system by Cramer's rule) is 3x faster than the loops, which the other ``k`` use.
    """
    import numba

    kernel = _decide_pairs_2 if k == 2 else _decide_pairs
    signature = "void(f8[::1], f8[::1], i8[::1], i8[::1], i8, i8, b1, f8[::1])"  # compiled now, for this k only
    return cast(Callable[..., None], numba.njit(signature, nogil=True, boundscheck=False)(kernel))


def _decide_pairs_2(grid: np.ndarray, per_stimulus: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int,
                    k: int, covariance: bool, counts: np.ndarray) -> None:
    """:func:`_pair_decisions` for ``k = 2``, in closed form (compiled by numba)."""
    two, cross0, ridge0, beta0 = n * n, n * n + 4 * n * n, 2 * n, 3 * n
    for p in range(rows.shape[0]):
        i, j = rows[p], cols[p]
        score_i, score_j = grid[i * n + j], grid[j * n + i]
        if covariance:
            i0, i1, j0, j1 = two + 4 * i * n + j, two + (4 * i + 2) * n + j, two + 4 * j * n + i, \
                two + (4 * j + 2) * n + i
            v_i0, wc_i0, v_i1, wc_i1 = grid[i0], grid[i0 + n], grid[i1], grid[i1 + n]
            v_j0, wc_j0, v_j1, wc_j1 = grid[j0], grid[j0 + n], grid[j1], grid[j1 + n]
            c0, c1 = cross0 + (2 * i * n + j) * 2, cross0 + ((2 * i + 1) * n + j) * 2
            c00, c01, c10, c11 = grid[c0], grid[c0 + 1], grid[c1], grid[c1 + 1]
            ridge_i, ridge_j = per_stimulus[ridge0 + i], per_stimulus[ridge0 + j]
            inverse_0 = 1.0 / (per_stimulus[2 * i] + ridge_j)
            inverse_1 = 1.0 / (per_stimulus[2 * i + 1] + ridge_j)
            q00, q01, q10, q11 = c00 * inverse_0, c10 * inverse_1, c01 * inverse_0, c11 * inverse_1  # Q[b, a]
            s00 = per_stimulus[2 * j] + ridge_i - q00 * c00 - q01 * c10
            s01 = -q00 * c01 - q01 * c11
            s11 = per_stimulus[2 * j + 1] + ridge_i - q10 * c01 - q11 * c11
            rhs_0 = v_j0 + q00 * v_i0 + q01 * v_i1
            rhs_1 = v_j1 + q10 * v_i0 + q11 * v_i1
            determinant = s00 * s11 - s01 * s01
            z0 = (s11 * rhs_0 - s01 * rhs_1) / determinant
            z1 = (s00 * rhs_1 - s01 * rhs_0) / determinant
            y0 = (v_i0 + c00 * z0 + c01 * z1) * inverse_0
            y1 = (v_i1 + c10 * z0 + c11 * z1) * inverse_1
            wd_i0, wd_i1 = per_stimulus[beta0 + 2 * i] - 0.5 * v_i0, per_stimulus[beta0 + 2 * i + 1] - 0.5 * v_i1
            wd_j0, wd_j1 = per_stimulus[beta0 + 2 * j] - 0.5 * v_j0, per_stimulus[beta0 + 2 * j + 1] - 0.5 * v_j1
            score_i += wc_j0 * z0 + wc_j1 * z1 - wd_i0 * y0 - wd_i1 * y1
            score_j += wc_i0 * y0 + wc_i1 * y1 - wd_j0 * z0 - wd_j1 * z1
        counts[p] += (score_i <= 0.0) + (score_j < 0.0)


def _decide_pairs(grid: np.ndarray, per_stimulus: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int, k: int,
                  covariance: bool, counts: np.ndarray) -> None:
    """:func:`_pair_decisions` for any ``k``, by loops over the basis index (compiled by numba)."""
    two = n * n  # V / Wc block: [(s k + c) 2 + block] n + o
    cross0 = two + 2 * n * k * n  # cross block: ((s k + c) n + o) k + e
    ridge0, beta0 = n * k, n * k + n
    scratch = np.empty((10, k))
    v_i, v_j, wd_i, wd_j, wc_i, wc_j = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5]
    inverse, rhs, z, y = scratch[6], scratch[7], scratch[8], scratch[9]
    c, schur = np.empty((k, k)), np.empty((k, k))
    for p in range(rows.shape[0]):
        i, j = rows[p], cols[p]
        score_i, score_j = grid[i * n + j], grid[j * n + i]
        if covariance:
            ridge_i, ridge_j = per_stimulus[ridge0 + i], per_stimulus[ridge0 + j]
            for a in range(k):
                row_i, row_j = two + (i * k + a) * 2 * n, two + (j * k + a) * 2 * n
                v_i[a], wc_i[a] = grid[row_i + j], grid[row_i + n + j]
                v_j[a], wc_j[a] = grid[row_j + i], grid[row_j + n + i]
                wd_i[a] = per_stimulus[beta0 + i * k + a] - 0.5 * v_i[a]
                wd_j[a] = per_stimulus[beta0 + j * k + a] - 0.5 * v_j[a]
                inverse[a] = 1.0 / (per_stimulus[i * k + a] + ridge_j)
                for b in range(k):
                    c[a, b] = grid[cross0 + ((i * k + a) * n + j) * k + b]
            for b in range(k):  # S = D_j - C^T D_i^{-1} C, rhs = v_j + C^T D_i^{-1} v_i
                rhs[b] = v_j[b]
                for a in range(k):
                    rhs[b] += c[a, b] * inverse[a] * v_i[a]
                for e in range(b, k):
                    total = per_stimulus[j * k + b] + ridge_i if e == b else 0.0
                    for a in range(k):
                        total -= c[a, b] * inverse[a] * c[a, e]
                    schur[b, e] = total
            for q in range(k):  # elimination without pivoting (upper triangle), then back substitution
                for r in range(q + 1, k):
                    factor = schur[q, r] / schur[q, q]
                    for e in range(r, k):
                        schur[r, e] -= factor * schur[q, e]
                    rhs[r] -= factor * rhs[q]
            for q in range(k - 1, -1, -1):
                total = rhs[q]
                for e in range(q + 1, k):
                    total -= schur[q, e] * z[e]
                z[q] = total / schur[q, q]
            for a in range(k):
                total = v_i[a]
                for b in range(k):
                    total += c[a, b] * z[b]
                y[a] = total * inverse[a]
                score_i -= wd_i[a] * y[a]
                score_j += wc_i[a] * y[a]
            for b in range(k):
                score_i += wc_j[b] * z[b]
                score_j -= wd_j[b] * z[b]
        counts[p] += (score_i <= 0.0) + (score_j < 0.0)


def _helmert(m: int) -> np.ndarray:
    """Orthonormal basis ``(m, m-1)`` of the vectors orthogonal to the all-ones vector."""
    values, vectors = np.linalg.eigh(np.eye(m) - 1.0 / m)
    return vectors[:, values > 0.5]


def nearest_mean_accuracy(train: np.ndarray, test: np.ndarray, shrinkage: float | None, device: str = "cpu") -> np.ndarray:
    """Pairwise accuracy ``(n, n, T)`` of nearest-class-mean decoding (symmetric, diagonal 0).

    With ``shrinkage`` the data are first whitened by the within-class covariance pooled over all
    stimuli (per time point, shrunk to ``mu * I``): nearest mean then equals a shared-covariance LDA.
    Test pseudo-trial i is correct against j when it is closer to mean i than to mean j.
    """
    import torch

    n, m, d, n_times = train.shape
    patterns = torch.as_tensor(train, dtype=torch.float64, device=device).permute(3, 0, 1, 2)  # (t, n, m, d)
    tests = torch.as_tensor(test, dtype=torch.float64, device=device).permute(2, 0, 1)  # (t, n, d)
    means = patterns.mean(dim=2)
    if shrinkage is not None:
        centred = (patterns - means[:, :, None]).reshape(n_times, n * m, d)
        within = centred.transpose(1, 2) @ centred / (n * m)  # (t, d, d)
        target = torch.diagonal(within, dim1=1, dim2=2).mean(-1)[:, None, None] * torch.eye(d, dtype=within.dtype)
        covariance = (1 - shrinkage) * within + shrinkage * target
        values, vectors = torch.linalg.eigh(covariance)
        whitener = (vectors / torch.sqrt(values)[:, None, :]) @ vectors.transpose(1, 2)
        means = means @ whitener
        tests = tests @ whitener
    # squared distance of test i to mean j, up to the |x_i|^2 term that is the same across j
    distance = (means**2).sum(-1)[:, None, :] - 2 * tests @ means.transpose(1, 2)  # (t, n, n)
    correct = (torch.diagonal(distance, dim1=1, dim2=2)[:, :, None] < distance).to(torch.float64)
    accuracy = 0.5 * (correct + correct.transpose(1, 2))
    return accuracy.permute(1, 2, 0).cpu().numpy()
