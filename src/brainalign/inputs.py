"""Reading a user's input files: the one place where a missing, empty, truncated, pickled, undecodable or
non-numeric file becomes a :class:`~brainalign.errors.DataFormatError` that names the file, what is wrong
and the fix. Readers of every input format (RDMs, Responses, features, configs, CSVs, result files) go
through these helpers at their loading boundary, so a traceback from a bad file means a bug in brainalign,
never a bad file. Every helper takes ``what`` (how the message names the input, e.g. ``"RDM file"``) and
``fix`` (what the user should do, e.g. ``"re-create it with `brainalign rdm`"``).

Torch-free and cheap to import.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

import numpy as np

from brainalign.errors import BrainAlignError, DataFormatError, ValidationError

#: Exceptions a reader of a damaged file raises (numpy and its header parser, zipfile, zlib, json, csv,
#: the file system).
READ_ERRORS: tuple[type[Exception], ...] = (
    OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError, SyntaxError,
    tokenize.TokenError, csv.Error,
)


def existing_file(path: str | os.PathLike[str], what: str, fix: str = "check the path") -> Path:
    """``path`` as a Path; raise :class:`DataFormatError` unless it is an existing, non-empty file
    (``fix``: what to do when it does not exist)."""
    source = Path(path)
    if not source.exists():
        raise DataFormatError(f"{what} {source} does not exist; {fix}")
    if not source.is_file():
        raise DataFormatError(f"{what} {source} is a folder, not a file; give the path of the file itself")
    if source.stat().st_size == 0:
        raise DataFormatError(f"{what} {source} is empty (0 bytes); re-create it or give another file")
    return source


@contextlib.contextmanager
def reading(source: str | os.PathLike[str], what: str, fix: str) -> Iterator[None]:
    """Turn a read error raised inside the block (:data:`READ_ERRORS`) into one :class:`DataFormatError`
    naming ``source``; brainalign's own errors pass through unchanged."""
    try:
        yield
    except BrainAlignError:
        raise
    except MemoryError:
        raise DataFormatError(f"{what} {source} declares more data than fits in memory (a damaged header, or "
                              f"a file too large for this machine); {fix}") from None
    except UnicodeDecodeError as error:
        raise DataFormatError(
            f"{what} {source} is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
        ) from None
    except READ_ERRORS as error:
        raise DataFormatError(f"{what} {source} is truncated or unreadable ({_reason(error)}); {fix}") from None


@contextlib.contextmanager
def about(source: str | os.PathLike[str]) -> Iterator[None]:
    """Name ``source`` in a :class:`ValidationError` raised inside the block (a check of the values read
    from it) unless the message already names it."""
    try:
        yield
    except ValidationError as error:
        if str(source) in str(error):
            raise
        raise ValidationError(f"{source}: {error}") from None


@contextlib.contextmanager
def for_field(key: str) -> Iterator[None]:
    """Name config field ``key`` (e.g. ``data.test_responses``) in a brainalign error raised inside the
    block, so a message about one of several files says which setting points at it."""
    try:
        yield
    except BrainAlignError as error:
        if str(error).startswith(key):
            raise
        raise type(error)(f"{key}: {error}") from None


def read_text(path: str | os.PathLike[str], what: str, fix: str = "save it as UTF-8 text") -> str:
    """The text of file ``path`` (UTF-8, an initial byte-order mark dropped)."""
    source = existing_file(path, what)
    with reading(source, what, fix):
        return source.read_text(encoding="utf-8-sig")


def read_json(path: str | os.PathLike[str], what: str, fix: str) -> dict[str, Any]:
    """The JSON object (a mapping) in file ``path``."""
    text = read_text(path, what, fix)
    return json_object(text, f"{what} {path}", fix)


def json_object(text: str, where: str, fix: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object; ``where`` names it in the message (e.g. ``"meta of x.npz"``)."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise DataFormatError(f"{where} is not valid JSON ({error}); {fix}") from None
    if not isinstance(value, dict):
        raise DataFormatError(f"{where} holds a JSON {type(value).__name__}, not an object of named fields; {fix}")
    return value


def required_fields(record: dict[str, Any], fields: dict[str, type | tuple[type, ...]], where: str,
                    fix: str) -> None:
    """Raise unless ``record`` has every key of ``fields`` with a value of the given type(s)."""
    missing = [key for key in fields if key not in record]
    if missing:
        raise DataFormatError(f"{where} lacks the field(s) {missing}; {fix}")
    for key, kind in fields.items():
        if not isinstance(record[key], kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise DataFormatError(f"{where}: field {key!r} is {type(record[key]).__name__} {record[key]!r:.60}, "
                                  f"expected {names}; {fix}")


def read_csv_rows(path: str | os.PathLike[str], what: str, required: Sequence[str],
                  fix: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (column -> text, stripped) of CSV file ``path``. Raises naming the file when
    it is missing, empty or not UTF-8, lacks a ``required`` column, has no rows, or a row leaves a
    ``required`` column empty (with the line numbers)."""
    text = read_text(path, what, fix)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    with reading(path, what, fix):
        columns = [str(name).strip() for name in reader.fieldnames or []]
        reader.fieldnames = columns
        rows = [{key: (value or "").strip() for key, value in row.items() if isinstance(key, str)} for row in reader]
    missing = [name for name in required if name not in columns]
    if missing:
        raise DataFormatError(f"{what} {path} lacks column(s) {missing} (its header is {columns}); {fix}")
    if not rows:
        raise DataFormatError(f"{what} {path} has a header but no rows; {fix}")
    for name in required:
        empty = [line for line, row in enumerate(rows, start=2) if not row.get(name)]
        if empty:
            raise DataFormatError(f"{what} {path}: column '{name}' is empty on line(s) {empty[:5]}; {fix}")
    return columns, rows


def load_array(path: str | os.PathLike[str], what: str, fix: str, mmap: bool = False) -> np.ndarray:
    """The numeric array of ``.npy`` file ``path`` (memory-mapped read-only with ``mmap``). Never
    unpickles: a file of Python objects, strings or another non-numeric dtype is refused by its header."""
    source = existing_file(path, what)
    with reading(source, what, fix):
        with open(source, "rb") as handle:
            shape, dtype = npy_header(handle)
            stored = source.stat().st_size - handle.tell()
        numeric_dtype(dtype, f"{what} {source}", fix)
        if math.prod(shape) * dtype.itemsize > stored:
            raise DataFormatError(f"{what} {source} is truncated: its header declares shape {shape} of {dtype}, "
                                  f"more than the {stored} bytes stored; {fix}")
        return np.load(source, mmap_mode="r" if mmap else None, allow_pickle=False)


def npy_header(handle: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """Shape and dtype from the header of the ``.npy`` data in ``handle`` (nothing else is read);
    ValueError when it is not ``.npy`` data."""
    version = np.lib.format.read_magic(handle)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(handle)
    return tuple(int(n) for n in shape), dtype


def numeric_dtype(dtype: np.dtype[Any], where: str, fix: str) -> None:
    """Raise unless ``dtype`` is a number type (bool, integer or float)."""
    if dtype.hasobject:
        raise DataFormatError(f"{where} holds pickled Python objects (dtype {dtype}), which brainalign never "
                              f"loads; save a numeric array instead ({fix})")
    if dtype.kind not in "biuf":
        raise DataFormatError(f"{where} holds {dtype} values, not numbers; {fix}")


def _reason(error: BaseException) -> str:
    """A short reason for a read error (the exception's text, or its type when it has none)."""
    text = str(error).strip() or type(error).__name__
    return text if len(text) < 200 else text[:200] + "..."
