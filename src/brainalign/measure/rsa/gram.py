"""Condensed dissimilarities of one feature matrix as a streamed, symmetric Gram product.

The work for ``n`` stimuli x ``F`` features (row-major, e.g. a memory-mapped ``.npy`` of any size):

- **Panels**: features are taken in panels ``[f0, f1)``; a panel of rows ``[s0, n)`` is copied into one
  reused buffer (each row's segment is one contiguous read of ``(f1 - f0) * itemsize`` bytes, in row
  order) and shifted (below).
- **Stripes**: for rows ``[i0, i1)`` the products ``Y[i0:i1] @ Y[i0:]^T`` give the stripe's upper-triangle
  entries: a symmetric rank-k update for the diagonal block and one GEMM for the rest, so the work is
  the symmetric product's. Each panel's products are added in float64 into the condensed output rows.
- **Row groups**: when the output must go to a memory-mapped file larger than the memory limit, the
  rows are split into groups whose condensed rows fit in memory; each group streams rows ``[s0, n)``
  of every panel and its finished rows are written once, in file order. Otherwise there is one group
  and the products are accumulated in the output itself.

Precision (float32 products): each panel is shifted before its products so they do not cancel, and
the shift is compensated exactly in float64. Correlation and cosine shift each row by its panel mean
``m_p`` (float32-representable); with ``Y_p = X_p - m_p 1^T``, ``r_p = Y_p 1`` and the row means ``mu``,

    Z Z^T = sum_p Y_p Y_p^T + sum_p [K_p a_p a_p^T + a_p r_p^T + r_p a_p^T],   a_p = m_p - mu

for the centred rows ``Z`` (correlation; cosine uses ``a_p = m_p``, giving ``X X^T``), a rank-``2P``
correction with no cancelling terms. Euclidean distances are translation invariant: each panel is
shifted by its column means over all stimuli (no correction). Row norms are float64 sums of squares
of the shifted panels.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, TypeVar

import numpy as np

from brainalign.cores import available_cores
from brainalign.errors import ValidationError

if TYPE_CHECKING:
    import torch

IndexT = TypeVar("IndexT", int, np.ndarray)  # a stimulus index or an integer array of them
DEFAULT_MEMORY_LIMIT = 1 << 30  # bytes of working memory (panel buffer, products, row-group accumulator)
DEFAULT_STRIPE_ROWS = 1024  # one-thread GEMM rate of 1024-row stripes ~ a square GEMM's; 256 rows ran ~15% slower
_CHUNK_BYTES = 1 << 22  # rows are shifted and summed in chunks of about this size (cache-resident)


def condensed_offset(i: IndexT, n: int) -> IndexT:
    """Position of pair ``(i, i + 1)`` in the condensed upper triangle (squareform order) of ``n`` stimuli
    (``i`` an int or an integer array)."""
    return i * n - i * (i + 1) // 2


@dataclass
class GramPlan:
    """How the work is cut: feature panels, stripe height and row groups (see the module docstring)."""

    n: int
    n_features: int
    panel_width: int
    stripe_rows: int
    groups: list[tuple[int, int]]

    @property
    def panels(self) -> list[tuple[int, int]]:
        return [(f0, min(self.n_features, f0 + self.panel_width)) for f0 in range(0, self.n_features, self.panel_width)]


def plan_gram(n: int, n_features: int, itemsize: int, memory_limit: int, in_place: bool,
              panel_width: int | None = None, stripe_rows: int | None = None) -> GramPlan:
    """Cut the work so that panel buffer + stripe product (+ row-group accumulator when not
    ``in_place``) stay within ``memory_limit`` bytes (a panel is at least 64 features wide)."""
    stripe_rows = min(n, stripe_rows or DEFAULT_STRIPE_ROWS)
    product_bytes = stripe_rows * (n + stripe_rows) * itemsize
    group_bytes = 0 if in_place else max(memory_limit // 2, 8 * n)
    if panel_width is None:
        panel_bytes = max(0, memory_limit - product_bytes - group_bytes)
        panel_width = max(64, panel_bytes // (n * itemsize))
    panel_width = int(min(n_features, max(1, panel_width)))
    groups: list[tuple[int, int]] = []
    s0 = 0
    while s0 < n:
        if in_place:
            s1 = n
        else:  # largest s1 whose condensed rows [s0, s1) fit in group_bytes
            s1 = s0 + 1
            step = max(1, n // 64)
            while s1 < n and (condensed_offset(min(n, s1 + step), n) - condensed_offset(s0, n)) * 8 <= group_bytes:
                s1 = min(n, s1 + step)
        groups.append((s0, s1))
        s0 = s1
    return GramPlan(n, n_features, panel_width, stripe_rows, groups)


class _RowStats:
    """Per-row statistics of the shifted panels, filled while the first row group streams every row:
    shifts ``(n, P)`` (row shifts) or ``(F,)`` (column shifts), residual sums ``(n, P)`` and squared norms ``(n,)``."""

    def __init__(self, n: int, plan: GramPlan, by_column: bool, dtype: np.dtype) -> None:
        n_panels = len(plan.panels)
        self.by_column = by_column
        self.widths = np.array([f1 - f0 for f0, f1 in plan.panels], dtype=np.float64)
        self.shift = np.zeros((plan.n_features,) if by_column else (n, n_panels), dtype=dtype)
        self.residual = np.zeros((n, n_panels))
        self.squares = np.zeros(n)


def gram_dissimilarities(
    features: "np.ndarray | torch.Tensor",
    metric: str = "correlation",
    device: str = "cpu",
    dtype: Any = None,
    chunk_features: int | None = None,
    stripe_rows: int | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    out: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Condensed dissimilarities ``(n_pairs,)`` float64 of one feature matrix ``(n_stimuli, ...)``.

    features: array, memory-mapped array or tensor (trailing axes are flattened; a row-major memmap is
    read panel by panel and never loaded whole). metric: ``correlation``, ``cosine``, ``euclidean`` or
    ``sqeuclidean``. dtype: of the products, float32 (default) or float64 (numpy or torch dtype);
    accumulation is float64. device: where the products run (panels are prepared on the CPU).
    chunk_features / stripe_rows: panel width and stripe height (default: from ``memory_limit``, 1024).
    out: a float64 array of ``n_pairs`` to fill (a ``np.memmap`` is written once per row group, in
    file order; any other array is accumulated in place). Working memory beyond ``out`` stays within
    about ``memory_limit`` bytes plus ``O(n * n_panels)`` statistics.
    """
    dtype = np.dtype(str(dtype).replace("torch.", "")) if dtype is not None else np.dtype(np.float32)
    if dtype not in (np.float32, np.float64):
        raise ValidationError(f"dtype: {dtype} is not float32 or float64")
    if hasattr(features, "detach"):  # torch tensor
        features = features.detach().cpu().numpy()
    features = features if isinstance(features, np.ndarray) else np.asarray(features)
    n = features.shape[0]
    data = features.reshape(n, -1)
    n_features = data.shape[1]
    if n < 2 or n_features < 1:
        raise ValidationError(f"features: need >= 2 stimuli and >= 1 feature, got shape {tuple(features.shape)}")
    n_pairs = n * (n - 1) // 2
    if out is None:
        out = np.empty(n_pairs)
    if out.shape != (n_pairs,) or out.dtype != np.float64:
        raise ValidationError(f"out: expected a float64 array of shape ({n_pairs},), got {out.dtype} {out.shape}")
    in_place = not isinstance(out, np.memmap)
    plan = plan_gram(n, n_features, dtype.itemsize, memory_limit, in_place, chunk_features, stripe_rows)
    stats = _RowStats(n, plan, metric in ("euclidean", "sqeuclidean"), dtype)
    buffer = np.empty((n, plan.panel_width), dtype=dtype)
    product = np.empty(plan.stripe_rows * (n + plan.stripe_rows), dtype=dtype)  # stripe products, reused
    from brainalign.progress import track

    steps = [(group, p) for group in plan.groups for p in range(len(plan.panels))]
    accumulator = out
    with ThreadPoolExecutor(available_cores()) as pool:
        for (s0, s1), p in track(steps, f"RDM of {n} stimuli x {n_features} features", len(steps), not progress):
            base = condensed_offset(s0, n)
            if p == 0:
                accumulator = out[base:condensed_offset(s1, n)] if in_place else np.empty(condensed_offset(s1, n) - base)
                accumulator[:] = 0.0
            panel = _to_device(_load_panel(data, s0, plan.panels[p], p, buffer, stats, s0 == 0, pool), device)
            for i0 in range(s0, s1, plan.stripe_rows):
                i1 = min(s1, i0 + plan.stripe_rows)
                _add_stripe(accumulator, _stripe_products(panel, i0 - s0, i1 - s0, product), i0, n, base)
            if p == len(plan.panels) - 1:
                _finish_rows(accumulator, s0, s1, n, stats, metric)
                if not in_place:
                    out[base:condensed_offset(s1, n)] = accumulator
    if isinstance(out, np.memmap):
        out.flush()
    return out


def _load_panel(data: np.ndarray, s0: int, columns: tuple[int, int], p: int, buffer: np.ndarray,
                stats: _RowStats, first_group: bool, pool: ThreadPoolExecutor) -> np.ndarray:
    """Copy rows ``[s0, n)`` x ``columns`` into ``buffer`` shifted (module docstring), in row chunks
    spread over ``pool``; the first row group records every row's shifts, residuals and squared norms.

    numpy, not torch: these are many cache-sized elementwise passes, where torch's OpenMP threads
    slowed to a crawl on a shared machine (10x slower than numpy in one thread)."""
    f0, f1 = columns
    n = data.shape[0]
    width = f1 - f0
    panel = buffer[: n - s0, :width]
    step = max(1, _CHUNK_BYTES // (width * buffer.itemsize))
    starts = range(s0, n, step)
    if stats.by_column and first_group:  # column means over all stimuli (exact shift, no correction)
        sums = sum(pool.map(lambda r: np.add.reduce(data[r:r + step, f0:f1], axis=0, dtype=np.float64), starts))
        stats.shift[f0:f1] = sums / n

    def shift_rows(r: int) -> None:
        source, rows = data[r:r + step, f0:f1], panel[r - s0:r - s0 + step]
        if stats.by_column:
            np.subtract(source, stats.shift[f0:f1], out=rows)
        else:
            if first_group:
                means = np.add.reduce(source, axis=1, dtype=np.float64) / width
                stats.shift[r:r + step, p] = means
                # r_p = Y_p 1 for Y_p = X_p - m_p with the rounded shift m_p, from the exact row means
                stats.residual[r:r + step, p] = width * (means - stats.shift[r:r + step, p])
            np.subtract(source, stats.shift[r:r + step, p, None], out=rows)
        if first_group:
            stats.squares[r:r + step] += np.einsum("ij,ij->i", rows, rows, dtype=np.float64)

    list(pool.map(shift_rows, starts))
    if first_group and not np.isfinite(stats.squares).all():
        raise ValidationError("features: contain NaN or inf; remove or impute them before computing RDMs")
    return panel


def _to_device(panel: np.ndarray, device: str) -> Any:
    """The panel where the products run: itself on the CPU, a torch tensor on other devices."""
    if str(device) == "cpu":
        return panel
    import torch

    return torch.from_numpy(panel).to(device)


def _stripe_products(panel: Any, r0: int, r1: int, product: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Products of panel rows ``[r0, r1)`` with rows ``[r0, n)``: the diagonal block ``(b, b)`` and the
    rest ``(b, n - r1)``, as contiguous views of ``product``. The diagonal block is ``A @ A.T`` of one
    buffer, which numpy computes as a symmetric rank-k update (half the work); the rest is one GEMM.
    On the CPU numpy's BLAS (OpenBLAS) is used: faster than torch's bundled MKL for these shapes on the
    AMD CPUs here; on other devices torch."""
    b, rest = r1 - r0, panel.shape[0] - r1
    diagonal = product[: b * b].reshape(b, b)
    others = product[b * b: b * b + b * rest].reshape(b, rest)
    if isinstance(panel, np.ndarray):
        block = panel[r0:r1]
        np.matmul(block, block.T, out=diagonal)
        np.matmul(block, panel[r1:].T, out=others)
    else:
        block = panel[r0:r1]
        diagonal[...] = (block @ block.T).cpu().numpy()
        others[...] = (block @ panel[r1:].T).cpu().numpy()
    return diagonal, others


def _add_stripe(accumulator: np.ndarray, products: tuple[np.ndarray, np.ndarray], i0: int, n: int,
                base: int) -> None:
    """Add a stripe's upper-triangle products (rows ``i0 + k``: ``diagonal[k, k+1:]`` then ``others[k]``)
    in float64 into the condensed rows held by ``accumulator`` (which starts at condensed position
    ``base``); one vectorised add per stimulus row, never a loop over pairs."""
    diagonal, others = products
    b = len(diagonal)
    for k in range(b):
        start = condensed_offset(i0 + k, n) - base
        middle = start + b - k - 1
        head, tail = accumulator[start:middle], accumulator[middle:middle + others.shape[1]]
        np.add(head, diagonal[k, k + 1:], out=head)
        np.add(tail, others[k], out=tail)


def _finish_rows(accumulator: np.ndarray, s0: int, s1: int, n: int, stats: _RowStats, metric: str) -> None:
    """Turn accumulated products of rows ``[s0, s1)`` into dissimilarities, in place."""
    base = condensed_offset(s0, n)
    if metric in ("euclidean", "sqeuclidean"):
        squares = stats.squares
        for i, row in _rows(accumulator, s0, s1, n, base):
            row *= -2.0
            row += squares[i + 1:]
            row += squares[i]
            np.maximum(row, 0.0, out=row)
            if metric == "euclidean":
                np.sqrt(row, out=row)
        return
    shift = stats.shift.astype(np.float64)  # (n, P)
    widths, residual = stats.widths, stats.residual
    if metric == "correlation":
        means = (shift @ widths + residual.sum(axis=1)) / widths.sum()
        shift = shift - means[:, None]
    left = np.concatenate([shift * widths + residual, shift], axis=1)  # correction = left @ right^T
    right = np.concatenate([shift, residual], axis=1)
    diagonal = stats.squares + np.einsum("ij,ij->i", left, right)
    bad = np.flatnonzero(~(diagonal > 0))
    if bad.size:
        what = "constant feature rows (zero variance)" if metric == "correlation" else "all-zero feature rows"
        raise ValidationError(
            f"features: {metric} distance is undefined for {what} at stimulus rows {bad[:5].tolist()}; "
            f"drop those stimuli or use metric='euclidean'"
        )
    norms = np.sqrt(diagonal)
    for i, row in _rows(accumulator, s0, s1, n, base):
        row += right[i + 1:] @ left[i]
        row /= norms[i + 1:]
        row *= -1.0 / norms[i]
        row += 1.0


def _rows(accumulator: np.ndarray, s0: int, s1: int, n: int, base: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(i, condensed row i)`` views into ``accumulator`` for rows ``[s0, s1)`` (row ``n - 1`` is empty)."""
    for i in range(s0, min(s1, n - 1)):
        start = condensed_offset(i, n) - base
        yield i, accumulator[start:start + n - i - 1]
