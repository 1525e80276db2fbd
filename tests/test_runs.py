"""Run directories: atomic writes, finished runs protected, resumable runs kept."""
from __future__ import annotations

import json

import pytest

from brainalign.errors import RunExistsError
from brainalign.runs import (
    append_jsonl,
    atomic_write_json,
    atomic_write_with,
    environment_info,
    is_finished,
    mark_finished,
    prepare_run_dir,
    read_jsonl,
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


def test_finished_run_needs_force(tmp_path) -> None:
    run = prepare_run_dir(tmp_path / "run")
    (run / "metrics.jsonl").write_text("{}\n")
    mark_finished(run, {"epochs": 2})
    assert is_finished(run)
    with pytest.raises(RunExistsError, match="--force"):
        prepare_run_dir(run)
    prepare_run_dir(run, force=True)
    assert not is_finished(run) and not (run / "metrics.jsonl").exists()


def test_unfinished_run_is_kept_for_resume_and_cleared_otherwise(tmp_path) -> None:
    run = prepare_run_dir(tmp_path / "run")
    append_jsonl(run / "metrics.jsonl", {"epoch": 1})
    prepare_run_dir(run, resume=True)
    assert read_jsonl(run / "metrics.jsonl") == [{"epoch": 1}]
    prepare_run_dir(run)
    assert not (run / "metrics.jsonl").exists()


def test_read_jsonl_ignores_a_line_cut_by_a_crash(tmp_path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')
    assert [r["epoch"] for r in read_jsonl(path)] == [1, 2]


def test_environment_info_records_seed_and_versions() -> None:
    info = environment_info(seed=7)
    assert info["seed"] == 7
    assert "numpy" in info["versions"]


def test_atomic_files_get_umask_permissions(tmp_path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "x.json", {})
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644
