"""The self-contained Markdown report of a sweep: headline, tables, figures, how it was made.

:func:`write_report` turns a ``sweep.json`` dict (:mod:`wsgm.experiments.results`) and the
figure files next to it into ``DIR/report.md`` (atomic write). Figures are linked by
relative path, so the folder can be moved or published as it is.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..fileio import atomic_write
from .matched_cost import AXES, matched_cost_table
from .results import headline_sentence, matched_sentence

__all__ = ["write_report", "headline_table", "sweep_table"]

_DESCRIPTIONS = {
    "spectrum": "RMS over radial frequency shells of log(P_samples / P_reference)",
    "histogram_w1": "Wasserstein-1 distance between the marginal (pixel value) distributions",
    "magnetization_w1": "Wasserstein-1 distance between the distributions of the field mean",
    "two_point": "RMS over shells r = 0 .. L/2 of (G_samples(r) - G_reference(r)) / "
    "G_reference(0), G(r) the two-point function in real space",
    "fourier_kl": "KL per pixel to the exact Gaussian law, from the samples' Fourier variances",
    "kid": "Kernel Inception Distance (FID Inception network)",
    "fid": "Fréchet Inception Distance (biased at small sample sizes)",
    "classifier_fd": "Fréchet distance in the features of a classifier trained on the data",
    "swd": "sliced Wasserstein distance of Laplacian-pyramid patches",
}


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def headline_table(data: Mapping[str, Any]) -> str:
    """Markdown: per metric, the noise floor and each model's smallest N within factor x."""
    models = data["models"]
    head = data.get("headline", {})
    factor = float(head.get("factor", 2.0))
    labels = list(models)
    heads = " | ".join(f"{lab.upper()}: N within {factor:g}x floor" for lab in labels)
    lines = [
        f"| metric | noise floor | {heads} |",
        "|---|---|" + "---|" * len(labels),
    ]
    for name, per in head.get("metrics", {}).items():
        floor = next(
            float(m["noise_floor"][name]) for m in models.values() if name in m["noise_floor"]
        )
        cells = []
        for lab in labels:
            n = per.get(lab)
            if floor <= 0:  # an unbiased estimator (KID): "within 2x of ~0" means nothing
                cells.append("n/a (floor <= 0)")
            else:
                cells.append(str(n) if n is not None else f"not within {max(models[lab]['steps'])}")
        lines.append(f"| {name} | {_fmt(floor)} | {' | '.join(cells)} |")
    return "\n".join(lines)


def sweep_table(data: Mapping[str, Any]) -> str:
    """Markdown: one row per N, error / floor of each model and metric, and sampling time."""
    models = data["models"]
    names: list[str] = []
    for m in models.values():
        names += [k for k in m["metrics"] if k not in names]
    steps = sorted({n for m in models.values() for n in m["steps"]})
    cols = [f"{lab.upper()} {k}" for k in names for lab in models]
    cols += [f"{lab.upper()} ms/sample" for lab in models]
    lines = ["| N | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for n in steps:
        cells = []
        for k in names:
            for m in models.values():
                if n in m["steps"] and k in m["metrics"]:
                    i = m["steps"].index(n)
                    v, f = m["metrics"][k][i], float(m["noise_floor"][k])
                    cells.append(f"{_fmt(v)} ({v / f:.1f}x)" if f > 0 else _fmt(v))
                else:
                    cells.append("")
        for m in models.values():
            cells.append(
                f"{1e3 * m['seconds_per_sample'][m['steps'].index(n)]:.3g}"
                if n in m["steps"]
                else ""
            )
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(
    out_dir: str | os.PathLike[str],
    data: Mapping[str, Any],
    *,
    title: str,
    intro: str,
    figures: Sequence[tuple[str, str]],
    command: str,
    settings: Mapping[str, Any],
    timings: Mapping[str, float],
    notes: Sequence[str] = (),
    headline_metric: str = "spectrum",
) -> Path:
    """Write ``out_dir/report.md``; ``figures`` are (file name in out_dir, caption)."""
    out = Path(out_dir)
    names: list[str] = []
    for m in data["models"].values():
        names += [k for k in m["metrics"] if k not in names]
    parts = [f"# {title}", "", intro, ""]
    if headline_metric in names:
        parts += [f"**Headline.** {headline_sentence(data, headline_metric)}.", ""]
    matched = [
        matched_sentence(data, k)
        for k in names
        if k in data.get("headline", {}).get("matched_error", {})
    ]
    if matched:
        parts += [
            "**At the error where the WSGM levels off** (its smallest N within 1.25x "
            "of its best error of the sweep; a briefly trained network's error, not the "
            "sampler's, limits it there):",
            "",
        ]
        parts += [f"- {line}" for line in matched] + [""]
    parts += [
        "## Steps needed",
        "",
        "Smallest number of sampler steps N (per scale for WSGM) whose error is within "
        f"{float(data.get('headline', {}).get('factor', 2.0)):g}x the noise floor, the same "
        "distance between two independent halves of the reference data at the same sample "
        "size.",
        "",
        headline_table(data),
        "",
        "## Error against N",
        "",
        "Each cell: error (error / noise floor). Times are wall-clock seconds of sampling "
        "per sample on this machine.",
        "",
        sweep_table(data),
        "",
    ]
    if "sgm" in data["models"] and "wsgm" in data["models"]:
        parts += [
            "## At equal sampling cost",
            "",
            "Each model's error interpolated log-log between its swept N at the same budget, "
            "for every swept budget inside both models' ranges (no extrapolation). "
            f"`cost`: {AXES['cost'][1]} (full-size evaluations, deterministic); `seconds`: "
            f"{AXES['seconds'][1]} as measured on this machine (noisy).",
            "",
        ]
        for axis in ("cost", "seconds"):
            parts += [f"### {axis}", "", *matched_cost_table(data["models"], names, axis=axis), ""]
    parts += [
        "## Figures",
        "",
    ]
    for file, caption in figures:
        parts += [f"![{caption}]({file})", "", f"*{caption}*", ""]
    parts += ["## Metrics", ""]
    parts += [f"- `{k}`: {_DESCRIPTIONS.get(k, k)}" for k in names]
    parts += ["", "## How this was made", "", "```", command, "```", ""]
    parts += [f"- {k}: {v}" for k, v in settings.items()]
    parts += [f"- time, {k}: {v:.0f} s" for k, v in timings.items()]
    parts += [
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}"
    ]
    if notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    text = "\n".join(parts) + "\n"
    path = out / "report.md"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path
