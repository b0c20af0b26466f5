"""The guarantees of :mod:`wsgm.fileio`, on real files: an interrupted write never loses the
previous file, dead writers' temporaries are removed and live ones kept, a directory swap
killed between its two renames is undone, partial files refuse another command, and JSON
reading fails with one clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wsgm.errors import WSGMError
from wsgm.fileio import (
    atomic_write,
    partial_path,
    partial_writer,
    read_json,
    read_partial,
    recover_dir,
    remove_dead_temporaries,
    swap_in_dir,
    write_json_atomic,
)


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    code = "import os; print(os.getpid())"
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(proc.stdout)


def test_atomic_write_keeps_the_old_file_when_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write(target, lambda tmp: tmp.write_text("old"))

    def failing(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError, match="writer died"):
        atomic_write(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temporary left behind


def test_atomic_write_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(WSGMError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "f.txt", lambda tmp: tmp.write_text("x"))


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "out.npz"
    dead = tmp_path / f".out.npz.tmp-{_dead_pid()}"
    live_parent = tmp_path / f".out.npz.tmp-{os.getppid()}"
    own = tmp_path / f".out.npz.tmp-{os.getpid()}"
    other = tmp_path / ".other.npz.tmp-1234567"  # another file's temporary: not ours to judge
    dead.write_text("half")
    for p in (live_parent, own, other):
        p.write_text("in progress")
    remove_dead_temporaries(target)
    assert not dead.exists()
    assert live_parent.exists() and own.exists() and other.exists()


def test_swap_in_dir_killed_between_the_renames_is_undone(tmp_path: Path) -> None:
    target = tmp_path / "model"
    swap_in_dir(target, lambda d: (d / "a.txt").write_text("old"))
    # The state a kill between the two renames leaves: the old directory moved aside, the new
    # one still under the writer's temporary name (a directory; the writer is dead).
    target.rename(tmp_path / ".model.prev")
    half = tmp_path / f".model.tmp-{_dead_pid()}"
    half.mkdir()
    (half / "a.txt").write_text("new")
    recover_dir(target)
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    # a swap that completes replaces the directory and leaves nothing else
    swap_in_dir(target, lambda d: (d / "b.txt").write_text("new"))
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_partial_file_round_trip_and_refusal_of_another_key(tmp_path: Path) -> None:
    part = partial_path(tmp_path / "s.npz")
    assert part.name == "s.npz.partial.npz"
    key = {"seed": 5, "n": 21, "model": "abc"}
    samples = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic_write(part, partial_writer(key, {"samples": samples, "pilot": {"spacing": 3}}))
    saved, got = read_partial(part, key, names=("samples", "pilot"), what="sampling command")
    assert saved == key and got["pilot"] == {"spacing": 3}
    np.testing.assert_array_equal(got["samples"], samples)
    with pytest.raises(WSGMError, match="seed: 5 -> 6") as info:
        read_partial(part, {**key, "seed": 6}, names=("samples",), what="sampling command")
    assert "another sampling command" in str(info.value) and "model" not in str(info.value)
    with pytest.raises(WSGMError, match="unreadable"):
        read_partial(part, key, names=("done",), what="sampling command")
    part.write_bytes(b"not a zip file")
    with pytest.raises(WSGMError, match="delete it to start over"):
        read_partial(part, key, names=("samples",), what="sampling command")


def test_read_json_names_each_failure(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    with pytest.raises(WSGMError, match=r"model config .*config\.json is missing"):
        read_json(path, what="model config")
    path.write_text('{"model": ')
    with pytest.raises(WSGMError, match="is not readable JSON"):
        read_json(path, what="model config")
    path.write_text("[1, 2]")
    with pytest.raises(WSGMError, match="must hold a JSON object"):
        read_json(path, what="model config")
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    assert read_json(path) == {"a": [1, 2], "b": 1}
    assert path.read_text() == json.dumps({"a": [1, 2], "b": 1}, indent=2) + "\n"
