import numpy as np
import pytest
import scipy.stats
import torch

from brainalign.align import soft_spearman
from brainalign.align.soft_rank import pearson_matrix, soft_rank
from brainalign.errors import ValidationError


def _scipy_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.array([[scipy.stats.spearmanr(a, b)[0] for b in y] for a in x])


def test_soft_ranks_become_scipy_average_ranks_with_ties():
    values = torch.tensor([[3.0, 1.0, 2.0, 2.0, -5.0, 3.0]], dtype=torch.float64)
    ranks = soft_rank(values, strength=1e-6)
    np.testing.assert_allclose(ranks.numpy(), scipy.stats.rankdata(values.numpy(), axis=1), atol=1e-9)


def test_soft_spearman_converges_to_scipy_as_strength_shrinks():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(5, 340, generator=generator, dtype=torch.float64)
    y = x[:4] + torch.randn(4, 340, generator=generator, dtype=torch.float64)
    x[:, :10] = 0.0  # ties
    reference = _scipy_spearman(x.numpy(), y.numpy())
    errors = [np.abs(soft_spearman(x, y, s).numpy() - reference).max() for s in (1.0, 0.1, 0.01, 1e-3, 1e-4)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
    assert errors[-1] < 2e-4
    assert soft_spearman(x, y).shape == (5, 4)


def test_soft_spearman_is_scale_invariant_and_bounded():
    generator = torch.Generator().manual_seed(2)
    x, y = torch.randn(3, 50, generator=generator), torch.randn(6, 50, generator=generator)
    rho = soft_spearman(x, y)
    torch.testing.assert_close(soft_spearman(1000.0 * x + 7.0, y), rho, atol=1e-5, rtol=1e-5)
    assert rho.abs().max() <= 1.0 + 1e-6
    torch.testing.assert_close(soft_spearman(x, x).diagonal(), torch.ones(3), atol=1e-5, rtol=0)


def test_gradient_is_nonzero_in_both_arguments():
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(4, 340, generator=generator, requires_grad=True)
    y = torch.randn(4, 340, generator=generator, requires_grad=True)
    soft_spearman(x, y).diagonal().sum().backward()
    assert x.grad.abs().sum() > 0 and y.grad.abs().sum() > 0
    assert torch.isfinite(x.grad).all()
    # a hard-rank Spearman has no gradient at all (what the soft rank exists to avoid)
    hard = torch.argsort(torch.argsort(x, dim=1), dim=1).float()
    assert not hard.requires_grad


def test_chunked_rows_match_unchunked(monkeypatch):
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(7, 64, generator=generator)
    full = soft_rank(x)
    monkeypatch.setattr("brainalign.align.soft_rank._CHUNK_ELEMENTS", 64 * 64 * 2)
    torch.testing.assert_close(soft_rank(x), full)


def test_pearson_matrix_matches_numpy():
    generator = torch.Generator().manual_seed(5)
    x, y = torch.randn(3, 20, generator=generator, dtype=torch.float64), torch.randn(2, 20, generator=generator, dtype=torch.float64)
    expected = np.corrcoef(x.numpy(), y.numpy())[:3, 3:]
    np.testing.assert_allclose(pearson_matrix(x, y).numpy(), expected, atol=1e-10)


@pytest.mark.parametrize("shapes", [((3, 5), (3, 4)), ((5,), (5,)), ((2, 1), (2, 1))])
def test_bad_shapes_are_clear_errors(shapes):
    with pytest.raises(ValidationError, match="x and y|at least 2"):
        soft_spearman(torch.zeros(shapes[0]), torch.zeros(shapes[1]))


def test_strength_must_be_positive():
    with pytest.raises(ValidationError, match="strength"):
        soft_spearman(torch.randn(2, 5), torch.randn(2, 5), strength=0.0)
