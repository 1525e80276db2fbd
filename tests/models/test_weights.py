"""Weights I/O: the official checkpoint layout, safetensors, and clear errors for files that do not fit."""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
import torch

from brainalign.errors import DataFormatError, DownloadError, WeightsError
from brainalign.models import build_model, cornet_z, load_weights, save_weights
from brainalign.models import weights as weights_module
from brainalign.models.base import LayeredModel


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    """Give BatchNorm running statistics non-default values so a lost buffer would change outputs."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)


def test_official_layout_round_trip(tmp_path: Path, cornet: LayeredModel) -> None:
    """A checkpoint shaped like the published one ({"state_dict": {"module.V1...": ...}}) loads unchanged."""
    source = cornet
    _randomise_batchnorm(source)
    official = {"epoch": 43, "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}
    path = tmp_path / "cornet_s-official.pth"
    torch.save(official, path)
    target = copy.deepcopy(source)
    for tensor in target.state_dict().values():
        tensor.zero_()  # nothing of the source survives in the target before loading
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.equal(target(images), source(images))
        load_weights(target, path)
        assert torch.equal(target(images), source(images))
        assert torch.equal(target.forward_layers(images)[1]["V1"], source.forward_layers(images)[1]["V1"])


def test_safetensors_round_trip_and_build_model(tmp_path: Path) -> None:
    source = cornet_z().eval()
    path = save_weights(source, tmp_path / "z.safetensors")
    target = build_model("cornet_z", weights=path).eval()
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(target(images), source(images))


def test_wrong_keys_are_named(tmp_path: Path) -> None:
    state = cornet_z().state_dict()
    state["decoder.fc.bias"] = state.pop("decoder.linear.bias")
    path = tmp_path / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as error:
        load_weights(cornet_z(), path)
    assert "decoder.linear.bias" in str(error.value) and "decoder.fc.bias" in str(error.value)
    assert "missing" in str(error.value) and "unexpected" in str(error.value)


def test_shape_mismatch_is_named(tmp_path: Path) -> None:
    path = save_weights(cornet_z(num_classes=10), tmp_path / "ten_classes.safetensors")
    with pytest.raises(WeightsError, match=r"decoder\.linear\.weight: file \(10, 512\) vs model \(1000, 512\)"):
        load_weights(cornet_z(), path)


def test_unreadable_and_unsafe_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        load_weights(cornet_z(), tmp_path / "absent.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError, match="garbage.pth"):
        load_weights(cornet_z(), garbage)
    unsafe = tmp_path / "object.pth"
    torch.save({"state_dict": {"V1.conv.weight": torch.zeros(1)}, "hook": Path("x")}, unsafe)
    with pytest.raises(DataFormatError, match="weights_only"):
        load_weights(cornet_z(), unsafe)


def test_known_weights_resolve_to_the_checked_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: a cached file whose sha256 does not start with the published prefix is refused."""
    known = weights_module.KNOWN_WEIGHTS["cornet_s-imagenet"]
    assert known.url == "https://s3.amazonaws.com/cornet-models/cornet_s-1d3f7974.pth"
    monkeypatch.setenv("BRAINALIGN_CACHE", str(tmp_path))
    cached = tmp_path / "weights" / "cornet_s-1d3f7974.pth"
    cached.parent.mkdir()
    torch.save(cornet_z().state_dict(), cached)
    assert not hashlib.sha256(cached.read_bytes()).hexdigest().startswith("1d3f7974")
    with pytest.raises(DownloadError, match="1d3f7974"):
        load_weights(cornet_z(), "cornet_s-imagenet")


def test_new_head_keeps_the_rest_of_the_weights(tmp_path: Path) -> None:
    """ImageNet-style weights (1000 classes) into a 7-class model: all but the head load."""
    source = cornet_z()
    path = save_weights(source, tmp_path / "imagenet_like.safetensors")
    target = build_model("cornet_z", weights=path, num_classes=7)
    assert target.num_classes == 7 and target.decoder.linear.weight.shape == (7, 512)
    assert torch.equal(target.IT.conv.weight, source.IT.conv.weight)
    with pytest.raises(WeightsError, match="decoder.linear.weight"):
        load_weights(cornet_z(num_classes=7), path)  # without the opt-in, a head mismatch is an error
