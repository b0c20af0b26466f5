"""Kill and resume: ``wsgm train``, ``wsgm sample`` and ``wsgm data phi4`` killed with SIGKILL
(mid-write of a checkpoint / partial file, and at a random step) and run again with the same
command finish with bitwise the result of an uninterrupted run; nothing half-written is ever
read, and the temporaries of the killed process are cleaned up."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from wsgm.cli import main
from wsgm.data.io import load_fields, save_fields
from wsgm.training.checkpoint import load_checkpoint
from wsgm.training.config import RunConfig, apply_overrides
from wsgm.training.loop import train

SRC = Path(__file__).parents[1] / "src"

# `python -c KILLER ARGS` is `python -m wsgm.cli ARGS`, except that with
# WSGM_TEST_KILL=module:function:N:mode the N-th call of module.function SIGKILLs the
# process: mode "before" at the start of the call; mode "mid-write" (for atomic_write(path,
# write)) after the temporary file is written and before it is renamed into place.
KILLER = r"""
import importlib, os, signal, sys
from pathlib import Path

mod_name, attr, nth, mode = os.environ["WSGM_TEST_KILL"].split(":")
mod = importlib.import_module(mod_name)
real = getattr(mod, attr)
calls = [0]

def hooked(*args, **kwargs):
    calls[0] += 1
    if calls[0] == int(nth):
        if mode == "mid-write":
            path = Path(args[0])
            args[1](path.parent / f".{path.name}.tmp-{os.getpid()}")
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

setattr(mod, attr, hooked)
chunk = os.environ.get("WSGM_TEST_CHUNK_SWEEPS")
if chunk:
    import wsgm.data.phi4_files as pf
    produce = pf.produce
    pf.produce = lambda *a, **k: produce(*a, **{**k, "chunk_sweeps": int(chunk)})
from wsgm.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SRC), **extra}


def _killed_run(args: list[str], kill: str, **extra: str) -> None:
    """Run the CLI in a subprocess that SIGKILLs itself at the point ``kill`` names."""
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, *args],
        env=_env(WSGM_TEST_KILL=kill, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def _data(path: Path) -> Path:
    x = np.random.default_rng(0).standard_normal((32, 8, 8)).astype(np.float32)
    save_fields(path, x + np.roll(x, 1, axis=-1), {"source": "test", "kind": "field"})
    return path


TRAIN_SETTINGS = [
    "model.kind=wsgm",
    "model.wavelet=haar",
    "train.steps=30",
    "train.batch_size=8",
    "unet.base_channels=8",
    "train.warmup_steps=2",
    "train.checkpoint_every=2",
    "train.log_every=1",
    "train.progress=false",
]


def _train_args(data: Path, run: Path) -> list[str]:
    args = ["train", "--data", str(data), "--run-dir", str(run)]
    for s in TRAIN_SETTINGS:
        args += ["--set", s]
    return args


def _all_weights(run: Path) -> dict[str, torch.Tensor]:
    out = {}
    for name in ("weights", "ema", "optimizer"):
        out.update(
            {
                f"{name}:{k}": v
                for k, v in load_file(str(run / "model" / f"{name}.safetensors")).items()
            }
        )
    return out


@pytest.mark.slow
def test_train_killed_mid_checkpoint_and_at_a_random_step_resumes_bitwise(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    data = _data(tmp_path / "d.npz")
    assert main(_train_args(data, tmp_path / "ref")) == 0
    run = tmp_path / "run"
    args = _train_args(data, run)

    # 1. SIGKILL while the second checkpoint (step 4) is half-written: model files are in
    #    the temporary directory, the optimizer state and train_state.json are not.
    _killed_run(args, "wsgm.training.checkpoint:save_tensors:2:before")
    assert list(run.glob(".model.tmp-*")), "the kill should leave a half-written temporary"
    assert load_checkpoint(run).steps == {"coarse": 2, "scale1": 2}  # the last complete one

    # 2. The same command, SIGKILLed from outside at a random step after resuming.
    kill_at = random.Random(6).randint(8, 20)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgm.cli", *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        if any(json.loads(line).get("step", 0) >= kill_at for line in lines[-3:]):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it was killed"
    steps = load_checkpoint(run).steps  # complete and readable, whatever the kill interrupted
    assert 4 <= steps["coarse"] == steps["scale1"] < 30 and steps["coarse"] % 2 == 0

    # 3. The same command finishes; everything equals the uninterrupted run, bit for bit.
    assert main(args) == 0
    ref, got = _all_weights(tmp_path / "ref"), _all_weights(run)
    assert ref.keys() == got.keys()
    for k in ref:
        assert torch.equal(ref[k], got[k]), k
    assert not list(run.glob(".model.*")), "temporaries of the killed runs were not removed"
    events = [json.loads(line).get("event") for line in (run / "metrics.jsonl").open()]
    assert events.count("resume") == 2 and events[-1] == "done"


def _tiny_model(tmp_path: Path) -> Path:
    data = _data(tmp_path / "d.npz")
    cfg = apply_overrides(
        RunConfig(data=str(data)),
        [
            "model.kind=sgm",
            "train.steps=2",
            "train.batch_size=4",
            "unet.base_channels=8",
            "train.progress=false",
        ],
    )
    train(cfg, tmp_path / "m")
    return tmp_path / "m"


def test_sample_killed_mid_write_resumes_bitwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import wsgm.sampling.job as job

    torch.set_num_threads(1)
    model = _tiny_model(tmp_path)

    def args(out: Path, seed: int = 5) -> list[str]:
        return [
            "sample",
            str(model),
            "--steps",
            "3",
            "--n",
            "21",
            "--sample-batch",
            "2",
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--no-png",
            "--cpu",
            "--save-every",
            "0",
        ]

    assert main(args(tmp_path / "ref.npz")) == 0
    out = tmp_path / "s.npz"
    partial = job.partial_path(out)
    # SIGKILL during the third save of the partial file (two batches are safely saved).
    _killed_run(args(out), "wsgm.sampling.job:atomic_write:3:mid-write")
    assert not out.exists() and list(tmp_path.glob(f".{partial.name}.tmp-*"))
    with np.load(partial) as npz:
        assert npz["index"].tolist() == [0, 1]
    # another command does not mix its samples into this partial file
    capsys.readouterr()
    assert main(args(out, seed=6)) == 2
    assert "seed: 5 -> 6" in capsys.readouterr().err and partial.exists()
    assert main([*args(out), "--t-min", "0.01"]) == 2  # another grid end, too
    assert "t_min" in capsys.readouterr().err and partial.exists()
    # the same command draws only the 9 missing batches and gives bitwise the reference
    drawn: list[int] = []
    real_seed = job.batch_seed

    def counting_seed(seed: int, batch: int) -> int:
        drawn.append(batch)
        return real_seed(seed, batch)

    monkeypatch.setattr(job, "batch_seed", counting_seed)
    assert main(args(out)) == 0
    assert drawn == list(range(2, 11))
    np.testing.assert_array_equal(load_fields(out).fields, load_fields(tmp_path / "ref.npz").fields)
    assert load_fields(out).meta == load_fields(tmp_path / "ref.npz").meta
    assert not partial.exists() and not list(tmp_path.glob(f".{partial.name}.tmp-*"))


def test_phi4_killed_mid_write_resumes_bitwise(tmp_path: Path) -> None:
    from wsgm.data.phi4_files import partial_path

    def args(out: Path) -> list[str]:
        return [
            "data",
            "phi4",
            "--size",
            "8",
            "--n",
            "400",
            "--out",
            str(out),
            "--workers",
            "1",
            "--chains",
            "2",
            "--thermalize",
            "100",
            "--pilot",
            "100",
            "--spacing",
            "3",
            "--seed",
            "9",
            "--checkpoint-seconds",
            "0",
            "--no-progress",
        ]

    assert main(args(tmp_path / "ref.npz")) == 0
    out = tmp_path / "run.npz"
    # chunks of 30 sweeps: the partial file is rewritten ~20 times; die during the 3rd
    _killed_run(
        args(out), "wsgm.data.phi4_files:atomic_write:3:mid-write", WSGM_TEST_CHUNK_SWEEPS="30"
    )
    assert not out.exists()
    with np.load(partial_path(out)) as npz:
        assert 0 < npz["done"].shape[1] < 200  # finished configurations survived the kill
    assert main(args(out)) == 0
    a, b = load_fields(tmp_path / "ref.npz"), load_fields(out)
    np.testing.assert_array_equal(a.fields, b.fields)
    assert a.meta == b.meta and not partial_path(out).exists()


@pytest.mark.slow
def test_ctrl_c_on_the_cli_stops_cleanly_and_the_same_command_resumes(tmp_path: Path) -> None:
    data = _data(tmp_path / "d.npz")
    run = tmp_path / "run"
    args = _train_args(data, run) + [
        "--set",
        "train.steps=5000",
        "--set",
        "train.checkpoint_every=10000",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgm.cli", *args],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (run / "metrics.jsonl").exists() and '"step": 3,' in (run / "metrics.jsonl").read_text():
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.005)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]  # stopped, not done: `train && ...` stops
    assert "the same command resumes" in out
    steps = load_checkpoint(run).steps  # the final checkpoint written on Ctrl-C
    assert 3 <= steps["coarse"] == steps["scale1"] < 5000
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "stop" and last["steps"] == steps
