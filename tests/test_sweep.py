"""Step sweeps: suites and their noise floors, the sweep loop, headline, sweep.json/csv, plots."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from wsgm.errors import WSGMError
from wsgm.experiments.evaluate import run_sweep
from wsgm.experiments.results import (
    csv_text,
    headline,
    headline_sentence,
    read_sweep,
    sweep_dict,
    write_sweep,
)
from wsgm.experiments.sweep import (
    FieldSuite,
    ModelSweep,
    recorded_costs,
    steps_to_reach,
    sweep,
    sweep_model,
)
from wsgm.samplers import get_sampler
from wsgm.sampling.spec import SamplingSpec
from wsgm.sde import OU


class NoisyWhite:
    """A stand-in model: white-noise fields whose scale error is ``bias / N``.

    It runs the real sampler once per network with the exact score of N(0, I), so the
    sweep counts its evaluations, but returns white noise scaled by 1 + bias / N: the
    spectrum error is about 2 log(1 + bias / N), decreasing in N.
    """

    def __init__(self, kind: str, bias: float, size: int = 8) -> None:
        names = ("net",) if kind == "sgm" else ("coarse", "scale1")
        self.config = SimpleNamespace(kind=kind, channels=1, size=(size, size), names=names)
        self.sde = OU()
        self.device = torch.device("cpu")
        self.bias = bias

    def sample(
        self,
        n: int,
        *,
        sampler: Any,
        grids: torch.Tensor,
        generator: torch.Generator,
        callback: Any = None,
    ) -> torch.Tensor:
        x = torch.randn((n, 1, *self.config.size), generator=generator)
        for _ in self.config.names:
            get_sampler(sampler)(
                lambda y, t, c: -y, x, grids, generator=generator, sde=self.sde, callback=callback
            )
        steps = grids.shape[0] - 1
        return x * (1.0 + self.bias / steps)


def _white(n: int, size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, size, size)).astype(np.float32)


def test_field_suite_floor_is_distance_between_halves() -> None:
    ref = _white(200)
    suite = FieldSuite(ref, sample_size=100, generator=np.random.default_rng(1))
    assert suite.sample_size == 100
    assert set(suite.noise_floors) == {"spectrum", "histogram_w1", "magnetization_w1", "two_point"}
    # the held-out half B measured against A is exactly the floor
    b = suite._b
    values = suite.evaluate(b)
    for m, v in values.items():
        assert v == pytest.approx(suite.noise_floors[m])
        assert v > 0
    # a scaled copy is further away than the floor
    assert suite.evaluate(2.0 * b)["spectrum"] > 5 * suite.noise_floors["spectrum"]


def test_field_suite_needs_two_halves_and_known_metrics() -> None:
    with pytest.raises(WSGMError, match="needs 2 x 60 = 120 reference"):
        FieldSuite(_white(100), sample_size=60, generator=np.random.default_rng(0))
    with pytest.raises(WSGMError, match="unknown field metric"):
        FieldSuite(_white(10), metrics=("nope",), generator=np.random.default_rng(0))


def test_steps_to_reach() -> None:
    assert steps_to_reach([2, 4, 8], [5.0, 1.9, 1.0], 1.0) == 4
    assert steps_to_reach([2, 4, 8], [5.0, 3.0, 2.5], 1.0) is None
    assert steps_to_reach([2, 4, 8], [5.0, 3.0, 2.5], 1.0, factor=3.0) == 4
    assert steps_to_reach([2, 4], [float("nan"), 0.1], 1.0) == 4


def test_sweep_model_error_falls_with_steps_and_is_seeded() -> None:
    suite = FieldSuite(_white(256), sample_size=128, generator=np.random.default_rng(0))
    model = NoisyWhite("sgm", bias=2.0)
    r = sweep_model(
        model,
        suite,
        steps=[16, 1, 4],
        spec=SamplingSpec(batch_size=50),
        progress=False,  # type: ignore[arg-type]
        keep=3,
    )
    assert r.steps == [1, 4, 16]
    spec = r.metrics["spectrum"]
    assert spec[0] > spec[1] > spec[2]
    assert spec[0] == pytest.approx(2 * np.log(3.0), rel=0.1)
    assert r.evaluations_per_sample == [1, 4, 16]
    assert len(r.seconds_per_sample) == 3 and all(t > 0 for t in r.seconds_per_sample)
    assert [s.shape for s in r.samples] == [(3, 1, 8, 8)] * 3
    again = sweep_model(
        model, suite, steps=[1, 4, 16], spec=SamplingSpec(batch_size=50), progress=False
    )  # type: ignore[arg-type]
    assert again.metrics == r.metrics
    # batch b of N is seeded by (seed, N, b): N = 4 alone gives the same numbers
    alone = sweep_model(model, suite, steps=[4], spec=SamplingSpec(batch_size=50), progress=False)  # type: ignore[arg-type]
    assert alone.metrics["spectrum"][0] == r.metrics["spectrum"][1]


def test_sweep_rejects_wrong_size_and_bad_steps() -> None:
    suite = FieldSuite(_white(64, size=16), generator=np.random.default_rng(0))
    with pytest.raises(WSGMError, match="16x16.*makes 1x8x8"):
        sweep_model(NoisyWhite("sgm", 0.0), suite, steps=[2], progress=False)  # type: ignore[arg-type]
    suite8 = FieldSuite(_white(64), generator=np.random.default_rng(0))
    with pytest.raises(WSGMError, match="positive integers"):
        sweep_model(NoisyWhite("sgm", 0.0), suite8, steps=[0, 2], progress=False)  # type: ignore[arg-type]


def test_headline_and_files(tmp_path: Path) -> None:
    suite = FieldSuite(_white(512), sample_size=256, generator=np.random.default_rng(0))
    models = {"sgm": NoisyWhite("sgm", bias=4.0), "wsgm": NoisyWhite("wsgm", bias=0.25)}
    results = sweep(
        models, suite, steps=[1, 4, 16, 64], spec=SamplingSpec(batch_size=128), progress=False
    )  # type: ignore[arg-type]
    data = sweep_dict(results, settings={"note": "test"})
    floor = data["models"]["sgm"]["noise_floor"]["spectrum"]
    assert data["models"]["wsgm"]["noise_floor"]["spectrum"] == floor
    head = data["headline"]["metrics"]["spectrum"]
    # the smaller bias reaches 2x the floor with fewer steps
    assert head["wsgm"] is not None
    assert head["sgm"] is None or head["sgm"] > head["wsgm"]
    assert headline(data["models"])["metrics"]["spectrum"] == head
    line = headline_sentence(data, "spectrum")
    assert line.startswith("WSGM reaches spectrum error") and f"N = {head['wsgm']}" in line

    path = write_sweep(data, tmp_path)
    loaded = json.loads(path.read_text())
    for label in ("sgm", "wsgm"):
        m = loaded["models"][label]
        assert m["steps"] == [1, 4, 16, 64]
        assert set(m["metrics"]) == {"spectrum", "histogram_w1", "magnetization_w1", "two_point"}
        assert all(len(v) == 4 for v in m["metrics"].values())
        assert set(m["noise_floor"]) == set(m["metrics"])
        assert len(m["seconds_per_sample"]) == 4
    rows = (tmp_path / "sweep.csv").read_text().splitlines()
    assert rows[0].startswith("model,steps,seconds_per_sample,spectrum,spectrum_noise_floor")
    assert len(rows) == 1 + 8
    assert read_sweep(tmp_path)["models"].keys() == {"sgm", "wsgm"}
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(WSGMError, match="not a sweep file"):
        read_sweep(tmp_path / "bad.json")


def test_run_sweep_writes_figures(tmp_path: Path) -> None:
    suite = FieldSuite(_white(64), generator=np.random.default_rng(0))
    models = {"sgm": NoisyWhite("sgm", bias=1.0), "wsgm": NoisyWhite("wsgm", bias=0.1)}
    data, figures = run_sweep(
        models,
        suite,
        tmp_path,
        steps=[1, 2],
        progress=False,  # type: ignore[arg-type]
        theory={"spectrum": {"sgm": ([1, 2], [1.0, 0.5])}},
    )
    names = {f for f, _ in figures}
    assert {
        "error_vs_steps.png",
        "error_vs_time.png",
        "samples_sgm.png",
        "samples_wsgm.png",
    } <= names
    for f in names:
        assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["settings"]["samples_per_N"] == 32


def test_steps_table_says_na_for_a_metric_whose_floor_is_not_positive() -> None:
    # KID is unbiased: its data-vs-data floor is ~0 or negative, "within 2x" is undefined.
    from wsgm.experiments.report import headline_table

    models = {
        lab: {
            "steps": [8, 32],
            "metrics": {"kid": [0.2, 0.1], "fid": [90.0, 40.0]},
            "noise_floor": {"kid": -0.0003, "fid": 25.0},
            "seconds_per_sample": [1.0, 2.0],
        }
        for lab in ("sgm", "wsgm")
    }
    table = headline_table({"models": models, "headline": headline(models)})
    kid_row = next(line for line in table.splitlines() if line.startswith("| kid"))
    fid_row = next(line for line in table.splitlines() if line.startswith("| fid"))
    assert kid_row.count("n/a (floor <= 0)") == 2
    assert fid_row.endswith("| 32 | 32 |")


def test_repeats_give_mean_and_standard_error() -> None:
    suite = FieldSuite(_white(256), sample_size=128, generator=np.random.default_rng(0))
    model = NoisyWhite("sgm", bias=2.0)
    spec = SamplingSpec(batch_size=64)
    one = sweep_model(model, suite, steps=[2, 8], spec=spec, progress=False)  # type: ignore[arg-type]
    three = sweep_model(model, suite, steps=[2, 8], spec=spec, progress=False, repeats=3)  # type: ignore[arg-type]
    assert one.metrics_se == {} and "metrics_se" not in one.to_dict()
    d = three.to_dict()
    assert d["repeats"] == 3 and set(d["metrics_se"]) == set(suite.metrics)
    for m in suite.metrics:
        se = three.metrics_se[m]
        assert len(se) == 2 and all(s > 0 for s in se)
        # the first draw is the one-draw sweep's; the mean is within a few SE of it
        for mean, single, s in zip(three.metrics[m], one.metrics[m], se, strict=True):
            assert abs(mean - single) < 6 * s * np.sqrt(3)
    assert three.samples[0].shape == one.samples[0].shape
    np.testing.assert_array_equal(three.samples[0], one.samples[0])
    with pytest.raises(WSGMError, match="repeats must be a positive integer"):
        sweep_model(model, suite, steps=[2], spec=spec, progress=False, repeats=0)  # type: ignore[arg-type]
    data = sweep_dict({"sgm": three}, settings={})
    assert "spectrum_se" in csv_text(data).splitlines()[0]


def test_sweep_stops_when_asked_and_resumes_from_a_partial_sweep() -> None:
    from wsgm.experiments.sweep import ModelSweep

    suite = FieldSuite(_white(256), sample_size=128, generator=np.random.default_rng(0))
    model = NoisyWhite("sgm", bias=2.0)
    spec = SamplingSpec(batch_size=64)
    full = sweep_model(model, suite, steps=[1, 2, 4, 8], spec=spec, progress=False, repeats=2)  # type: ignore[arg-type]
    saved: list[dict[str, Any]] = []
    asked: list[int] = []

    def stop(sw: ModelSweep) -> bool:
        asked.append(sw.steps[-1])
        return sw.steps[-1] >= 2

    def keep(sw: ModelSweep) -> None:
        saved.append(sw.to_dict())

    part = sweep_model(model, suite, steps=[1, 2, 4, 8], spec=spec, progress=False,  # type: ignore[arg-type]
                       repeats=2, stop=stop, on_point=keep)  # fmt: skip
    assert part.steps == [1, 2] and asked == [1, 2] and len(saved) == 2
    assert part.metrics["spectrum"] == full.metrics["spectrum"][:2]
    # a partial sweep read back from its JSON gives its points; the rest is sampled
    resumed = ModelSweep.from_dict(json.loads(json.dumps(saved[0])))
    assert resumed.steps == [1]
    again = sweep_model(model, suite, steps=[1, 2, 4, 8], spec=spec, progress=False,  # type: ignore[arg-type]
                        repeats=2, resume=resumed)  # fmt: skip
    assert again.steps == [1, 2, 4, 8]
    for m in suite.metrics:
        assert again.metrics[m] == full.metrics[m]
        assert again.metrics_se[m] == full.metrics_se[m]
    assert again.seconds_per_sample[0] == resumed.seconds_per_sample[0]
    # a partial sweep of another measurement is refused, not mixed in
    with pytest.raises(WSGMError, match="does not match"):
        sweep_model(model, suite, steps=[1, 2], spec=spec, progress=False, repeats=3,  # type: ignore[arg-type]
                    resume=resumed)  # fmt: skip
    with pytest.raises(WSGMError, match=r"N = \[1\], not in the steps \[2, 4\]"):
        sweep_model(model, suite, steps=[2, 4], spec=spec, progress=False, repeats=2,  # type: ignore[arg-type]
                    resume=resumed)  # fmt: skip


@pytest.mark.parametrize("kind, levels", [("sgm", None), ("wsgm", 1)])
def test_costs_recorded_by_a_sweep_and_refilled_for_old_files(kind: str, levels: Any) -> None:
    suite = FieldSuite(_white(128), sample_size=64, generator=np.random.default_rng(0))
    model = NoisyWhite(kind, bias=2.0)
    if levels is not None:
        model.config.levels = levels
    spec = SamplingSpec(batch_size=64)
    full = sweep_model(model, suite, steps=[1, 2, 4], spec=spec, progress=False)  # type: ignore[arg-type]
    # SGM: N full-size evaluations; WSGM with J = 1 on 8x8: N at 4x4 (coarse) + N at 4x4.
    per_step = 1.0 if kind == "sgm" else 2 * 0.25
    assert full.cost_per_sample == [per_step * n for n in (1, 2, 4)]
    assert recorded_costs(model, spec, [1, 2, 4])["cost_per_sample"] == full.cost_per_sample  # type: ignore[arg-type]
    # A partial sweep saved before costs were recorded resumes with every point's cost.
    saved = full.to_dict()
    saved.update(steps=[1], cost_per_sample=[], step_counts=[])
    for k in ("metrics",):
        saved[k] = {m: v[:1] for m, v in saved[k].items()}
    for k in ("seconds_per_sample", "network_evaluations_per_sample", "radial_spectrum"):
        saved[k] = saved[k][:1]
    old = ModelSweep.from_dict(json.loads(json.dumps(saved)))
    again = sweep_model(model, suite, steps=[1, 2, 4], spec=spec, progress=False, resume=old)  # type: ignore[arg-type]
    assert again.cost_per_sample == full.cost_per_sample
    assert again.step_counts == full.step_counts
