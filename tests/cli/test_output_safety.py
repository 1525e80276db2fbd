"""The one rule for output folders, command by command: brainalign never deletes or overwrites a file it did
not write (brainalign.runs). Each command is checked with (a) a folder holding someone else's files, with
and without --force, (b) a finished run redone with --force beside someone else's file, (c) an unfinished
run without --resume and (d) a folder another process holds; every case compares the foreign files byte
for byte afterwards. Refusals come before any computation, so most cases need no real input."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from published_layouts import imagenet_labels, write_shen_file, write_things_eeg2

from brainalign.cli import run
from brainalign.data import RDMs
from brainalign.runs import LOCK, MARKER, atomic_write_json, is_finished, mark_finished, open_run

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FOREIGN = {"thesis.txt": b"chapter 1\n", "data/raw.bin": bytes(range(256))}

# command -> (kind of run it writes, has --resume)
KINDS = {
    "demo": ("study", True), "study": ("study", True), "train": ("train", True), "sweep": ("sweep", True),
    "features": ("features", False), "rsa": ("rsa", False), "robustness": ("robustness", False),
    "simulate": ("simulate", False), "convert-things-eeg2": ("convert-things-eeg2", False),
    "convert-kamitani": ("convert-kamitani", False),
}
FOLDER_COMMANDS = sorted(KINDS)
SMALL_SIMULATION = ["--subjects", "1", "--train-per-category", "2", "--test-per-category", "2",
                    "--pretrain-per-category", "1", "--val-per-category", "1", "--image-size", "32"]


def _argv(command: str, out: Path, tmp_path: Path) -> list[str]:
    """The cheapest command line writing to ``out`` (inputs need not exist: the folder is checked first)."""
    inputs = tmp_path / "inputs"
    if command in ("train", "sweep"):
        config = tmp_path / f"{command}.yaml"
        config.write_text(yaml.safe_dump({"out_dir": str(out)}))
        return [command, str(config)]
    return {
        "demo": ["demo", "--out", str(out)],
        "study": ["study", str(CONFIGS / "demo.yaml"), "--out", str(out)],
        "features": ["features", "cornet_z", str(inputs), "--out", str(out)],
        "rsa": ["rsa", str(inputs / "a.npz"), str(inputs / "b.npz"), "--out", str(out)],
        "robustness": ["robustness", "-m", "cornet_z", "-i", str(inputs), "--out", str(out)],
        "simulate": ["simulate", "--out", str(out)],
        "convert-things-eeg2": ["convert-things-eeg2", str(inputs), "--out", str(out), "--trust"],
        "convert-kamitani": ["convert-kamitani", str(inputs / "sub-01.h5"), "--out", str(out)],
    }[command]


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    """stderr with the console's line wrapping undone (rich wraps long messages at spaces)."""
    return " ".join(capsys.readouterr().err.split())


def _put_foreign(folder: Path) -> None:
    for name, content in FOREIGN.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)


def _assert_foreign_intact(folder: Path) -> None:
    for name, content in FOREIGN.items():
        assert (folder / name).read_bytes() == content, name


def _fake_run(out: Path, kind: str, finished: bool) -> None:
    """A run folder of ``kind`` as brainalign leaves it (finished or killed), with one result file."""
    with open_run(out, kind) as opened:
        opened.keep()
        atomic_write_json(out / "results" / "result.json", {"value": 1})
        if finished:
            mark_finished(out)


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_a_folder_brainalign_did_not_write_is_refused_and_untouched(command, force, tmp_path, capsys) -> None:
    out = tmp_path / "precious"
    _put_foreign(out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert run(_argv(command, out, tmp_path) + (["--force"] if force else [])) == 2
    err = _err(capsys)
    assert "was not written by brainalign" in err and "new or empty folder" in err and "Traceback" not in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    _assert_foreign_intact(out)


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_a_file_where_the_folder_goes_and_a_folder_inside_another_run_are_refused(command, tmp_path, capsys) -> None:
    target = tmp_path / "thesis.txt"
    target.write_bytes(b"chapter 1\n")
    assert run(_argv(command, target, tmp_path) + ["--force"]) == 2
    assert "is a file" in _err(capsys) and target.read_bytes() == b"chapter 1\n"
    study = tmp_path / "study"
    _fake_run(study, "study", finished=True)
    assert run(_argv(command, study / "alignment", tmp_path) + ["--force"]) == 2
    assert f"inside the brainalign study run {study}" in _err(capsys)
    assert not (study / "alignment").exists() and is_finished(study)


@pytest.mark.parametrize("command", [c for c in FOLDER_COMMANDS if c != "sweep"])
def test_an_unfinished_run_is_kept_and_the_message_offers_resume_or_force(command, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    kind, resumable = KINDS[command]
    _fake_run(out, kind, finished=False)
    _put_foreign(out)
    assert run(_argv(command, out, tmp_path)) == 2
    err = _err(capsys)
    assert f"holds an unfinished {kind} run" in err and "--force" in err
    assert ("--resume" in err) == resumable
    assert (out / "results" / "result.json").exists()
    _assert_foreign_intact(out)


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_a_folder_held_by_another_process_is_refused(command, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    kind, _ = KINDS[command]
    _fake_run(out, kind, finished=True)
    _put_foreign(out)
    with open_run(out, kind, force=True):  # this process stands in for the other one
        assert run(_argv(command, out, tmp_path) + ["--force"]) == 2
    err = _err(capsys)
    assert f"in use by another brainalign process (pid {os.getpid()} on" in err
    _assert_foreign_intact(out)


def test_a_second_process_is_refused_and_a_dead_holder_frees_the_folder(tmp_path) -> None:
    """Two real processes: one holds --out (then is killed), `brainalign simulate` on the same --out is
    refused while it lives and, with --force, redoes the killed run after (foreign files kept)."""
    out = tmp_path / "sim"
    _put_foreign(out)
    (out / MARKER).write_text('{"brainalign_run": "simulate"}\n')  # as if the holder had run here before
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from brainalign.runs import open_run; "
         f"run = open_run({str(out)!r}, 'simulate', force=True); print('ready', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        args = [sys.executable, "-m", "brainalign", "simulate", "--out", str(out), "--force", *SMALL_SIMULATION]
        second = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and f"pid {holder.pid} on" in second.stderr
    finally:
        holder.kill()
        holder.wait()
    assert run(args[3:]) == 0 and is_finished(out)  # the killed holder's lock is free again
    _assert_foreign_intact(out)


def _images(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.new("RGB", (24, 24), (40 * index, 90, 200 - 40 * index)).save(folder / f"im{index}.png")
    return folder


def _rdms(path: Path, seed: int) -> Path:
    values = np.random.default_rng(seed).random((2, 3))
    RDMs(values, ["im0", "im1", "im2"], {"layer": ["a", "b"]}, "correlation").save(path)
    return path


def _real_run(command: str, out: Path, tmp_path: Path) -> list[str]:
    """A cheap real command line for ``command`` writing to ``out``."""
    inputs = tmp_path / "inputs"
    if command == "features":
        return ["features", "cornet_z", str(_images(inputs / "images")), "--out", str(out), "--image-size", "32",
                "--layers", "V1"]
    if command == "rsa":
        inputs.mkdir(parents=True, exist_ok=True)
        return ["rsa", str(_rdms(inputs / "a.npz", 0)), str(_rdms(inputs / "b.npz", 1)), "--out", str(out)]
    if command == "convert-kamitani":
        write_shen_file(inputs / "sub-01_perceptionNaturalImageTest_original_VC.h5", imagenet_labels(3), reps=2)
        return ["convert-kamitani", str(inputs / "sub-01_perceptionNaturalImageTest_original_VC.h5"), "--out", str(out)]
    write_things_eeg2(inputs, n_train=2, n_test=2, train_reps=2, test_reps=2)
    return ["convert-things-eeg2", str(inputs), "--out", str(out), "--trust"]


REAL = ["features", "rsa", "convert-kamitani", "convert-things-eeg2"]  # robustness: test_robustness_cli.py


@pytest.mark.parametrize("command", REAL)
def test_force_redoes_a_finished_run_and_keeps_foreign_files(command, tmp_path) -> None:
    out = tmp_path / "run"
    args = _real_run(command, out, tmp_path)
    assert run(args) == 0 and is_finished(out)
    written = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    _put_foreign(out)
    inner = out / written[0].parent / "mine.txt"  # beside brainalign's files in a folder it made
    inner.write_bytes(b"mine")
    assert run(args) == 2  # finished: not without --force
    assert run(args + ["--force"]) == 0 and is_finished(out)
    _assert_foreign_intact(out)
    assert inner.read_bytes() == b"mine"
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and p != inner
                  and str(p.relative_to(out)) not in FOREIGN) == written


def test_force_on_finished_study_train_and_sweep_runs_keeps_foreign_files(tmp_path, monkeypatch) -> None:
    """The expensive commands, their computation replaced by a stub that writes one file."""
    import brainalign.align.sweep as sweep_module
    import brainalign.align.trainer as trainer
    import brainalign.studies.pipeline as pipeline
    from brainalign.studies.demo import run_demo

    def stub(*args, **kwargs) -> None:
        folder = next(arg for arg in args if hasattr(arg, "keep"))
        folder.keep()
        atomic_write_json(folder.path / "results" / "result.json", {"value": 2})
        mark_finished(folder.path)

    for name in ("check_datasets", "check_sweep_data", "check_regions"):
        monkeypatch.setattr(pipeline, name, lambda *args: None)
    monkeypatch.setattr(pipeline, "_run", lambda config, opened, progress: stub(opened))
    monkeypatch.setattr(trainer, "load_alignment_data", lambda data: None)
    monkeypatch.setattr(trainer, "_train", lambda config, data, acceleration, opened, resuming, stop_after: stub(opened))
    monkeypatch.setattr(sweep_module, "_subjects", lambda config: ["sub-01"])
    monkeypatch.setattr(sweep_module, "check_sweep_data", lambda config, subjects=None: None)
    monkeypatch.setattr(sweep_module, "_with_shared_base", lambda config, out_dir: config)
    monkeypatch.setattr(sweep_module, "run_job", lambda config, force=False, parent=None: None)
    calls = {
        "study": lambda out, force: run_demo(out, force=force, progress=False),
        "train": lambda out, force: trainer.train({"out_dir": str(out)}, force=force),
        "sweep": lambda out, force: sweep_module.run_sweep({"out_dir": str(out), "train": {"progress": False}},
                                                            force=force),
    }
    for kind, call in calls.items():
        out = tmp_path / kind
        _fake_run(out, kind, finished=True)
        _put_foreign(out)
        (out / "results" / "mine.txt").write_bytes(b"mine")
        call(out, True)
        _assert_foreign_intact(out)
        assert (out / "results" / "mine.txt").read_bytes() == b"mine"
        assert (out / "results" / "result.json").exists() == (kind != "sweep")  # redone (the sweep's jobs: stubbed)


def test_rdm_never_replaces_a_file_it_did_not_write(tmp_path, capsys) -> None:
    features = tmp_path / "features"
    assert run(_real_run("features", features, tmp_path)) == 0
    out = tmp_path / "x.npz"
    (tmp_path / "x.png").write_bytes(b"my figure")
    for force in ([], ["--force"]):
        assert run(["rdm", str(features), "--out", str(out), *force]) == 2
        assert "x.png exists and was not written by brainalign" in _err(capsys)
    assert (tmp_path / "x.png").read_bytes() == b"my figure" and not out.exists()
    (tmp_path / "x.png").unlink()
    assert run(["rdm", str(features), "--out", str(out)]) == 0
    assert run(["rdm", str(features), "--out", str(out)]) == 2  # its own output: only with --force
    assert run(["rdm", str(features), "--out", str(out), "--force"]) == 0
    out.write_bytes(b"my archive")
    assert run(["rdm", str(features), "--out", str(out), "--force"]) == 2
    assert out.read_bytes() == b"my archive"


def test_rdm_refuses_a_user_png_that_pil_will_not_open(tmp_path, monkeypatch, capsys) -> None:
    """A user's X.png beside --out X.npz that PIL refuses to open (a decompression bomb) is not brainalign's
    preview: refused with one message, not a traceback, and kept."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 40 x 40 px is then > 2 x the limit: a "bomb"
    np.save(tmp_path / "features.npy", np.random.default_rng(0).standard_normal((5, 4)))
    Image.new("RGB", (40, 40), (1, 2, 3)).save(tmp_path / "x.png")
    mine = (tmp_path / "x.png").read_bytes()
    assert run(["rdm", str(tmp_path / "features.npy"), "--out", str(tmp_path / "x.npz"), "--force"]) == 2
    assert "x.png exists and was not written by brainalign" in _err(capsys)
    assert (tmp_path / "x.png").read_bytes() == mine and not (tmp_path / "x.npz").exists()


def test_report_writes_only_into_a_brainalign_run(tmp_path, capsys) -> None:
    _put_foreign(tmp_path / "mine")
    assert run(["report", str(tmp_path / "mine")]) == 2
    assert "not a brainalign run folder" in _err(capsys)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["data", "thesis.txt"]


@pytest.mark.parametrize("command", ["demo", "study", "train", "features", "simulate"])
def test_refusal_is_quick_and_imports_no_torch(command, tmp_path) -> None:
    """The README's promise: `brainalign demo --out DIR --force` on a folder with a file brainalign did not
    write exits 2 within a few seconds; the refusal path never imports torch."""
    out = tmp_path / "precious"
    _put_foreign(out)
    code = ("import sys; from brainalign.cli import run; "
            f"code = run({_argv(command, out, tmp_path) + ['--force']!r}); "
            "print(code, 'torch' in sys.modules)")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    elapsed = time.perf_counter() - started
    assert result.stdout.split() == ["2", "False"], result.stderr
    assert elapsed < 15, f"{command} took {elapsed:.1f} s to refuse"
    _assert_foreign_intact(out)
    assert not (out / MARKER).exists() and not (out / LOCK).exists()
