"""Run folders: atomic writes, the one rule (only brainalign's own files are ever replaced), locks."""
from __future__ import annotations

import json
import os
import re

import pytest

from brainalign.errors import RunExistsError
from brainalign.runs import (
    TEMP_PREFIX,
    append_jsonl,
    atomic_path,
    atomic_write_json,
    atomic_write_with,
    check_output_file,
    check_run_dir,
    environment_info,
    is_finished,
    is_run,
    mark_finished,
    open_run,
    read_jsonl,
    remove_written,
)


def test_atomic_write_leaves_nothing_on_failure(tmp_path) -> None:
    target = tmp_path / "out" / "result.json"
    atomic_write_json(target, {"a": 1})

    def failing_writer(path):
        path.write_text("half")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        atomic_write_with(target, failing_writer)
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def _finished_run(path, kind="train"):
    with open_run(path, kind) as run:
        run.keep()
        atomic_write_json(path / "metrics.json", {"epoch": 1})
        append_jsonl(path / "logs" / "metrics.jsonl", {"epoch": 1})
        mark_finished(path, {"epochs": 1})
    return path


def test_finished_run_needs_force_and_force_removes_only_its_files(tmp_path) -> None:
    run = _finished_run(tmp_path / "run")
    assert is_finished(run) and is_run(run)
    (run / "notes.txt").write_bytes(b"mine")
    (run / "logs" / "mine.csv").write_bytes(b"a,b\n")
    with pytest.raises(RunExistsError, match="finished train run.*--force"):
        open_run(run, "train")
    with open_run(run, "train", force=True):
        assert not is_finished(run) and not (run / "metrics.json").exists()
        assert not (run / "logs" / "metrics.jsonl").exists()
    assert (run / "notes.txt").read_bytes() == b"mine" and (run / "logs" / "mine.csv").read_bytes() == b"a,b\n"


def test_unfinished_run_is_kept_for_resume_and_refused_otherwise(tmp_path) -> None:
    path = tmp_path / "run"
    with open_run(path, "train") as run:
        run.keep()
        append_jsonl(path / "metrics.jsonl", {"epoch": 1})
    with pytest.raises(RunExistsError, match="unfinished train run.*--resume.*--force"):
        open_run(path, "train")
    with pytest.raises(RunExistsError, match="unfinished.*pass --force"):
        open_run(path, "train", resumable=False)
    with open_run(path, "train", resume=True):
        assert read_jsonl(path / "metrics.jsonl") == [{"epoch": 1}]
    with open_run(path, "train", force=True):
        assert not (path / "metrics.jsonl").exists()


def test_foreign_folders_files_and_paths_inside_runs_are_refused(tmp_path) -> None:
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "thesis.txt").write_bytes(b"chapter 1")
    for force in (False, True):
        with pytest.raises(RunExistsError, match="not empty and was not written by brainalign.*new or empty folder"):
            open_run(tmp_path / "thesis", "study", force=force)
    assert sorted(p.name for p in (tmp_path / "thesis").iterdir()) == ["thesis.txt"]
    with pytest.raises(RunExistsError, match="is a file"):
        open_run(tmp_path / "thesis" / "thesis.txt", "study", force=True)
    with pytest.raises(RunExistsError, match="is a file"):
        open_run(tmp_path / "thesis" / "thesis.txt" / "out", "study")
    study = _finished_run(tmp_path / "study", "study")
    with pytest.raises(RunExistsError, match="inside the brainalign study run"):
        open_run(study / "logs", "sweep", force=True)
    with pytest.raises(RunExistsError, match="holds a brainalign study run, not a train run"):
        open_run(study, "train", force=True)
    assert is_finished(study)


def test_nested_runs_are_claimed_and_removed_with_their_parent(tmp_path) -> None:
    study = tmp_path / "study"
    with open_run(study, "study") as run:
        run.keep()
        with open_run(study / "alignment", "sweep") as sweep:
            sweep.keep()
            atomic_write_json(study / "alignment" / "sub-01" / "sweep.json", {})
            mark_finished(study / "alignment")
        mark_finished(study)
    (study / "alignment" / "sub-01" / "mine.txt").write_bytes(b"x")
    with open_run(study, "study", force=True):
        assert not (study / "alignment" / "sub-01" / "sweep.json").exists()
        assert (study / "alignment" / "sub-01" / "mine.txt").read_bytes() == b"x"


def test_a_run_failing_before_its_computation_leaves_nothing(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "new", tmp_path / "empty"):
        with pytest.raises(ValueError), open_run(path, "train"):
            atomic_write_json(path / "config.json", {})
            raise ValueError("bad layer")
    assert not (tmp_path / "new").exists() and list((tmp_path / "empty").iterdir()) == []


def test_a_file_in_a_run_that_brainalign_did_not_write_is_never_overwritten(tmp_path) -> None:
    path = tmp_path / "run"
    with open_run(path, "features") as run:
        run.keep()
        (path / "report.html").write_bytes(b"mine")
        with pytest.raises(RunExistsError, match="was not written by brainalign"):
            atomic_write_json(path / "report.html", {})
    assert (path / "report.html").read_bytes() == b"mine"


def test_a_second_process_is_refused_while_the_lock_is_held(tmp_path) -> None:
    path = tmp_path / "run"
    with open_run(path, "rsa"):
        for check in (lambda: open_run(path, "rsa", force=True), lambda: check_run_dir(path, "rsa", force=True)):
            with pytest.raises(RunExistsError, match=rf"in use by another brainalign process \(pid {os.getpid()} on "):
                check()
    with open_run(path, "rsa", force=True):  # released on leaving: a process that ended holds nothing
        pass


def test_orphan_temporary_files_are_removed_on_resume(tmp_path) -> None:
    path = tmp_path / "run"
    with open_run(path, "train") as run:
        run.keep()
        with atomic_path(path / "checkpoints" / "epoch_001" / "state.pt") as temp:
            temp.write_bytes(b"state")
            written = temp.name  # the name a kill during this write leaves behind
    folder = path / "checkpoints" / "epoch_001"
    assert written.startswith(TEMP_PREFIX + "state.pt.")
    orphans = [folder / written, folder / f"{TEMP_PREFIX}state.pt.k1ll3d_x.pt"]  # mkstemp: 8 random characters
    for orphan in orphans:
        orphan.write_bytes(b"half")
    # a user's files, even one named like a temporary without brainalign's prefix, stay
    foreign = [folder / name for name in ("state.pt.bak", ".state.pt.swp", ".state.pt.k1ll3d.pt", ".state.pt.k1ll3d_x.pt",
                                          f"{TEMP_PREFIX}state.pt.bak")]
    for file in foreign:
        file.write_bytes(b"mine")
    with open_run(path, "train", resume=True):
        assert not any(orphan.exists() for orphan in orphans)
        assert all(file.read_bytes() == b"mine" for file in foreign)


def test_single_output_files_are_replaced_only_when_brainalign_wrote_them(tmp_path) -> None:
    target = tmp_path / "x.npz"
    check_output_file(target, force=False, ours=lambda path: True)
    target.write_bytes(b"user data")
    with pytest.raises(RunExistsError, match="not written by brainalign"):
        check_output_file(target, force=True, ours=lambda path: False)
    with pytest.raises(RunExistsError, match="--force"):
        check_output_file(target, force=False, ours=lambda path: True)
    check_output_file(target, force=True, ours=lambda path: True)
    with pytest.raises(RunExistsError, match="is a folder"):
        check_output_file(tmp_path, force=True, ours=lambda path: True)


def test_remove_written_removes_only_the_recorded_files_of_a_folder(tmp_path) -> None:
    path = tmp_path / "run"
    with open_run(path, "train") as run:
        run.keep()
        for epoch in ("epoch_001", "epoch_002"):
            atomic_write_json(path / "checkpoints" / epoch / "deep" / "state.json", {})
        (path / "checkpoints" / "epoch_002" / "mine.txt").write_bytes(b"mine")
        for epoch in ("epoch_001", "epoch_002"):
            remove_written(path / "checkpoints" / epoch)
        with pytest.raises(RunExistsError, match="not inside a run this process has open"):
            remove_written(tmp_path / "elsewhere")
    assert not (path / "checkpoints" / "epoch_001").exists()
    assert sorted(p.name for p in (path / "checkpoints" / "epoch_002").iterdir()) == ["mine.txt"]


def test_read_jsonl_ignores_a_line_cut_by_a_crash(tmp_path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')
    assert [r["epoch"] for r in read_jsonl(path)] == [1, 2]


def test_environment_info_records_seed_and_versions() -> None:
    info = environment_info(seed=7)
    assert info["seed"] == 7
    assert "numpy" in info["versions"]


def test_atomic_files_get_umask_permissions(tmp_path) -> None:
    mask = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "x.json", {})
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_run_marker_that_is_not_utf8_is_refused_with_one_message(tmp_path) -> None:
    """A damaged (or foreign) marker: one error naming it, before anything is written; the CLI exits 2."""
    from brainalign.cli import run
    from brainalign.errors import DataFormatError
    from brainalign.runs import MARKER

    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / MARKER).write_bytes(b"\xff\xfe not text")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(DataFormatError, match="not UTF-8"):
        check_run_dir(folder, "train", force=True)
    assert run(["demo", "--out", str(folder), "--force"]) == 2
    assert sorted(p.name for p in folder.iterdir()) == before and (folder / MARKER).read_bytes() == b"\xff\xfe not text"


def test_an_unwritable_output_is_refused_before_anything_is_written(tmp_path, monkeypatch) -> None:
    """An existing folder, or the parent of a new one or of an output file, that this user cannot write to is
    refused with one message naming it (os.access is faked: as root every path is writable)."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr("brainalign.runs.os.access", lambda path, mode: False)
    with pytest.raises(RunExistsError, match=re.escape(f"{tmp_path / 'empty'} is not writable")):
        check_run_dir(tmp_path / "empty", "rsa")
    with pytest.raises(RunExistsError, match=re.escape(f"{tmp_path} is not writable, so {tmp_path / 'new'} cannot be created")):
        check_run_dir(tmp_path / "new", "rsa")
    with pytest.raises(RunExistsError, match=re.escape(f"{tmp_path} is not writable, so {tmp_path / 'x.npz'} cannot be created")):
        check_output_file(tmp_path / "x.npz", force=False, ours=lambda path: True)
    assert sorted(tmp_path.iterdir()) == [tmp_path / "empty"]
