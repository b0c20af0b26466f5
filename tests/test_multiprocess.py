"""Multi-process training on CPU (``torchrun --nproc_per_node 2``: accelerate's MULTI_CPU mode
with gloo): both processes end with identical weights, equal up to float rounding to a
one-process run with the same global batch (``train.batch_size`` is the global batch); and
``wsgm sample`` on two processes writes bitwise the one-process file, resuming included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import wsgm.sampling.job as job
from wsgm.cli import main
from wsgm.data.io import load_fields, save_fields
from wsgm.training.config import RunConfig, apply_overrides
from wsgm.training.loop import train

TORCHRUN = Path(sys.executable).with_name("torchrun")

# Runs `wsgm train` (the CLI entry point) and then saves this process's trained weights.
_RANK_SCRIPT = """
import os, sys
import wsgm.training.loop as T
from safetensors.torch import save_file

held = {}
_init = T._Bundle.__init__
def _capture(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    held["bundle"] = self
T._Bundle.__init__ = _capture

from wsgm.cli import main
rc = main(sys.argv[1:])
sd = {k: v.detach().cpu().contiguous() for k, v in held["bundle"].nets.state_dict().items()}
save_file(sd, os.path.join(os.environ["WSGM_TEST_OUT"], f"rank{os.environ['RANK']}.safetensors"))
sys.exit(rc)
"""

SETTINGS = [
    "model.kind=wsgm",
    "model.wavelet=haar",
    "train.steps=3",
    "train.batch_size=8",
    "unet.base_channels=8",
    "train.warmup_steps=1",
    "train.checkpoint_every=2",
    "train.progress=false",
    "train.cpu=true",
    "train.log_every=1",
    "train.lr=5e-4",
]


def _losses(run: Path) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k.startswith("loss/")} for r in rows if "step" in r]


def _data(path: Path) -> Path:
    x = np.random.default_rng(0).standard_normal((32, 8, 8)).astype(np.float32)
    save_fields(path, x + np.roll(x, 1, axis=-1), {"source": "test", "kind": "field"})
    return path


@pytest.mark.slow
@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to python")
def test_two_processes_equal_one_process_with_the_same_global_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data(tmp_path / "d.npz")
    script = tmp_path / "rank_main.py"
    script.write_text(_RANK_SCRIPT)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "WSGM_TEST_OUT": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path]),
    }
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", str(script), "train"]
    cmd += ["--data", str(data), "--run-dir", str(tmp_path / "multi")]
    for s in SETTINGS:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    r0 = load_file(str(tmp_path / "rank0.safetensors"))
    r1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert r0.keys() == r1.keys() and len(r0) > 10
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"ranks differ in {k}"
    saved = load_file(str(tmp_path / "multi" / "model" / "weights.safetensors"))
    for k, v in saved.items():
        assert torch.equal(v, r0[k]), k  # the checkpoint holds the synchronized weights

    # one process, same global batch of 8
    torch.set_num_threads(1)
    train(apply_overrides(RunConfig(data=str(data)), SETTINGS), tmp_path / "single")
    single = load_file(str(tmp_path / "single" / "model" / "weights.safetensors"))
    assert single.keys() == r0.keys()
    # Same data seen: the logged losses (means over the global batch) agree at every step.
    lm, ls = _losses(tmp_path / "multi"), _losses(tmp_path / "single")
    assert len(lm) == len(ls) == 3
    for a, b in zip(lm, ls, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-5), k
    # Weights: float rounding only. Adam turns the rounding noise of parameters whose exact
    # gradient is zero (biases feeding a GroupNorm) into steps of up to lr, so the absolute
    # tolerance is 1% of the largest possible move (lr x steps); a run whose processes drew
    # different batches is off by ~lr.
    for k, v in single.items():
        torch.testing.assert_close(r0[k], v, rtol=1e-5, atol=0.01 * 5e-4 * 3, msg=k)
    assert '"processes": 2' in (tmp_path / "multi" / "metrics.jsonl").read_text()

    # Sampling: batch b depends on (seed, b) only, so 2 processes give the 1-process file bit
    # for bit, also when resuming a partial file that a 1-process run left behind.
    def sample(out: Path) -> list[str]:
        return ["sample", str(tmp_path / "multi"), "--num-samples", "7", "--sample-batch", "2",
                "--steps", "3", "--seed", "4", "--out", str(out), "--no-png", "--cpu",
                "--save-every", "0"]  # fmt: skip

    assert main(sample(tmp_path / "one.npz")) == 0
    out = tmp_path / "two.npz"
    with monkeypatch.context() as m:
        real = job._write_partial

        def stop_after_first_batch(*args: Any, **kwargs: Any) -> None:
            real(*args, **kwargs)
            raise KeyboardInterrupt

        m.setattr(job, "_write_partial", stop_after_first_batch)
        assert main(sample(out)) != 0  # "interrupted"
    with np.load(job.partial_path(out)) as npz:
        assert npz["index"].tolist() == [0]
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node", "2", "-m", "wsgm.cli", *sample(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    np.testing.assert_array_equal(load_fields(out).fields, load_fields(tmp_path / "one.npz").fields)
    assert not job.partial_path(out).exists()
    shutil.rmtree(tmp_path / "multi")
