"""brainalign: align vision models with human brain responses and measure how brain-like they are.

Sub-packages: ``models`` (CORnet-S/Z, torchvision backbones, weights), ``data`` (stimuli, neural
responses, loaders, simulated observer), ``align`` (ReAlnet training), ``measure`` (features, RDMs,
RSA, statistics, robustness), ``report`` (figures and HTML reports), ``cli``.
"""
from __future__ import annotations

from brainalign.errors import BrainAlignError

__version__ = "0.1.0"

#: The largest random seed: numpy and torch take 0 <= seed < 2**32 everywhere brainalign passes one (here,
#: not in :mod:`brainalign.config`, so the command line names it without importing pydantic and numpy).
MAX_SEED = 2**32 - 1

__all__ = ["MAX_SEED", "BrainAlignError", "__version__"]
