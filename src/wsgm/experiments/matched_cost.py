"""SGM against WSGM at equal sampling cost, from one sweep of each.

A step count N means different work for the two models (a WSGM step at the 8×8 coarse scale
costs about 1/16 of one at 32×32), so "fewer steps" is not "faster". Here each model's
error curve is read against a cost axis and the two are compared at the same budget:

- ``seconds``: wall-clock sampling seconds per sample, as the sweep measured them (on the
  machine and thread count of the sweep; noisy where other jobs ran);
- ``cost``: network evaluations per sample weighted by the pixels each network works on, in
  full-resolution evaluations (an SGM's N; :func:`wsgm.sampling.allocation.scale_costs`) —
  deterministic, and the machine-independent proxy of time for convolutional networks.

The error at a budget is interpolated piecewise linearly in (log cost, log error) between the
swept points of a model (sorted by cost) and is defined only inside the model's swept cost
range: the budgets compared are every swept point of either model that lies in the overlap of
the two ranges. Nothing is extrapolated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import WSGMError

__all__ = [
    "AXES",
    "MatchedCostRow",
    "error_at",
    "matched_cost",
    "matched_cost_summary",
    "matched_cost_table",
]

AXES: dict[str, tuple[str, str]] = {
    "seconds": ("seconds_per_sample", "sampling seconds per sample"),
    "cost": ("cost_per_sample", "pixel-weighted network evaluations per sample"),
}


@dataclass(frozen=True)
class MatchedCostRow:
    """Both models' interpolated error at one budget on one axis."""

    budget: float
    sgm: float
    wsgm: float

    @property
    def ratio(self) -> float:
        """WSGM error / SGM error (< 1: the WSGM is better at this budget)."""
        return self.wsgm / self.sgm if self.sgm > 0 else math.inf


def _curve(model: Mapping[str, Any], metric: str, axis: str) -> tuple[np.ndarray, np.ndarray]:
    if axis not in AXES:
        raise WSGMError(f"unknown cost axis {axis!r}; allowed: {', '.join(AXES)}")
    key = AXES[axis][0]
    costs = np.asarray(model.get(key, []), dtype=np.float64)
    errors = np.asarray(model["metrics"].get(metric, []), dtype=np.float64)
    if len(costs) != len(errors):  # sweeps written before cost_per_sample existed
        return np.zeros(0), np.zeros(0)
    keep = np.isfinite(costs) & np.isfinite(errors) & (costs > 0) & (errors > 0)
    order = np.argsort(costs[keep], kind="stable")
    return costs[keep][order], errors[keep][order]


def error_at(
    costs: Sequence[float] | np.ndarray, errors: Sequence[float] | np.ndarray, budget: float
) -> float | None:
    """The error at ``budget``, log-log interpolated between swept points; None outside them.

    ``costs`` must be sorted increasing (ties keep the first point).
    """
    c = np.asarray(costs, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    if len(c) == 0 or not (c[0] <= budget <= c[-1]):
        return None
    return float(np.exp(np.interp(math.log(budget), np.log(c), np.log(e))))


def matched_cost(
    sgm: Mapping[str, Any], wsgm: Mapping[str, Any], metric: str, *, axis: str = "cost"
) -> list[MatchedCostRow]:
    """Both errors at every swept budget of either model inside the overlap of their ranges.

    ``sgm`` and ``wsgm`` are model entries of ``sweep.json`` (:class:`ModelSweep.to_dict`).
    Empty when the ranges do not overlap or a model lacks the metric or the axis.
    """
    cs, es = _curve(sgm, metric, axis)
    cw, ew = _curve(wsgm, metric, axis)
    if len(cs) == 0 or len(cw) == 0:
        return []
    lo, hi = max(cs[0], cw[0]), min(cs[-1], cw[-1])
    rows = []
    for budget in sorted({float(b) for b in np.concatenate([cs, cw]) if lo <= b <= hi}):
        s, w = error_at(cs, es, budget), error_at(cw, ew, budget)
        assert s is not None and w is not None
        rows.append(MatchedCostRow(budget, s, w))
    return rows


def matched_cost_summary(
    sgm: Mapping[str, Any],
    wsgm: Mapping[str, Any],
    metric: str,
    *,
    axis: str = "cost",
    name: str = "WSGM",
) -> str:
    """ "WSGM error below SGM's at k of m budgets (WSGM/SGM error 0.4 … 1.2, budgets …)".

    Where the two swept ranges do not overlap, says which model is cheaper at every point and
    compares the cheaper one's most expensive point with the other's cheapest (no
    interpolation: if the cheaper one is also better there, it wins at every budget).
    """
    rows = matched_cost(sgm, wsgm, metric, axis=axis)
    if rows:
        below = sum(r.wsgm < r.sgm for r in rows)
        ratios = [r.ratio for r in rows]
        verdict = "at every budget" if below == len(rows) else f"at {below} of {len(rows)} budgets"
        return (
            f"{name} error below SGM's {verdict} ({name}/SGM error {min(ratios):.2g} … "
            f"{max(ratios):.2g}, budgets {rows[0].budget:.3g} … {rows[-1].budget:.3g})"
        )
    cs, es = _curve(sgm, metric, axis)
    cw, ew = _curve(wsgm, metric, axis)
    if len(cs) == 0 or len(cw) == 0:
        return f"not compared: {metric!r} or the {axis} axis is missing from a sweep"
    if cw[-1] < cs[0]:
        cheap, c_cost, c_err, other, o_cost, o_err = name, cw[-1], ew[-1], "SGM", cs[0], es[0]
    else:
        cheap, c_cost, c_err, other, o_cost, o_err = "SGM", cs[-1], es[-1], name, cw[0], ew[0]
    verdict = (
        f"so {cheap} is better at every budget"
        if c_err < o_err
        else "so neither dominates over the swept ranges"
    )
    return (
        f"no common budget: {cheap}'s most expensive point ({c_cost:.3g}, error {c_err:.3g}) "
        f"costs less than {other}'s cheapest ({o_cost:.3g}, error {o_err:.3g}), {verdict}"
    )


def matched_cost_table(
    models: Mapping[str, Mapping[str, Any]], metrics: Sequence[str], *, axis: str
) -> list[str]:
    """Markdown lines: per metric, the errors of both models at each common budget."""
    if "sgm" not in models or "wsgm" not in models:
        return []
    label = AXES[axis][1] if axis in AXES else axis
    lines = [f"| metric | budget ({label}) | SGM error | WSGM error | WSGM / SGM |"]
    lines.append("|---|---|---|---|---|")
    summaries = []
    for metric in metrics:
        rows = matched_cost(models["sgm"], models["wsgm"], metric, axis=axis)
        summary = matched_cost_summary(models["sgm"], models["wsgm"], metric, axis=axis)
        summaries.append(f"- {metric}: {summary}")
        for r in rows:
            lines.append(
                f"| {metric} | {r.budget:.3g} | {r.sgm:.3g} | {r.wsgm:.3g} | {r.ratio:.2f} |"
            )
    return [*summaries, "", *lines]
