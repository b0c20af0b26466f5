"""Learned scaling on critical φ⁴: steps needed against the image size L (issue 11, part 2).

``phi4_scaling(out_dir, sizes, preset)`` does, for every L of ``sizes`` (each a multiple of 8):

- data at β_c (``DIR/L{L}/data``, as ``wsgm reproduce phi4`` makes them);
- an SGM and a WSGM with the same recipe and optimizer steps (the preset's), the WSGM down
  to an 8x8 coarsest low-pass (J = log2(L/8)); training seconds recorded per model;
- step sweeps (:mod:`wsgm.experiments.sweep`) for Euler–Maruyama on the quadratic grid, DPM-
  Solver++(2M) on the logsnr grid, and for the SGM also the resolution-shifted logsnr grid,
  with ``repeats`` sample draws per N (mean ± SE); each sweep is saved as soon as it is done
  (``DIR/L{L}/sweeps/*.json``) and reused, so the whole command resumes;
- the exact-score spectrum error of the data's Gaussian twin in closed form
  (:func:`wsgm.experiments.gaussian_twin.twin_spectrum_errors_exact`).

N_needed is where a model's error curve crosses ``factor`` x the metric's noise floor,
interpolated log-linearly in N between the swept N (:func:`n_needed`); its interval comes
from the curves mean − SE and mean + SE. ``scaling.json`` holds ``{"sizes", "metrics": {name:
{"noise_floor": {L}, "sgm": {setting: {L: N}}, "wsgm", "exact_sgm", "exact_wsgm",
"interval_sgm", "interval_wsgm"}}, "train_seconds": {"sgm": {L}, "wsgm": {L}}}``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import WSGMError
from ..fileio import read_json, write_json_atomic
from ..training.device import use_cpu
from .datasets import make_datasets
from .gaussian_twin import data_spectrum, twin_spectrum_errors_exact
from .presets import Preset
from .results import sweep_dict
from .runs import load_trained, train_run
from .sweep import FIELD_METRICS, FieldSuite, sweep

__all__ = ["SETTINGS", "n_needed", "phi4_scaling"]

COARSEST = 8
SETTINGS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "euler/quadratic": ("euler", "quadratic", ("sgm", "wsgm")),
    "dpm2m/logsnr": ("dpm2m", "logsnr", ("sgm", "wsgm")),
    "dpm2m/logsnr-shifted": ("dpm2m", "logsnr-shifted", ("sgm",)),
}


def n_needed(steps: Sequence[int], values: Sequence[float], threshold: float) -> float | None:
    """The N at which ``values`` (against ``steps``) first falls to ``threshold``: between the
    two swept N around the crossing, log value is interpolated linearly in log N (errors fall
    like powers of N), so N is not quantized to the swept values; None if it never falls."""
    prev: tuple[float, float] | None = None
    for n, v in zip(steps, values, strict=True):
        if not math.isfinite(v):
            prev = None
            continue
        if v <= threshold:
            if prev is None:
                return float(n)
            (n0, v0), n1 = prev, float(n)
            if v > 0 and threshold > 0:
                v0, v, threshold = math.log(v0), math.log(v), math.log(threshold)
            frac = (v0 - threshold) / (v0 - v) if v0 != v else 1.0
            return float(math.exp(math.log(n0) + frac * (math.log(n1) - math.log(n0))))
        prev = (float(n), float(v))
    return None


def _levels(size: int) -> int:
    if size % COARSEST or size < 2 * COARSEST or (size // COARSEST) & (size // COARSEST - 1):
        raise WSGMError(
            f"phi4-scaling sizes must be 8 x a power of two, at least 16 (coarsest 8x8 for "
            f"every WSGM), got {size}"
        )
    return int(math.log2(size // COARSEST))


def _sweep_file(d: Path, setting: str) -> Path:
    return d / "sweeps" / (setting.replace("/", "-") + ".json")


def phi4_scaling(
    out_dir: str | os.PathLike[str],
    sizes: Sequence[int],
    preset: Preset,
    *,
    repeats: int = 3,
    factor: float = 2.0,
    progress: bool = True,
    cpu: bool = False,
) -> dict[str, Any]:
    """Run (or resume) the study into ``out_dir``; returns the ``scaling.json`` dict."""
    sizes = sorted({int(s) for s in sizes})
    levels = {L: _levels(L) for L in sizes}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = (
        torch.device("cpu")
        if use_cpu(cpu)
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    result: dict[str, Any] = {"sizes": sizes, "metrics": {}, "train_seconds": {"sgm": {},
                              "wsgm": {}}, "settings": list(SETTINGS), "repeats": repeats,
                              "factor": factor, "preset": preset.to_dict()}  # fmt: skip
    metrics = result["metrics"]
    for name in FIELD_METRICS:
        metrics[name] = {"noise_floor": {}, **{k: {} for k in (
            "sgm", "wsgm", "interval_sgm", "interval_wsgm")}}  # fmt: skip
    metrics["spectrum"].update({"exact_sgm": {}, "exact_wsgm": {}})
    for L in sizes:
        p = preset.replace(size=L)
        d = out / f"L{L}"
        sets = make_datasets(d, p, progress=progress)
        for kind in ("sgm", "wsgm"):
            run = p.run_config(kind, str(sets.train_path), cpu=cpu, progress=progress)
            if kind == "wsgm":
                run.model.levels = levels[L]
            seconds = train_run(run, d / "runs" / kind)  # 0 when reused
            state = d / "runs" / kind / "train_seconds.json"
            total = float(read_json(state)["seconds"]) if state.exists() else 0.0
            if seconds > 0:  # a resumed training adds its part
                total += seconds
                write_json_atomic(state, {"seconds": total})
            result["train_seconds"][kind][str(L)] = total
        models = {k: load_trained(d / "runs" / k, device=device) for k in ("sgm", "wsgm")}
        ref = sets.reference.fields[: 2 * p.n_samples]
        suite = FieldSuite(ref, sample_size=p.n_samples, metrics=FIELD_METRICS,
                           generator=np.random.default_rng(p.seed))  # fmt: skip
        spec_twin = data_spectrum(sets.train.fields[:2048])
        for setting, (sampler, grid, kinds) in SETTINGS.items():
            f = _sweep_file(d, setting)
            if f.exists():
                data = read_json(f)
            else:
                spec = p.spec.replace(sampler=sampler, grid=grid)
                chosen = {k: models[k] for k in kinds}
                results = sweep(chosen, suite, steps=p.steps, spec=spec, progress=progress,
                                repeats=repeats)  # fmt: skip
                data = sweep_dict(results, factor=factor, settings={"size": L, "setting": setting})
                f.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(f, data)
            for name in FIELD_METRICS:
                m = metrics[name]
                for kind, md in data["models"].items():
                    floor = float(md["noise_floor"][name])
                    m["noise_floor"][str(L)] = floor
                    thr = factor * floor
                    vals = md["metrics"][name]
                    se = md.get("metrics_se", {}).get(name, [0.0] * len(vals))
                    m[kind].setdefault(setting, {})[str(L)] = n_needed(md["steps"], vals, thr)
                    lo = n_needed(md["steps"], [v - s for v, s in zip(vals, se, strict=True)], thr)
                    hi = n_needed(md["steps"], [v + s for v, s in zip(vals, se, strict=True)], thr)
                    m[f"interval_{kind}"].setdefault(setting, {})[str(L)] = [lo, hi]
            exact = twin_spectrum_errors_exact(
                spec_twin, p.steps, sampler=sampler, grid=grid, levels=levels[L],
                wavelet=models["wsgm"].config.wavelet,
            )  # fmt: skip
            floor = metrics["spectrum"]["noise_floor"][str(L)]
            for kind in ("sgm", "wsgm"):
                metrics["spectrum"][f"exact_{kind}"].setdefault(setting, {})[str(L)] = n_needed(
                    exact[kind][0], exact[kind][1], factor * floor
                )
        write_json_atomic(out / "scaling.json", result)  # partial results after every L
    _plot(result, out / "steps_vs_size.png")
    (out / "report.md").write_text(report_text(result))
    return result


def _plot(result: dict[str, Any], path: Path) -> None:
    from .plots import _plt, _save

    plt = _plt()
    fig, axes = plt.subplots(1, len(SETTINGS), figsize=(5 * len(SETTINGS), 4), squeeze=False)
    spec = result["metrics"]["spectrum"]
    for ax, setting in zip(axes[0], SETTINGS, strict=True):
        for key, style, color, label in (
            ("sgm", "o-", "C0", "SGM, trained"), ("wsgm", "s-", "C1", "WSGM, trained"),
            ("exact_sgm", "o--", "C0", "SGM, exact scores (twin)"),
            ("exact_wsgm", "s--", "C1", "WSGM, exact scores (twin)"),
        ):  # fmt: skip
            curve = spec.get(key, {}).get(setting)
            if not curve:
                continue
            xs = [int(L) for L, n in curve.items() if n is not None]
            ys = [curve[str(L)] for L in xs]
            if xs:
                ax.plot(xs, ys, style, color=color, label=label, mfc="none" if "--" in style
                        else color)  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="L", ylabel="N needed (2x floor)",
               title=f"spectrum error, {setting}")  # fmt: skip
        ax.set_xticks(result["sizes"], [str(L) for L in result["sizes"]])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def report_text(result: dict[str, Any]) -> str:
    """The report: N_needed against L per metric, setting and model, with the exact lines."""
    sizes = [str(L) for L in result["sizes"]]
    lines = [
        "# Learned scaling on critical φ⁴: steps needed against L",
        "",
        f"N_needed = where the error crosses {result['factor']:g}x the noise floor "
        f"(log-linear between swept N; [interval] from mean ∓ SE over {result['repeats']} "
        "sample draws). Exact: the data's Gaussian twin with exact scores, closed form.",
        "",
        "![N needed vs L](steps_vs_size.png)",
        "",
        "| metric | setting | model | " + " | ".join(f"L={L}" for L in sizes) + " |",
        "|---|---|---|" + "---:|" * len(sizes),
    ]

    def cell(v: Any, iv: Any = None) -> str:
        if v is None:
            return "not reached"
        text = f"{v:.3g}"
        if iv and None not in iv:
            text += f" [{min(iv):.3g}, {max(iv):.3g}]"
        return text

    for name, m in result["metrics"].items():
        for setting in SETTINGS:
            for kind in ("sgm", "wsgm", "exact_sgm", "exact_wsgm"):
                curve = m.get(kind, {}).get(setting)
                if not curve:
                    continue
                ivs = m.get(f"interval_{kind}", {}).get(setting, {})
                row = " | ".join(cell(curve.get(L), ivs.get(L)) for L in sizes)
                lines.append(f"| {name} | {setting} | {kind} | {row} |")
    lines += ["", "Training seconds per model: " + json.dumps(result["train_seconds"])]
    return "\n".join(lines) + "\n"
