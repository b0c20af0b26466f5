"""Determinism on one machine: the whole pipeline data -> train -> sample, run twice from
scratch with the same seeds, gives bit-identical data, weights and samples; the seeds matter.
(Gaussian and φ⁴ data alone: test_data_cli.py, test_phi4.py; across process counts:
test_multiprocess.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from wsgm.cli import main
from wsgm.data.io import load_fields


def _pipeline(root: Path, *, train_seed: int = 0, sample_seed: int = 1) -> dict[str, object]:
    root.mkdir()
    data, run, out = root / "d.npz", root / "run", root / "s.npz"
    assert (
        main(["data", "gaussian", "--size", "8", "--n", "16", "--seed", "3", "--out", str(data)])
        == 0
    )
    train = ["train", "--data", str(data), "--run-dir", str(run), "--seed", str(train_seed)]
    train += ["--wavelet", "haar", "--train-steps", "3", "--train-batch", "4", "--no-progress"]
    train += ["--set", "unet.base_channels=8", "--set", "train.checkpoint_every=2"]
    assert main(train) == 0
    sample = ["sample", str(run), "--steps", "4", "--n", "3", "--sample-batch", "2"]
    sample += ["--seed", str(sample_seed), "--out", str(out), "--no-png", "--cpu"]
    assert main(sample) == 0
    return {
        "data": load_fields(data).fields,
        **{
            f"{name}:{k}": v
            for name in ("weights", "ema", "optimizer")
            for k, v in load_file(str(run / "model" / f"{name}.safetensors")).items()
        },
        "samples": load_fields(out).fields,
    }


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)  # type: ignore[arg-type]
    return bool(np.array_equal(a, b))  # type: ignore[arg-type]


def test_same_seeds_give_bit_identical_data_weights_and_samples(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    a = _pipeline(tmp_path / "a")
    b = _pipeline(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) > 20
    for k in a:
        assert _same(a[k], b[k]), k
    c = _pipeline(tmp_path / "c", train_seed=1, sample_seed=2)
    assert _same(a["data"], c["data"])
    assert not _same(a["weights:coarse.conv_in.weight"], c["weights:coarse.conv_in.weight"])
    assert not _same(a["samples"], c["samples"])
