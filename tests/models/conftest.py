"""One CORnet-S per test session (building it initialises 53 M parameters, ~1-2 s)."""
from __future__ import annotations

import pytest

from brainalign.models import cornet_s
from brainalign.models.base import LayeredModel


@pytest.fixture(scope="session")
def cornet() -> LayeredModel:
    return cornet_s().eval()
