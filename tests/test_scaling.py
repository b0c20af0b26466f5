"""``wsgm reproduce phi4-scaling``: N_needed against L, end to end on tiny sizes, resumable,
and the log-linear crossing it reports."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from wsgm.cli import main
from wsgm.experiments.scaling import n_needed

TINY = ["--n-train", "64", "--n", "8", "--sweep-steps", "2,8", "--train-steps", "2",
        "--channels", "8", "--train-batch", "8", "--threads", "1", "--no-progress",
        "--set", "train.warmup_steps=1", "--repeats", "2"]  # fmt: skip


def test_n_needed_interpolates_log_linearly() -> None:
    # log value linear in log N: a power law between the swept points
    assert n_needed([2, 8], [3.0, 1.0], 2.0) == pytest.approx(
        2 * 4 ** (math.log(1.5) / math.log(3))
    )
    assert n_needed([2, 8], [1.0, 0.5], 2.0) == 2.0  # below from the start
    assert n_needed([2, 8], [3.0, 2.5], 2.0) is None
    assert n_needed([2, 4, 8], [3.0, float("nan"), 1.0], 2.0) == 8.0
    v = n_needed([4, 16], [1.0, 0.25], 0.5)
    assert v is not None and math.isclose(v, 8.0)


def test_phi4_scaling_end_to_end_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scaling"
    argv = ["reproduce", "phi4-scaling", "--out", str(out), "--sizes", "16,32", *TINY]
    assert main(argv) == 0
    data = json.loads((out / "scaling.json").read_text())
    assert data["sizes"] == [16, 32]
    spec = data["metrics"]["spectrum"]
    assert set(spec["noise_floor"]) == {"16", "32"}
    assert set(spec["sgm"]) == {"euler/quadratic", "dpm2m/logsnr", "dpm2m/logsnr-shifted"}
    assert set(spec["wsgm"]) == {"euler/quadratic", "dpm2m/logsnr"}
    assert set(spec["exact_wsgm"]["euler/quadratic"]) == {"16", "32"}
    assert set(data["train_seconds"]["wsgm"]) == {"16", "32"}
    assert all(v > 0 for v in data["train_seconds"]["sgm"].values())
    # where each model trained and each sweep ran (their seconds are that device's)
    assert data["train_devices"]["wsgm"] == {"16": ["cpu"], "32": ["cpu"]}
    assert data["sweep_devices"]["32"]["euler/quadratic wsgm"] == ["cpu"]
    saved = json.loads((out / "L16" / "sweeps" / "dpm2m-logsnr-sgm.json").read_text())
    assert saved["devices"] == ["cpu"]
    assert (out / "steps_vs_size.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "| spectrum | euler/quadratic | sgm |" in report
    assert "| sgm | " in report and " (cpu) |" in report and "Sweeps (their seconds" in report
    # the WSGM at L = 32 has J = 2 (coarsest 8x8)
    config = json.loads((out / "L32" / "runs" / "wsgm" / "model" / "config.json").read_text())
    assert config["model"]["levels"] == 2
    before = (out / "L16" / "sweeps" / "euler-quadratic-sgm.json").stat().st_mtime_ns
    assert main(argv) == 0  # everything reused
    assert (out / "L16" / "sweeps" / "euler-quadratic-sgm.json").stat().st_mtime_ns == before
    capsys.readouterr()
    assert main([*argv[:-2], "--sizes", "24"]) == 2
    assert "8 x a power of two" in capsys.readouterr().err

    # --report-only samples nothing: a sweep not finished is listed, not run
    (out / "L32" / "sweeps" / "dpm2m-logsnr-wsgm.json").unlink()
    assert main([*argv, "--report-only"]) == 0
    assert not (out / "L32" / "sweeps" / "dpm2m-logsnr-wsgm.json").exists()
    data = json.loads((out / "scaling.json").read_text())
    assert data["not_swept"] == {"16": [], "32": ["dpm2m/logsnr wsgm"]}
    assert "32" not in data["metrics"]["spectrum"]["wsgm"]["dpm2m/logsnr"]
    report = (out / "report.md").read_text()
    assert "**Not swept yet** (the same command resumes): L = 32: dpm2m/logsnr wsgm." in report
    assert "wsgm not swept yet" in report
    # ... and trains nothing: a size whose models are not trained is an error
    assert main([*argv[:4], "--sizes", "16,32,64", *TINY, "--report-only"]) == 2
    assert "trains nothing: run the command without --report-only" in capsys.readouterr().err
    assert not (out / "L64" / "runs").exists()

    # a finished sweep made before a metric existed: reported without it, then swept again
    f = out / "L16" / "sweeps" / "euler-quadratic-wsgm.json"
    old = json.loads(f.read_text())
    for key in ("metrics", "metrics_se", "noise_floor"):
        old["sweep"][key].pop("two_point")
    f.write_text(json.dumps(old))
    assert main([*argv, "--report-only"]) == 0
    assert "euler/quadratic wsgm (two_point)" in json.loads((out / "scaling.json").read_text())[
        "not_swept"]["16"]  # fmt: skip
    assert main(argv) == 0
    kept = out / "L16" / "sweeps" / "euler-quadratic-wsgm.without-two_point.json"
    assert json.loads(kept.read_text()) == old
    new = json.loads(f.read_text())["sweep"]
    assert "two_point" in new["metrics"]
    # the same seeds draw the same samples: the other metrics come back (to float rounding)
    assert new["metrics"]["spectrum"] == pytest.approx(
        old["sweep"]["metrics"]["spectrum"], rel=1e-6
    )
    assert json.loads((out / "scaling.json").read_text())["not_swept"]["16"] == []


def _sweep_of(steps: list[int], values: list[float], se: float = 0.0) -> Any:
    from wsgm.experiments.sweep import ModelSweep

    return ModelSweep("sgm", steps, {"spectrum": values}, {"spectrum": 1.0},
                      [0.0] * len(steps), list(steps), metrics_se={"spectrum": [se] * len(steps)},
                      repeats=2)  # fmt: skip


@pytest.mark.parametrize(
    ("steps", "values", "se", "stops"),
    [
        ([2, 4, 8], [9.0, 4.0, 1.5], 0.1, True),  # crossed 2x floor with mean + SE
        ([2, 4, 8], [9.0, 4.0, 1.95], 0.1, False),  # mean crossed, mean + SE not yet
        ([4, 8, 16], [5.0, 4.8, 4.7], 0.1, True),  # stopped falling at N >= 16
        ([2, 4, 8], [5.0, 4.8, 4.7], 0.1, False),  # flat, but N < 16: Euler may still fall
        ([8, 16, 32], [9.0, 6.0, 5.9], 0.1, False),  # one flat doubling is not enough
    ],
)
def test_stop_rule(steps: list[int], values: list[float], se: float, stops: bool) -> None:
    from wsgm.experiments.scaling import stop_rule

    assert stop_rule(2.0)(_sweep_of(steps, values, se)) is stops


def test_a_stopped_training_stops_the_command_and_keeps_its_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in one model's training (checkpoint saved by the loop) must stop the study
    there, not go on to the next model, and the seconds it ran must count on resume."""
    import wsgm.training.loop as loop
    from wsgm.experiments.presets import preset_for
    from wsgm.experiments.runs import TrainingStopped
    from wsgm.experiments.scaling import train_size

    calls: list[str] = []

    def stopped(run: Any, run_dir: Any, **_: Any) -> Any:
        calls.append(run.model.kind)
        return loop.TrainResult(steps={}, interrupted=True, last_loss={})

    monkeypatch.setattr(loop, "train", stopped)
    preset = preset_for("phi4", full=False).replace(size=16, n_train=16, n_samples=4)
    with pytest.raises(TrainingStopped):
        train_size(tmp_path / "L16", preset, progress=False)
    assert calls == ["sgm"]  # the WSGM was not started
    saved = json.loads((tmp_path / "L16" / "runs" / "sgm" / "train_seconds.json").read_text())
    assert saved["seconds"] > 0


def test_needed_at_each_floor_and_at_a_common_target() -> None:
    """The same error curve at two sizes: with each L's own (smaller) floor the target
    tightens and N_needed grows; at the common target (2x the largest floor) it does not."""
    from wsgm.experiments.scaling import growth, needed

    steps = [4, 8, 16, 32, 64]
    values = [0.4, 0.2, 0.1, 0.05, 0.025]  # error ~ 1/N
    curve = {"steps": steps, "values": values, "se": [0.0] * 5}
    curves = {"spectrum": {"wsgm": {"euler/quadratic": {"16": curve, "32": curve}}}}
    floors = {"spectrum": {"16": 0.05, "32": 0.025}}
    own = needed(curves, floors, factor=2.0, common=False)["spectrum"]
    same = needed(curves, floors, factor=2.0, common=True)["spectrum"]
    assert own["wsgm"]["euler/quadratic"] == pytest.approx({"16": 16.0, "32": 32.0})
    assert same["wsgm"]["euler/quadratic"] == pytest.approx({"16": 16.0, "32": 16.0})
    assert same["threshold"] == pytest.approx({"16": 0.1, "32": 0.1})
    assert growth(own["wsgm"]["euler/quadratic"], [16, 32]) == pytest.approx(2.0)
    assert growth(same["wsgm"]["euler/quadratic"], [16, 32]) == pytest.approx(1.0)
    assert own["best_ratio_wsgm"]["euler/quadratic"]["32"] == pytest.approx(1.0)


def test_a_partial_result_reports_the_sizes_not_run_yet() -> None:
    """scaling.json is written after every size: a size not swept yet is "—", not "not
    reached", and the goal is checked over the measured sizes only."""
    from wsgm.experiments.scaling import goal_lines, measured_sizes, needed, report_text

    curve = {"steps": [4, 8, 16], "values": [0.4, 0.2, 0.1], "se": [0.0] * 3}
    curves = {"spectrum": {"wsgm": {"euler/quadratic": {"16": curve}}}}
    floors = {"spectrum": {"16": 0.05}}
    result = {"sizes": [16, 32, 64], "factor": 2.0, "repeats": 2,
              "metrics": needed(curves, floors, factor=2.0, common=False),
              "train_seconds": {"sgm": {"16": 10.0}, "wsgm": {"16": 5.0}}}  # fmt: skip
    assert measured_sizes(result) == [16]
    assert goal_lines(result) == []  # one measured size: no growth to check
    text = report_text(result)
    assert "**Partial**: L = 32, 64 not run yet" in text
    assert "| spectrum | euler/quadratic | wsgm | 16 [16, 16] | — | — |" in text
    assert "| sgm | 10 | — | — |" in text
    assert "not reached |" not in text and "| wsgm / sgm | 0.50 | — | — |" in text
