"""Shared fixtures: the real data folder beside the checkout (tests needing it skip when absent)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BRAINALIGN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test with the reason when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data folder {SHARED_DATA} is absent (set BRAINALIGN_SHARED_DATA to use another)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    import numpy as np

    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:
        pass
