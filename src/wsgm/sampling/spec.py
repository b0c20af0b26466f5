"""How to draw samples: one typed :class:`SamplingSpec` with one set of defaults.

``wsgm sample``, ``upsample``, ``eval``, ``reproduce``, ``demo``, the reproduction presets
and the model classes all take their sampler, time grid, steps, batch size, seed and
weights from a :class:`SamplingSpec`; a command's flags or a preset only override fields
of :data:`DEFAULT` (docs/design.md §7). Seeds of everything drawn in pieces (sampling
batches, sweep points, training steps) come from one rule, :func:`derive_seed`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor

from ..errors import WSGMError
from ..grids import GRIDS, SIZED_GRIDS, T_MIN_GRIDS, make_grid, power
from ..samplers import SAMPLERS
from .allocation import ALLOCATIONS, counts_for

__all__ = ["SamplingSpec", "DEFAULT", "WEIGHTS", "derive_seed", "parse_int_list"]

WEIGHTS = ("ema", "raw")


def derive_seed(*keys: int) -> int:
    """The seed of one piece of a job (a batch, a sweep point, a training step): a 63-bit
    integer mixing ``keys`` by numpy's ``SeedSequence`` hashing. The piece then depends on
    its keys only, not on which pieces were drawn before it, by which process."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)
    return int(state[0] >> 1)


def parse_int_list(text: str, *, what: str) -> tuple[int, ...]:
    """``"2,4,8"`` -> (2, 4, 8): positive integers, or one clear error naming ``what``."""
    try:
        values = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise WSGMError(f"{what} must be comma-separated integers, got {text!r}") from exc
    if not values or min(values) < 1:
        raise WSGMError(f"{what} must be positive integers, got {text!r}")
    return values


@dataclass(frozen=True)
class SamplingSpec:
    """Everything that decides how samples are drawn (not how many).

    ``sampler``: a name of :data:`wsgm.samplers.SAMPLERS`; ``grid``: a name of
    :data:`wsgm.grids.GRIDS`, or the power grid t_k = T (1 - k/N)^rho when ``grid_rho`` is
    set; ``t_min``: the last score-evaluation time of a log, logsnr, karras or
    logsnr-shifted grid (None: the grid's own default; the final Tweedie step then goes from
    t_min to 0, docs/design.md §2.5, §7.10); ``steps``: N, the steps at every scale;
    ``steps_per_scale``: a WSGM's J + 1 step counts instead (coarsest first, then scale 1
    (the finest) .. J); ``allocation``: how a WSGM's steps are spread over its scales,
    ``equal`` (N each, the paper) or ``cost`` (the cost of N equal steps, or
    ``step_budget`` full-resolution evaluations per sample, spent where steps are cheap:
    :mod:`wsgm.sampling.allocation`); ``batch_size``: samples per batch, each batch b drawn
    from a generator seeded by ``derive_seed(seed, b)``; ``weights``: the EMA or the raw
    weights of a model directory; ``coarse_sampler`` / ``coarse_grid``: a WSGM's coarsest
    network sampled with another sampler / grid than the detail networks (None: the same;
    its step count is still the first of ``counts``; ``t_min`` moves the end of
    ``coarse_grid`` too when that grid takes one; docs/design.md §7.11).

    The defaults are DPM-Solver++(2M) on the logsnr grid at N = 16: the most accurate at
    few steps with one network call per step (README, "Few-step sampling"). The paper's
    comparisons use Euler–Maruyama on the quadratic grid: the reproduction presets set it.
    """

    sampler: str = "dpm2m"
    grid: str = "logsnr"
    grid_rho: float | None = None
    t_min: float | None = None
    steps: int = 16
    steps_per_scale: tuple[int, ...] = ()
    allocation: str = "equal"
    step_budget: float | None = None
    batch_size: int = 64
    seed: int = 0
    weights: str = "ema"
    coarse_sampler: str | None = None
    coarse_grid: str | None = None

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise WSGMError(f"unknown sampler {self.sampler!r}; allowed: {', '.join(SAMPLERS)}")
        if self.grid not in GRIDS:
            raise WSGMError(f"unknown time grid {self.grid!r}; allowed: {', '.join(GRIDS)}")
        if self.grid_rho is not None and not self.grid_rho > 0:
            raise WSGMError(f"the grid's rho must be positive, got {self.grid_rho}")
        if self.t_min is not None:
            t = self.t_min
            if (
                isinstance(t, bool)
                or not isinstance(t, (int, float))
                or not (math.isfinite(t) and t > 0)
            ):
                raise WSGMError(f"t_min must be a positive time, got {t!r}")
            if self.grid_rho is not None:
                raise WSGMError(
                    "the power grid (--grid-rho) refines down to t = 0 and takes no t_min"
                )
            if self.grid not in T_MIN_GRIDS:
                raise WSGMError(
                    f"the {self.grid} grid refines down to t = 0 and takes no t_min; t_min is "
                    f"for the {', '.join(sorted(T_MIN_GRIDS))} grids"
                )
        for name in ("steps", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WSGMError(f"sampling {name} must be a positive integer, got {value!r}")
        if any(
            isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in self.steps_per_scale
        ):
            raise WSGMError(
                f"steps per scale must be positive integers, got {list(self.steps_per_scale)}"
            )
        if self.allocation not in ALLOCATIONS:
            raise WSGMError(
                f"unknown step allocation {self.allocation!r}; allowed: {', '.join(ALLOCATIONS)}"
            )
        if self.step_budget is not None:
            b = self.step_budget
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0:
                raise WSGMError(f"the step budget must be a positive number, got {b!r}")
            if self.allocation != "cost":
                raise WSGMError(
                    "a step budget is spent by the cost allocation: add --allocate cost"
                )
        if self.steps_per_scale and self.allocation != "equal":
            raise WSGMError(
                "give either steps per scale or an allocation (--allocate cost), not both"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise WSGMError(f"the seed must be a non-negative integer, got {self.seed!r}")
        if self.weights not in WEIGHTS:
            raise WSGMError(f"unknown weights {self.weights!r}; allowed: {', '.join(WEIGHTS)}")
        if self.coarse_sampler is not None and self.coarse_sampler not in SAMPLERS:
            raise WSGMError(
                f"unknown coarse sampler {self.coarse_sampler!r}; allowed: {', '.join(SAMPLERS)}"
            )
        if self.coarse_grid is not None:
            if self.coarse_grid not in GRIDS:
                raise WSGMError(
                    f"unknown coarse time grid {self.coarse_grid!r}; allowed: {', '.join(GRIDS)}"
                )
            if self.grid_rho is not None:
                raise WSGMError("give either the power grid (--grid-rho) or a coarse grid")

    @property
    def grid_label(self) -> str:
        """The grid's name for a report: ``logsnr``, ``logsnr (t_min 0.008)``, ``power
        (rho 3)``."""
        if self.grid_rho is not None:
            return f"power (rho {self.grid_rho:g})"
        label = self.grid if self.t_min is None else f"{self.grid} (t_min {self.t_min:g})"
        return label if self.coarse_grid is None else f"{label}, coarsest {self.coarse_grid}"

    def replace(self, **changes: Any) -> SamplingSpec:
        """A copy with ``changes`` (None values are ignored: "not given")."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def split(self) -> bool:
        """Whether a WSGM's coarsest network has its own sampler or grid."""
        return self.coarse_sampler is not None or self.coarse_grid is not None

    def grid_of(
        self, steps: int, *, T: float, size: int | None = None, coarse: bool = False
    ) -> Tensor:
        """The time grid with ``steps`` steps on [0, T]; ``size`` (the side of the grid the
        network works on) is needed by the resolution-shifted ``logsnr-shifted`` grid;
        ``coarse``: the grid of a WSGM's coarsest network (``coarse_grid`` if set)."""
        if self.grid_rho is not None:
            return power(steps, T=T, rho=self.grid_rho)
        name = self.coarse_grid if coarse and self.coarse_grid is not None else self.grid
        if name in SIZED_GRIDS and size is None:
            raise WSGMError(f"the {name} time grid needs the image size")
        if self.t_min is not None and not self.t_min < T:
            raise WSGMError(f"t_min must be below the horizon T = {T}, got {self.t_min}")
        t_min = self.t_min if name in T_MIN_GRIDS else None
        try:
            return make_grid(name, steps, T=T, size=size, t_min=t_min)
        except ValueError as exc:
            raise WSGMError(f"time grid {name!r} (T = {T}, size {size}): {exc}") from exc

    def without_coarse(self) -> SamplingSpec:
        """This spec for a model without a coarsest network (an SGM in a sweep beside a
        WSGM): the coarse sampler and grid dropped."""
        return dataclasses.replace(self, coarse_sampler=None, coarse_grid=None)

    def samplers(self) -> dict[str, str]:
        """The keyword arguments that give a model's ``sample`` the coarse sampler, if any."""
        return {} if self.coarse_sampler is None else {"coarse_sampler": self.coarse_sampler}

    def grids(
        self, *, T: float, levels: int | None, size: int | None = None
    ) -> Tensor | list[Tensor]:
        """The grid(s) of a model of side ``size``: one shared grid, or J + 1 (coarsest, scale
        1 .. J) from ``steps_per_scale`` or for a grid that depends on each scale's size.
        ``levels`` is a WSGM's J, None for an SGM."""
        if (self.steps_per_scale or self.allocation != "equal" or self.split) and levels is None:
            what = (
                "steps per scale are"
                if self.steps_per_scale
                else "step allocations are"
                if self.allocation != "equal"
                else "a coarse sampler or grid is"
            )
            raise WSGMError(f"{what} for WSGM models; this is an SGM")
        if self.steps_per_scale and levels is not None and len(self.steps_per_scale) != levels + 1:
            raise WSGMError(
                f"steps per scale needs {levels + 1} positive counts (coarsest, then scales "
                f"1..{levels}), got {','.join(map(str, self.steps_per_scale))}"
            )
        sized = self.grid_rho is None and (
            self.grid in SIZED_GRIDS or self.coarse_grid in SIZED_GRIDS
        )
        spread = self.steps_per_scale or self.allocation != "equal" or self.coarse_grid
        if levels is None or not (spread or sized):
            return self.grid_of(self.steps, T=T, size=size)
        counts = self.counts(levels=levels, size=size)
        # index 0: the coarsest network, on size / 2^J; index j: the details of scale j
        sides = [None if size is None else size >> s for s in (levels, *range(1, levels + 1))]
        return [
            self.grid_of(c, T=T, size=side, coarse=i == 0)
            for i, (c, side) in enumerate(zip(counts, sides, strict=True))
        ]

    def counts(self, *, levels: int | None, size: int | None = None) -> tuple[int, ...]:
        """The step count of every network: (N,) for an SGM (``levels`` None); for a WSGM
        coarsest first, then scale 1 .. J, from ``steps_per_scale`` or the allocation (which
        needs the image ``size``)."""
        if levels is None:
            return (self.steps,)
        if self.steps_per_scale:
            return tuple(self.steps_per_scale)
        if self.allocation == "equal":
            return (self.steps,) * (levels + 1)
        if size is None:
            raise WSGMError("the cost allocation of steps needs the image size")
        return counts_for(self.allocation, self.steps, size=size, levels=levels,
                          sampler=self.sampler, budget=self.step_budget)  # fmt: skip

    def batch_seed(self, batch: int, *keys: int) -> int:
        """The seed of batch ``batch`` (after any extra ``keys``, e.g. a sweep's N)."""
        return derive_seed(self.seed, *keys, batch)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["steps_per_scale"] = list(self.steps_per_scale)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplingSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise WSGMError(f"unknown sampling settings {unknown}; allowed: {sorted(known)}")
        d = dict(d)
        if "steps_per_scale" in d:
            d["steps_per_scale"] = tuple(d["steps_per_scale"] or ())
        return cls(**d)


DEFAULT = SamplingSpec()
"""The one set of sampling defaults."""
