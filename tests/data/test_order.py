"""Stimulus order files (--order): ids from an id column or file names, clear errors, folders reordered."""
from __future__ import annotations

import pytest
from PIL import Image

from brainalign.data import Stimuli
from brainalign.data.order import read_order
from brainalign.errors import DataFormatError


def test_ids_from_id_column_or_file_names(tmp_path) -> None:
    (tmp_path / "ids.csv").write_text("id,category\nb,x\na,y\n")
    (tmp_path / "files.csv").write_text("index,file\n0,images/img_10.png\n1,images/img_2.png\n")
    assert read_order(tmp_path / "ids.csv") == ["b", "a"]
    assert read_order(tmp_path / "files.csv") == ["img_10", "img_2"]


@pytest.mark.parametrize("content, message", [
    ("name\na\n", "no column 'id'"),
    ("id\n", "no rows"),
    ("id\na\n\nb\n,\n", "empty on line"),
    ("id\na\nb\na\n", r"repeats \[.a.\]"),
])
def test_bad_order_files_name_the_file_and_the_fix(tmp_path, content, message) -> None:
    (tmp_path / "order.csv").write_text(content)
    with pytest.raises(DataFormatError, match=message) as raised:
        read_order(tmp_path / "order.csv")
    assert "order.csv" in str(raised.value)
    with pytest.raises(DataFormatError, match="does not exist"):
        read_order(tmp_path / "missing.csv")


def test_folder_in_the_order_of_a_file(tmp_path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a", "b", "c"):
        Image.new("RGB", (8, 8)).save(folder / f"{name}.png")
    (tmp_path / "order.csv").write_text("id\nc\na\n")
    assert Stimuli.from_folder(folder).in_order(tmp_path / "order.csv").ids == ["c", "a"]
    (tmp_path / "bad.csv").write_text("id\nc\nz\n")
    with pytest.raises(DataFormatError, match=r"lists 1 id\(s\) that are not among the stimuli, e.g. \['z'\]"):
        Stimuli.from_folder(folder).in_order(tmp_path / "bad.csv")


def test_shared_92_image_order_is_the_folder_order(shared_data) -> None:
    """stimuli.csv of the 92-image set names img_01..img_92, the natural order of its images folder."""
    folder = shared_data / "kriegeskorte2008_92images"
    order = read_order(folder / "stimuli.csv")
    assert order == [f"img_{i:02d}" for i in range(1, 93)] == Stimuli.from_folder(folder / "images").ids
