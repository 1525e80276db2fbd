import json
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from brainalign.data import Stimuli
from brainalign.data import image_cache
from brainalign.data.image_cache import CACHE_FOLDER, ImageCache, normalise, ordered_map, prefetch
from brainalign.errors import DataFormatError, ValidationError


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(6):
        smooth = rng.integers(0, 256, size=(5, 5, 3), dtype=np.uint8)
        Image.fromarray(smooth).resize((40, 48), Image.Resampling.BICUBIC).save(folder / f"img{index}.png")
    return folder


def test_cache_holds_the_resized_images_next_to_the_data(image_folder):
    stimuli = Stimuli.from_folder(image_folder)
    cache = ImageCache.open(stimuli, 32, workers=2)
    assert cache.path.parent == image_folder / CACHE_FOLDER
    assert cache.pixels.shape == (6, 32, 32, 3) and cache.pixels.dtype == np.uint8
    assert (image_folder / CACHE_FOLDER / "CACHEDIR.TAG").is_file()
    reference = stimuli.load(size=32, normalize=False)  # the in-memory float path
    cached = torch.from_numpy(np.asarray(cache.pixels)).permute(0, 3, 1, 2).float() / 255
    assert (cached - reference).abs().max() <= 2 / 255
    manifest = json.loads(cache.path.with_suffix(".json").read_text())
    assert manifest["n_images"] == 6 and manifest["layout"].startswith("uint8 (n_images, size, size, 3)")
    assert len(manifest["file_sha256"]) == 6 and len(manifest["content_sha256"]) == 64
    assert Stimuli.from_folder(image_folder).ids == stimuli.ids  # the cache folder is no stimulus


def test_cache_is_reused_and_rebuilt_when_a_file_changes(image_folder):
    stimuli = Stimuli.from_folder(image_folder)
    first = ImageCache.open(stimuli, 32)
    built = first.path.stat().st_mtime_ns
    assert ImageCache.open(stimuli, 32).path.stat().st_mtime_ns == built  # reused, not rebuilt
    Image.new("RGB", (40, 48), (255, 0, 0)).save(image_folder / "img3.png")
    second = ImageCache.open(Stimuli.from_folder(image_folder), 32)
    assert second.path != first.path and not first.path.exists()  # the stale cache is gone
    assert (second.pixels[3] == [255, 0, 0]).all()
    assert ImageCache.open(stimuli, 24).path != second.path  # another size, another cache


def test_two_processes_build_once(image_folder, monkeypatch):
    builds = []
    build = image_cache.build_cache
    monkeypatch.setattr(image_cache, "build_cache", lambda *args: builds.append(1) or build(*args))
    stimuli = Stimuli.from_folder(image_folder)
    opened: list[ImageCache] = []
    threads = [threading.Thread(target=lambda: opened.append(ImageCache.open(stimuli, 16))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 3  # no opener took the folder another was creating for a foreign one
    assert len(builds) == 1 and len({cache.path for cache in opened}) == 1


def test_foreign_cache_folder_and_bad_images_are_refused(image_folder, tmp_path, monkeypatch):
    stimuli = Stimuli.from_folder(image_folder)
    (image_folder / CACHE_FOLDER).mkdir()
    (image_folder / CACHE_FOLDER / "mine.txt").write_text("a user's file")
    with pytest.raises(ValidationError, match="not made by brainalign"):
        ImageCache.open(stimuli, 16)
    assert (image_folder / CACHE_FOLDER / "mine.txt").read_text() == "a user's file"
    monkeypatch.setenv("BRAINALIGN_IMAGE_CACHE", str(tmp_path / "elsewhere"))
    (image_folder / "img2.png").write_bytes(b"not an image")
    with pytest.raises(DataFormatError, match="img2.png"):
        ImageCache.open(Stimuli.from_folder(image_folder), 16)
    assert not list((tmp_path / "elsewhere").glob("*.npy"))


def test_a_decompression_bomb_is_one_clear_error_in_both_decoders(image_folder, tmp_path, monkeypatch):
    """The image cache and Stimuli.load refuse an image PIL calls a decompression bomb with the same message."""
    Image.new("RGB", (200, 200)).save(image_folder / "img0.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 200 x 200 px is > 2 x the limit: a "bomb"; 40 x 48 is not
    monkeypatch.setenv("BRAINALIGN_IMAGE_CACHE", str(tmp_path / "cache"))
    stimuli = Stimuli.from_folder(image_folder)
    messages = []
    for decode in (lambda: ImageCache.open(stimuli, 16), lambda: stimuli.load([0], size=16)):
        with pytest.raises(DataFormatError, match=r"img0\.png is too large to decode safely") as error:
            decode()
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert not list((tmp_path / "cache").glob("*.npy"))


def test_normalise_matches_the_float_path():
    pixels = torch.randint(0, 256, (4, 8, 8, 3), dtype=torch.uint8)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = (pixels.permute(0, 3, 1, 2).float() / 255 - mean) / std
    out = normalise(pixels, torch.device("cpu"))
    assert out.is_contiguous() and torch.allclose(out, expected, atol=1e-5)
    assert normalise(pixels, torch.device("cpu"), torch.channels_last).is_contiguous(memory_format=torch.channels_last)


def test_prefetch_keeps_order_and_raises_in_the_consumer():
    assert list(prefetch(lambda x: x * 2, list(range(20)), depth=2)) == [2 * x for x in range(20)]
    assert list(ordered_map(lambda x: x + 1, range(50), threads=3, in_flight=4)) == list(range(1, 51))

    def fail(x: int) -> int:
        if x == 3:
            raise ValueError("bad item")
        return x

    with pytest.raises(ValueError, match="bad item"):
        list(prefetch(fail, list(range(10))))
    taken = prefetch(lambda x: x, list(range(100)), depth=1)
    assert next(taken) == 0
    taken.close()  # stopping early ends the thread
    assert not any(t.name == "brainalign-prefetch" for t in threading.enumerate())


def test_in_memory_stimuli_need_no_cache():
    with pytest.raises(ValidationError, match="in-memory"):
        ImageCache.open(Stimuli.from_array(np.zeros((2, 8, 8, 3), dtype=np.uint8)), 8)
