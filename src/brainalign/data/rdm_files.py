"""Precomputed RDMs from ``.npy``, ``.npz`` and MATLAB ``.mat`` files, as plain arrays.

:func:`load_rdms` returns ``LoadedRDMs(matrices, names)``: ``matrices`` float64
``(n_rdms, n, n)`` (square, symmetric, zero diagonal) and one name per RDM. Wrap them in
``brainalign.measure.RDMs.from_matrices`` for comparisons.

Accepted layouts:

- ``.npy``: ``(n, n)``, ``(..., n, n)`` (leading axes flattened in C order) or condensed upper
  triangles ``(n_pairs,)`` / ``(n_rdms, n_pairs)`` (``scipy.spatial.distance.squareform`` order).
- ``.npz``: ``key`` selects one array; by default every numeric array shaped ``(..., n, n)`` is
  taken. Names come from a string array ``<key>_names`` or ``<first word of key>_names`` (e.g.
  ``model_rdms`` + ``model_names``), else ``key`` / ``key[i]``.
- ``.mat``: rsatoolbox-MATLAB struct arrays with fields ``RDM`` and ``name`` (e.g. Kriegeskorte
  2008 ``92_brainRDMs.mat``), or numeric variables ``(n, n)`` / ``(n, n, n_rdms)`` (MATLAB stacks
  on the last axis) / condensed vectors.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from brainalign.errors import DataFormatError, ValidationError


class LoadedRDMs(NamedTuple):
    matrices: np.ndarray  # (n_rdms, n, n)
    names: list[str]


def load_rdms(path: str | os.PathLike[str], key: str | None = None) -> LoadedRDMs:
    """Read RDMs from ``path`` (see the module docstring); ``key`` picks one variable of a .npz/.mat."""
    source = Path(path)
    if not source.is_file():
        raise DataFormatError(f"RDM file {source} does not exist; check the path")
    suffix = source.suffix.lower()
    readers = {".npy": _read_npy, ".npz": _read_npz, ".mat": _read_mat}
    if suffix not in readers:
        raise DataFormatError(f"RDM file {source} has suffix {suffix!r}; use .npy, .npz or .mat")
    try:
        stacks = readers[suffix](source, key)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError) as error:
        if isinstance(error, ValidationError):
            raise
        raise DataFormatError(f"RDM file {source} is truncated or unreadable ({error}); re-create or download it again") from None
    if not stacks:
        raise DataFormatError(f"{source} holds no square matrices or condensed RDMs" + (f" under key {key!r}" if key else ""))
    sizes = {matrices.shape[-1] for matrices, _ in stacks}
    if len(sizes) > 1:
        raise DataFormatError(f"{source} holds RDMs of different sizes {sorted(sizes)}; pick one with key=...")
    matrices = np.concatenate([m for m, _ in stacks]).astype(np.float64)
    names = [name for _, stack_names in stacks for name in stack_names]
    _validate(matrices, names, source)
    return LoadedRDMs(matrices, names)


def _as_stack(array: np.ndarray, name: str, names: Any = None, matlab: bool = False) -> tuple[np.ndarray, list[str]] | None:
    """Square stack ``(k, n, n)`` and names from a numeric array, or None if it is not an RDM array."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiu" or array.size < 1:
        return None
    if array.ndim >= 2 and array.shape[-1] == array.shape[-2] and array.shape[-1] > 1:
        stack = array.reshape(-1, *array.shape[-2:])
    elif matlab and array.ndim == 3 and array.shape[0] == array.shape[1]:
        stack = np.moveaxis(array, -1, 0)
    elif array.ndim in (1, 2) and _condensed_size(array.shape[-1]):
        from scipy.spatial.distance import squareform

        stack = np.stack([squareform(row, checks=False) for row in np.atleast_2d(array)])
    else:
        return None
    if names is not None and np.asarray(names).size == len(stack):
        labels = [str(n) for n in np.asarray(names).reshape(-1)]
    else:
        labels = [name] if len(stack) == 1 else [f"{name}[{i}]" for i in range(len(stack))]
    return stack, labels


def _condensed_size(n_pairs: int) -> int:
    """n with n(n-1)/2 == n_pairs (n >= 3), else 0."""
    n = int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))
    return n if n >= 3 and n * (n - 1) // 2 == n_pairs else 0


def _read_npy(path: Path, key: str | None) -> list:
    stack = _as_stack(np.load(path, allow_pickle=False), path.stem)
    return [stack] if stack else []


def _read_npz(path: Path, key: str | None) -> list:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if key is not None and key not in arrays:
        raise DataFormatError(f"{path} has no array {key!r}; arrays: {sorted(arrays)}")
    stacks = []
    for name in [key] if key else list(arrays):
        names = arrays.get(f"{name}_names", arrays.get(f"{name.split('_')[0]}_names"))
        stack = _as_stack(arrays[name], name, names)
        if stack:
            stacks.append(stack)
    return stacks


def _read_mat(path: Path, key: str | None) -> list:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        content = loadmat(path, squeeze_me=True, struct_as_record=False)
    except (MatReadError, TypeError) as error:
        raise DataFormatError(f"{path} is not a readable MATLAB file ({error})") from None
    variables = {name: value for name, value in content.items() if not name.startswith("__")}
    if key is not None and key not in variables:
        raise DataFormatError(f"{path} has no variable {key!r}; variables: {sorted(variables)}")
    stacks = []
    for name in [key] if key else list(variables):
        value = variables[name]
        structs = [item for item in np.atleast_1d(value).ravel() if hasattr(item, "_fieldnames")]
        if structs and all("RDM" in item._fieldnames for item in structs):
            matrices = np.stack([np.asarray(item.RDM, dtype=np.float64) for item in structs])
            labels = [str(getattr(item, "name", f"{name}[{i}]")) for i, item in enumerate(structs)]
            stacks.append((matrices, labels))
        else:
            stack = _as_stack(value, name, matlab=True) if isinstance(value, np.ndarray) else None
            if stack:
                stacks.append(stack)
    return stacks


def _validate(matrices: np.ndarray, names: list[str], source: Path) -> None:
    for matrix, name in zip(matrices, names):
        off_diagonal = matrix[~np.eye(len(matrix), dtype=bool)]
        if not np.all(np.isfinite(off_diagonal)):
            raise ValidationError(f"RDM {name!r} in {source} has NaN/inf dissimilarities; fill or drop those stimuli")
        scale = max(np.abs(off_diagonal).max(), 1e-12)
        if not np.allclose(matrix, matrix.T, atol=1e-5 * scale, equal_nan=True):
            raise ValidationError(f"RDM {name!r} in {source} is not symmetric; is it an RDM (dissimilarities)?")
        diagonal = np.diag(matrix)
        if np.any(np.abs(np.nan_to_num(diagonal)) > 1e-4 * scale):  # float32 rounding leaves ~1e-6
            raise ValidationError(
                f"RDM {name!r} in {source} has a non-zero diagonal; is it a similarity matrix? "
                f"convert with 1 - similarity"
            )
        np.fill_diagonal(matrix, 0.0)
