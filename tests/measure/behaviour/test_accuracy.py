"""Top-1/top-5 accuracy on tensors, ImageNet-style folder trees and path,label CSVs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from brainalign.errors import DataFormatError, ValidationError
from brainalign.data import load_labelled_images
from brainalign.measure import accuracy
from brainalign.data.labelled import read_class_index

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (20, 40, 210)}


class LogitsInPixels(nn.Module):
    """Reads its 10 logits from the first row of the red channel (so tests choose the ranking)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images[:, 0, 0, :10]


def brightest_channel() -> nn.Module:
    """3-class classifier of solid colours: logits are the channel means (red=0, green=1, blue=2)."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_top1_and_top5_on_tensors():
    logits = torch.rand(4, 10) * 0.5
    logits[0, 3] = 1.0                      # label 3 ranked first            -> top-1 and top-5
    logits[1, :6] = torch.tensor([0.9, 0.95, 0.96, 0.97, 0.98, 0.99])  # label 0 ranked 6th -> neither
    logits[2, 7], logits[2, 2] = 1.0, 0.99  # label 2 ranked second           -> top-5 only
    logits[3, 9] = 1.0                      # label 9 ranked first            -> both
    images = torch.zeros(4, 3, 2, 10)
    images[:, 0, 0, :] = logits
    result = accuracy(LogitsInPixels(), images, [3, 0, 2, 9], batch_size=3, progress=False)
    assert result.top1 == pytest.approx(2 / 4)
    assert result.top5 == pytest.approx(3 / 4)
    assert result.trials["prediction"].tolist() == [3, 5, 7, 9]
    assert result.trials["correct"].tolist() == [True, False, False, True]


def write_tree(root, sizes=((20, 20), (33, 17), (64, 48))):
    """root/<colour>/<colour>_<i>.png solid-colour images of different sizes; one green image in red/."""
    for name, rgb in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i, (width, height) in enumerate(sizes):
            Image.new("RGB", (width, height), rgb).save(root / name / f"{name}_{i}.png")
    Image.new("RGB", (25, 25), COLOURS["green"]).save(root / "red" / "odd_one.png")


def test_folder_tree_with_imagenet_style_class_index_resizes_images(tmp_path):
    write_tree(tmp_path / "images")
    index = tmp_path / "classes.json"
    index.write_text(json.dumps({"0": ["n0001", "red"], "1": ["n0002", "green"], "2": ["n0003", "blue"]}))
    result = accuracy(brightest_channel(), tmp_path / "images", class_index=index, image_size=32, progress=False)
    assert result.top1 == pytest.approx(9 / 10)  # every image right except the green one filed under red/
    wrong = result.trials[~result.trials["correct"]]
    assert wrong["image"].tolist() == ["red/odd_one"] and wrong["prediction"].tolist() == [1]


def test_integer_class_folders_need_no_index(tmp_path):
    for label, rgb in enumerate(COLOURS.values()):
        (tmp_path / str(label)).mkdir()
        Image.new("RGB", (8, 8), rgb).save(tmp_path / str(label) / "a.png")
    labelled = load_labelled_images(tmp_path)
    assert labelled.stimuli.ids == ["0/a", "1/a", "2/a"]
    assert labelled.labels.tolist() == [0, 1, 2]


def test_csv_of_path_and_label_with_class_names(tmp_path):
    write_tree(tmp_path)
    (tmp_path / "labels.csv").write_text("path,label\nblue/blue_0.png,blue\ngreen/green_1.png,green\nred/odd_one.png,red\n")
    (tmp_path / "classes.csv").write_text("index,name\n0,red\n1,green\n2,blue\n")
    assert read_class_index(tmp_path / "classes.csv") == {"red": 0, "green": 1, "blue": 2}
    result = accuracy(brightest_channel(), tmp_path / "labels.csv", class_index=tmp_path / "classes.csv",
                      image_size=16, progress=False)
    assert result.trials["label"].tolist() == [2, 1, 0]
    assert result.trials["correct"].tolist() == [True, True, False]
    # a Stimuli table (id,path,concept) works too: ids from its id column, labels from concept
    (tmp_path / "stimuli.csv").write_text("id,path,concept\nb0,blue/blue_0.png,blue\nr9,red/odd_one.png,red\n")
    labelled = load_labelled_images(tmp_path / "stimuli.csv", class_index=tmp_path / "classes.csv")
    assert labelled.stimuli.ids == ["b0", "r9"] and labelled.labels.tolist() == [2, 0]


def test_unreadable_image_is_named(tmp_path):
    write_tree(tmp_path, sizes=((8, 8),))
    (tmp_path / "blue" / "broken.png").write_bytes(b"not a png at all")
    index = tmp_path / "classes.json"
    index.write_text(json.dumps(["red", "green", "blue"]))
    with pytest.raises(DataFormatError, match="broken.png"):
        accuracy(brightest_channel(), tmp_path, class_index=index, image_size=16, progress=False)


def test_labels_outside_the_models_classes_are_rejected_naming_the_label(tmp_path):
    images = torch.rand(3, 3, 8, 8)
    with pytest.raises(ValidationError, match="label 5 is outside the model's classes 0..2"):
        accuracy(brightest_channel(), images, [0, 5, 1], progress=False)
    (tmp_path / "labels.csv").write_text("path,label\na.png,purple\n")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "classes.json").write_text(json.dumps({"red": 0, "green": 1, "blue": 2}))
    with pytest.raises(ValidationError, match="'purple' is not in the class index"):
        load_labelled_images(tmp_path / "labels.csv", class_index=tmp_path / "classes.json")
    with pytest.raises(ValidationError, match="'purple' is not an integer class index"):
        load_labelled_images(tmp_path / "labels.csv")


def test_bad_inputs_are_rejected(tmp_path):
    model = brightest_channel()
    with pytest.raises(ValidationError, match="expected un-normalised pixels"):
        accuracy(model, torch.full((2, 3, 4, 4), 3.0), [0, 1], progress=False)
    with pytest.raises(ValidationError, match="expected \\(n, 3, height, width\\)"):
        accuracy(model, np.zeros((2, 4, 4, 3), np.float32), [0, 1], progress=False)
    with pytest.raises(ValidationError, match="integer class indices"):
        accuracy(model, torch.rand(2, 3, 4, 4), ["cat", "dog"], progress=False)
    with pytest.raises(DataFormatError, match="does not exist"):
        load_labelled_images(tmp_path / "nowhere")
    (tmp_path / "loose.png").write_bytes(b"")
    Image.new("RGB", (8, 8)).save(tmp_path / "loose.png")
    with pytest.raises(DataFormatError, match="not inside a class folder"):
        load_labelled_images(tmp_path)
