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


SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
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


# A study config whose every prefix and every small overwrite is refused or stops at a missing file
# (datasets first, the required name last), so no example starts a training.
STUDY_YAML = b"""datasets:
- {name: absent, path: /nonexistent/brainalign/data, source: nowhere, fetch: nothing}
alignment:
  train:
    data: {source: files, train_responses: /nonexistent/r.npz, train_stimuli: /nonexistent/s.csv}
evaluation: {image_size: 32, headline_layer: IT}
name: corrupt
"""


@SETTINGS
@given(data=st.data())
def test_study_on_corrupt_configs(data: st.DataObject, tmp_path_factory: pytest.TempPathFactory,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path_factory.mktemp("study")
    config = folder / "study.yaml"
    config.write_bytes(_corrupt(STUDY_YAML, data))
    _clean_exit(["study", config, "--out", folder / "run"], capsys)
    assert not (folder / "run").exists()


@SETTINGS
@given(data=st.data(), which=st.sampled_from(["summary.json", "timings.json", "results/noise_ceiling.csv"]))
def test_report_on_corrupt_result_files(data: st.DataObject, which: str, tmp_path_factory: pytest.TempPathFactory,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path_factory.mktemp("report")
    (run_dir / "results").mkdir()
    files = {
        "summary.json": json.dumps({"title": "t", "models": {"base": {"mean": 0.1, "sem": 0.01, "n": 3}},
                                    "tests": [], "notes": ["n"]}).encode(),
        "timings.json": b'{"analyses": 1.5, "total": 2.0}',
        "results/noise_ceiling.csv": b"readout,target,lower,upper,n\nwhole response,whole response,0.1,0.2,3\n",
    }
    files[which] = _corrupt(files[which], data)
    for name, content in files.items():
        (run_dir / name).write_bytes(content)
    _clean_exit(["report", run_dir], capsys)


@SETTINGS
@given(data=st.data())
def test_features_on_corrupt_stimulus_tables(data: st.DataObject, tmp_path_factory: pytest.TempPathFactory,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    folder = tmp_path_factory.mktemp("stimuli")
    for index in range(2):
        Image.new("RGB", (32, 32), (index * 100, 50, 50)).save(folder / f"img{index}.png")
    table = folder / "stimuli.csv"
    table.write_bytes(_corrupt(b"id,path\na,img0.png\nb,img1.png\n", data))
    _clean_exit(["features", "cornet_z", table, "--image-size", "32", "--out", folder / "features"], capsys)
