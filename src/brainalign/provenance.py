"""Where a result came from: the one provenance record brainalign writes into ``features.json`` and into
every RDM file computed from features (:class:`Provenance`).

It names the model (the spec as given, its architecture, the weights file or name and the file's sha256,
the checkpoint epoch of a run folder, the seed of any random initialisation), the preprocessing (image
size in pixels, the normalisation mean and std, the spatial pooling of the features), the layers read
out and the brainalign version. The dissimilarity measure of an RDM file is its ``dissimilarity_measure``
and each RDM's layer its ``layer`` descriptor (:class:`brainalign.data.RDMs`).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from brainalign.errors import DataFormatError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Provenance:
    """The record (see the module docstring); ``to_dict``/``from_dict`` give and read its JSON form.

    ``model``: the model's label (``aligned_seed0``, ``cornet_z``); ``spec``: as given to
    :func:`brainalign.models.load`; ``architecture``: the model name (``cornet_z``); ``weights``: the
    weights file (or known / torchvision weights name), None = random initialisation; ``weights_sha256``:
    of that file (None for a name); ``epoch``: checkpoint epoch of a run folder; ``seed``: seed of the
    random initialisation (None when every weight was loaded); ``image_size``: pixels per side;
    ``mean``/``std``: per-channel normalisation of [0, 1] pixels; ``pool``/``pool_size``: spatial pooling
    of the layer outputs (``none``, ``avg``, ``max``; output grid ``pool_size`` x ``pool_size``).
    """

    model: str
    spec: str
    architecture: str
    weights: str | None
    weights_sha256: str | None
    epoch: int | None
    seed: int | None
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    layers: tuple[str, ...]
    pool: str = "none"
    pool_size: int | None = None
    brainalign_version: str = field(default_factory=lambda: _version())

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values."""
        record = asdict(self)
        return {**record, "mean": list(self.mean), "std": list(self.std), "layers": list(self.layers)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], source: str = "the provenance record") -> "Provenance":
        """Read :meth:`to_dict`'s form back; raises :class:`DataFormatError` naming ``source`` and the field."""
        names = {item.name for item in fields(cls)}
        required = {item.name for item in fields(cls) if item.name not in ("pool", "pool_size", "brainalign_version")}
        missing = sorted(required - set(record))
        if missing:
            raise DataFormatError(f"{source}: provenance lacks {missing}; re-create it with this brainalign version")
        values = {key: value for key, value in record.items() if key in names}
        for key in ("mean", "std", "layers"):
            values[key] = tuple(values[key])
        return cls(**values)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of the file at ``path`` (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version() -> str:
    from brainalign import __version__

    return __version__
