"""Property: whatever bytes a user's input file holds, the commands that read it exit 0 or 2 with one
message, never a traceback. Corrupt versions of valid files (truncated, bytes overwritten) and random
bytes, under the suffixes the commands read."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist

from brainalign.cli import run
from brainalign.data import RDMs, Responses

N = 6
IDS = [f"s{i}" for i in range(N)]


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _saved(obj: RDMs | Responses, tmp: Path) -> bytes:
    path = tmp / "template.npz"
    obj.save(path)
    content = path.read_bytes()
    path.unlink()
    return content


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Valid inputs by suffix: a feature matrix, RDMs, Responses and a features index."""
    tmp = tmp_path_factory.mktemp("templates")
    rng = np.random.default_rng(0)
    return {
        ".npy": _npy(rng.standard_normal((N, 4))),
        "rdms.npz": _saved(RDMs(pdist(rng.standard_normal((N, 3)))[None], IDS), tmp),
        "responses.npz": _saved(Responses(rng.standard_normal((N, 2, 5)), IDS, "fmri", rois={"V1": np.arange(5)}),
                                tmp),
        "features.json": json.dumps({"stimulus_ids": IDS, "layers": ["v1"], "files": {"v1": "v1.npy"}}).encode(),
    }


def _corrupt(content: bytes, data: st.DataObject) -> bytes:
    """``content`` truncated, with a run of bytes overwritten, or replaced by random bytes."""
    kind = data.draw(st.sampled_from(["truncate", "overwrite", "random"]))
    if kind == "truncate":
        return content[: data.draw(st.integers(0, max(len(content) - 1, 0)))]
    if kind == "overwrite":
        start = data.draw(st.integers(0, len(content) - 1))
        patch = data.draw(st.binary(min_size=1, max_size=16))
        return content[:start] + patch + content[start + len(patch):]
    return data.draw(st.binary(max_size=300))


def _clean_exit(argv: list[str | Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = run([str(arg) for arg in argv])  # any exception other than a BrainAlignError fails the test
    output = capsys.readouterr()
    text = output.out + output.err
    assert code in (0, 2), text
    assert "Traceback" not in text
    if code == 2:
        assert sum(line.startswith("error:") for line in text.splitlines()) == 1, text


SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(data=st.data(), which=st.sampled_from([".npy", "rdms.npz", "responses.npz"]))
def test_rdm_and_rsa_on_corrupt_files(data: st.DataObject, which: str, templates: dict[str, bytes],
                                      tmp_path_factory: pytest.TempPathFactory,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    tmp = tmp_path_factory.mktemp("corrupt")
    bad = tmp / ("input.npy" if which == ".npy" else "input.npz")
    bad.write_bytes(_corrupt(templates[which], data))
    good = tmp / "good.npz"
    good.write_bytes(templates["rdms.npz"])
    _clean_exit(["rdm", bad, "--out", tmp / "out.npz"], capsys)
    _clean_exit(["rsa", bad, good, "--out", tmp / "rsa_model"], capsys)
    _clean_exit(["rsa", good, bad, "--out", tmp / "rsa_neural"], capsys)


@SETTINGS
@given(data=st.data(), which=st.sampled_from(["features.json", "v1.npy"]))
def test_rdm_on_corrupt_features_folder(data: st.DataObject, which: str, templates: dict[str, bytes],
                                        tmp_path_factory: pytest.TempPathFactory,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path_factory.mktemp("features")
    files = {"features.json": templates["features.json"], "v1.npy": templates[".npy"]}
    files[which] = _corrupt(files[which], data)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    _clean_exit(["rdm", folder, "--out", folder.parent / f"{folder.name}.npz"], capsys)
