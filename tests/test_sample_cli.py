"""End to end through ``wsgm.cli.main``: train, resume, sample, upsample on 8x8 fields."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from wsgm import wavelets
from wsgm.cli import main
from wsgm.data.io import load_fields, save_fields
from wsgm.sampling.allocation import scale_costs


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 8, 8)).astype(np.float32)
    path = tmp_path / "fields.npz"
    save_fields(
        path,
        x + 0.7 * np.roll(x, 1, axis=-1) + 0.5 * np.roll(x, 1, axis=-2),
        {"source": "test", "kind": "field"},
    )
    return path


def _train(data: Path, run: Path, kind: str, steps: int) -> int:
    return main(
        [
            "train",
            "--data",
            str(data),
            "--model",
            kind,
            "--run-dir",
            str(run),
            "--train-steps",
            str(steps),
            "--seed",
            "0",
            "--train-batch",
            "16",
            "--no-progress",
            "--wavelet",
            "haar",
            "--set",
            "unet.base_channels=8",
            "--set",
            "train.warmup_steps=5",
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sgm", "wsgm"])
def test_train_resume_sample(kind: str, data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _train(data, run, kind, 10) == 0
    assert _train(data, run, kind, 20) == 0  # the same command with more steps resumes
    events = [
        json.loads(line).get("event") for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    assert events[0] == "start" and "resume" in events and events[-1] == "done"
    assert json.loads((run / "run_config.json").read_text())["model"]["kind"] == kind

    out = tmp_path / "s.npz"
    args = [
        "sample",
        str(run),
        "--steps",
        "6",
        "--n",
        "5",
        "--seed",
        "3",
        "--out",
        str(out),
        "--sample-batch",
        "2",
    ]
    assert main(args) == 0
    fd = load_fields(out)
    assert fd.fields.shape == (5, 1, 8, 8) and np.isfinite(fd.fields).all()
    assert fd.meta["model_kind"] == kind and fd.meta["steps"] == 6
    assert out.with_suffix(".png").stat().st_size > 0
    first = fd.fields.copy()
    assert main(args) == 2  # an existing output is never replaced silently
    assert main([*args, "--overwrite"]) == 0  # same seed -> same samples
    np.testing.assert_array_equal(load_fields(out).fields, first)
    assert main([*args[:-2], "--sample-batch", "2", "--seed", "4", "--overwrite"]) == 0
    assert not np.array_equal(load_fields(out).fields, first)
    cost = [*args, "--allocate", "cost", "--overwrite"]
    coarse = [*args, "--coarse-sampler", "euler", "--coarse-grid", "quadratic", "--overwrite"]
    if kind == "sgm":
        assert main(cost) == 2  # step allocations are for WSGMs
        assert main(coarse) == 2  # and so is a coarse sampler
        return
    assert main(coarse) == 0
    meta = load_fields(out).meta
    assert meta["coarse_sampler"] == "euler" and meta["coarse_grid"] == "quadratic"
    split = load_fields(out).fields
    assert np.isfinite(split).all() and not np.array_equal(split, first)
    assert main(cost) == 0
    meta = load_fields(out).meta
    levels = json.loads((run / "model" / "config.json").read_text())["model"]["levels"]
    assert meta["allocation"] == "cost" and len(meta["counts"].split(",")) == levels + 1
    assert 0 < meta["cost"] <= 6 * sum(scale_costs(8, levels)) + 1e-9


def test_upsample_and_cli_errors(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert _train(data, run, "wsgm", 3) == 0
    x = torch.from_numpy(load_fields(data).fields[:3])
    low, _ = wavelets.wavedec(x, "haar", 1)
    save_fields(tmp_path / "low.npz", low.numpy())
    out = tmp_path / "up.npz"
    assert (
        main(
            [
                "upsample",
                str(run),
                "--input",
                str(tmp_path / "low.npz"),
                "--out",
                str(out),
                "--steps",
                "4",
                "--n-per-input",
                "2",
                "--no-png",
                "--grid-rho",
                "1.5",
            ]
        )
        == 0
    )
    up = torch.from_numpy(load_fields(out).fields)
    assert up.shape == (6, 1, 8, 8)
    back, _ = wavelets.wavedec(up, "haar", 1)  # super-resolution keeps the given low-pass
    torch.testing.assert_close(back, low.repeat_interleave(2, dim=0), atol=1e-4, rtol=1e-4)
    # a block-averaged image is the Haar low-pass divided by 2^k
    save_fields(tmp_path / "avg.npz", (low / 2).numpy())
    assert (
        main(
            [
                "upsample",
                str(run),
                "--input",
                str(tmp_path / "avg.npz"),
                "--out",
                str(out),
                "--steps",
                "4",
                "--input-kind",
                "average",
                "--no-png",
                "--overwrite",
            ]
        )
        == 0
    )
    back, _ = wavelets.wavedec(torch.from_numpy(load_fields(out).fields), "haar", 1)
    torch.testing.assert_close(back, low, atol=1e-4, rtol=1e-4)

    capsys.readouterr()
    assert (
        main(["upsample", str(run), "--input", str(data), "--out", str(out), "--steps", "4"]) == 2
    )
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    new = str(tmp_path / "new" / "up.npz")  # its folder is created
    assert main(["upsample", str(run), "--input", str(data), "--out", new, "--steps", "4"]) == 2
    assert "allowed sizes: 4x4" in capsys.readouterr().err
    assert (
        main(
            [
                "sample",
                str(run),
                "--steps",
                "4",
                "--n",
                "2",
                "--out",
                new,
                "--steps-per-scale",
                "3",
            ]
        )
        == 2
    )
    assert "needs 2 positive counts" in capsys.readouterr().err
    base = ["sample", str(run), "--steps", "4", "--n", "2", "--out", new]
    assert main([*base, "--allocate", "cost", "--step-budget", "0.01"]) == 2
    assert "less than one step per scale" in capsys.readouterr().err
    assert main([*base, "--step-budget", "3"]) == 2
    assert "add --allocate cost" in capsys.readouterr().err
    assert main([*base, "--allocate", "cost", "--steps-per-scale", "2,2"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "nope"), "--steps", "4", "--n", "2", "--out", new]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _train(data, run, "wsgm", 3) == 0  # nothing to do, already trained
    assert main(["train", "--run-dir", str(run), "--set", "unet.width=3"]) == 2
    assert "valid keys" in capsys.readouterr().err
