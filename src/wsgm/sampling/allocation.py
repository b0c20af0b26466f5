"""Cost-aware step counts per scale for a WSGM (docs/design.md §7.7).

The paper runs every scale with the same N. A step of the network of scale j works on a
(L/2^j)² grid (the coarsest one on (L/2^J)²), so it costs (L/2^j)² / L² = 4^-j of one
full-resolution evaluation: a step at the 8×8 coarsest scale of a 32×32 WSGM costs 1/16 of an
SGM step. :func:`allocate` spends a fixed total cost B (in full-resolution network
evaluations per sample) where it lowers the error most, under the model that the error of
scale j falls like w_j N_j^-p with the sampler's order p (Euler–Maruyama 1, DPM-Solver++(2M)
and Heun 2). Minimizing Σ_j w_j N_j^-p subject to Σ_j c_j N_j = B gives (Lagrange)

    N_j ∝ (w_j / c_j)^(1/(p+1)),

so cheap scales get more steps: with equal weights and Euler, each coarser scale twice the
steps of the next finer one. The counts are then rounded down (at least 1 each) and what the
budget leaves is spent one step at a time on the scale furthest below its real-valued count,
while one more step fits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import WSGMError
from ..samplers import SAMPLERS, order_of

__all__ = [
    "ALLOCATIONS", "scale_costs", "equal_cost", "allocate", "counts_for", "parse_allocations",
]  # fmt: skip

ALLOCATIONS = ("equal", "cost")
"""``equal``: the same N at every scale (the paper); ``cost``: :func:`allocate`."""


def scale_costs(size: int, levels: int) -> tuple[float, ...]:
    """The cost of one step of each network of a J-level WSGM on ``size``², in full-resolution
    evaluations: coarsest first (4^-J), then scale 1 (the finest, 4^-1) .. J (4^-J)."""
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise WSGMError(f"a WSGM has at least one level, got levels={levels!r}")
    if size % (1 << levels):
        raise WSGMError(f"size {size} is not divisible by 2^{levels} (J = {levels} levels)")
    return (4.0**-levels, *(4.0**-j for j in range(1, levels + 1)))


def equal_cost(steps: int, costs: Sequence[float]) -> float:
    """The cost of ``steps`` steps at every scale (the paper's schedule)."""
    return steps * float(sum(costs))


def allocate(
    budget: float,
    costs: Sequence[float],
    *,
    order: float = 1.0,
    weights: Sequence[float] | None = None,
) -> tuple[int, ...]:
    """Step counts per network (the order of ``costs``) of total cost at most ``budget``:
    N_j ∝ (w_j / c_j)^(1/(order+1)) (module docstring), at least one step each."""
    costs = [float(c) for c in costs]
    if not costs or any(not c > 0 for c in costs):
        raise WSGMError(f"step costs must be positive, got {costs}")
    w = [1.0] * len(costs) if weights is None else [float(v) for v in weights]
    if len(w) != len(costs) or any(not v > 0 for v in w):
        raise WSGMError(f"scale weights must be {len(costs)} positive numbers, got {list(w)}")
    if not order > 0:
        raise WSGMError(f"the sampler order must be positive, got {order}")
    least = sum(costs)
    if not (isinstance(budget, (int, float)) and math.isfinite(budget)) or budget < least * (
        1 - 1e-12
    ):
        raise WSGMError(
            f"a step budget of {budget!r} full-resolution evaluations is less than one step per "
            f"scale ({least:.4g} for these {len(costs)} networks)"
        )
    shape = [(wj / cj) ** (1.0 / (order + 1.0)) for wj, cj in zip(w, costs, strict=True)]
    lam = budget / sum(s * c for s, c in zip(shape, costs, strict=True))
    ideal = [lam * s for s in shape]
    counts = [max(1, math.floor(x)) for x in ideal]
    spent = sum(n * c for n, c in zip(counts, costs, strict=True))
    while spent > budget * (1 + 1e-12):  # the floor of 1 can overspend: take from the largest
        j = max(
            (i for i in range(len(counts)) if counts[i] > 1), key=lambda i: counts[i] * costs[i]
        )
        counts[j] -= 1
        spent -= costs[j]
    while True:  # spend what the rounding left, on the scale furthest below its share
        room = [i for i in range(len(counts)) if spent + costs[i] <= budget * (1 + 1e-12)]
        if not room:
            break
        j = max(room, key=lambda i: ideal[i] / counts[i])
        counts[j] += 1
        spent += costs[j]
    return tuple(counts)


def counts_for(
    allocation: str,
    steps: int,
    *,
    size: int,
    levels: int,
    sampler: str,
    budget: float | None = None,
) -> tuple[int, ...]:
    """The step counts (coarsest, scale 1 .. J) of ``allocation`` for N = ``steps``: ``equal``
    gives N each; ``cost`` spends ``budget`` (default: the cost of N steps at every scale,
    so it only moves steps between scales) by :func:`allocate` with the sampler's order."""
    if allocation not in ALLOCATIONS:
        raise WSGMError(
            f"unknown step allocation {allocation!r}; allowed: {', '.join(ALLOCATIONS)}"
        )
    if sampler not in SAMPLERS:
        raise WSGMError(f"unknown sampler {sampler!r}; allowed: {', '.join(SAMPLERS)}")
    costs = scale_costs(size, levels)
    if allocation == "equal":
        if budget is not None:
            raise WSGMError("a step budget needs the cost allocation (--allocate cost)")
        return (steps,) * (levels + 1)
    b = equal_cost(steps, costs) if budget is None else budget
    return allocate(b, costs, order=order_of(sampler))


def parse_allocations(text: str) -> tuple[str, ...]:
    """``"equal,cost"`` -> ("equal", "cost"): allocations to sweep, each once, in order."""
    names = tuple(dict.fromkeys(w.strip() for w in text.split(",") if w.strip()))
    bad = [w for w in names if w not in ALLOCATIONS]
    if bad or not names:
        raise WSGMError(
            f"--allocate takes comma-separated allocations out of {', '.join(ALLOCATIONS)}, "
            f"got {text!r}"
        )
    return names
