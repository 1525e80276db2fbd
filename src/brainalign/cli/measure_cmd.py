"""CLI commands of this area (registered on ``brainalign.cli.app.app`` when imported)."""
from __future__ import annotations

from brainalign.cli.app import app  # noqa: F401
