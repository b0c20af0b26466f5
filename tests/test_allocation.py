"""Cost-aware step counts per scale (wsgm.sampling.allocation): the Lagrange allocation
against a brute-force integer optimum, its budget, and the errors a user can cause."""

from __future__ import annotations

import itertools
import math

import pytest

from wsgm.errors import WSGMError
from wsgm.sampling.allocation import (
    allocate,
    counts_for,
    equal_cost,
    parse_allocations,
    scale_costs,
)
from wsgm.sampling.spec import SamplingSpec


def test_scale_costs_are_pixel_fractions() -> None:
    assert scale_costs(32, 2) == (1 / 16, 1 / 4, 1 / 16)
    assert scale_costs(64, 3) == (1 / 64, 1 / 4, 1 / 16, 1 / 64)
    # N steps at every scale of a J-level WSGM: N (4^-J + sum_j 4^-j)
    assert equal_cost(16, scale_costs(32, 2)) == pytest.approx(6.0)
    with pytest.raises(WSGMError, match="not divisible by 2\\^3"):
        scale_costs(20, 3)
    with pytest.raises(WSGMError, match="at least one level"):
        scale_costs(32, 0)


def _objective(counts: tuple[int, ...], weights: list[float], order: float) -> float:
    return sum(w * n**-order for w, n in zip(weights, counts, strict=True))


@pytest.mark.parametrize("order", [1.0, 2.0])
@pytest.mark.parametrize("weights", [[1.0, 1.0, 1.0], [4.0, 1.0, 0.5]])
@pytest.mark.parametrize("budget", [1.0, 3.0, 6.0])
def test_allocation_is_near_the_integer_optimum(
    order: float, weights: list[float], budget: float
) -> None:
    costs = scale_costs(32, 2)
    got = allocate(budget, costs, order=order, weights=weights)
    spent = sum(n * c for n, c in zip(got, costs, strict=True))
    assert spent <= budget + 1e-12 and min(got) >= 1
    assert budget - spent < max(costs)  # nothing affordable is left over
    best = min(
        (c for c in itertools.product(*(range(1, int(budget / k) + 1) for k in costs))
         if sum(n * k for n, k in zip(c, costs, strict=True)) <= budget + 1e-12),
        key=lambda c: _objective(c, weights, order),
    )  # fmt: skip
    assert _objective(got, weights, order) <= 1.1 * _objective(best, weights, order)


def test_cheap_scales_get_more_steps_and_equal_costs_equal_steps() -> None:
    costs = scale_costs(64, 3)  # coarsest, scale 1 (finest) .. 3
    euler = allocate(equal_cost(64, costs), costs, order=1)
    # N_j ~ c_j^(-1/2): each coarser scale twice the steps of the next finer one
    assert euler == (176, 44, 88, 176)
    dpm = allocate(equal_cost(64, costs), costs, order=2)
    assert dpm[1] < dpm[2] < dpm[3] == dpm[0]
    assert euler[0] / euler[1] > dpm[0] / dpm[1]  # a higher order spreads less
    assert allocate(equal_cost(16, (0.25, 0.25)), (0.25, 0.25)) == (16, 16)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: allocate(0.1, scale_costs(32, 2)),
         r"budget of 0.1 .* less than one step per scale \(0.375"),
        (lambda: allocate(math.nan, scale_costs(32, 2)), "budget of nan"),
        (lambda: allocate(4.0, (0.25, 0.0)), "step costs must be positive"),
        (lambda: allocate(4.0, (0.25, 0.25), weights=[1.0]), "2 positive numbers"),
        (lambda: allocate(4.0, (0.25, 0.25), weights=[1.0, -1.0]), "2 positive numbers"),
        (lambda: counts_for("greedy", 8, size=32, levels=2, sampler="euler"),
         "unknown step allocation 'greedy'"),
        (lambda: counts_for("equal", 8, size=32, levels=2, sampler="euler", budget=3.0),
         "needs the cost allocation"),
        (lambda: parse_allocations("equal,best"), "out of equal, cost, got 'equal,best'"),
        (lambda: parse_allocations(","), "got ','"),
    ],
)  # fmt: skip
def test_bad_allocations_get_one_clear_error(call: object, match: str) -> None:
    with pytest.raises(WSGMError, match=match):
        call()  # type: ignore[operator]


def test_sampling_spec_allocates_per_scale() -> None:
    spec = SamplingSpec(steps=16, sampler="euler", allocation="cost")
    assert spec.counts(levels=2, size=32) == (24, 12, 24)
    grids = spec.grids(T=5.0, levels=2, size=32)
    assert isinstance(grids, list) and [len(g) - 1 for g in grids] == [24, 12, 24]
    budget = spec.replace(step_budget=2.0)
    counts = budget.counts(levels=2, size=32)
    assert sum(n * c for n, c in zip(counts, scale_costs(32, 2), strict=True)) <= 2.0
    assert SamplingSpec.from_dict(budget.to_dict()) == budget
    assert SamplingSpec(steps=5).counts(levels=2, size=32) == (5, 5, 5)
    assert SamplingSpec(steps=5).counts(levels=None) == (5,)
    with pytest.raises(WSGMError, match="step allocations are for WSGM models"):
        spec.grids(T=5.0, levels=None, size=32)
    with pytest.raises(WSGMError, match="needs the image size"):
        spec.counts(levels=2)
    with pytest.raises(WSGMError, match="less than one step per scale"):
        spec.replace(step_budget=0.2).counts(levels=2, size=32)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"allocation": "best"}, "unknown step allocation 'best'; allowed: equal, cost"),
        ({"allocation": "cost", "step_budget": -1.0}, "step budget must be a positive number"),
        ({"step_budget": 4.0}, "add --allocate cost"),
        ({"allocation": "cost", "steps_per_scale": (4, 2, 2)}, "not both"),
    ],
)
def test_sampling_spec_refuses_bad_allocations(changes: dict[str, object], match: str) -> None:
    with pytest.raises(WSGMError, match=match):
        SamplingSpec(**changes)  # type: ignore[arg-type]
