"""Labelled image sets for classification and attacks: an ImageNet-style folder tree or a ``path,label`` CSV,
with an optional class-index file mapping class names to integer labels."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from brainalign.data.stimuli import Stimuli
from brainalign.errors import DataFormatError, ValidationError


@dataclass
class LabelledImages:
    """Images with integer class labels: ``stimuli`` (ids = paths without suffix) and ``labels`` ``(n,)`` int64."""

    stimuli: Stimuli
    labels: np.ndarray


def load_labelled_images(source: str | Path, class_index: str | Path | None = None) -> LabelledImages:
    """Labelled images from an ImageNet-style folder tree or a CSV.

    - Folder ``root/<class>/.../<image>``: the class of an image is its top folder under ``root``,
      turned into an index by ``class_index``; without it, class folders must be integer indices.
    - CSV with header ``path,label`` (paths relative to the CSV; a Stimuli table ``id,path,concept``
      uses ``concept`` as the label): labels are integer indices or class names looked up in ``class_index``.

    ``class_index``: JSON (``{"0": ["n01440764", "tench"], ...}`` as torchvision's
    ``imagenet_class_index.json``, ``{"n01440764": 0, ...}``, or a list of class names in index order)
    or a CSV with a class column and an integer index column.
    """
    path = Path(source)
    mapping = None if class_index is None else read_class_index(class_index)
    if path.is_dir():
        stimuli = Stimuli.from_folder(path)
        loose = [stimulus_id for stimulus_id in stimuli.ids if "/" not in stimulus_id]
        if loose:
            raise DataFormatError(
                f"{path}: image {loose[0]!r} is not inside a class folder; an ImageNet-style tree is "
                "root/<class>/<image> (or give a CSV of path,label)"
            )
        names = [stimulus_id.split("/")[0] for stimulus_id in stimuli.ids]
        where = f"class folder under {path}"
    elif path.is_file():
        stimuli, names = _read_label_csv(path)
        where = f"label in {path}"
    else:
        raise DataFormatError(f"{path} does not exist; give a folder of class sub-folders or a CSV of path,label")
    labels = np.array([_class_to_index(name, mapping, where, class_index) for name in names], dtype=np.int64)
    return LabelledImages(stimuli=stimuli, labels=labels)


def read_class_index(path: str | Path) -> dict[str, int]:
    """Read a class-index file (JSON or CSV, see :func:`load_labelled_images`) into ``{class name: index}``.
    Every name given for a class (e.g. WordNet id and readable name) maps to its index."""
    import json

    file = Path(path)
    if not file.is_file():
        raise DataFormatError(f"class index {file} does not exist; give a JSON or CSV class-index file")
    try:
        if file.suffix.lower() == ".json":
            content = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(content, list):
                return {str(name): index for index, name in enumerate(content)}
            if isinstance(content, dict) and all(isinstance(v, list) for v in content.values()):
                return {str(name): int(index) for index, names in content.items() for name in names}
            return {str(name): int(index) for name, index in content.items()}
        table = pd.read_csv(file, dtype=str)
    except (ValueError, TypeError, AttributeError, pd.errors.ParserError) as error:
        raise DataFormatError(f"class index {file} is not in a known layout ({error}); see load_labelled_images") from None
    integer_columns = [c for c in table.columns if table[c].str.fullmatch(r"\s*\d+\s*").all()]
    if len(table.columns) < 2 or not integer_columns:
        raise DataFormatError(
            f"class index {file} needs a class-name column and an integer index column; found columns {list(table.columns)}"
        )
    index_column = integer_columns[0]
    return {
        str(name).strip(): int(index)
        for column in table.columns
        if column != index_column
        for name, index in zip(table[column], table[index_column])
    }


def _read_label_csv(path: Path) -> tuple[Stimuli, list[str]]:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataFormatError(f"{path}: not a readable CSV ({error})") from None
    table.columns = [str(column).strip().lower() for column in table.columns]
    if "label" not in table.columns and "concept" in table.columns:  # a Stimuli table (id,path,concept)
        table = table.rename(columns={"concept": "label"})
    if not {"path", "label"} <= set(table.columns) or table.empty:
        raise DataFormatError(
            f"{path}: needs a header 'path,label' (or 'path,concept') and one row per image; found columns {list(table.columns)}"
        )
    files = [(path.parent / name).resolve() if not Path(name).is_absolute() else Path(name) for name in table["path"]]
    absent = [str(file) for file in files if not file.is_file()]
    if absent:
        raise DataFormatError(f"{path}: {len(absent)} listed image(s) do not exist, e.g. {absent[:3]} (paths are relative to the CSV)")
    ids = list(table["id"]) if "id" in table.columns else [Path(name).with_suffix("").as_posix() for name in table["path"]]
    return Stimuli(ids, paths=files), [label.strip() for label in table["label"]]


def _class_to_index(name: str, mapping: dict[str, int] | None, where: str, class_index: str | Path | None) -> int:
    if mapping is not None and name in mapping:
        return mapping[name]
    if mapping is None and name.lstrip("-").isdigit():
        return int(name)
    if mapping is None:
        raise ValidationError(f"{where} {name!r} is not an integer class index; pass a class-index file (class_index=, --class-index)")
    raise ValidationError(f"{where} {name!r} is not in the class index {class_index}; fix the name or the mapping")
