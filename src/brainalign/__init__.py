"""brainalign: align vision models with human brain responses and measure how brain-like they are.

Sub-packages: ``models`` (CORnet-S/Z, torchvision backbones, weights), ``data`` (stimuli, neural
responses, loaders, simulated observer), ``align`` (ReAlnet training), ``measure`` (features, RDMs,
RSA, statistics, robustness), ``report`` (figures and HTML reports), ``cli``.
"""
from __future__ import annotations

from brainalign.errors import BrainAlignError

__version__ = "0.1.0"

__all__ = ["BrainAlignError", "__version__"]
