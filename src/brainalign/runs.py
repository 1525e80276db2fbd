"""Run folders, atomic file output, and the rule that brainalign only ever replaces its own files.

A run folder holds one command's output (a study, a training run, features, ...): ``config.yaml``,
``environment.json``, checkpoints, metrics, figures. brainalign recognises its own run folders by
``.brainalign-run.jsonl``: the first line names the kind of run, the command, the brainalign version and
the start time; every further line is one file or folder the run created there (its manifest), recorded
before the file is written. ``.brainalign-run.lock`` holds the pid and host of the process using the run
(an OS lock, released when the process ends, so a killed run's lock is free again).

The rule (:func:`open_run`): a new or empty folder becomes a run; an existing non-empty folder without
the marker, a file where a folder is expected and a path inside another run are refused whatever the
options, and nothing there is touched. A *finished* run (``DONE`` exists) is redone only with ``force``,
an unfinished one is continued with ``resume`` or redone with ``force``; redoing removes exactly the
manifest's files (and folders it created, when empty), never anything else. A run that fails before its
computation starts (:meth:`Run.keep`) removes what it wrote. Every file is written to a temporary file
in the same folder and renamed into place, so a crash never leaves a half-written file behind; a
temporary file of a killed run is removed when the run is resumed or redone.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import re
import socket
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Iterator, Literal

from brainalign.errors import DataFormatError, RunExistsError

DONE_MARKER = "DONE"
MARKER = ".brainalign-run.jsonl"
LOCK = ".brainalign-run.lock"
TEMP_PREFIX = ".brainalign-tmp-"  # atomic_path's temporaries: .brainalign-tmp-<name>.<8 random><suffix>
_INTERNAL = (MARKER, LOCK)

RunState = Literal["new", "empty", "finished", "unfinished"]
EntryType = Literal["file", "dir", "run"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    ``suffix`` defaults to ``path``'s own suffix (libraries such as numpy append one otherwise).
    """
    target = claim(path)
    make_dirs(target.parent)
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f"{TEMP_PREFIX}{target.name}.", suffix=target.suffix if suffix is None else suffix
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
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=json_default) + "\n")


def atomic_write_with(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(temp_path)`` and rename the result onto ``path``; return the path."""
    with atomic_path(path) as temp:
        writer(temp)
    return Path(path)


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON line to ``path`` (flushed and fsynced, so a kill loses at most this line)."""
    target = claim(path)
    make_dirs(target.parent)
    _append_line(target, record, sync=True)


def _append_line(path: Path, record: dict[str, Any], sync: bool = False) -> None:
    """Append ``record`` as one JSON line (``sync``: flushed and fsynced). A run marker's lines need no
    fsync: a line lost in a crash leaves a file unlisted, i.e. treated as the user's and never removed."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=json_default) + "\n")
        if sync:
            handle.flush()
            os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON-lines file, ignoring a last line cut off by a crash; raises one error naming a file that is
    not UTF-8 text (not written by brainalign, or damaged)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: not UTF-8 text, so not a record brainalign wrote (or a damaged one); move it "
                              f"away, or choose another folder") from None
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def json_default(obj: Any) -> Any:
    """``json.dumps``'s ``default`` for brainalign's records: arrays and numpy/torch scalars as lists or
    numbers, paths as text."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def is_finished(run_dir: str | os.PathLike[str]) -> bool:
    """True when ``run_dir`` holds a finished run (its ``DONE`` marker exists)."""
    return (Path(run_dir) / DONE_MARKER).exists()


def is_run(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a brainalign run folder (it holds the marker)."""
    return (Path(path) / MARKER).is_file()


class Run:
    """An open run folder: holds the folder's lock and records every path brainalign creates inside it.

    Use it as a context manager (:func:`open_run`); on leaving, the lock is released. Files written with
    this module's helpers inside ``path`` are recorded automatically (:func:`claim`).
    """

    def __init__(self, path: Path, kind: str, lock: int, entries: dict[str, EntryType], fresh: bool,
                 created: bool) -> None:
        self.path, self.kind = path, kind
        self._lock, self._entries = lock, entries
        self._created, self._kept = created, not fresh

    def claim(self, path: str | os.PathLike[str], entry: EntryType = "file") -> Path:
        """Record ``path`` (inside this run) and the folders on the way to it that do not exist yet as
        written by brainalign; refuse a file that exists but is not in the manifest."""
        target = _absolute(path)
        parts = target.relative_to(self.path).parts
        if not parts or parts[-1] in _INTERNAL:
            return target
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in self._entries and not (self.path / folder).exists():
                self._record(folder, "dir")
        name = "/".join(parts)
        if name in self._entries:
            return target
        if entry == "file" and os.path.lexists(target):
            raise RunExistsError(
                f"{target} exists and was not written by brainalign (it is not in {self.path / MARKER}); "
                "brainalign never overwrites a file it did not write: move it away or choose another folder"
            )
        if entry == "dir" and target.exists():
            return target  # someone else's folder: written into, never removed
        self._record(name, entry)
        return target

    def keep(self) -> None:
        """Mark the start of the computation: from here on a failure leaves the run for ``--resume``
        (before, a failure removes everything the run wrote)."""
        self._kept = True

    def close(self, failed: bool = False) -> None:
        """Release the lock (and, when ``failed`` before :meth:`keep`, remove what the run wrote)."""
        if self in _OPEN_RUNS:
            _OPEN_RUNS.remove(self)
        try:
            if failed and not self._kept:
                _clean(self.path)
                _undo(self.path, self._created)
        finally:
            os.close(self._lock)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(failed=error is not None)

    def _record(self, name: str, entry: EntryType) -> None:
        self._entries[name] = entry
        _append_line(self.path / MARKER, {"path": name, "type": entry})


_OPEN_RUNS: list[Run] = []


def claim(path: str | os.PathLike[str], entry: EntryType = "file") -> Path:
    """Record ``path`` in the manifest of the innermost open run of this process holding it (nothing
    when none does); refuse to overwrite a file in a run that brainalign did not write. Returns ``path``."""
    run = _innermost(_absolute(path))
    if run is not None:
        run.claim(path, entry)
    return Path(path)


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p path``, recording the folders it creates in the run holding them."""
    claim(path, "dir")
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


@contextlib.contextmanager
def output_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """``mkdir -p path`` for a single output file's folder (outside a run); when the block fails, the folders
    it created are removed again (each only when empty), so a refused or failed command leaves no debris."""
    target = Path(path)
    created = [folder for folder in (target, *target.parents) if not folder.exists()]  # deepest first
    make_dirs(target)
    try:
        yield target
    except BaseException:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def check_run_dir(path: str | os.PathLike[str], kind: str, force: bool = False, resume: bool = False,
                  resumable: bool = True, parent: "Run | str | os.PathLike[str] | None" = None) -> RunState:
    """Refuse an output folder brainalign may not use as a ``kind`` run; return its state.

    Cheap (no imports, no writes), so a command calls it before any heavy import or computation;
    :func:`open_run` applies it again under the lock. ``resumable``: the command has ``--resume``
    (it is offered in the message). ``parent``: the run this one is nested in (a study's sweep).
    """
    target = _absolute(path)
    return _check(target, kind, force, resume, resumable, _parent_path(target, parent), probe_lock=True)


def open_run(path: str | os.PathLike[str], kind: str, force: bool = False, resume: bool = False,
             resumable: bool = True, parent: "Run | str | os.PathLike[str] | None" = None) -> Run:
    """Open ``path`` as a ``kind`` run under the rule of this module; return the open :class:`Run`.

    New or empty folder: a new run. Finished run: refused unless ``force``. Unfinished run: continued
    with ``resume``, redone with ``force``, else refused. Redoing removes only the manifest's files.
    ``parent``: the run this one is nested in (default: the innermost run this process has open that
    holds ``path``; a path for a run held by another process, e.g. a sweep's Ray workers).
    """
    target = _absolute(path)
    parent = _innermost(target) if parent is None else parent
    parent_path = _parent_path(target, parent)
    state = _check(target, kind, force, resume, resumable, parent_path, probe_lock=True)
    created = state == "new"
    if isinstance(parent, Run):
        parent.claim(target, "run")
    target.mkdir(parents=True, exist_ok=True)
    lock = _take_lock(target)
    try:
        state = _check(target, kind, force, resume, resumable, parent_path, probe_lock=False)
        resuming = state == "unfinished" and resume and not force
        if resuming:
            entries = _manifest(target)
            _remove_temporaries(target, entries)
            _append_line(target / MARKER, {"resumed": _now(), "pid": os.getpid()})
        else:
            if state in ("finished", "unfinished"):
                _clean(target)
            entries = {}
            header = {"brainalign_run": kind, "command": _command(), "version": _version(), "started": _now()}
            atomic_write_text(target / MARKER, json.dumps(header) + "\n")
    except BaseException:
        os.close(lock)
        raise
    run = Run(target, kind, lock, entries, fresh=not resuming, created=created)
    _OPEN_RUNS.append(run)
    return run


def reopen_run(path: str | os.PathLike[str], command: str) -> Run:
    """Open an existing run folder to add to it (``brainalign report``); refused when ``path`` is not a
    brainalign run or another process holds it. Nothing is removed on failure."""
    target = _absolute(path)
    if not is_run(target):
        raise RunExistsError(f"{path} is not a brainalign run folder (it has no {MARKER}); {command} writes only "
                             "into folders written by brainalign: give the folder of a study or the demo")
    lock = _take_lock(target)
    entries = _manifest(target)
    run = Run(target, _header(target).get("brainalign_run", "?"), lock, entries, fresh=False, created=False)
    _OPEN_RUNS.append(run)
    return run


def check_output_file(path: str | os.PathLike[str], force: bool, ours: Callable[[Path], bool]) -> None:
    """Refuse to write the single file ``path`` when it exists and brainalign did not write it
    (``ours(path)`` is False), with or without ``force``; a file brainalign wrote is replaced only with
    ``force``. Also refuses a folder where the file should go and a parent that is a file."""
    target = Path(path)
    _check_parents(_absolute(target))
    if not os.path.lexists(target):
        return
    if target.is_dir():
        raise RunExistsError(f"{target} is a folder; give a file name there (or choose another path)")
    if not ours(target):
        raise RunExistsError(f"{target} exists and was not written by brainalign; brainalign never overwrites a "
                             "file it did not write, with or without --force: choose another file name")
    if not force:
        raise RunExistsError(f"{target} exists; pass --force to overwrite it or choose another file name")


def _check(path: Path, kind: str, force: bool, resume: bool, resumable: bool, parent: Path | None,
           probe_lock: bool) -> RunState:
    fix = "choose a new or empty folder"
    if os.path.lexists(path) and not path.is_dir():
        raise RunExistsError(f"{path} is a file, not a folder; brainalign writes a folder of results there: {fix}")
    _check_parents(path)
    for ancestor in path.parents:
        if is_run(ancestor):
            if ancestor == parent:
                break
            other = _header(ancestor).get("brainalign_run", "brainalign")
            raise RunExistsError(f"{path} is inside the brainalign {other} run {ancestor}, whose folders belong to "
                                 f"that run; {fix} outside {ancestor}")
    if not path.exists():
        return "new"
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunExistsError(f"{path} is not writable; {fix} you can write to")
    if not is_run(path):
        if any(name != LOCK for name in os.listdir(path)):
            raise RunExistsError(
                f"{path} is not empty and was not written by brainalign (it has no {MARKER}); brainalign never "
                f"writes into or deletes such a folder, with or without --force: {fix}"
            )
        return "empty"
    header = _header(path)
    other = header.get("brainalign_run")
    if other != kind:
        raise RunExistsError(f"{path} holds a brainalign {other} run, not a {kind} run; {fix} (or the command "
                             f"that wrote it)")
    if probe_lock:
        holder = _lock_holder(path)
        if holder is not None:
            raise RunExistsError(f"{path} is in use by another brainalign process ({holder}); wait for it to end "
                                 "or choose another folder")
    redo = "removes only the files brainalign wrote there"
    if is_finished(path):
        if force:
            return "finished"
        raise RunExistsError(f"{path} holds a finished {kind} run; pass --force to redo it ({redo}), or choose "
                             f"another folder")
    if force or (resume and resumable):
        return "unfinished"
    offer = "--resume to continue it or --force to start it afresh" if resumable else "--force to start it afresh"
    raise RunExistsError(f"{path} holds an unfinished {kind} run (started {header.get('started', '?')}); "
                         f"pass {offer} ({redo}), or choose another folder")


def _parent_path(target: Path, parent: "Run | str | os.PathLike[str] | None") -> Path | None:
    parent = _innermost(target) if parent is None else parent
    return parent.path if isinstance(parent, Run) else None if parent is None else _absolute(parent)


def remove_written(path: str | os.PathLike[str]) -> None:
    """Remove the files brainalign wrote under the folder ``path`` of an open run (by its manifest) and
    the folder when it is then empty; anything else there stays."""
    target = _absolute(path)
    run = _innermost(target)
    if run is None:
        raise RunExistsError(f"{target} is not inside a run this process has open; brainalign removes only "
                             "files it recorded writing")
    folder = target.relative_to(run.path).as_posix()
    entries = {name: entry for name, entry in run._entries.items() if name.startswith(folder + "/")}
    _remove_entries(run.path, entries, folder)


def _check_parents(path: Path) -> None:
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise RunExistsError(f"{ancestor} is a file, so {path} cannot be created; choose another path")
            if not os.access(ancestor, os.W_OK | os.X_OK) and not path.exists():
                raise RunExistsError(f"{ancestor} is not writable, so {path} cannot be created; choose another path")
            return


def _absolute(path: str | os.PathLike[str]) -> Path:
    target = Path(path).expanduser()
    return target.parent.resolve() / target.name if target.name else target.resolve()


def _innermost(path: Path) -> Run | None:
    holding = [run for run in _OPEN_RUNS if path == run.path or run.path in path.parents]
    return max(holding, key=lambda run: len(run.path.parts), default=None)


def _header(path: Path) -> dict[str, Any]:
    records = read_jsonl(path / MARKER)
    return records[0] if records and isinstance(records[0], dict) else {}


def _manifest(path: Path) -> dict[str, EntryType]:
    return {str(record["path"]): record.get("type", "file") for record in read_jsonl(path / MARKER)[1:]
            if isinstance(record, dict) and isinstance(record.get("path"), str) and ".." not in Path(record["path"]).parts}


def _clean(path: Path) -> None:
    """Remove the files and runs in ``path``'s manifest (and the folders it created, when empty)."""
    entries = _manifest(path)
    for name, entry in entries.items():
        if entry == "run" and is_run(path / name):
            lock = _take_lock(path / name)
            try:
                _clean(path / name)
            finally:
                os.close(lock)
            _undo(path / name, created=True)
    _remove_entries(path, entries)


def _remove_entries(root: Path, entries: dict[str, EntryType], *folders: str) -> None:
    """Remove the files of ``entries`` (paths relative to ``root``) and the temporaries of their killed
    writes, then the other entries and ``folders``, deepest first, each only when empty (a folder holding
    someone else's file stays)."""
    for name, entry in entries.items():
        target = root / name
        if entry == "file" and os.path.lexists(target) and not target.is_dir():
            target.unlink()
    _remove_temporaries(root, entries)
    for name in sorted([n for n, e in entries.items() if e != "file"] + list(folders), key=lambda n: -n.count("/")):
        with contextlib.suppress(OSError):
            (root / name).rmdir()


def _remove_temporaries(path: Path, entries: dict[str, EntryType]) -> None:
    """Remove the temporary files :func:`atomic_path` leaves when killed:
    ``.brainalign-tmp-<name>.<random><suffix>`` (:data:`TEMP_PREFIX`), ``<random>`` being
    :func:`tempfile.mkstemp`'s 8 characters and ``<suffix>`` empty or starting with a dot. Only names of that
    form go: a user's ``.<name>.swp``, ``.<name>.backup`` or ``.<name>.12345678`` beside a recorded file stays."""
    for name, entry in entries.items():
        if entry == "file":
            target = path / name
            temporary = re.compile(re.escape(f"{TEMP_PREFIX}{target.name}.") + r"[a-z0-9_]{8}(\..*)?")
            for temp in target.parent.iterdir() if target.parent.is_dir() else []:
                if temporary.fullmatch(temp.name) and temp.is_file():
                    temp.unlink()


def _undo(path: Path, created: bool) -> None:
    """Drop the marker and lock of an emptied run; remove the folder when brainalign created it."""
    if any(name not in _INTERNAL for name in os.listdir(path)):
        return  # someone else's files remain: the folder stays a (redoable) run
    for name in _INTERNAL:
        (path / name).unlink(missing_ok=True)
    if created:
        with contextlib.suppress(OSError):
            path.rmdir()


def _take_lock(path: Path) -> int:
    descriptor = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _read_holder(path)
        os.close(descriptor)
        raise RunExistsError(f"{path} is in use by another brainalign process ({holder}); wait for it to end or "
                             "choose another folder") from None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"pid {os.getpid()} on {socket.gethostname()} since {_now()}\n".encode())
    return descriptor


def _lock_holder(path: Path) -> str | None:
    """Who holds ``path``'s lock, or None when it is free (a lock of a process that ended is free)."""
    if not (path / LOCK).exists():
        return None
    descriptor = os.open(path / LOCK, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return _read_holder(path)
    finally:
        os.close(descriptor)
    return None


def _read_holder(path: Path) -> str:
    try:
        return (path / LOCK).read_text(encoding="utf-8").strip() or "pid unknown"
    except OSError:
        return "pid unknown"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _command() -> str:
    name = Path(sys.argv[0]).name if sys.argv else ""
    return " ".join(["brainalign", *sys.argv[1:]]) if name in ("brainalign", "__main__.py") else "python"


def _version() -> str:
    from brainalign import __version__

    return __version__


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
        "time": _now(),
    }
