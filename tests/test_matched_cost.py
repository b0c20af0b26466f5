"""SGM against WSGM at equal sampling cost (wsgm.experiments.matched_cost); the costs a
sweep records are tested with the sweep (test_sweep.py)."""

from __future__ import annotations

import math

import pytest

from wsgm.errors import WSGMError
from wsgm.experiments.matched_cost import (
    error_at,
    matched_cost,
    matched_cost_summary,
    matched_cost_table,
)


def _model(costs: list[float], errors: list[float], seconds: list[float] | None = None) -> dict:
    return {
        "steps": [2**i for i in range(len(costs))],
        "metrics": {"spectrum": errors},
        "cost_per_sample": costs,
        "seconds_per_sample": seconds if seconds is not None else costs,
    }


def test_error_at_interpolates_log_log_and_never_extrapolates() -> None:
    # error = 1 / cost exactly: log-log interpolation is exact at any budget inside.
    c = [1.0, 4.0, 16.0]
    e = [1.0, 0.25, 1 / 16]
    assert math.isclose(error_at(c, e, 2.0) or 0, 0.5) and math.isclose(
        error_at(c, e, 8.0) or 0, 1 / 8
    )
    assert error_at(c, e, 0.5) is None and error_at(c, e, 17.0) is None
    assert error_at([], [], 1.0) is None


def test_matched_cost_uses_the_overlap_of_both_ranges() -> None:
    # SGM: error 1/cost on costs 1..16; WSGM: half the cost per point, error 0.5/cost.
    sgm = _model([1, 2, 4, 8, 16], [1, 0.5, 0.25, 0.125, 0.0625])
    wsgm = _model([0.5, 1, 2, 4, 8], [1, 0.5, 0.25, 0.125, 0.0625])
    rows = matched_cost(sgm, wsgm, "spectrum", axis="cost")
    assert [r.budget for r in rows] == [1, 2, 4, 8]  # the WSGM's 0.5 and the SGM's 16 are out
    assert all(math.isclose(r.ratio, 0.5) for r in rows)
    text = matched_cost_summary(sgm, wsgm, "spectrum", axis="cost")
    assert "at every budget" in text and "0.5" in text
    # The other way round the WSGM is worse at every budget; the summary says so.
    assert "at 0 of 4 budgets" in matched_cost_summary(wsgm, sgm, "spectrum", axis="cost")
    table = matched_cost_table({"sgm": sgm, "wsgm": wsgm}, ["spectrum"], axis="seconds")
    assert table[0].startswith("- spectrum: WSGM error below") and len(table) == 2 + 2 + 4


def test_matched_cost_without_overlap_or_cost_says_so() -> None:
    sgm = _model([10, 20], [1.0, 0.5])
    wsgm = _model([1, 2], [1.0, 0.5])
    assert matched_cost(sgm, wsgm, "spectrum", axis="cost") == []
    # Every WSGM point is cheaper than the SGM's cheapest: compared end to end, no interpolation.
    text = matched_cost_summary(sgm, wsgm, "spectrum", axis="cost")
    assert "no common budget: WSGM's most expensive point (2, error 0.5)" in text
    assert "SGM's cheapest (10, error 1)" in text and "WSGM is better at every budget" in text
    worse = _model([1, 2], [3.0, 2.0])
    assert "neither dominates" in matched_cost_summary(sgm, worse, "spectrum", axis="cost")
    cheap_sgm = matched_cost_summary(_model([1, 2], [1.0, 0.1]), sgm, "spectrum", axis="cost")
    assert "SGM's most expensive point (2, error 0.1)" in cheap_sgm
    assert "SGM is better at every budget" in cheap_sgm
    old = {"steps": [2, 4], "metrics": {"spectrum": [1.0, 0.5]}, "seconds_per_sample": [1, 2]}
    assert matched_cost(old, wsgm, "spectrum", axis="cost") == []
    assert "missing" in matched_cost_summary(old, wsgm, "spectrum", axis="cost")
    with pytest.raises(WSGMError, match="unknown cost axis 'nfe'; allowed: seconds, cost"):
        matched_cost(sgm, wsgm, "spectrum", axis="nfe")
