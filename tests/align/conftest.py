"""Tiny file-based alignment data (32-px images + EEG-like responses) shared by the align tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainalign.data import Responses

N_CHANNELS, N_TIMES = 17, 20


def _write_split(folder: Path, prefix: str, n_images: int, mixing: np.ndarray, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, size=(n_images, 32, 32, 3), dtype=np.uint8)
    ids = [f"{prefix}{index:02d}" for index in range(n_images)]
    rows = ["id,path"]
    for stimulus_id, image in zip(ids, pixels):
        Image.fromarray(image).save(folder / f"{stimulus_id}.png")
        rows.append(f"{stimulus_id},{stimulus_id}.png")
    (folder / "stimuli.csv").write_text("\n".join(rows) + "\n")
    coarse = pixels.reshape(n_images, 8, 4, 8, 4, 3).mean(axis=(2, 4)).reshape(n_images, -1) / 255.0
    signal = coarse @ mixing
    data = signal[:, None, :] + 0.5 * rng.normal(size=(n_images, 2, signal.shape[1]))
    Responses(
        data.reshape(n_images, 2, N_CHANNELS, N_TIMES),
        ids,
        "eeg",
        subject="sub-01",
        channels=[f"ch{index}" for index in range(N_CHANNELS)],
        times=np.arange(N_TIMES) / 100.0,
        sfreq=100.0,
    ).save(folder / "responses.npz")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with ``train/`` (32 images) and ``test/`` (16 images), each ``stimuli.csv`` + ``responses.npz``."""
    root = tmp_path_factory.mktemp("align_data")
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(8 * 8 * 3, N_CHANNELS * N_TIMES))
    _write_split(root / "train", "train", 32, mixing, rng)
    _write_split(root / "test", "test", 16, mixing, rng)
    return root


@pytest.fixture
def tiny_config(tiny_data: Path, tmp_path: Path):
    """``tiny_config(name, **training)``: a config dict on :func:`tiny_data` (CORnet-Z, 32 px, batch 8,
    lr 1e-3, 2 epochs) writing to ``tmp_path/name``."""

    def make(name: str = "run", **training) -> dict:
        return _config(tiny_data, tmp_path / name, **training)

    return make


def _config(data: Path, out_dir: Path, **training) -> dict:
    return {
        "out_dir": str(out_dir),
        "seed": 0,
        "model": {"name": "cornet_z", "num_classes": 10},
        "data": {
            "source": "files",
            "train_responses": str(data / "train" / "responses.npz"),
            "train_stimuli": str(data / "train" / "stimuli.csv"),
            "test_responses": str(data / "test" / "responses.npz"),
            "test_stimuli": str(data / "test" / "stimuli.csv"),
            "image_size": 32,
        },
        "training": {"epochs": 2, "batch_size": 8, "lr": 1e-3, **training},
        "progress": False,
    }
