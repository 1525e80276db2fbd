"""The README's promise for every bad input: one message naming the file (or field) and the fix, exit
code 2, no traceback, nothing written. One parametrised case per kind of bad input, run in-process."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from brainalign.cli import run
from brainalign.data import RDMs, Responses

N = 10
IDS = [f"s{i}" for i in range(N)]


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], *names: str | Path) -> str:
    """Run the CLI; assert exit code 2, one error message without a traceback naming every ``names``."""
    code = run([str(arg) for arg in argv])
    output = capsys.readouterr()
    text = output.out + output.err
    assert code == 2, text
    assert "Traceback" not in text and text.count("error:") == 1, text
    for name in names:
        assert str(name) in text, f"{name} not named in: {text}"
    return text


@pytest.fixture()
def good(tmp_path: Path) -> Path:
    """A folder with good inputs: features.npy (10 x 6), neural.npz (RDMs with ids), fmri.npz (Responses)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "good"
    folder.mkdir()
    np.save(folder / "features.npy", rng.standard_normal((N, 6)))
    RDMs(pdist(rng.standard_normal((N, 3)))[None], IDS).save(folder / "neural.npz")
    Responses(rng.standard_normal((N, 2, 8)), IDS, "fmri", rois={"V1": np.arange(8)}).save(folder / "fmri.npz")
    return folder


def _npz_with_meta(meta: object, **arrays: np.ndarray) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        text = meta if isinstance(meta, str) else json.dumps(meta)
        with open(path, "wb") as handle:  # np.savez would append .npz to the temporary name
            np.savez(handle, meta=np.array(text), **arrays)
    return write


def _bytes(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def _array(array: np.ndarray) -> Callable[[Path], None]:
    return lambda path: np.save(path, array, allow_pickle=True)


def _truncated_npy(path: Path) -> None:
    np.save(path, np.ones((N, 6)))
    path.write_bytes(path.read_bytes()[:200])


def _truncated_npz(path: Path) -> None:
    with open(path, "wb") as handle:
        np.savez_compressed(handle, rdms=np.ones((N, N)))
    path.write_bytes(path.read_bytes()[:120])


def _responses_meta(**changes: object) -> Callable[[Path], None]:
    meta = {"format": "brainalign.Responses/1", "modality": "fmri", "subject": "", "sfreq": None, "allow_nan": False,
            "info": {}, "roi_names": None}
    meta.update(changes)
    return _npz_with_meta({k: v for k, v in meta.items() if v != "DROP"}, data=np.ones((N, 1, 4)),
                          stimulus_ids=np.array(IDS))


def _responses_nan(path: Path) -> None:
    data = np.ones((N, 1, 4))
    data[3, 0, 1] = np.nan
    with open(path, "wb") as handle:
        np.savez(handle, data=data, stimulus_ids=np.array(IDS), meta=np.array(json.dumps(
            {"format": "brainalign.Responses/1", "modality": "fmri", "subject": "", "sfreq": None,
             "allow_nan": False, "info": {}, "roi_names": None})))


# name -> (file name, writer); every one is a file the rdm and rsa commands must refuse cleanly.
BAD_FILES: dict[str, tuple[str, Callable[[Path], None] | None]] = {
    "missing npy": ("absent.npy", None),
    "empty npy": ("empty.npy", _bytes(b"")),
    "garbage npy": ("garbage.npy", _bytes(b"\x93NUMPY garbage that is not an array")),
    "text as npy": ("text.npy", _bytes(b"1,2,3\n4,5,6\n")),
    "truncated npy": ("truncated.npy", _truncated_npy),
    "pickled npy": ("pickled.npy", _array(np.array([{"a": 1}, None], dtype=object))),
    "string npy": ("strings.npy", _array(np.array([["a", "b"], ["c", "d"]]))),
    "1-D npy": ("vector.npy", _array(np.arange(5.0))),
    "NaN features": ("nan.npy", _array(np.full((N, 4), np.nan))),
    "missing npz": ("absent.npz", None),
    "empty npz": ("empty.npz", _bytes(b"")),
    "garbage npz": ("garbage.npz", _bytes(b"PK\x03\x04 not really a zip archive")),
    "truncated npz": ("truncated.npz", _truncated_npz),
    "string npz": ("strings.npz", _npz_with_meta("x", names=np.array(["a", "b"]))),
    "RDMs meta not JSON": ("rdms_meta.npz", _npz_with_meta("{not json", dissimilarities=np.ones((1, 45)))),
    "RDMs meta a list": ("rdms_list.npz", _npz_with_meta([1, 2], dissimilarities=np.ones((1, 45)))),
    "RDMs meta without ids": ("rdms_ids.npz", _npz_with_meta({"format": "brainalign.RDMs"},
                                                              dissimilarities=np.ones((1, 45)))),
    "RDMs with wrong id count": ("rdms_count.npz", _npz_with_meta({"format": "brainalign.RDMs", "stimulus_ids": ["a"]},
                                                                   dissimilarities=np.ones((1, 45)))),
    "Responses meta missing fields": ("resp_fields.npz", _responses_meta(roi_names="DROP", modality="DROP")),
    "Responses meta wrong types": ("resp_types.npz", _responses_meta(info=[1], allow_nan="no")),
    "Responses unknown modality": ("resp_modality.npz", _responses_meta(modality="meg")),
    "Responses rois missing": ("resp_rois.npz", _responses_meta(roi_names=["V1"])),
    "Responses with NaN": ("resp_nan.npz", _responses_nan),
    "wrong suffix": ("rdms.txt", _bytes(b"0 1\n1 0\n")),
}


def _make(tmp_path: Path, case: str) -> Path:
    name, write = BAD_FILES[case]
    path = tmp_path / name
    if write is not None:
        write(path)
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_rdm_refuses_bad_file(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _make(tmp_path, case)
    out = tmp_path / "out" / "rdms.npz"
    before = sorted(tmp_path.rglob("*"))
    refused(["rdm", bad, "--out", out], capsys, bad)
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert sorted(p for p in tmp_path.rglob("*") if p != out.parent) == before  # nothing (half-)written


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("side", ["model", "neural"])
def test_rsa_refuses_bad_file(case: str, side: str, good: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = _make(tmp_path, case)
    if side == "neural" and case == "1-D npy":  # a 1-D .npy is a condensed RDM: refused for its size
        bad = tmp_path / "vector.npy"
    model, neural = (bad, good / "neural.npz") if side == "model" else (good / "features.npy", bad)
    out = tmp_path / "rsa"
    refused(["rsa", model, neural, "--out", out], capsys, bad)
    assert not out.exists()


def _features_folder(tmp_path: Path, index: bytes | None, layer: np.ndarray | None = None) -> Path:
    folder = tmp_path / "features"
    folder.mkdir()
    if index is not None:
        (folder / "features.json").write_bytes(index)
    if layer is not None:
        np.save(folder / "v1.npy", layer)
    return folder


_INDEX = {"stimulus_ids": IDS, "layers": ["v1"], "files": {"v1": "v1.npy"}}
BAD_FEATURE_FOLDERS: dict[str, tuple[bytes | None, np.ndarray | None, str]] = {
    # name -> (features.json bytes, v1.npy array, the file the message must name)
    "no index": (None, np.ones((N, 4)), "features.json"),
    "empty index": (b"", np.ones((N, 4)), "features.json"),
    "index not JSON": (b"{layers: [", np.ones((N, 4)), "features.json"),
    "index not UTF-8": (b"\xff\xfe{\x00", np.ones((N, 4)), "features.json"),
    "index a list": (b"[1, 2]", np.ones((N, 4)), "features.json"),
    "index without layers": (json.dumps({"stimulus_ids": IDS}).encode(), np.ones((N, 4)), "features.json"),
    "index with unhashable layer": (json.dumps({**_INDEX, "layers": [["v1"]]}).encode(), np.ones((N, 4)),
                                    "features.json"),
    "layer file missing": (json.dumps(_INDEX).encode(), None, "v1.npy"),
    "layer rows differ from ids": (json.dumps(_INDEX).encode(), np.random.rand(N + 3, 4), "v1.npy"),
    "layer of strings": (json.dumps(_INDEX).encode(), np.array([["a"]] * N), "v1.npy"),
}


@pytest.mark.parametrize("case", sorted(BAD_FEATURE_FOLDERS))
def test_rdm_refuses_bad_features_folder(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index, layer, named = BAD_FEATURE_FOLDERS[case]
    folder = _features_folder(tmp_path, index, layer)
    out = tmp_path / "rdms.npz"
    refused(["rdm", folder, "--out", out], capsys, folder, named)
    assert not out.exists()


def test_rsa_refuses_rows_that_do_not_match(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 64-row model matrix against a 10-stimulus neural RDM file (neither with ids) is refused, not
    compared on its first 10 rows."""
    rng = np.random.default_rng(1)
    np.save(tmp_path / "model64.npy", rng.standard_normal((64, 5)))
    np.save(tmp_path / "neural10.npy", squareform(pdist(rng.standard_normal((N, 3)))))
    out = tmp_path / "rsa"
    refused(["rsa", tmp_path / "model64.npy", tmp_path / "neural10.npy", "--out", out], capsys,
            "model64.npy", "neural10.npy", "--order")
    refused(["rsa", tmp_path / "model64.npy", good / "fmri.npz", "--out", out], capsys, "model64.npy", "fmri.npz")
    assert not out.exists()


def test_error_text_keeps_square_brackets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Paths and hints with [...] are printed as they are (rich markup is escaped)."""
    bad = tmp_path / "run[1]" / "x[bold].npy"
    refused(["rdm", bad, "--out", tmp_path / "o.npz"], capsys, bad)
