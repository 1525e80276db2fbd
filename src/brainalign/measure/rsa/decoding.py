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
   Ledoit-Wolf shrinkage) whitens every trial. It uses no class contrast, only each stimulus's
   own residuals, so the leak from test trials into the whitening is negligible.

Classifiers:

- ``"lda"``: a separate two-class LDA per pair and time point with a fixed shrinkage ``shrinkage``
  (0 < shrinkage <= 1). Predictions equal scikit-learn's
  ``LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)`` fitted on the pair's training
  pseudo-trials (per-class empirical covariance shrunk to ``mu * I``, averaged with equal priors).
  The per-pair covariance is a low-rank update of a scaled identity, solved with the Woodbury
  identity from Gram matrices of all pseudo-trials: ``(2 (n_pseudo - 2))``-sized systems per pair.
- ``"shared_lda"``: one within-class covariance per time point pooled over all stimuli (shrunk the
  same way): every pair's LDA is then nearest-class-mean after whitening. Much faster.
- ``"ncm"``: nearest class mean, Euclidean (after MNN when enabled).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, cast

import numpy as np

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
    if noise_normalisation:
        data = torch.einsum("cd,nrdt->nrct", noise_whitener(data), data).contiguous()
    for _ in range(n_permutations):
        order = np.argsort(rng.random((n, n_trials)), axis=1)[:, : per_pseudo * n_pseudo]
        rows = torch.as_tensor((order + n_trials * np.arange(n)[:, None]).ravel())
        grouped = torch.index_select(data.reshape(n * n_trials, -1), 0, rows)  # whole-trial row copies
        pseudo = grouped.reshape(n, n_pseudo, per_pseudo, n_channels, n_times).mean(dim=2)
        for held_out in range(n_pseudo):
            keep = [k for k in range(n_pseudo) if k != held_out]
            yield pseudo[:, keep].numpy(), pseudo[:, held_out].numpy()


def noise_whitener(trials: "torch.Tensor") -> "torch.Tensor":
    """``Sigma^{-1/2}`` ``(n_channels, n_channels)`` of the noise in ``trials (n, n_trials, c, t)``
    (torch float64): residuals around each stimulus's mean per time point, pooled over stimuli and
    time points, Ledoit-Wolf shrinkage (the formula of ``sklearn.covariance.ledoit_wolf``, centred)."""
    import torch

    n, n_trials, n_channels, n_times = trials.shape
    if n_trials < 2:
        raise ValidationError("noise_normalisation needs >= 2 training trials per stimulus; use more trials")
    residuals = (trials - trials.mean(dim=1, keepdim=True)).permute(0, 1, 3, 2).reshape(-1, n_channels)
    n_samples = residuals.shape[0]
    empirical = residuals.T @ residuals / n_samples
    mu = torch.trace(empirical) / n_channels
    fourth = ((residuals**2).sum(dim=1) ** 2).sum() / n_samples
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
    (when known). num_threads: torch threads during a single-subject call (None = torch's current
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
    import os
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
    workers = max(1, min(len(subjects), n_jobs or len(os.sched_getaffinity(0))))
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
    total = np.zeros((n, n, n_times)) if classifier != "lda" else np.zeros((n * (n - 1) // 2, n_times))
    n_folds = n_pseudo * n_permutations
    for train, test in track(folds, "decoding RDMs (folds)", total=n_folds, disable=not progress):
        if classifier == "lda":
            total += pairwise_lda_accuracy(train, test, shrinkage, time_chunk=time_chunk, device=device)
        else:
            total += nearest_mean_accuracy(train, test, shrinkage if classifier == "shared_lda" else None,
                                           device=device)
    if classifier == "lda":
        condensed = (total / n_folds).T
    else:
        rows, cols = np.triu_indices(n, k=1)
        condensed = (total[rows, cols] / n_folds).T
    descriptors = {"time_index": np.arange(n_times), **fields}
    if times is not None:
        descriptors["time"] = np.asarray(times, dtype=float)
    return RDMs(condensed, list(ids) if ids is not None else [], descriptors, DECODING_MEASURE)


def pairwise_lda_accuracy(
    train: np.ndarray, test: np.ndarray, shrinkage: float, time_chunk: int = 16, device: str = "cpu"
) -> np.ndarray:
    """Test accuracy ``(n_pairs, n_times)`` (squareform pair order) of a shrinkage LDA per pair.

    train: ``(n, m, d, T)`` pseudo-trials (m >= 2 per class), test: ``(n, d, T)``. For pair (i, j),
    class i = 0, class j = 1; ``Sigma = c U U^T + lam I`` with ``U = [B_i, B_j]`` (each stimulus's
    centred training pseudo-trials in an orthonormal basis of k = m - 1 vectors, rotated so that
    ``B_i^T B_i`` is diagonal), ``c = (1 - a) / 2`` and ``lam = a (tr S_i + tr S_j) / (2 d)``. The
    decision ``(x - (mu_i + mu_j)/2)^T Sigma^{-1} (mu_j - mu_i)`` uses Woodbury and a Schur complement,
    so only k x k systems are solved per pair and time point. A test pseudo-trial is predicted j when
    the decision is > 0 (sklearn's rule).
    """
    import torch

    n, m, d, n_times = train.shape
    k = m - 1
    rows, cols = (torch.as_tensor(a) for a in np.triu_indices(n, k=1))
    contrast = torch.as_tensor(_helmert(m), dtype=torch.float64, device=device)  # (m, k)
    result = np.empty((len(rows), n_times))
    for t0 in range(0, n_times, time_chunk):
        t1 = min(n_times, t0 + time_chunk)
        patterns = torch.as_tensor(train[..., t0:t1], dtype=torch.float64, device=device).permute(3, 0, 1, 2)
        tests = torch.as_tensor(test[..., t0:t1], dtype=torch.float64, device=device).permute(2, 0, 1)
        means = patterns.mean(dim=2).contiguous()  # (t, n, d)
        centred = (patterns - means[:, :, None]) / np.sqrt(m)  # (t, n, m, d): S_i = A^T A
        trace = (centred**2).sum(dim=(2, 3)) / d  # (t, n) = tr(S_i) / d
        # (t, n, k, d) with B B^T = A A^T (tensordot = one GEMM), then rotated so B_i B_i^T is diagonal
        basis = torch.tensordot(centred, contrast, dims=([2], [0])).transpose(2, 3)
        eigenvalues, rotation = torch.linalg.eigh(basis @ basis.transpose(2, 3))
        basis = (rotation.transpose(2, 3)[..., :, :, None] * basis[..., None, :, :]).sum(dim=-2)
        flat = basis.reshape(t1 - t0, n * k, d)
        # Gram blocks in "basis index first, time last" layouts, so pair gathers are contiguous
        # (k, ..., pairs, t) slabs and sums over the basis index add whole slabs
        grams = dict(
            bb=(flat @ flat.transpose(1, 2)).reshape(t1 - t0, n, k, n, k).permute(2, 4, 1, 3, 0).contiguous(),
            bmu=(flat @ means.transpose(1, 2)).reshape(t1 - t0, n, k, n).permute(2, 1, 3, 0).contiguous(),
            bx=(flat @ tests.transpose(1, 2)).reshape(t1 - t0, n, k, n).permute(2, 1, 3, 0).contiguous(),
            xmu=(tests @ means.transpose(1, 2)).permute(1, 2, 0).contiguous(),  # (n, n, t): x_i . mu_j
            mumu=(means**2).sum(dim=2).T.contiguous(),  # (n, t)
            eig=eigenvalues.permute(2, 1, 0).contiguous(),  # (k, n, t): diagonal of B_i B_i^T
            trace=trace.T.contiguous(),  # (n, t)
        )
        result[:, t0:t1] = _lda_pairs(rows, cols, grams, shrinkage).cpu().numpy()
    return result


def _lda_pairs(i: Any, j: Any, g: dict[str, Any], shrinkage: float) -> Any:
    """Accuracy ``(n_pairs, t)`` for pairs ``(i, j)`` from the Gram blocks of :func:`pairwise_lda_accuracy`:
    ``bb[a, b, i, j] = B_ia . B_jb``, ``bmu[a, i, j] = B_ia . mu_j``, ``bx[a, i, j] = B_ia . x_j``,
    ``xmu[i, j] = x_i . mu_j``, ``mumu[i] = |mu_i|^2``, ``eig[a, i] = |B_ia|^2``, ``trace[i] = tr(S_i) / d``
    (time is the last axis of each)."""
    import torch

    n = g["mumu"].shape[0]
    ij, ji = i * n + j, j * n + i  # flat (i, j) and (j, i) positions in an (n, n) grid

    def pairs(name: str, flat_index: Any) -> Any:  # values at (i, j) of a (..., n, n, t) block
        block = g[name]
        return torch.index_select(block.reshape(*block.shape[:-3], n * n, block.shape[-1]), -2, flat_index)

    def diagonal(name: str, index: Any) -> Any:  # values at (i, i) of a (..., n, n, t) block
        block = g[name]
        diag = block.reshape(*block.shape[:-3], n * n, block.shape[-1])[..., :: n + 1, :]
        return torch.index_select(diag, -2, index)

    def single(name: str, index: Any) -> Any:  # values at i of a (..., n, t) block
        return torch.index_select(g[name], -2, index)

    # (x - h) . v with h = (mu_i + mu_j) / 2, v = mu_j - mu_i, for x = test_i and x = test_j
    offset = 0.5 * (single("mumu", j) - single("mumu", i))
    score_i = pairs("xmu", ij) - diagonal("xmu", i) - offset
    score_j = diagonal("xmu", j) - pairs("xmu", ji) - offset
    if shrinkage < 1:
        # Woodbury: Sigma^{-1} = (I - U M^{-1} U^T) / lam, M = (lam / c) I + U^T U = [[D_i, C], [C^T, D_j]]
        ridge = 0.5 * shrinkage * (single("trace", i) + single("trace", j)) / (0.5 * (1.0 - shrinkage))  # (p, t)
        d_i, d_j = ridge + single("eig", i), ridge + single("eig", j)  # (k, p, t) diagonal blocks
        cross = pairs("bb", ij)  # (k, k, p, t): C
        bmu_ij, bmu_ji, bmu_ii, bmu_jj = pairs("bmu", ij), pairs("bmu", ji), diagonal("bmu", i), diagonal("bmu", j)
        v_i, v_j = bmu_ij - bmu_ii, bmu_jj - bmu_ji  # U^T v halves, (k, p, t)
        # Schur complement on the j block: (D_j - C^T D_i^{-1} C) y_j = v_j - C^T D_i^{-1} v_i
        scaled = cross / d_i[:, None]
        schur = -_sum_first(cross[:, :, None] * scaled[:, None, :])
        schur.diagonal(dim1=0, dim2=1).add_(d_j.permute(1, 2, 0))
        y_j = _solve_small(schur, v_j - _sum_first(scaled * v_i[:, None]))
        y_i = (v_i - _sum_first((cross * y_j[None]).transpose(0, 1))) / d_i
        half_i, half_j = 0.5 * (bmu_ii + bmu_ij), 0.5 * (bmu_ji + bmu_jj)
        bx_ij, bx_ji = pairs("bx", ij), pairs("bx", ji)
        score_i = score_i - _sum_first((diagonal("bx", i) - half_i) * y_i) - _sum_first((bx_ji - half_j) * y_j)
        score_j = score_j - _sum_first((bx_ij - half_i) * y_i) - _sum_first((diagonal("bx", j) - half_j) * y_j)
    return 0.5 * ((score_i <= 0).to(torch.float64) + (score_j > 0).to(torch.float64))


def _sum_first(values: Any) -> Any:
    """Sum over the first (short: the basis index) axis as slab additions (a reduction kernel over
    the outer axis is slower for k = 2 or 3)."""
    total = values[0] + values[1] if len(values) > 1 else values[0].clone()
    for slab in values[2:]:
        total += slab
    return total


def _solve_small(matrix: Any, rhs: Any) -> Any:
    """Solve ``matrix x = rhs`` with the system axes first: matrix ``(k, k, ...)``, rhs ``(k, ...)``.
    Closed form for k <= 2 (elementwise, fast), batched LU otherwise."""
    import torch

    k = matrix.shape[0]
    if k == 1:
        return rhs / matrix[0]
    if k == 2:
        a, b, c, e = matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1]
        det = a * e - b * c
        return torch.stack([e * rhs[0] - b * rhs[1], a * rhs[1] - c * rhs[0]]) / det
    batched = torch.linalg.solve(matrix.movedim((0, 1), (-2, -1)), rhs.movedim(0, -1)[..., None])[..., 0]
    return batched.movedim(-1, 0)


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
