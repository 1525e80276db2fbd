"""Stimuli from folders, CSV tables and arrays; preprocessing; clear errors for bad images and tables."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brainalign.data import Stimuli
from brainalign.data.stimuli import IMAGENET_MEAN, IMAGENET_STD
from brainalign.errors import DataFormatError, ValidationError

COLOURS = {"b_red": (255, 0, 0), "a_grey": (128, 128, 128), "c_blue": (0, 0, 255)}


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    """Three uniform-colour 20x30 images (different formats), plus a text file that is ignored."""
    for (name, colour), suffix in zip(COLOURS.items(), (".png", ".jpg", ".bmp")):
        Image.new("RGB", (30, 20), colour).save(tmp_path / f"{name}{suffix}")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_folder_sorted_ids_and_resized_pixels(image_folder: Path) -> None:
    stimuli = Stimuli.from_folder(image_folder)
    assert stimuli.ids == ["a_grey", "b_red", "c_blue"] and len(stimuli) == 3 and stimuli.concepts is None
    pixels = stimuli.load(size=16, normalize=False)
    assert pixels.shape == (3, 3, 16, 16) and pixels.dtype == torch.float32
    expected = torch.tensor([COLOURS[i] for i in stimuli.ids], dtype=torch.float32) / 255
    # uniform images stay uniform after resizing (JPEG may shift a colour by a few levels)
    assert torch.allclose(pixels.mean(dim=(2, 3)), expected, atol=3 / 255)
    assert torch.allclose(pixels.amin(dim=(2, 3)), pixels.amax(dim=(2, 3)), atol=3 / 255)
    normalised = stimuli.load([2, 0], size=16)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(normalised, (pixels[[2, 0]] - mean) / std, atol=1e-6)


def test_batches_cover_all_stimuli_in_order(image_folder: Path) -> None:
    stimuli = Stimuli.from_folder(image_folder)
    batches = list(stimuli.batches(2, size=8))
    assert [list(indices) for indices, _ in batches] == [[0, 1], [2]]
    assert torch.equal(torch.cat([images for _, images in batches]), stimuli.load(size=8))


def test_csv_relative_paths_concepts_and_subset(image_folder: Path) -> None:
    table = image_folder / "tables" / "stimuli.csv"
    table.parent.mkdir()
    table.write_text("id,path,concept\nred,../b_red.png,warm\nblue,../c_blue.bmp,cold\n")
    stimuli = Stimuli.from_csv(table)
    assert stimuli.ids == ["red", "blue"] and stimuli.concepts == ["warm", "cold"]
    picked = stimuli.subset(["blue", "red"])
    assert picked.ids == ["blue", "red"] and picked.concepts == ["cold", "warm"]
    assert torch.equal(picked.load(size=8), stimuli.load([1, 0], size=8))
    with pytest.raises(ValidationError, match="green"):
        stimuli.subset(["green"])


def test_csv_errors_name_the_problem(tmp_path: Path) -> None:
    table = tmp_path / "bad.csv"
    table.write_text("name,file\na,a.png\n")
    with pytest.raises(DataFormatError, match=r"lacks column\(s\) \['id', 'path'\]"):
        Stimuli.from_csv(table)
    table.write_text("id,path\na,absent.png\n")
    with pytest.raises(DataFormatError, match="absent.png"):
        Stimuli.from_csv(table)


def test_undecodable_image_names_the_file(image_folder: Path) -> None:
    (image_folder / "broken.png").write_bytes(b"\x89PNG truncated")
    stimuli = Stimuli.from_folder(image_folder)
    with pytest.raises(DataFormatError, match="broken.png"):
        stimuli.load(size=8)


def test_array_uint8_and_float_agree() -> None:
    rng = np.random.default_rng(0)
    uint8 = rng.integers(0, 256, size=(4, 12, 10, 3), dtype=np.uint8)
    from_uint8 = Stimuli.from_array(uint8, concepts=["a", "a", "b", "b"])
    from_float = Stimuli.from_array(torch.from_numpy(uint8).permute(0, 3, 1, 2).float() / 255, ids=list("wxyz"))
    assert from_uint8.ids == ["0", "1", "2", "3"] and from_float.ids == ["w", "x", "y", "z"]
    native = from_uint8.images
    assert native is not None and native.shape == (4, 3, 12, 10)
    assert torch.equal(native[2, :, 5, 7], torch.from_numpy(uint8[2, 5, 7]).float() / 255)
    assert torch.equal(from_uint8.load([1], size=16), from_float.load([1], size=16))


def test_array_validation() -> None:
    with pytest.raises(ValidationError, match=r"\(n, h, w, 3\)"):
        Stimuli.from_array(np.zeros((2, 3, 8, 8), dtype=np.uint8))
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        Stimuli.from_array(np.full((2, 3, 8, 8), 2.0, dtype=np.float32))
    with pytest.raises(ValidationError, match="unique"):
        Stimuli.from_array(np.zeros((2, 8, 8, 3), dtype=np.uint8), ids=["a", "a"])
    with pytest.raises(ValidationError, match="3 concepts for 2 images"):
        Stimuli.from_array(np.zeros((2, 8, 8, 3), dtype=np.uint8), concepts=["a", "b", "c"])


def test_nested_folders_give_concept_stem_ids_in_natural_order(tmp_path: Path) -> None:
    """The THINGS-EEG2 image_set layout: <split>_images/<concept>/<image>.jpg, read recursively."""
    names = ["00010_zebra/zebra_10s.jpg", "00002_bee/bee_2b.jpg", "00002_bee/bee_10b.jpg", "00002_bee/.hidden.jpg"]
    for name in names:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "00002_bee" / "notes.txt").write_text("not an image")
    stimuli = Stimuli.from_folder(tmp_path)
    assert stimuli.ids == ["00002_bee/bee_2b", "00002_bee/bee_10b", "00010_zebra/zebra_10s"]  # 2 < 10
    assert stimuli.concepts == ["00002_bee", "00002_bee", "00010_zebra"]
    assert [p.relative_to(tmp_path).as_posix() for p in stimuli.paths] == [names[1], names[2], names[0]]
    Image.new("RGB", (8, 8)).save(tmp_path / "loose.png")  # a file beside the concept folders: no concepts
    mixed = Stimuli.from_folder(tmp_path)
    assert mixed.ids[-1] == "loose" and mixed.concepts is None


def test_natural_order_of_numbered_files(tmp_path: Path) -> None:
    for number in (10, 2, 1):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{number}.png")
    assert Stimuli.from_folder(tmp_path).ids == ["1", "2", "10"]


def test_real_92_images(shared_data: Path) -> None:
    stimuli = Stimuli.from_folder(shared_data / "kriegeskorte2008_92images" / "images")
    assert len(stimuli) == 92 and stimuli.ids[0] == "img_01" and stimuli.ids[-1] == "img_92"
    pixels = stimuli.load([0, 91], size=32, normalize=False)
    assert pixels.shape == (2, 3, 32, 32) and 0 <= pixels.min() and pixels.max() <= 1 and pixels.std() > 0.05
