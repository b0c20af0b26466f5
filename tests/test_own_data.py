"""A newcomer's path with their own data: every input format, an explicit data kind, a run
that resumes from anywhere, one writer per run directory, no silent overwrite, a range
check in eval, the start-up summary, and the thread share between wsgm jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wsgm import cpu
from wsgm.cli import main
from wsgm.data.inputs import load_data
from wsgm.data.io import data_kind, load_fields, save_fields
from wsgm.errors import WSGMError
from wsgm.fileio import exclusive_lock

TRAIN = ["--train-steps", "2", "--train-batch", "4", "--wavelet", "haar", "--no-progress"]
TRAIN += ["--set", "unet.base_channels=8", "--set", "train.warmup_steps=1"]


def _fields(n: int = 12, size: int = 8, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, size, size)).astype(np.float32)
    return x + np.roll(x, 1, axis=-1)


def _pngs(folder: Path, n: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_every_input_format_loads_with_its_kind(tmp_path: Path) -> None:
    x = _fields()
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", x=x)
    save_fields(tmp_path / "c.npz", x, {"source": "gaussian"})
    for name, kind in (("a.npy", None), ("b.npz", None), ("c.npz", "field")):
        d = load_data(tmp_path / name)
        assert d.fields.shape == (12, 1, 8, 8) and data_kind(d.meta) == kind
        np.testing.assert_array_equal(d.fields[:, 0], x)
    d = load_data(_pngs(tmp_path / "imgs"))
    assert d.fields.shape == (6, 1, 8, 8) and data_kind(d.meta) == "image"
    assert d.fields.min() >= -1 and d.fields.max() <= 1


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: np.save(p / "u.npy", np.zeros((3, 4, 4), np.uint8)), "pixel bytes"),
        (lambda p: np.save(p / "u.npy", np.zeros((0, 4, 4), np.float32)), "is empty"),
        (lambda p: np.save(p / "u.npy", np.zeros((3, 4), np.float32)), "must be"),
        (lambda p: (p / "u.npy").write_bytes(b"\x93NUMPY broken"), "not a readable"),
    ],
)
def test_bad_arrays_get_one_clear_message(tmp_path: Path, make: object, match: str) -> None:
    make(tmp_path)  # type: ignore[operator]
    with pytest.raises(WSGMError, match=match):
        load_data(tmp_path / "u.npy")


def test_written_files_say_their_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(
        tmp_path / "imgs.npz", x=np.random.default_rng(0).integers(0, 256, (4, 8, 8), np.uint8)
    )
    assert (
        main(["data", "images", str(tmp_path / "imgs.npz"), "--out", str(tmp_path / "i.npz")]) == 0
    )
    assert load_fields(tmp_path / "i.npz").meta["kind"] == "image"
    np.save(tmp_path / "f.npy", _fields())
    out = tmp_path / "sub" / "f.npz"  # the folder is created
    assert main(["data", "fields", str(tmp_path / "f.npy"), "--out", str(out)]) == 0
    meta = load_fields(out).meta
    assert (meta["kind"], meta["periodic"]) == ("field", True)
    assert len(meta["value_range"]) == 2
    assert main(["data", "fields", str(tmp_path / "f.npy"), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_train_refuses_a_bare_array_until_told_its_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "x.npy", _fields())
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "x.npy"), "--run-dir", str(run), *TRAIN]) == 2
    assert "--kind image" in capsys.readouterr().err
    assert not run.exists()  # a failed start leaves no empty run directory
    argv = ["train", "--data", str(tmp_path / "x.npy"), "--run-dir", str(run), "--kind", "field"]
    assert main([*argv, *TRAIN]) == 0  # the start-up summary
    out = capsys.readouterr().out
    assert "kind field (periodic)" in out and "circular padding" in out
    assert "random shifts and flips" in out and "M parameters" in out and "threads" in out
    config = json.loads((run / "model" / "config.json").read_text())["model"]
    assert config["data_kind"] == "field" and len(config["data_range"]) == 2


def test_images_train_with_zero_padding_and_no_augmentation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    argv = ["train", "--data", str(_pngs(tmp_path / "imgs", 8)), "--run-dir", str(run)]
    assert main([*argv, *TRAIN]) == 0
    out = capsys.readouterr().out
    assert "kind image" in out and "zeros padding" in out and "no augmentation" in out


def test_a_run_resumes_from_another_directory_and_after_a_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "d.npz"
    save_fields(data, _fields(), {"kind": "field"})
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "d.npz", "--run-dir", "run", *TRAIN]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    more = [a if a != "2" else "3" for a in TRAIN]  # --train-steps 3
    assert main(["train", "--run-dir", "../run", *more]) == 0  # the stored path is absolute
    moved = tmp_path / "moved.npz"
    data.rename(moved)
    capsys.readouterr()
    assert main(["train", "--run-dir", "../run", *more]) == 2
    assert "give --data with its new path" in capsys.readouterr().err
    more4 = [a if a != "2" else "4" for a in TRAIN]
    assert main(["train", "--run-dir", "../run", "--data", str(moved), *more4]) == 0
    save_fields(tmp_path / "other.npz", _fields(seed=5), {"kind": "field"})
    more5 = [a if a != "2" else "5" for a in TRAIN]
    assert main(["train", "--run-dir", "../run", "--data", "../other.npz", *more5]) == 2
    assert "holds other data than the run" in capsys.readouterr().err


def test_one_writer_per_run_directory(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom wsgm.fileio import exclusive_lock\n"
         f"with exclusive_lock({str(lock)!r}, what='x'):\n    print('held', flush=True)\n"
         "    time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(WSGMError, match=rf"in use by another wsgm process \(PID {child.pid}\)"):
            with exclusive_lock(lock, what="run directory r"):
                pass
    finally:
        child.kill()
        child.wait()
    with exclusive_lock(lock, what="run directory r"):  # SIGKILL released it
        pass


def test_eval_refuses_a_reference_on_another_scale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.npz"
    save_fields(data, np.tanh(_fields(n=40)), {"kind": "field"})  # values in (-1, 1)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--run-dir", str(run), *TRAIN]) == 0
    ref = tmp_path / "ref.npz"
    save_fields(ref, (np.tanh(_fields(n=40, seed=3)) + 1) / 2, {"kind": "field"})  # [0, 1]
    argv = ["eval", str(run), "--reference", str(ref), "--out", str(tmp_path / "ev")]
    argv += ["--sweep-steps", "2", "--n", "8", "--no-progress"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "has values in [" in err and "trained on data in [" in err
    assert main([*argv, "--rescale-reference"]) == 0
    out = capsys.readouterr().out
    assert "rescaling the reference" in out and "metrics for field data" in out


def test_sample_warns_on_an_unfinished_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.npz"
    save_fields(data, _fields(), {"kind": "field"})
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--run-dir", str(run), *TRAIN]) == 0
    state = json.loads((run / "run_config.json").read_text())
    state["train"]["steps"] = 10
    (run / "run_config.json").write_text(json.dumps(state))
    out = tmp_path / "s.npz"
    assert (
        main(["sample", str(run), "--n", "2", "--steps", "2", "--out", str(out), "--no-png"]) == 0
    )
    assert "is not finished" in capsys.readouterr().err
    meta = load_fields(out).meta
    assert meta["kind"] == "field" and meta["sampler"] == "dpm2m"


def test_thread_share_follows_the_running_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "usable_cores", lambda: 4)
    before = torch.get_num_threads()
    torch.set_num_threads(4)  # the fair share never exceeds what torch had
    try:
        with cpu.job_slot():
            assert cpu.configure_threads(None) == 4 // cpu.running_jobs()
            sibling = cpu._registry() / str(os.getppid())  # a live process: a second job
            sibling.touch()
            try:
                assert cpu.running_jobs() >= 2
                cpu._state["last"] = 0.0  # a running job looks again: it steps back
                cpu.rebalance()
                assert torch.get_num_threads() <= 2
                assert cpu.configure_threads(None) <= 2
            finally:
                sibling.unlink()
            (cpu._registry() / "999999999").touch()  # a dead job's entry is dropped
            cpu.running_jobs()
            assert not (cpu._registry() / "999999999").exists()
        assert cpu.configure_threads(3) == 3 and torch.get_num_threads() == 3
        monkeypatch.setenv(cpu.ENV, "0")
        with pytest.raises(WSGMError, match="WSGM_THREADS must be a positive integer"):
            cpu.configure_threads(None)
    finally:
        torch.set_num_threads(before)


def test_print_config_lists_every_key_and_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsgm.training.config import flat_keys, load_toml

    argv = ["train", "--print-config", "--train-steps", "7", "--set", "train.lr=0.002"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    (tmp_path / "c.toml").write_text(text)
    cfg = load_toml(tmp_path / "c.toml")
    assert (cfg.train.steps, cfg.train.lr) == (7, 0.002)
    for key in flat_keys():
        assert key.rsplit(".", 1)[-1] + " = " in text
    assert main(["train", "--train-steps", "7"]) == 2
    assert "give --run-dir" in capsys.readouterr().err


def test_metrics_also_go_to_tensorboard_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = tmp_path / "d.npz"
    save_fields(data, _fields(), {"kind": "field"})
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--run-dir", str(run), *TRAIN]
    assert main([*argv, "--set", "train.log_every=1"]) == 0
    (events,) = (run / "tensorboard").glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events))
    acc.Reload()
    assert "loss/coarse" in acc.Tags()["scalars"] and len(acc.Scalars("loss/coarse")) == 2
    assert (run / "metrics.jsonl").exists()  # JSONL stays
