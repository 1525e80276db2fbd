"""Run directories and atomic file output.

A run directory holds one training or evaluation: ``config.yaml`` (resolved), ``environment.json``
(versions, seed, host), checkpoints, metrics and figures. A run is *finished* when ``DONE`` exists;
a finished run is never overwritten unless ``force=True``. Every file is written to a temporary file
in the same folder and renamed into place, so a crash never leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from brainalign.errors import RunExistsError

DONE_MARKER = "DONE"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    ``suffix`` defaults to ``path``'s own suffix (libraries such as numpy append one otherwise).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix if suffix is None else suffix
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        if temp.exists():  # mkstemp creates 0600; give the file the usual umask-based mode
            os.chmod(temp, 0o666 & ~_current_umask())
        os.replace(temp, target)
    finally:
        if temp.exists():
            temp.unlink()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], content: bytes) -> Path:
    """Write ``content`` to ``path`` atomically; return the path."""
    with atomic_path(path) as temp:
        temp.write_bytes(content)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically; return the path."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(temp_path)`` and rename the result onto ``path``; return the path."""
    with atomic_path(path) as temp:
        writer(temp)
    return Path(path)


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON line to ``path`` (flushed and fsynced, so a kill loses at most this line)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=_json_default) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON-lines file, ignoring a last line cut off by a crash."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def is_finished(run_dir: str | os.PathLike[str]) -> bool:
    """True when ``run_dir`` holds a finished run (its ``DONE`` marker exists)."""
    return (Path(run_dir) / DONE_MARKER).exists()


def prepare_run_dir(run_dir: str | os.PathLike[str], force: bool = False, resume: bool = False) -> Path:
    """Create ``run_dir`` for a new run, or keep it for ``resume``.

    A finished run raises :class:`RunExistsError` unless ``force`` (then it is deleted and started
    afresh). An unfinished run is deleted unless ``resume``.
    """
    path = Path(run_dir)
    if path.exists() and is_finished(path) and not force:
        raise RunExistsError(
            f"{path} holds a finished run; pass --force (force=True) to overwrite it, "
            f"or choose another output directory"
        )
    if path.exists() and (force or not resume):
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def mark_finished(run_dir: str | os.PathLike[str], summary: dict[str, Any] | None = None) -> None:
    """Write the ``DONE`` marker (with an optional JSON summary) as the last step of a run."""
    atomic_write_json(Path(run_dir) / DONE_MARKER, {"finished_at": time.time(), **(summary or {})})


def environment_info(seed: int | None = None) -> dict[str, Any]:
    """Versions of Python and the main libraries, host, and the seed, for a run's records."""
    versions: dict[str, str] = {}
    for name in ("brainalign", "numpy", "scipy", "torch", "torchvision", "sklearn", "mne", "pandas"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name)
            except Exception:  # a missing optional library is recorded as absent
                continue
        versions[name] = str(getattr(module, "__version__", "unknown"))
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "seed": seed,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
