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
    assert "Traceback" not in text and sum(line.startswith("error:") for line in text.splitlines()) == 1, text
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
    "garbage mat": ("garbage.mat", _bytes(b"garbage" * 3)),  # scipy's loadmat raises IndexError on it
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
    assert sorted(tmp_path.rglob("*")) == before  # nothing (half-)written, not even the folder of --out


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
    "layer file outside the folder": (json.dumps({**_INDEX, "files": {"v1": "../v1.npy"}}).encode(), np.ones((N, 4)),
                                      "features.json"),
    "layer file an absolute path": (json.dumps({**_INDEX, "files": {"v1": "/etc/passwd"}}).encode(), np.ones((N, 4)),
                                    "features.json"),
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


# ---- configs: refused when loaded, before a folder is made or a second of compute is spent ----------
SMALL_SIMULATION = {"n_subjects": 1, "n_train_categories": 2, "n_test_categories": 2, "train_per_category": 2,
                    "test_per_category": 2, "pretrain_per_category": 0, "val_per_category": 0, "image_size": 32}


def _yaml(path: Path, config: dict | str | bytes) -> Path:
    import yaml

    if isinstance(config, dict):
        path.write_text(yaml.safe_dump(config))
    else:
        path.write_bytes(config if isinstance(config, bytes) else config.encode())
    return path


BAD_TRAIN_CONFIGS: dict[str, tuple[dict | str | bytes, str]] = {
    # name -> (config, the key or words the message must name)
    "beta .inf": ("training: {beta: .inf}\n", "training.beta"),
    "lr .nan": ("training: {lr: .nan}\n", "training.lr"),
    "negative beta": ({"training": {"beta": -1}}, "training.beta"),
    "seed -1": ({"seed": -1}, "seed"),
    "seed 2**70": ({"seed": 2**70}, "seed"),
    "empty file": ("", "empty"),
    "only comments": ("# nothing here\n", "holds no settings"),
    "not UTF-8": (b"seed: 0\nout_dir: \xff\xfe\n", "UTF-8"),
    "not a mapping": ("[1, 2]\n", "mapping"),
    "bad YAML": ("training: {beta: [\n", "not valid YAML"),
    "unknown key": ({"trainig": {}}, "trainig"),
    "simulate seed": ({"data": {"simulate": {"seed": -3}}}, "data.simulate"),
}


@pytest.mark.parametrize("case", sorted(BAD_TRAIN_CONFIGS))
def test_train_refuses_bad_config(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, named = BAD_TRAIN_CONFIGS[case]
    if isinstance(config, dict):
        config = {"out_dir": str(tmp_path / "run"), **config}
    path = _yaml(tmp_path / "train.yaml", config)
    refused(["train", path], capsys, *((named,) if case == "simulate seed" else (path, named)))  # a key deep inside
    assert sorted(tmp_path.iterdir()) == [path]  # no run folder, nothing written


def test_a_folder_given_as_config_is_named_as_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refused(["train", tmp_path], capsys, tmp_path, "is a folder, not a file")


@pytest.mark.parametrize("sweep, named", [
    ({"betas": [-5]}, "betas"), ({"betas": [".inf"]}, "betas"), ({"seeds": [-1]}, "seeds"), ({"seeds": [2**40]}, "seeds"),
    ({"subjects": []}, "subjects"),  # not "every subject": an empty list is refused, not silently replaced
])
def test_sweep_refuses_bad_lists_before_training(sweep: dict, named: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(f"{key}: [{', '.join(str(value) for value in values)}]" for key, values in sweep.items())
    path = _yaml(tmp_path / "sweep.yaml", f"out_dir: {tmp_path / 'sweep'}\n{text}\n")
    refused(["sweep", path], capsys, path, named)
    assert sorted(tmp_path.iterdir()) == [path]


def _study(tmp_path: Path, **evaluation: object) -> Path:
    config = {"name": "bad", "out_dir": str(tmp_path / "study"),
              "alignment": {"train": {"model": {"name": "cornet_z"}, "data": {"simulate": SMALL_SIMULATION}}},
              "evaluation": {"image_size": 32, **evaluation}}
    return _yaml(tmp_path / "study.yaml", config)


@pytest.mark.parametrize("evaluation, named", [
    ({"headline_layer": "V9"}, "evaluation.headline_layer"),
    ({"layers": ["V1", "nope"]}, "evaluation.layers"),
    ({"layers": ["V1", "V2"], "headline_layer": "IT"}, "evaluation.headline_layer"),
    ({"dimensions": "absent.csv"}, "evaluation.dimensions"),
    ({"dimensions": "NOT_UTF8"}, "evaluation.dimensions"),
    ({"dimensions": "WRONG_IDS"}, "evaluation.dimensions"),
    ({"dimensions": "NOT_NUMBERS"}, "evaluation.dimensions"),
])
def test_study_checks_the_evaluation_before_training(evaluation: dict, named: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    tables = {"NOT_UTF8": b"id,size\nx,\xff\n", "WRONG_IDS": b"id,size\nnot_an_id,1.0\n",
              "NOT_NUMBERS": b"id,size\nx,big\n"}
    if evaluation.get("dimensions") in tables:
        path = tmp_path / "dimensions.csv"
        path.write_bytes(tables[str(evaluation["dimensions"])])
        evaluation = {**evaluation, "dimensions": str(path)}
    elif "dimensions" in evaluation:
        evaluation = {**evaluation, "dimensions": str(tmp_path / "absent.csv")}
    refused(["study", _study(tmp_path, **evaluation)], capsys, named)
    assert not (tmp_path / "study").exists()


def test_study_without_held_out_data_is_refused_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    for index in range(4):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(images / f"i{index}.png")
    Responses(rng.standard_normal((4, 2, 5)), [f"i{index}" for index in range(4)], "fmri").save(tmp_path / "r.npz")
    config = {"name": "bad", "out_dir": str(tmp_path / "study"), "alignment": {"train": {
        "model": {"name": "cornet_z"},
        "data": {"source": "files", "train_responses": str(tmp_path / "r.npz"), "train_stimuli": str(images)}}}}
    refused(["study", _yaml(tmp_path / "study.yaml", config)], capsys, "test_responses")
    assert not (tmp_path / "study").exists()


# ---- command-line values ------------------------------------------------------------------------------
@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """Three 40-px PNG images in a folder."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        Image.new("RGB", (40, 40), (index * 80, 20, 200)).save(folder / f"img{index}.png")
    return folder


@pytest.mark.parametrize("options, named", [
    (["--image-size", "0"], "--image-size"),
    (["--batch-size", "0"], "--batch-size"),
    (["--device", "banana"], "banana"),
])
def test_features_refuses_bad_values(options: list[str], named: str, images: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["features", "cornet_z", str(images), "--out", str(tmp_path / "features"), *options])
    output = capsys.readouterr()
    text = output.out + output.err
    assert code == 2 and "Traceback" not in text and named in text, text
    assert not (tmp_path / "features").exists()


def test_features_refuses_a_gpu_that_is_not_there(images: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    refused(["features", "cornet_z", images, "--out", tmp_path / "features", "--device", "cuda"], capsys, "cuda")
    assert not (tmp_path / "features").exists()


def test_features_refuses_torchvision_weights_it_cannot_download(images: Path, tmp_path: Path, monkeypatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import urllib.error

    import torch.hub

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    refused(["features", "resnet18", images, "--weights", "DEFAULT", "--out", tmp_path / "features"], capsys,
            "resnet18", "torch hub cache")
    assert not (tmp_path / "features").exists()


@pytest.mark.parametrize("table, named", [
    (b"id,path\na,img0.png\nb\n", "line(s) [3]"),
    (b"id,path\na,img0.png\n,img1.png\n", "'id' is empty"),
    (b"id,path\na,img0.png\na,img1.png\n", "repeated: ['a']"),
    (b"id,path\na,img\xff.png\n", "UTF-8"),
    (b"id,file\na,img0.png\n", "['path']"),
    (b"", "empty"),
    (b'id,path\na,"' + b"x" * 200_000 + b'"\n', "field larger than field limit"),
])
def test_features_refuses_bad_stimulus_tables(table: bytes, named: str, images: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = images / "stimuli.csv"
    path.write_bytes(table)
    refused(["features", "cornet_z", path, "--out", tmp_path / "features"], capsys, path, named)
    assert not (tmp_path / "features").exists()


def test_features_refuses_a_decompression_bomb(images: Path, tmp_path: Path, monkeypatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40 x 40 px is then > 2 x the limit: a "bomb"
    refused(["features", "cornet_z", images, "--out", tmp_path / "features"], capsys, "img0.png", "too large")


@pytest.mark.parametrize("options, named", [
    (["--eps", "0:1:1e-8"], "at most 100"),
    (["--eps", "0:inf:0.1"], "--eps"),
    (["--eps", "-0.1,0.2"], "--eps '-0.1,0.2': eps value -0.1 is outside [0, 1]"),
    (["--seed", "-1"], "--seed"),
    (["--image-size", "0"], "--image-size"),
])
def test_robustness_refuses_bad_values(options: list[str], named: str, images: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["robustness", "--model", "cornet_z", "--images", str(images), "--out", str(tmp_path / "r"), *options])
    output = capsys.readouterr()
    text = output.out + output.err
    assert code == 2 and "Traceback" not in text and named in text, text
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("seed", ["-1", str(2**70)])
def test_simulate_refuses_bad_seeds(seed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["simulate", "--out", str(tmp_path / "sim"), "--seed", seed])
    output = capsys.readouterr()
    assert code == 2 and "--seed" in output.err and "Traceback" not in output.err
    assert not (tmp_path / "sim").exists()


@pytest.mark.parametrize("sha256", ["1", "1d3f7974", "g" * 64, "0" * 63])
def test_fetch_needs_a_full_sha256(sha256: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from brainalign.data.downloads import REGISTRY

    cached = tmp_path / REGISTRY["cornet_s"].filename
    cached.write_bytes(b"not the weights")
    refused(["fetch", "cornet_s", "--cache", tmp_path, "--sha256", sha256], capsys, "--sha256", "64 hex digits")
    assert cached.read_bytes() == b"not the weights"


def test_interrupt_says_what_was_kept(good: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal
    import time

    def interrupted(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)

    monkeypatch.setattr(RDMs, "load", interrupted)
    assert run(["rdms", str(good / "neural.npz")]) == 130
    output = capsys.readouterr()
    assert "interrupted" in output.err and "--resume" in output.err and "Traceback" not in output.err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


# ---- report: result files are read (and refused) before the first figure is drawn ----------------------
def _synthetic_run(folder: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("report_synthetic",
                                                  Path(__file__).parents[1] / "report" / "report_synthetic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_synthetic_results(folder)


BAD_RESULT_FILES: dict[str, tuple[str, bytes, str]] = {
    # name -> (file in the run folder, content, what the message names)
    "summary not JSON": ("summary.json", b"{models: ", "not valid JSON"),
    "summary empty": ("summary.json", b"", "empty"),
    "summary a list": ("summary.json", b"[1, 2]", "JSON list"),
    "summary not UTF-8": ("summary.json", b'{"title": "\xff"}', "UTF-8"),
    "summary models of the wrong type": ("summary.json", b'{"models": "base"}', "'models'"),
    "summary test without n": ("summary.json", b'{"tests": [{"model": "a"}]}', "'tests.0.n'"),
    "timings not numbers": ("timings.json", b'{"total": "long"}', "'total'"),
    "table empty": ("results/rsa_timecourses.csv", b"", "empty"),
    "table not UTF-8": ("results/rsa_timecourses.csv", b"model,layer\n\xff,x\n", "UTF-8"),
    "table wrong columns": ("results/rsa_timecourses.csv", b"x,y\n1,2\n", "lacks column"),
    "table broken quoting": ("results/rsa_timecourses.csv", b'a,b\n1,2,3,4\n"open\n', "unreadable"),
    "predictions damaged": ("results/predictions.npz", b"PK\x03\x04 damaged", "unreadable"),
}


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthetic_run(tmp_path_factory.mktemp("report") / "run")


@pytest.mark.parametrize("case", sorted(BAD_RESULT_FILES))
def test_report_refuses_damaged_result_files(case: str, synthetic_run: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    name, content, named = BAD_RESULT_FILES[case]
    run_dir = tmp_path / "run"
    shutil.copytree(synthetic_run, run_dir)
    (run_dir / name).write_bytes(content)
    before = sorted(run_dir.rglob("*"))
    refused(["report", run_dir], capsys, run_dir / name, named)
    assert sorted(run_dir.rglob("*")) == before  # no figure drawn, no report written


@pytest.mark.parametrize("memory", ["nan", "inf", "0", "-1"])
def test_rdm_refuses_bad_memory(memory: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refused(["rdm", good / "features.npy", "--out", tmp_path / "out" / "x.npz", "--memory", memory], capsys, "--memory")
    assert not (tmp_path / "out").exists()


def test_rdms_lists_only_readable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _make(tmp_path, "garbage mat")
    refused(["rdms", bad], capsys, bad, "not a readable MATLAB file")


@pytest.mark.parametrize("content, named", [(b"id\n\xff\xfe\n", "UTF-8"), (b"", "empty"), (b"name\nx\n", "'id'"),
                                            (b"id\na\nb\nc\n", "lists 3 ids"),
                                            (b'id\n"' + b"x" * 200_000 + b'"\n', "field larger than field limit")])
def test_rsa_refuses_bad_order_files(content: bytes, named: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    np.save(tmp_path / "model.npy", rng.standard_normal((N, 5)))
    np.save(tmp_path / "neural.npy", squareform(pdist(rng.standard_normal((N, 3)))))
    order = tmp_path / "order.csv"
    order.write_bytes(content)
    refused(["rsa", tmp_path / "model.npy", tmp_path / "neural.npy", "--order", order, "--out", tmp_path / "rsa"],
            capsys, order, named)
    assert not (tmp_path / "rsa").exists()
