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
3. Optional multivariate noise normalisation (MNN, ``noise_normalisation=True``): per fold, the
   noise covariance of the *training* trials (residuals around each stimulus's mean, pooled over
   stimuli and time points, Ledoit-Wolf shrinkage) whitens every pseudo-trial (train and test).

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

from typing import Any, Iterator

import numpy as np

from brainalign.errors import ValidationError
from brainalign.measure.rdm import RDMs

CLASSIFIERS = ("lda", "shared_lda", "ncm")


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
    n_times)`` pseudo-trials (whitened when ``noise_normalisation``). Deterministic for a seed.
    """
    import torch

    n, n_trials, n_channels, n_times = trials.shape
    if not 2 <= n_pseudo <= n_trials:
        raise ValidationError(f"n_pseudo={n_pseudo}: needs 2 <= n_pseudo <= n_trials ({n_trials})")
    per_pseudo = n_trials // n_pseudo
    rng = np.random.default_rng(seed)
    data = torch.as_tensor(trials, dtype=torch.float64)
    for _ in range(n_permutations):
        order = torch.as_tensor(np.argsort(rng.random((n, n_trials)), axis=1)[:, : per_pseudo * n_pseudo])
        grouped = torch.take_along_dim(data, order[:, :, None, None], dim=1)
        grouped = grouped.reshape(n, n_pseudo, per_pseudo, n_channels, n_times)
        pseudo = grouped.mean(dim=2)
        for held_out in range(n_pseudo):
            keep = [k for k in range(n_pseudo) if k != held_out]
            train, test = pseudo[:, keep], pseudo[:, held_out]
            if noise_normalisation:
                whitener = noise_whitener(grouped[:, keep].reshape(n, -1, n_channels, n_times))
                train = torch.einsum("cd,nkdt->nkct", whitener, train)
                test = torch.einsum("cd,ndt->nct", whitener, test)
            yield train.numpy(), test.numpy()


def noise_whitener(trials: Any) -> Any:
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
    responses: Any,
    classifier: str = "lda",
    n_pseudo: int = 4,
    n_permutations: int = 5,
    shrinkage: float = 0.1,
    noise_normalisation: bool = True,
    seed: int = 0,
    time_chunk: int = 8,
    device: str = "cpu",
    progress: bool = True,
) -> RDMs:
    """Cross-validated pairwise decoding accuracy RDMs, one per time point (protocol: module docstring).

    responses: ``brainalign.data.Responses`` (EEG; ids, times and subject are kept) or an array
    ``(n_stimuli, n_trials, n_channels, n_times)`` (or ``(n_stimuli, n_trials, n_features)`` = one time
    point). classifier: ``"lda"`` (equals sklearn shrinkage LDA with fixed ``shrinkage``),
    ``"shared_lda"`` or ``"ncm"``. Returns :class:`RDMs` with ``n_times`` RDMs of accuracies in
    [0, 1]; descriptors ``time_index``, ``time`` (s, when known), ``subject`` (when known).
    """
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
    return RDMs(condensed, list(ids) if ids is not None else [], descriptors)


def pairwise_lda_accuracy(
    train: np.ndarray, test: np.ndarray, shrinkage: float, time_chunk: int = 8, device: str = "cpu"
) -> np.ndarray:
    """Test accuracy ``(n_pairs, n_times)`` (squareform pair order) of a shrinkage LDA per pair.

    train: ``(n, m, d, T)`` pseudo-trials (m >= 2 per class), test: ``(n, d, T)``. For pair (i, j),
    class i = 0, class j = 1; ``Sigma = c U U^T + lam I`` with ``U = [B_i, B_j]`` (centred training
    pseudo-trials in an orthonormal contrast basis), ``c = (1 - a) / 2`` and
    ``lam = a (tr S_i + tr S_j) / (2 d)``; the decision ``(x - (mu_i + mu_j)/2)^T Sigma^{-1} (mu_j - mu_i)``
    uses Woodbury, so only ``2(m-1)``-sized systems are solved. A test pseudo-trial is predicted j
    when the decision is > 0 (sklearn's rule).
    """
    import torch

    n, m, d, n_times = train.shape
    rows, cols = (torch.as_tensor(a) for a in np.triu_indices(n, k=1))
    contrast = torch.as_tensor(_helmert(m), dtype=torch.float64, device=device)  # (m, m-1)
    result = np.empty((len(rows), n_times))
    for t0 in range(0, n_times, time_chunk):
        t1 = min(n_times, t0 + time_chunk)
        patterns = torch.as_tensor(train[..., t0:t1], dtype=torch.float64, device=device).permute(3, 0, 1, 2)
        tests = torch.as_tensor(test[..., t0:t1], dtype=torch.float64, device=device).permute(2, 0, 1)
        means = patterns.mean(dim=2)  # (t, n, d)
        centred = (patterns - means[:, :, None]) / np.sqrt(m)  # (t, n, m, d): S_i = A^T A
        trace = (centred**2).sum(dim=(2, 3)) / d  # (t, n) = tr(S_i) / d
        basis = (contrast.T @ centred).contiguous()  # (t, n, m-1, d): B B^T = A A^T
        k = m - 1
        flat = basis.reshape(t1 - t0, n * k, d)
        # Gram blocks, stimulus axes first so pair indexing gives (pairs, t, ...)
        g_bb = (flat @ flat.transpose(1, 2)).reshape(t1 - t0, n, k, n, k).permute(1, 3, 0, 2, 4).contiguous()  # B_i . B_j
        g_bmu = (flat @ means.transpose(1, 2)).reshape(t1 - t0, n, k, n).permute(1, 3, 0, 2).contiguous()  # B_i . mu_j
        g_bx = (flat @ tests.transpose(1, 2)).reshape(t1 - t0, n, k, n).permute(1, 3, 0, 2).contiguous()  # B_i . x_j
        g_xmu = (tests @ means.transpose(1, 2)).permute(1, 2, 0).contiguous()  # (n, n, t): x_i . mu_j
        g_mumu = (means**2).sum(dim=2).T  # (n, t)
        result[:, t0:t1] = _lda_pairs(rows, cols, g_bb, g_bmu, g_bx, g_xmu, g_mumu, trace.T, shrinkage).cpu().numpy()
    return result


def _lda_pairs(rows: Any, cols: Any, g_bb: Any, g_bmu: Any, g_bx: Any, g_xmu: Any, g_mumu: Any,
               trace: Any, shrinkage: float) -> Any:
    """Accuracy ``(n_pairs, t)`` from the Gram blocks of :func:`pairwise_lda_accuracy` (stimulus axes first)."""
    import torch

    i, j = rows, cols
    k = g_bb.shape[-1]
    lam = 0.5 * shrinkage * (trace[i] + trace[j])  # (p, t)
    # U^T v, v = mu_j - mu_i: (t, p, 2k)
    u_v = torch.cat([g_bmu[i, j] - g_bmu[i, i], g_bmu[j, j] - g_bmu[j, i]], dim=-1)
    # U^T (x - h), h = (mu_i + mu_j) / 2, for x = test_i and x = test_j
    half_i = 0.5 * (g_bmu[i, i] + g_bmu[i, j])
    half_j = 0.5 * (g_bmu[j, i] + g_bmu[j, j])
    u_xi = torch.cat([g_bx[i, i] - half_i, g_bx[j, i] - half_j], dim=-1)
    u_xj = torch.cat([g_bx[i, j] - half_i, g_bx[j, j] - half_j], dim=-1)
    # (x - h) . v
    offset = 0.5 * (g_mumu[j] - g_mumu[i])
    z_v_i = g_xmu[i, j] - g_xmu[i, i] - offset
    z_v_j = g_xmu[j, j] - g_xmu[j, i] - offset
    if shrinkage < 1:
        c = 0.5 * (1.0 - shrinkage)
        top = torch.cat([g_bb[i, i], g_bb[i, j]], dim=-1)
        bottom = torch.cat([g_bb[j, i], g_bb[j, j]], dim=-1)
        system = torch.cat([top, bottom], dim=-2)  # (t, p, 2k, 2k) = U^T U
        system = system + (lam / c)[..., None, None] * torch.eye(2 * k, dtype=system.dtype, device=system.device)
        solved = torch.linalg.solve(system, u_v.unsqueeze(-1)).squeeze(-1)
        z_v_i = z_v_i - (u_xi * solved).sum(-1)
        z_v_j = z_v_j - (u_xj * solved).sum(-1)
    return 0.5 * ((z_v_i <= 0).to(torch.float64) + (z_v_j > 0).to(torch.float64))


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
