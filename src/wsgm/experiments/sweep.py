"""Step sweeps: how the error of SGM and WSGM samples falls with the number of sampler steps.

For every model and every N in a list, :func:`sweep` draws ``n`` samples with N steps (N
per scale for a WSGM: the same grid at every scale; sampler, grid, batch size and seed from a
:class:`wsgm.sampling.spec.SamplingSpec`) and measures them against held-out
reference data with a metric suite. A suite splits the reference into two disjoint random
halves A and B of n fields each and reports, for every distance D,

    value(N) = D(samples(N), A),     noise_floor = D(B, A),

so value and floor compare sets of the same size with the same reference set: a model is
as good as the metric can tell once its value is within a small factor of the floor.
:func:`steps_to_reach` gives the smallest N within ``factor`` x the floor (the headline).

Suites: :class:`FieldSuite` (spectrum error, marginal-histogram and magnetization W1 of
:mod:`wsgm.metrics.distances`, plus any extra named distance) for physical fields;
:class:`ImageSuite` wraps :class:`wsgm.metrics.image_metrics.ImageMetricSuite` for images.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from ..cpu import rebalance
from ..errors import WSGMError
from ..metrics.distances import DISTANCES, Distance
from ..metrics.halves import two_halves
from ..metrics.spectrum import radial_power_spectrum
from ..models.base import ScoreModel
from ..sampling.allocation import scale_costs
from ..sampling.spec import DEFAULT, SamplingSpec, derive_seed

__all__ = [
    "FIELD_METRICS",
    "DEFAULT_STEPS",
    "MetricSuite",
    "FieldSuite",
    "ImageSuite",
    "ModelSweep",
    "sweep",
    "sweep_model",
    "steps_to_reach",
    "check_steps",
    "recorded_costs",
]

FIELD_METRICS = ("spectrum", "histogram_w1", "magnetization_w1", "two_point")
DEFAULT_STEPS = (2, 4, 8, 16, 32, 64, 128, 256, 512)


class MetricSuite(Protocol):
    """What :func:`sweep` needs from a metric suite."""

    metrics: tuple[str, ...]
    sample_size: int
    noise_floors: dict[str, float]
    image_shape: tuple[int, ...]

    def evaluate(self, samples: np.ndarray) -> dict[str, float]: ...


class FieldSuite:
    """Field distances (names in :data:`wsgm.metrics.distances.DISTANCES`, or ``extra``)
    of n samples to half A of the reference, and the floors D(B, A)."""

    def __init__(
        self,
        reference: np.ndarray,
        *,
        sample_size: int | None = None,
        metrics: Sequence[str] = FIELD_METRICS,
        extra: Mapping[str, Distance] | None = None,
        generator: np.random.Generator,
    ) -> None:
        ref = np.asarray(reference, dtype=np.float32)
        if ref.ndim == 3:
            ref = ref[:, None]
        if ref.ndim != 4:
            raise WSGMError(f"reference fields must be (n, C, H, W), got shape {ref.shape}")
        table: dict[str, Distance] = {**DISTANCES, **(extra or {})}
        unknown = [m for m in metrics if m not in table]
        if unknown or not metrics:
            raise WSGMError(
                f"unknown field metric(s) {unknown or list(metrics)}; choose from "
                f"{', '.join(table)}"
            )
        self.metrics = tuple(metrics)
        self._fns = {m: table[m] for m in self.metrics}
        self._a, self._b, self.sample_size = two_halves(ref, sample_size, generator)
        self.image_shape = tuple(int(s) for s in ref.shape[1:])
        self.noise_floors = {m: float(fn(self._b, self._a)) for m, fn in self._fns.items()}

    @property
    def reference_half(self) -> np.ndarray:
        """Half A of the reference (what samples are compared with)."""
        return self._a

    def evaluate(self, samples: np.ndarray) -> dict[str, float]:
        return {m: float(fn(samples, self._a)) for m, fn in self._fns.items()}


class ImageSuite:
    """:class:`wsgm.metrics.image_metrics.ImageMetricSuite` seen as a :class:`MetricSuite`."""

    def __init__(
        self,
        reference: np.ndarray,
        *,
        sample_size: int | None = None,
        generator: torch.Generator,
        **options: Any,
    ) -> None:
        from ..metrics.image_metrics import ImageMetricSuite

        self._suite = ImageMetricSuite(
            reference, sample_size=sample_size, generator=generator, **options
        )
        self.metrics = tuple(self._suite.metrics)
        self.sample_size = int(self._suite.sample_size)
        self.noise_floors = {m: float(v) for m, v in self._suite.noise_floors.items()}
        self.image_shape = tuple(self._suite.image_shape)

    @property
    def reference_half(self) -> np.ndarray:
        return np.asarray(self._suite._a)

    def evaluate(self, samples: np.ndarray) -> dict[str, float]:
        return {m: float(v["value"]) for m, v in self._suite.evaluate(samples).items()}


@dataclass
class ModelSweep:
    """The sweep of one model: one entry per N in ``steps``; ``samples[i]`` keeps the first
    few samples drawn with ``steps[i]`` (for the sample grids)."""

    kind: str
    steps: list[int]
    metrics: dict[str, list[float]]
    noise_floor: dict[str, float]
    seconds_per_sample: list[float]
    evaluations_per_sample: list[int]
    samples: list[np.ndarray] = field(default_factory=list)
    spectra: list[np.ndarray] = field(default_factory=list)
    # With several sample draws per N: ``metrics`` holds their means and this their
    # standard errors (std / sqrt(draws)); empty with one draw.
    metrics_se: dict[str, list[float]] = field(default_factory=dict)
    repeats: int = 1
    # Network evaluations per sample weighted by the pixels each network works on, in
    # full-resolution evaluations (an SGM's N), and each network's step count, per N.
    cost_per_sample: list[float] = field(default_factory=list)
    step_counts: list[list[int]] = field(default_factory=list)
    allocation: str = "equal"

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.repeats > 1:
            extra = {
                "repeats": self.repeats,
                "metrics_se": {k: list(v) for k, v in self.metrics_se.items()},
            }
        return {
            "kind": self.kind,
            "steps": list(self.steps),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            **extra,
            "noise_floor": dict(self.noise_floor),
            "seconds_per_sample": list(self.seconds_per_sample),
            "network_evaluations_per_sample": list(self.evaluations_per_sample),
            "cost_per_sample": list(self.cost_per_sample),
            "step_counts": [list(c) for c in self.step_counts],
            "allocation": self.allocation,
            "radial_spectrum": [[float(v) for v in p] for p in self.spectra],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSweep:
        """The sweep :meth:`to_dict` wrote (without the kept samples, which are not saved)."""
        repeats = int(data.get("repeats", 1))
        return cls(
            kind=str(data["kind"]),
            steps=[int(n) for n in data["steps"]],
            metrics={k: [float(v) for v in vs] for k, vs in data["metrics"].items()},
            noise_floor={k: float(v) for k, v in data["noise_floor"].items()},
            seconds_per_sample=[float(v) for v in data["seconds_per_sample"]],
            evaluations_per_sample=[int(v) for v in data["network_evaluations_per_sample"]],
            spectra=[np.asarray(p, dtype=np.float64) for p in data.get("radial_spectrum", [])],
            metrics_se={k: [float(v) for v in vs] for k, vs in data.get("metrics_se", {}).items()},
            repeats=repeats,
            cost_per_sample=[float(v) for v in data.get("cost_per_sample", [])],
            step_counts=[[int(n) for n in c] for c in data.get("step_counts", [])],
            allocation=str(data.get("allocation", "equal")),
        )


def check_steps(steps: Sequence[int]) -> list[int]:
    """The step list, sorted and without repeats; every entry must be >= 1."""
    bad = [s for s in steps if isinstance(s, bool) or not isinstance(s, int) or s < 1]
    if bad or not steps:
        raise WSGMError(f"step counts must be positive integers, got {list(steps)!r}")
    return sorted(set(steps))


def sweep_model(
    model: ScoreModel,
    suite: MetricSuite,
    *,
    steps: Sequence[int],
    spec: SamplingSpec = DEFAULT,
    keep: int = 8,
    progress: bool = True,
    desc: str | None = None,
    repeats: int = 1,
    stop: Callable[[ModelSweep], bool] | None = None,
    resume: ModelSweep | None = None,
    on_point: Callable[[ModelSweep], None] | None = None,
) -> ModelSweep:
    """Sample ``model`` with every N of ``steps`` (``spec``'s sampler, grid, batch size and
    seed) and measure the samples with ``suite``.

    Batch b of step count N draws from a generator seeded by ``derive_seed(seed, N, b)``,
    so each N's samples do not depend on the other entries of the list. ``repeats`` > 1
    draws that many independent sample sets per N (draw r > 0 from the seed
    ``derive_seed(seed, r)``) and reports the mean and standard error of every metric; the
    times are the first draw's.

    ``stop(sweep_so_far)`` is asked after every N; True ends the sweep there (the result
    holds the N done). ``resume``, a partial sweep of the same model, suite, spec and
    repeats (e.g. saved by ``on_point``, which is called after every N), provides the points
    it holds instead of sampling them again; their kept samples are not restored.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise WSGMError(f"repeats must be a positive integer, got {repeats!r}")
    from tqdm import tqdm

    steps = check_steps(steps)
    if spec.step_budget is not None:
        raise WSGMError(
            "a sweep varies N, a step budget fixes the cost: sweep --allocate cost without "
            "--step-budget (each N then gets the cost of N steps at every scale)"
        )
    cfg = model.config
    shape = (cfg.channels, *cfg.size)
    if tuple(shape) != tuple(suite.image_shape):
        raise WSGMError(
            f"the reference data hold fields {'x'.join(map(str, suite.image_shape))} but the "
            f"{cfg.kind} model makes {'x'.join(map(str, shape))}; use reference data of the "
            "model's training size"
        )
    n, bs = suite.sample_size, spec.batch_size
    batches = [(b, min(bs, n - b * bs)) for b in range(-(-n // bs))]
    levels = getattr(cfg, "levels", None) if cfg.kind == "wsgm" else None
    if levels is None:  # an SGM beside a WSGM with its own coarse sampler: the main one
        spec = spec.without_coarse()
    counts, costs = _counts_and_costs(model, spec, steps)
    total = sum(sum(counts[N]) for N in steps) * len(batches) * repeats
    bar = tqdm(
        total=total,
        desc=desc or f"sample {cfg.kind}",
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    out = ModelSweep(cfg.kind, [], {m: [] for m in suite.metrics}, dict(suite.noise_floors), [], [])
    out.repeats = repeats
    out.allocation = spec.allocation
    if repeats > 1:
        out.metrics_se = {m: [] for m in suite.metrics}
    if resume is not None:
        _check_resume(resume, out, steps)
    draws = [spec] + [spec.replace(seed=derive_seed(spec.seed, r)) for r in range(1, repeats)]
    try:
        for N in steps:
            if resume is not None and N in resume.steps:
                _take_point(resume, resume.steps.index(N), out, counts[N], costs)
                bar.update(sum(counts[N]) * len(batches) * repeats)
                if stop is not None and stop(out):
                    break
                continue
            grids = spec.replace(steps=N).grids(T=model.sde.T, levels=levels, size=min(cfg.size))
            drawn = [_draw_set(model, batches, grids, spec.sampler, d, N, bar) for d in draws]
            sets = [x for x, _ in drawn]
            elapsed = drawn[0][1]  # the times are the first draw's
            per_draw = [suite.evaluate(x) for x in sets]
            values = {m: float(np.mean([d[m] for d in per_draw])) for m in suite.metrics}
            for m in suite.metrics:
                out.metrics[m].append(values[m])
                if repeats > 1:
                    spread = float(np.std([d[m] for d in per_draw], ddof=1))
                    out.metrics_se[m].append(spread / float(np.sqrt(repeats)))
            x = sets[0]
            out.steps.append(N)
            out.seconds_per_sample.append(elapsed / n)
            out.evaluations_per_sample.append(sum(counts[N]))
            out.cost_per_sample.append(_cost(counts[N], costs))
            out.step_counts.append(list(counts[N]))
            out.samples.append(x[:keep].copy())
            out.spectra.append(radial_power_spectrum(x[:, 0])[1])
            bar.set_postfix({suite.metrics[0]: f"{values[suite.metrics[0]]:.3g}", "N": N})
            if on_point is not None:
                on_point(out)
            if stop is not None and stop(out):
                break
    finally:
        bar.close()
    return out


def _counts_and_costs(
    model: ScoreModel, spec: SamplingSpec, steps: Sequence[int]
) -> tuple[dict[int, tuple[int, ...]], tuple[float, ...]]:
    """Steps of each network for every N, and each network's step cost (full-size units)."""
    cfg = model.config
    levels = getattr(cfg, "levels", None) if cfg.kind == "wsgm" else None
    side = min(cfg.size)
    counts = {N: tuple(spec.replace(steps=N).counts(levels=levels, size=side)) for N in steps}
    return counts, (scale_costs(side, levels) if levels else (1.0,))


def _cost(counts: Sequence[int], costs: Sequence[float]) -> float:
    return float(sum(c * k for c, k in zip(counts, costs, strict=True)))


def recorded_costs(
    model: ScoreModel, spec: SamplingSpec, steps: Sequence[int]
) -> dict[str, list[Any]]:
    """The ``cost_per_sample`` and ``step_counts`` that :func:`sweep_model` records for
    ``steps``: to complete a sweep saved before they were recorded (they depend on the model's
    layout and the spec only, not on the samples)."""
    counts, costs = _counts_and_costs(model, spec, steps)
    return {
        "cost_per_sample": [_cost(counts[N], costs) for N in steps],
        "step_counts": [list(counts[N]) for N in steps],
    }


def _check_resume(resume: ModelSweep, out: ModelSweep, steps: Sequence[int]) -> None:
    """A partial sweep can only stand in for points of the same measurement."""
    same = (
        resume.kind == out.kind
        and resume.repeats == out.repeats
        and set(resume.metrics) == set(out.metrics)
        and all(abs(resume.noise_floor[m] - out.noise_floor[m]) <= 1e-9 * abs(out.noise_floor[m])
                for m in out.metrics)
    )  # fmt: skip
    if not same:
        raise WSGMError(
            f"the partial sweep to resume ({resume.kind}, {resume.repeats} draws, metrics "
            f"{sorted(resume.metrics)}) does not match this one ({out.kind}, {out.repeats} "
            f"draws, metrics {sorted(out.metrics)}, or other noise floors); delete it to start over"
        )
    extra = sorted(set(resume.steps) - set(steps))
    if extra:
        raise WSGMError(
            f"the partial sweep to resume has N = {extra}, not in the steps {list(steps)}"
        )


def _take_point(
    src: ModelSweep, i: int, out: ModelSweep, counts: Sequence[int], costs: Sequence[float]
) -> None:
    """Copy point i of a saved sweep; its cost is recomputed (older files lack it)."""
    out.steps.append(src.steps[i])
    for m in out.metrics:
        out.metrics[m].append(src.metrics[m][i])
        if out.repeats > 1:
            out.metrics_se[m].append(src.metrics_se[m][i])
    out.seconds_per_sample.append(src.seconds_per_sample[i])
    out.evaluations_per_sample.append(src.evaluations_per_sample[i])
    out.cost_per_sample.append(_cost(counts, costs))
    out.step_counts.append(list(counts))
    if i < len(src.spectra):
        out.spectra.append(src.spectra[i])


def _draw_set(
    model: ScoreModel,
    batches: Sequence[tuple[int, int]],
    grids: Tensor | list[Tensor],
    sampler: str,
    draw: SamplingSpec,
    steps: int,
    bar: Any,
) -> tuple[np.ndarray, float]:
    """One sample set of a sweep point (batch b from ``draw.batch_seed(b, steps)``) and the
    seconds its sampling took; NaN/Inf (a diverged sampler) replaced by finite values so the
    metrics still score it."""
    device = model.device
    t0 = time.perf_counter()
    parts = []
    for b, size in batches:
        rebalance()
        g = torch.Generator(device=device).manual_seed(draw.batch_seed(b, steps))
        x = model.sample(
            size,
            sampler=sampler,
            grids=grids,
            generator=g,
            callback=lambda _: bar.update(1),
            **draw.samplers(),
        )
        parts.append(x.float())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    out = torch.cat(parts).cpu().numpy()
    if not np.all(np.isfinite(out)):
        out = np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)
    return out, seconds


def sweep(
    models: Mapping[str, ScoreModel],
    suite: MetricSuite,
    *,
    steps: Sequence[int] | Mapping[str, Sequence[int]] = DEFAULT_STEPS,
    spec: SamplingSpec = DEFAULT,
    keep: int = 8,
    progress: bool = True,
    repeats: int = 1,
    allocations: Sequence[str] = ("equal",),
) -> dict[str, ModelSweep]:
    """:func:`sweep_model` for every model (by label, e.g. ``sgm``, ``wsgm``), same suite.

    ``steps`` is one list for all models or one list per label. A WSGM is swept once per
    step allocation of ``allocations`` (:mod:`wsgm.sampling.allocation`), labelled
    ``<label>`` for ``equal`` and ``<label>-<allocation>`` otherwise; an SGM once.
    """
    out = {}
    for label, model in models.items():
        s = steps[label] if isinstance(steps, Mapping) else steps
        wsgm = model.config.kind == "wsgm"
        for alloc in allocations if wsgm else ("equal",):
            name = label if alloc == "equal" else f"{label}-{alloc}"
            out[name] = sweep_model(
                model,
                suite,
                steps=s,
                spec=spec.replace(allocation=alloc),
                keep=keep,
                progress=progress,
                desc=f"sweep {name}",
                repeats=repeats,
            )
    return out


def steps_to_reach(
    steps: Sequence[int], values: Sequence[float], floor: float, *, factor: float = 2.0
) -> int | None:
    """The smallest N whose value is within ``factor`` x ``floor`` (None if none is)."""
    for n, v in zip(steps, values, strict=True):
        if np.isfinite(v) and v <= factor * floor:
            return int(n)
    return None
