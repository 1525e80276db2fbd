"""Stimulus order files: a CSV naming stimulus ids in the order of the rows/columns of an RDM or the
images of a folder (``--order FILE`` on the command line).

The CSV has a header. Ids come from its ``id`` column; without one, from a ``file`` or ``path`` column,
each path's file name without suffix (``images/img_01.png`` -> ``img_01``, so the 92-image
``stimuli.csv`` of Kriegeskorte et al. 2008 works as it is). Give an ``id`` column for images in
sub-folders (ids ``concept/stem``). Torch-free, so commands that only read RDM files stay fast.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import PurePath

from brainalign.errors import DataFormatError
from brainalign.inputs import read_csv_rows

ID_COLUMN = "id"
PATH_COLUMNS = ("file", "path")


def read_order(path: str | os.PathLike[str]) -> list[str]:
    """The stimulus ids listed in order file ``path`` (see the module docstring), in file order.

    Raises :class:`DataFormatError` naming the file when it is missing, has no id/file/path column, no
    rows, empty or repeated ids.
    """
    fix = f"give a CSV with an '{ID_COLUMN}' column"
    columns, rows = read_csv_rows(path, "order file", (), fix)
    column = next((name for name in (ID_COLUMN, *PATH_COLUMNS) if name in columns), None)
    if column is None:
        raise DataFormatError(f"order file {path} has no column '{ID_COLUMN}' (nor {' or '.join(PATH_COLUMNS)}); "
                              f"its columns are {columns}: add a header line with '{ID_COLUMN}'")
    values = [row.get(column, "") for row in rows]
    ids = values if column == ID_COLUMN else [PurePath(value).stem for value in values]
    empty = [number for number, value in enumerate(ids, start=2) if not value]
    if empty:
        raise DataFormatError(f"order file {path}: column '{column}' is empty on line(s) {empty[:5]}; "
                              "give every row a stimulus")
    repeated = sorted(value for value, count in Counter(ids).items() if count > 1)
    if repeated:
        raise DataFormatError(f"order file {path}: column '{column}' repeats {repeated[:5]}; "
                              "list every stimulus once")
    return ids
