"""PNG figures of a sweep: error vs N, error vs sampling time, sample grids per N.

Every figure draws SGM and WSGM on the same axes, with the noise floor as a dashed line and
the band up to ``factor`` x the floor shaded (the headline's target). Writes are atomic.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WSGMError
from ..fileio import atomic_write

__all__ = [
    "plot_error_vs_steps",
    "plot_error_vs_time",
    "plot_error_vs_cost",
    "plot_sample_grid",
    "plot_spectra",
    "COLORS",
]

COLORS = {"sgm": "tab:red", "wsgm": "tab:blue", "wsgm-cost": "tab:green"}
_LABELS = {"sgm": "SGM", "wsgm": "WSGM (N per scale)", "wsgm-cost": "WSGM (cost allocation)"}
Curves = Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    plt = _plt()
    try:
        atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    finally:
        plt.close(fig)
    return Path(path)


def _metric_names(models: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for m in models.values():
        names += [k for k in m["metrics"] if k not in names]
    return names


def _floor(ax: Any, floor: float, factor: float, first: bool) -> None:
    ax.axhline(
        floor, color="0.3", ls="--", lw=1, label="noise floor (data vs data)" if first else None
    )
    ax.axhspan(
        floor,
        factor * floor,
        color="0.85",
        alpha=0.6,
        label=f"within {factor:g}x floor" if first else None,
    )


def _panels(n: int) -> tuple[Any, Any]:
    plt = _plt()
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes


def _positive(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.where(v > 0, v, np.nan)


def _error_panels(
    data: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    title: str,
    xlabel: str,
    xs: Callable[[Mapping[str, Any]], np.ndarray],
    log_base: float,
    annotate_steps: bool = False,
    theory: Curves | None = None,
) -> Path:
    """One panel per metric: each model's error against ``xs(model)`` (log-log), the noise
    floor and its ``factor`` band; ``theory`` adds exact-score lines without markers."""
    models = data["models"]
    factor = float(data.get("headline", {}).get("factor", 2.0))
    names = _metric_names(models)
    fig, axes = _panels(len(names))
    for i, name in enumerate(names):
        ax = axes.flat[i]
        floors = []
        for label, m in models.items():
            if name not in m["metrics"]:
                continue
            x = xs(m)
            ax.plot(
                x,
                _positive(m["metrics"][name]),
                "o-",
                color=COLORS.get(label),
                label=_LABELS.get(label, label),
            )
            if annotate_steps:
                for xi, y, n in zip(x, m["metrics"][name], m["steps"], strict=True):
                    if y > 0:
                        ax.annotate(
                            str(n), (xi, y), fontsize=6, xytext=(2, 2), textcoords="offset points"
                        )
            floors.append(float(m["noise_floor"][name]))
        for label, (tx, ty) in (theory or {}).get(name, {}).items():
            ax.plot(
                tx,
                _positive(ty),
                "-",
                lw=1.5,
                alpha=0.7,
                color=COLORS.get(label),
                label=f"{_LABELS.get(label, label)}, exact scores",
            )
        if floors:
            _floor(ax, float(np.mean(floors)), factor, True)
        ax.set_xscale("log", base=log_base)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_error_vs_steps(
    data: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    title: str = "",
    theory: Curves | None = None,
) -> Path:
    """One panel per metric: error against N (log-log) for every model; ``theory[metric]
    [label] = (steps, values)`` adds exact-score curves (drawn as lines without markers)."""
    return _error_panels(
        data,
        path,
        title=title,
        xlabel="sampler steps N (per scale for WSGM)",
        xs=lambda m: np.asarray(m["steps"]),
        log_base=2,
        theory=theory,
    )


def plot_error_vs_time(
    data: Mapping[str, Any], path: str | os.PathLike[str], *, title: str = ""
) -> Path:
    """One panel per metric: error against measured sampling seconds per sample."""
    return _error_panels(
        data,
        path,
        title=title,
        xlabel="sampling time per sample (ms, labels: N)",
        xs=lambda m: np.asarray(m["seconds_per_sample"], dtype=float) * 1e3,
        log_base=10,
        annotate_steps=True,
    )


def plot_error_vs_cost(
    data: Mapping[str, Any], path: str | os.PathLike[str], *, title: str = ""
) -> Path:
    """One panel per metric: error against the pixel-weighted network evaluations per
    sample (:func:`wsgm.sampling.allocation.scale_costs`; an SGM's N)."""

    def cost(m: Mapping[str, Any]) -> np.ndarray:
        if len(m.get("cost_per_sample", [])) != len(m["steps"]):  # a sweep from before costs
            raise WSGMError("this sweep has no cost_per_sample: run it again to plot its cost")
        return np.asarray(m["cost_per_sample"], dtype=float)

    return _error_panels(
        data,
        path,
        title=title,
        xlabel="full-resolution network evaluations per sample (labels: N)",
        xs=cost,
        log_base=2,
        annotate_steps=True,
    )


def _show(ax: Any, img: np.ndarray, lo: float, hi: float, cmap: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if img.shape[0] == 3:
        ax.imshow(np.clip((img.transpose(1, 2, 0) - lo) / max(hi - lo, 1e-12), 0, 1))
    else:
        ax.imshow(img[0], cmap=cmap, vmin=lo, vmax=hi)


def plot_sample_grid(
    rows: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike[str],
    *,
    title: str = "",
    per_row: int = 8,
    cmap: str = "viridis",
) -> Path:
    """One row of ``per_row`` fields per (label, fields (k, C, H, W)); one colour scale,
    set by the first row (the reference data, when given)."""
    plt = _plt()
    lo, hi = (float(v) for v in np.percentile(rows[0][1][:per_row], [0.5, 99.5]))
    fig, axes = plt.subplots(
        len(rows), per_row, figsize=(1.2 * per_row + 0.8, 1.25 * len(rows)), squeeze=False
    )
    for r, (label, x) in enumerate(rows):
        for c in range(per_row):
            ax = axes[r, c]
            if c < len(x):
                _show(ax, x[c], lo, hi, cmap)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    # The title gets a fixed 0.35 inch band above the first row, whatever the row count.
    top = 1.0 - 0.35 / fig.get_figheight() if title else 1.0
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, top))
    if title:
        fig.suptitle(title, fontsize=9, y=1.0 - 0.05 / fig.get_figheight(), va="top")
    return _save(fig, path)


def plot_spectra(
    data: Mapping[str, Any],
    reference: np.ndarray,
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> Path:
    """Radial power spectra (channel 0) of the reference and of each model's samples at
    every N (lighter = fewer steps), log-log, and their log ratio to the reference."""
    from ..metrics.spectrum import radial_power_spectrum

    plt = _plt()
    k, p_ref = radial_power_spectrum(np.asarray(reference)[:, 0])
    models = data["models"]
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 3.4 * len(models)), squeeze=False)
    cmaps = {"sgm": plt.cm.Reds, "wsgm": plt.cm.Blues}
    for r, (label, m) in enumerate(models.items()):
        spectra = m.get("radial_spectrum") or []
        cmap = cmaps.get(label, plt.cm.Greys)
        ax, axr = axes[r]
        ax.loglog(k, p_ref, "k-", lw=2, label="reference")
        for i, (n, p) in enumerate(zip(m["steps"], spectra, strict=False)):
            color = cmap(0.3 + 0.7 * (i + 1) / max(len(spectra), 1))
            p = np.asarray(p)
            ax.loglog(k, p, "-", color=color, lw=1, label=f"N={n}")
            axr.semilogx(
                k, np.log(np.maximum(p, 1e-300) / p_ref), "-", color=color, lw=1, label=f"N={n}"
            )
        axr.axhline(0, color="k", lw=1)
        ax.set_title(f"{label.upper()}: radial power spectrum")
        axr.set_title(f"{label.upper()}: log(P_samples / P_reference)")
        axr.set_ylim(-3, 3)
        for a in (ax, axr):
            a.set_xlabel("|k| (shell)")
            a.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
