"""Training targets: channels/window/region selection, repetition average, PCA and z-score fitted on the
training images only, the inverse map, the saved transform and the errors for layouts that cannot work."""
from __future__ import annotations

import numpy as np
import pytest

from brainalign.align.config import TargetConfig
from brainalign.align.targets import fit_targets, load_target_transform
from brainalign.data import Responses
from brainalign.data.channels import THINGS_EEG2_CHANNELS
from brainalign.errors import ConfigError, ValidationError
from brainalign.config import parse_config

TIMES = np.round(np.arange(-20, 80) / 100, 2)
FILE_CHANNELS = [*reversed(THINGS_EEG2_CHANNELS), "Fz", "Cz"]
REALNET = TargetConfig(channels=list(THINGS_EEG2_CHANNELS), window=(0.0, 0.2))


def eeg(n: int, reps: int, seed: int, channels=FILE_CHANNELS) -> Responses:
    data = np.random.default_rng(seed).normal(size=(n, reps, len(channels), len(TIMES))).astype(np.float32)
    return Responses(data, [f"img{seed}_{i}" for i in range(n)], "eeg", channels=channels, times=TIMES, sfreq=100.0)


def fmri(n: int, reps: int, seed: int, n_voxels: int = 40) -> Responses:
    data = np.random.default_rng(seed).normal(size=(n, reps, n_voxels)).astype(np.float32)
    return Responses(data, [f"img{seed}_{i}" for i in range(n)], "fmri",
                     rois={"VC": np.arange(36), "V1": np.arange(10), "FFA": np.arange(36, 40)})


def realnet_pattern(responses: Responses) -> np.ndarray:
    """The 17 channels in THINGS order at samples 0, 10, ..., 190 ms, averaged: (n, 340)."""
    index = [FILE_CHANNELS.index(name) for name in THINGS_EEG2_CHANNELS]
    assert np.allclose(TIMES[20:40], np.arange(20) / 100)
    return responses.data[:, :, index][..., 20:40].mean(1).reshape(len(responses), -1)


def test_realnet_eeg_target_is_340_values_zscored_on_training_images() -> None:
    train, test = eeg(10, 4, seed=1), eeg(5, 80, seed=2)
    target = fit_targets(train, REALNET, "train.npz")
    raw_train, raw_test = realnet_pattern(train), realnet_pattern(test)
    mean, std = raw_train.mean(0), raw_train.std(0)
    assert target.n_targets == 340 and target.axes.channels == list(THINGS_EEG2_CHANNELS)
    np.testing.assert_allclose(target.axes.times, np.arange(20) / 100)
    np.testing.assert_allclose(target.apply(train), (raw_train - mean) / std, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(target.apply(test), (raw_test - mean) / std, rtol=1e-4, atol=1e-5)  # training stats
    np.testing.assert_allclose(target.inverse(target.apply(test)), raw_test.reshape(5, 17, 20), rtol=1e-4, atol=1e-5)
    unscaled = fit_targets(train, REALNET.model_copy(update={"zscore": False}))
    np.testing.assert_allclose(unscaled.apply(test), raw_test, rtol=1e-5, atol=1e-6)


def test_channel_regex_keeps_file_order() -> None:
    target = fit_targets(eeg(6, 2, seed=0), TargetConfig(channels="^(O|P)", window=(0.0, 0.2)))
    assert target.axes.channels == list(reversed(THINGS_EEG2_CHANNELS)) and target.n_targets == 340


def test_fmri_pca_is_fitted_on_training_images_only(tmp_path) -> None:
    train, test = fmri(30, 2, seed=0), fmri(6, 5, seed=1)
    spec = TargetConfig(roi="VC", pca_components=8)
    target = fit_targets(train, spec, "train.npz")
    train_vc = train.data[:, :, :36].mean(1)
    np.testing.assert_allclose(target.pca_mean, train_vc.mean(0), rtol=1e-5, atol=1e-6)
    assert target.fitted_on["stimulus_ids"] == train.stimulus_ids and target.fitted_on["n_images"] == 30
    projected = (test.data[:, :, :36].mean(1) - target.pca_mean) @ target.pca_components.T
    expected = (projected - target.zscore_mean) / target.zscore_std
    np.testing.assert_allclose(target.apply(test), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(target.apply(train).mean(0), 0, atol=1e-5)  # centred on the training images
    assert np.abs(target.apply(test).mean(0)).max() > 1e-3  # ... and not on the held-out ones
    # the same fit whatever the held-out data: nothing of the test split enters the fit
    again = fit_targets(train, spec)
    np.testing.assert_array_equal(again.pca_components, target.pca_components)
    # saved and read back: the same targets, and predictions map back to VC voxels
    loaded = load_target_transform(target.save(tmp_path / "target.npz"))
    np.testing.assert_array_equal(loaded.apply(test), target.apply(test))
    assert loaded.fitted_on["stimulus_ids"] == train.stimulus_ids and loaded.spec == spec
    assert loaded.inverse(target.apply(test)).shape == (6, 36)
    full = fit_targets(train, TargetConfig(roi="VC", pca_components=30))  # 30 images: exact on the training span
    np.testing.assert_allclose(full.inverse(full.apply(train)), train_vc, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("responses", "spec", "message"), [
    (eeg(4, 2, 0, channels=FILE_CHANNELS[1:]), REALNET, r"train.npz lacks channel\(s\) \['P2'\]"),
    (eeg(4, 2, 0), TargetConfig(window=(0.7, 0.9)), r"window \[0.7, 0.9\) s lies outside the epoch of train.npz"),
    (eeg(4, 2, 0), TargetConfig(window=(-0.5, 0.0)), "outside the epoch"),
    (eeg(4, 2, 0), TargetConfig(channels="^X"), "no channel of train.npz matches"),
    (eeg(4, 2, 0), TargetConfig(roi="VC"), "train.npz has no regions of interest"),
    (fmri(4, 2, 0), REALNET, "train.npz holds fMRI-like responses"),
    (fmri(4, 2, 0), TargetConfig(roi="LOC"), r"train.npz has no region 'LOC' \(it has \['FFA', 'V1', 'VC'\]\)"),
    (fmri(30, 2, 0), TargetConfig(roi="V1", pca_components=20),
     r"pca_components=20, but train.npz gives 30 training images x 10 features \(region V1\), so a PCA has at most 10"),
    (fmri(8, 2, 0), TargetConfig(roi="VC", pca_components=1024), "lower pca_components to <= 8"),
])
def test_layouts_that_cannot_give_the_target(responses, spec, message) -> None:
    with pytest.raises(ValidationError, match=message):
        fit_targets(responses, spec, "train.npz")


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="start < stop"):
        parse_config(TargetConfig, {"window": [0.2, 0.0]})
    with pytest.raises(ConfigError, match="average_repetitions"):
        parse_config(TargetConfig, {"average_repetitions": False})
    with pytest.raises(ConfigError, match="pca_components"):
        parse_config(TargetConfig, {"pca_components": 0})
