"""Sweep results on disk (``sweep.json``, ``sweep.csv``) and the headline read from them.

``sweep.json``::

    {"models": {"sgm": {"steps": [...], "metrics": {"<name>": [one per steps]},
                        "noise_floor": {"<name>": value}, "seconds_per_sample": [...], ...},
                "wsgm": {...}},
     "headline": {"factor": 2.0, "metrics": {"<name>": {"sgm": N or null, "wsgm": N or null}}},
     "settings": {...}}

The headline of a metric is, per model, the smallest N whose error is within ``factor`` x
its noise floor (null: not within the largest N swept).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import WSGMError
from ..fileio import atomic_write
from .sweep import ModelSweep, steps_to_reach

__all__ = [
    "sweep_dict",
    "headline",
    "headline_sentence",
    "matched_error",
    "matched_sentence",
    "write_sweep",
    "read_sweep",
    "csv_text",
]


def headline(models: Mapping[str, Mapping[str, Any]], *, factor: float = 2.0) -> dict[str, Any]:
    """``{"factor", "metrics": {name: {label: N or None}}}`` from ``sweep.json``'s models."""
    names: list[str] = []
    for m in models.values():
        names += [k for k in m["metrics"] if k not in names]
    table: dict[str, dict[str, int | None]] = {}
    for name in names:
        table[name] = {}
        for label, m in models.items():
            if name in m["metrics"]:
                table[name][label] = steps_to_reach(
                    m["steps"], m["metrics"][name], m["noise_floor"][name], factor=factor
                )
    matched = {name: matched_error(models, name) for name in names}
    return {
        "factor": factor,
        "metrics": table,
        "matched_error": {k: v for k, v in matched.items() if v is not None},
    }


def _n_text(n: int | None, max_steps: int) -> str:
    return f"N = {n}" if n is not None else f"not within N = {max_steps}"


def headline_sentence(data: Mapping[str, Any], metric: str = "spectrum") -> str:
    """One line: "WSGM reaches <metric> error E (2 x its noise floor F) at N = a steps per
    scale; SGM needs N = b (b/a x more)" for a ``sweep.json`` dict with both models."""
    models = data["models"]
    factor = float(data.get("headline", {}).get("factor", 2.0))
    if "wsgm" not in models or "sgm" not in models or metric not in models["wsgm"]["metrics"]:
        labels = ", ".join(models)
        return f"sweep of {labels}: no SGM/WSGM pair with metric {metric!r} to compare"
    w, s = models["wsgm"], models["sgm"]
    floor = float(w["noise_floor"][metric])
    a = steps_to_reach(w["steps"], w["metrics"][metric], floor, factor=factor)
    b = steps_to_reach(
        s["steps"], s["metrics"][metric], float(s["noise_floor"][metric]), factor=factor
    )
    target = factor * floor
    if a is None:
        best = min(w["metrics"][metric])
        return (
            f"WSGM does not reach {metric} error {target:.3g} ({factor:g} x its noise floor "
            f"{floor:.3g}) within N = {max(w['steps'])} steps per scale (best {best:.3g}); "
            f"SGM: {_n_text(b, max(s['steps']))}"
        )
    sgm = (
        f"SGM needs N = {b} ({b / a:g}x the steps)"
        if b is not None
        else f"SGM does not get there within N = {max(s['steps'])}"
    )
    return (
        f"WSGM reaches {metric} error {target:.3g} ({factor:g} x its noise floor {floor:.3g}) "
        f"at N = {a} steps per scale; {sgm}"
    )


def matched_error(
    models: Mapping[str, Mapping[str, Any]], metric: str, *, tolerance: float = 1.25
) -> dict[str, Any] | None:
    """Steps each model needs for the error at which the WSGM levels off.

    a = the smallest N whose WSGM error is within ``tolerance`` x its best error of the
    sweep, E = that error, b = the smallest N whose SGM error is <= E (None: not within
    the sweep). Also the sampling seconds per sample of each at those N. None without an
    SGM/WSGM pair measuring ``metric``.
    """
    if "sgm" not in models or "wsgm" not in models or metric not in models["wsgm"]["metrics"]:
        return None
    w, s = models["wsgm"], models["sgm"]
    values = [float(v) for v in w["metrics"][metric]]
    best = min(values)
    i = next(i for i, v in enumerate(values) if v <= tolerance * best)
    a, target = int(w["steps"][i]), values[i]
    j = next((j for j, v in enumerate(s["metrics"][metric]) if float(v) <= target), None)
    return {
        "error": target,
        "wsgm": a,
        "sgm": None if j is None else int(s["steps"][j]),
        "wsgm_seconds_per_sample": float(w["seconds_per_sample"][i]),
        "sgm_seconds_per_sample": None if j is None else float(s["seconds_per_sample"][j]),
        "tolerance": tolerance,
    }


def matched_sentence(data: Mapping[str, Any], metric: str = "spectrum") -> str:
    """ "WSGM reaches <metric> error E at N = a steps per scale; SGM needs N = b" for the
    error E at which the WSGM levels off (:func:`matched_error`)."""
    m = matched_error(data["models"], metric)
    if m is None:
        return f"no SGM/WSGM pair with metric {metric!r} to compare"
    s_max = max(data["models"]["sgm"]["steps"])
    text = (
        f"WSGM reaches {metric} error E = {m['error']:.3g} (where it levels off) at "
        f"N = {m['wsgm']} steps per scale; SGM needs "
    )
    if m["sgm"] is None:
        return text + f"more than N = {s_max} (not reached)"
    ratio = m["sgm"] / m["wsgm"]
    speed = m["sgm_seconds_per_sample"] / max(m["wsgm_seconds_per_sample"], 1e-12)
    return text + (
        f"N = {m['sgm']} ({ratio:g}x the steps, {speed:.0f}x the sampling time per sample)"
    )


def sweep_dict(
    results: Mapping[str, ModelSweep],
    *,
    factor: float = 2.0,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    models = {label: r.to_dict() for label, r in results.items()}
    return {
        "models": models,
        "headline": headline(models, factor=factor),
        "settings": dict(settings or {}),
    }


def csv_text(data: Mapping[str, Any]) -> str:
    """One row per (model, N): seconds per sample, then value and floor of every metric."""
    buf = io.StringIO()
    names: list[str] = []
    for m in data["models"].values():
        names += [k for k in m["metrics"] if k not in names]
    se_names = [
        k for k in names if any(k in m.get("metrics_se", {}) for m in data["models"].values())
    ]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "model",
            "steps",
            "seconds_per_sample",
            *[c for k in names for c in (k, f"{k}_noise_floor")],
            *[f"{k}_se" for k in se_names],
        ]
    )
    for label, m in data["models"].items():
        for i, n in enumerate(m["steps"]):
            row: list[Any] = [label, n, f"{m['seconds_per_sample'][i]:.6g}"]
            for k in names:
                if k in m["metrics"]:
                    row += [f"{m['metrics'][k][i]:.6g}", f"{m['noise_floor'][k]:.6g}"]
                else:
                    row += ["", ""]
            if se_names:
                se = m.get("metrics_se", {})
                row += [f"{se[k][i]:.6g}" if k in se else "" for k in se_names]
            w.writerow(row)
    return buf.getvalue()


def write_sweep(data: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> Path:
    """Write ``sweep.json`` and ``sweep.csv`` into ``out_dir`` (atomically); returns the JSON."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, allow_nan=True) + "\n"
    atomic_write(out / "sweep.json", lambda tmp: Path(tmp).write_text(text))
    table = csv_text(data)
    atomic_write(out / "sweep.csv", lambda tmp: Path(tmp).write_text(table))
    return out / "sweep.json"


def read_sweep(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``sweep.json`` (checked for the ``models`` layout)."""
    p = Path(path)
    if p.is_dir():
        p = p / "sweep.json"
    if not p.exists():
        raise WSGMError(f"{p} does not exist (run `wsgm eval` first)")
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WSGMError(f"{p} is not readable JSON (corrupt?): {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise WSGMError(f"{p} is not a sweep file (no 'models' object)")
    return data
