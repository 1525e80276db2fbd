"""Lazy attribute loading for package ``__init__`` modules, so ``import brainalign.x`` stays cheap
(torch, mne and matplotlib are imported only when a name that needs them is used)."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_getattr(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` resolving ``name`` from ``package + names[name]``.

    ``names`` maps a public name to the relative module defining it (e.g. ``{"RDMs": ".rdm"}``).
    Sub-modules of the package are importable as attributes too.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            module = importlib.import_module(names[name], package)
            return getattr(module, name)
        try:
            return importlib.import_module(f".{name}", package)
        except ModuleNotFoundError as error:
            if error.name != f"{package}.{name}":
                raise
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    return __getattr__
