"""Reproductions end to end on tiny Gaussian fields, ``wsgm eval``, and the bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wsgm.cli import main
from wsgm.data.io import save_fields
from wsgm.errors import WSGMError
from wsgm.experiments.datasets import make_datasets
from wsgm.experiments.gaussian_kl import fourier_kl, sgm_theory_kl
from wsgm.experiments.presets import preset_for
from wsgm.experiments.runs import load_trained
from wsgm.gaussian.spectra import power_spectrum

TINY = [
    "--size",
    "8",
    "--n-train",
    "64",
    "--n",
    "16",
    "--sweep-steps",
    "2,8",
    "--train-steps",
    "3",
    "--channels",
    "8",
    "--train-batch",
    "8",
    "--seed",
    "0",
    "--threads",
    "1",
    "--no-progress",
    "--set",
    "train.warmup_steps=1",
]


@pytest.fixture(scope="module")
def gaussian_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repro") / "gauss"
    assert main(["reproduce", "gaussian", "--out", str(out), *TINY]) == 0
    return out


def test_reproduce_gaussian_writes_report(gaussian_run: Path) -> None:
    data = json.loads((gaussian_run / "sweep.json").read_text())
    assert set(data["models"]) == {"sgm", "wsgm"}
    for m in data["models"].values():
        assert m["steps"] == [2, 8]
        assert set(m["metrics"]) == {
            "fourier_kl", "spectrum", "histogram_w1", "magnetization_w1", "two_point"
        }  # fmt: skip
        assert all(len(v) == 2 and all(np.isfinite(v)) for v in m["metrics"].values())
    theory = data["theory"]
    # exact scores: more steps, smaller KL
    for label in ("sgm", "wsgm"):
        kl = theory[label]["fourier_kl"]
        assert kl[1] < kl[0]
        # the Gaussian twin (here the data law itself) with exact scores, same sampler
        assert theory[label]["steps"] == [2, 8]
        spec = theory[label]["spectrum"]
        assert len(spec) == 2 and spec[1] < spec[0]
    report = (gaussian_run / "report.md").read_text()
    assert "Gaussian twin" in report and "With exact scores the spectrum error" in report
    assert "## Steps needed" in report and "error_vs_steps.png" in report
    assert "## At equal sampling cost" in report and "- spectrum: " in report
    for png in ("error_vs_steps.png", "error_vs_time.png", "samples_sgm.png", "samples_wsgm.png"):
        assert (gaussian_run / png).stat().st_size > 1000
    assert (gaussian_run / "sweep.csv").exists()


def test_reproduce_reuses_finished_runs(gaussian_run: Path) -> None:
    before = (gaussian_run / "runs" / "sgm" / "model" / "ema.safetensors").stat().st_mtime_ns
    assert main(["reproduce", "gaussian", "--out", str(gaussian_run), *TINY]) == 0
    after = (gaussian_run / "runs" / "sgm" / "model" / "ema.safetensors").stat().st_mtime_ns
    assert before == after
    data = json.loads((gaussian_run / "sweep.json").read_text())
    assert data["timings"]["training sgm"] == 0.0


def test_eval_pair(gaussian_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ev"
    rc = main(
        [
            "eval",
            "--sgm",
            str(gaussian_run / "runs" / "sgm"),
            "--wsgm",
            str(gaussian_run / "runs" / "wsgm"),
            "--reference",
            str(gaussian_run / "data" / "reference.npz"),
            "--out",
            str(out),
            "--sweep-steps",
            "2,4",
            "--n",
            "8",
            "--no-progress",
            "--allocate",
            "equal,cost",
        ]
    )
    assert rc == 0
    data = json.loads((out / "sweep.json").read_text())
    assert data["models"]["sgm"]["steps"] == [2, 4]
    # the WSGM is swept once per allocation; costs in full-resolution evaluations
    assert set(data["models"]) == {"sgm", "wsgm", "wsgm-cost"}
    assert data["models"]["sgm"]["cost_per_sample"] == [2.0, 4.0]
    levels = len(data["models"]["wsgm"]["step_counts"][0]) - 1
    equal, cost = data["models"]["wsgm"], data["models"]["wsgm-cost"]
    assert equal["step_counts"] == [[2] * (levels + 1), [4] * (levels + 1)]
    assert cost["allocation"] == "cost" and len(cost["step_counts"][1]) == levels + 1
    pairs = zip(cost["cost_per_sample"], equal["cost_per_sample"], strict=True)
    assert all(c <= e + 1e-9 for c, e in pairs)
    assert (out / "error_vs_cost.png").stat().st_size > 1000
    assert set(data["models"]["wsgm"]["noise_floor"]) == {
        "spectrum",
        "histogram_w1",
        "magnetization_w1",
        "two_point",
    }
    printed = capsys.readouterr().out
    assert "spectrum: within 2x noise floor at" in printed
    # every WSGM allocation against the SGM, at equal cost and at equal seconds
    lines = [ln for ln in printed.splitlines() if ln.startswith("at equal cost, spectrum: ")]
    assert len(lines) == 2 and all("SGM" in ln and "error" in ln for ln in lines)
    # every WSGM allocation x every field metric
    assert sum(ln.startswith("at equal seconds, ") for ln in printed.splitlines()) == 2 * 4


def test_eval_reference_of_wrong_size(
    gaussian_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = tmp_path / "ref16.npz"
    save_fields(ref, np.zeros((20, 16, 16), np.float32), {"source": "test"})
    rc = main(
        [
            "eval",
            "--sgm",
            str(gaussian_run / "runs" / "sgm"),
            "--reference",
            str(ref),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "1x16x16" in err and "trained on 1x8x8" in err


def test_eval_run_without_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run_config.json").write_text("{}")
    ref = tmp_path / "ref.npz"
    save_fields(ref, np.zeros((20, 8, 8), np.float32), {"source": "test"})
    rc = main(["eval", str(run), "--reference", str(ref), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "holds no finished model (its training has not written a model yet)" in (
        capsys.readouterr().err
    )


def test_unfinished_run_is_refused(gaussian_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(gaussian_run / "runs" / "wsgm", run)
    cfg = json.loads((run / "run_config.json").read_text())
    cfg["train"]["steps"] = 100
    (run / "run_config.json").write_text(json.dumps(cfg))
    with pytest.raises(WSGMError, match="not finished: networks at steps"):
        load_trained(run)
    assert load_trained(run, require_finished=False).config.kind == "wsgm"


def test_unknown_experiment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "mnist", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'mnist'; choose from gaussian, phi4, images" in err
    with pytest.raises(WSGMError, match="unknown experiment"):
        preset_for("nope")


def test_existing_data_of_another_size(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    save_fields(
        tmp_path / "data" / "train.npz", np.zeros((10, 16, 16), np.float32), {"source": "gaussian"}
    )
    preset = preset_for("gaussian").replace(size=8, n_samples=4, n_train=10)
    with pytest.raises(WSGMError, match="size 16x16, but this run needs 8x8"):
        make_datasets(tmp_path, preset, progress=False)


def test_fourier_kl_matches_theory_scale() -> None:
    p = power_spectrum(16, eta=2.0, xi=0.0)
    rng = np.random.default_rng(0)
    from wsgm.data.gaussian import gaussian_fields

    x = gaussian_fields(4000, size=16, eta=2.0, xi=0.0, generator=rng)
    exact = fourier_kl(x, p)
    assert 0 <= exact < 5e-3  # only the estimator's bias
    assert fourier_kl(2.0 * x, p) > 100 * exact  # a wrong scale is far away
    assert sgm_theory_kl(16, 64, eta=2.0, xi=0.0, grid="quadratic", T=5.0) < sgm_theory_kl(
        16, 4, eta=2.0, xi=0.0, grid="quadratic", T=5.0
    )


def test_reproduce_images_from_array(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (96, 16, 16), dtype=np.uint8)
    y = rng.integers(0, 3, 96)
    x[y == 1, 4:12, 4:12] = 255  # classes a classifier can tell apart
    src = tmp_path / "tiny.npz"
    np.savez(src, x_train=x[:64], y_train=y[:64], x_test=x[64:], y_test=y[64:])
    out = tmp_path / "img"
    rc = main(
        [
            "reproduce",
            "images",
            "--out",
            str(out),
            "--data",
            str(src),
            "--size",
            "16",
            "--n-train",
            "64",
            "--n",
            "16",
            "--sweep-steps",
            "2",
            "--train-steps",
            "2",
            "--channels",
            "8",
            "--train-batch",
            "8",
            "--threads",
            "1",
            "--no-progress",
            "--metrics",
            "classifier_fd,spectrum",
        ]
    )
    assert rc == 0
    data = json.loads((out / "sweep.json").read_text())
    assert set(data["models"]["wsgm"]["metrics"]) == {"classifier_fd", "spectrum"}
    assert "classifier_fd" in (out / "report.md").read_text()


def test_report_names_the_command(gaussian_run: Path) -> None:
    report = (gaussian_run / "report.md").read_text()
    assert f"wsgm reproduce gaussian --out {gaussian_run} --channels 8" in report
    assert "--sweep-steps 2,8" in report and "--train-batch 8" in report


@pytest.mark.parametrize("experiment", ["gaussian", "phi4", "images"])
def test_full_presets_run_end_to_end(tmp_path: Path, experiment: str) -> None:
    """The paper-scale ``--full`` presets (meant for a GPU) build, train, sample and report:
    their networks, sizes and optimizer settings as they are, with a handful of fields and
    one optimizer step so that a CPU gets through."""
    full = preset_for(experiment, full=True)
    out = tmp_path / "full"
    args = [
        "reproduce",
        experiment,
        "--full",
        "--out",
        str(out),
        "--n-train",
        "16",
        "--n",
        "4",
        "--sweep-steps",
        "2",
        "--train-steps",
        "1",
        "--train-batch",
        "4",
        "--threads",
        "2",
        "--no-progress",
        "--set",
        "train.warmup_steps=1",
    ]
    if experiment == "images":
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (32, full.size, full.size), dtype=np.uint8)
        y = rng.integers(0, 3, 32)
        np.savez(
            tmp_path / "imgs.npz", x_train=x[:16], y_train=y[:16], x_test=x[16:], y_test=y[16:]
        )
        args += ["--data", str(tmp_path / "imgs.npz"), "--metrics", "swd,spectrum"]
    assert main(args) == 0
    data = json.loads((out / "sweep.json").read_text())
    assert data["settings"]["size"] == full.size
    assert data["settings"]["base_channels"] == full.base_channels
    if experiment == "phi4":  # the mixture twin's exact-score lines beside the Gaussian twin's
        for label in ("sgm", "wsgm"):
            assert {"spectrum", "histogram_w1", "magnetization_w1"} <= set(data["theory"][label])
        assert "mixture twin" in (out / "report.md").read_text()
    for m in data["models"].values():
        assert m["steps"] == [2] and all(np.isfinite(v[0]) for v in m["metrics"].values())
    run_config = json.loads((out / "runs" / "wsgm" / "run_config.json").read_text())
    assert run_config["unet"]["base_channels"] == full.base_channels
    assert (out / "report.md").exists()


def test_diagnose_per_scale(
    gaussian_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "diag"
    run = gaussian_run / "runs" / "wsgm"
    ref = gaussian_run / "data" / "reference.npz"
    argv = ["diagnose", str(run), "--reference", str(ref), "--out", str(out), "--sweep-steps",
            "2,8", "--n", "8", "--times", "0.1,1", "--sampler", "euler", "--grid",
            "quadratic"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((out / "diagnose.json").read_text())
    levels = json.loads((run / "model" / "config.json").read_text())["model"]["levels"]
    rows = data["scales"]
    coarse = {r["source"] for r in rows if r["scale"] == "coarse"}
    assert coarse == {"network", "mixture twin", "gaussian twin"}
    assert len(rows) == 2 * (3 + 2 * levels)
    for r in rows:
        assert all(np.isfinite(r[m]) and r["floor"][m] > 0 for m in ("spectrum", "histogram_w1"))
    assert {r["scale"] for r in rows} == {"coarse", *(f"scale {j}" for j in range(1, levels + 1))}
    losses = data["losses"]
    assert len(losses) == 2 * (levels + 1)
    for r in losses:
        assert 0 < r["gaussian twin"] and abs(r["normalization_ratio"] - 1) < 0.5
        # the data are Gaussian: the twin's exact denoiser is the best one; a network
        # trained for two steps cannot beat it beyond the noise of 8..256 fields
        assert r["gaussian twin"] <= 1.2 * r["network_loss"]
    assert "mixture twin" in next(r for r in losses if r["network"] == "coarse")
    assert "## Denoising loss per noise level" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main([*argv[:-6], "--times", "0,1"]) == 2
    assert "noise levels t must be in (0, T = 5]" in capsys.readouterr().err
    assert main([*argv[:-6], "--times", "a"]) == 2
    assert "--times must be comma-separated numbers" in capsys.readouterr().err
    assert main(["diagnose", str(gaussian_run / "runs" / "sgm"), *argv[2:]]) == 2
    assert "diagnose a WSGM" in capsys.readouterr().err


def test_eval_with_t_min(
    gaussian_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--t-min reaches the sweep's grid and is recorded; a grid without one refuses it."""
    base = ["eval", "--wsgm", str(gaussian_run / "runs" / "wsgm"), "--reference",
            str(gaussian_run / "data" / "reference.npz"), "--sweep-steps", "2,3", "--n", "8",
            "--no-progress", "--sampler", "dpm2m", "--grid", "logsnr"]  # fmt: skip
    out = tmp_path / "t"
    assert main([*base, "--out", str(out), "--t-min", "0.05"]) == 0
    data = json.loads((out / "sweep.json").read_text())
    assert data["settings"]["sampling"]["t_min"] == 0.05
    rc = main([*base, "--out", str(tmp_path / "q"), "--grid", "quadratic", "--t-min", "0.05"])
    assert rc == 2
    assert "quadratic grid refines down to t = 0 and takes no t_min" in capsys.readouterr().err
    # a coarse sampler for the WSGM; the SGM beside it is swept with the main sampler
    both = ["eval", "--sgm", str(gaussian_run / "runs" / "sgm"), "--wsgm",
            str(gaussian_run / "runs" / "wsgm"), "--reference",
            str(gaussian_run / "data" / "reference.npz"), "--sweep-steps", "2", "--n", "8",
            "--no-progress", "--coarse-sampler", "euler", "--coarse-grid", "quadratic"]  # fmt: skip
    assert main([*both, "--out", str(tmp_path / "c")]) == 0
    data = json.loads((tmp_path / "c" / "sweep.json").read_text())
    assert data["settings"]["sampling"]["coarse_sampler"] == "euler"
    assert set(data["models"]) == {"sgm", "wsgm"}
    rc = main(["reproduce", "phi4-scaling", "--out", str(tmp_path / "s"), "--grid", "logsnr",
               "--sampler", "dpm2m", "--t-min", "0.01", *TINY])  # fmt: skip
    assert rc == 2
    assert "--t-min is for wsgm sample" in capsys.readouterr().err
