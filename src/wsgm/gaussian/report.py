"""The numbers, tables and plots of ``wsgm theory``: steps needed vs image size, exactly.

KL per pixel vs number of Euler–Maruyama steps N for SGM and WSGM with exact scores on
critical Gaussian fields (η = 2, ξ = 0 by default), the N needed to reach a KL of
``epsilon`` nats per pixel for each size L, and the fitted exponent of N_needed vs L
(:mod:`wsgm.gaussian.theory`). :func:`compute` gives them as a JSON-ready dict,
:func:`format_report` as the printed tables, :func:`write_report` writes ``theory.json`` and
the two PNG plots.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WSGMError
from ..fileio import atomic_write
from ..wavelets import orthogonal_filters
from . import theory

__all__ = ["DEFAULT_SIZES", "DEFAULT_STEPS", "compute", "format_report", "plot", "write_report"]

DEFAULT_SIZES = (16, 32, 64, 128, 256)
DEFAULT_STEPS = tuple(2**k for k in range(1, 19))


def compute(
    *,
    sizes: list[int],
    steps: list[int],
    eta: float,
    xi: float,
    epsilon: float,
    wavelet: str,
    coarsest: int,
    grid: str,
    T: float,
) -> dict[str, Any]:
    """All numbers of the theory report as a JSON-ready dict (see ``wsgm theory --help``)."""
    theory.validate(eta, xi, steps)
    orthogonal_filters(wavelet)
    for L in sizes:
        theory.default_levels(L, coarsest)
    if not (epsilon > 0):
        raise WSGMError(f"epsilon must be positive, got {epsilon!r}")
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "eta": eta,
        "xi": xi,
        "epsilon": epsilon,
        "wavelet": wavelet,
        "grid": grid,
        "T": T,
        "coarsest": coarsest,
        "sampler": "euler_maruyama (exact scores, final Tweedie step)",
        "sizes": list(sizes),
        "steps": list(steps),
        "sgm": {},
        "wsgm": {},
    }
    for L in sizes:
        levels = theory.default_levels(L, coarsest)

        def sgm(n: int, L: int = L) -> float:
            return theory.sgm_kl_per_pixel(L, n, eta=eta, xi=xi, grid=grid, T=T)

        def wsgm(n: int, L: int = L, levels: int = levels) -> float:
            return theory.wsgm_kl_per_pixel(
                L, n, levels=levels, eta=eta, xi=xi, wavelet=wavelet, grid=grid, T=T
            )

        out["sgm"][str(L)] = {
            "kappa": theory.sgm_condition_number(L, eta=eta, xi=xi),
            "kl_per_pixel": [sgm(n) for n in steps],
            "n_needed": theory.steps_needed(sgm, epsilon),
        }
        out["wsgm"][str(L)] = {
            "kappa": theory.wsgm_condition_number(
                L, levels=levels, eta=eta, xi=xi, wavelet=wavelet
            ),
            "levels": levels,
            "kl_per_pixel": [wsgm(n) for n in steps],
            "n_needed": theory.steps_needed(wsgm, epsilon),
        }
    out["exponent"] = {}
    for model in ("sgm", "wsgm"):
        needed = [out[model][str(L)]["n_needed"] for L in sizes]
        ok = len(sizes) >= 2 and all(n > 0 for n in needed)
        out["exponent"][model] = theory.fit_exponent(sizes, needed) if ok else None
    out["seconds"] = time.perf_counter() - t0
    return out


def format_report(res: dict[str, Any]) -> str:
    """The tables ``wsgm theory`` prints."""
    sizes = res["sizes"]
    lines = [
        f"Exact KL per pixel with exact scores, Euler–Maruyama on a {res['grid']} grid, "
        f"T={res['T']}, spectrum (ξ^η+|ω|^η)^-1 with η={res['eta']}, ξ={res['xi']}; "
        f"WSGM: {res['wavelet']} wavelet, coarsest {res['coarsest']}x{res['coarsest']}",
        "",
    ]
    head = "N".rjust(8) + "".join(f"SGM L={L}".rjust(13) for L in sizes)
    head += "".join(f"WSGM L={L}".rjust(13) for L in sizes)
    lines.append(head)
    for i, n in enumerate(res["steps"]):
        row = str(n).rjust(8)
        for model in ("sgm", "wsgm"):
            row += "".join(f"{res[model][str(L)]['kl_per_pixel'][i]:13.4g}" for L in sizes)
        lines.append(row)
    lines += [
        "",
        f"Steps needed for KL <= {res['epsilon']} nats/pixel:",
        "L".rjust(6)
        + "kappa SGM".rjust(12)
        + "kappa WSGM".rjust(12)
        + "N SGM".rjust(10)
        + "N WSGM".rjust(9)
        + "ratio".rjust(9),
    ]
    for L in sizes:
        s, w = res["sgm"][str(L)], res["wsgm"][str(L)]
        ratio = (
            s["n_needed"] / w["n_needed"]
            if w["n_needed"] > 0 and s["n_needed"] > 0
            else float("nan")
        )
        lines.append(
            f"{L:6d}{s['kappa']:12.4g}{w['kappa']:12.4g}{s['n_needed']:10d}"
            f"{w['n_needed']:9d}{ratio:9.1f}"
        )
    ex = res["exponent"]

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    lines += [
        "",
        f"Fitted exponent of N_needed vs L: SGM {fmt(ex['sgm'])}, WSGM {fmt(ex['wsgm'])}",
        f"({res['seconds']:.1f} s)",
    ]
    return "\n".join(lines)


def plot(res: dict[str, Any], out: Path) -> list[Path]:
    """theory_kl.png (KL vs N, SGM | WSGM) and theory_steps.png (N_needed vs L)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes, steps = res["sizes"], np.asarray(res["steps"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, model, title in zip(axes, ("sgm", "wsgm"), ("SGM", "WSGM"), strict=True):
        for L in sizes:
            ax.loglog(steps, res[model][str(L)]["kl_per_pixel"], marker=".", label=f"L={L}")
        ax.axhline(res["epsilon"], color="k", ls="--", lw=0.8)
        ax.set_title(f"{title}: exact KL per pixel")
        ax.set_xlabel("steps N (per scale for WSGM)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("KL / pixel (nats)")
    axes[1].legend()
    fig.tight_layout()
    paths = [out / "theory_kl.png", out / "theory_steps.png"]
    atomic_write(paths[0], lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for model, title in (("sgm", "SGM"), ("wsgm", "WSGM")):
        needed = [res[model][str(L)]["n_needed"] for L in sizes]
        ex = res["exponent"][model]
        label = f"{title} (slope {ex:.2f})" if ex is not None else title
        ax.loglog(sizes, needed, marker="o", label=label)
    ax.set_xlabel("image size L")
    ax.set_ylabel(f"steps needed for KL/pixel <= {res['epsilon']}")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(paths[1], lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return paths


def write_report(res: dict[str, Any], out: Path) -> list[Path]:
    """Write ``theory.json`` then the plots of :func:`plot` into ``out`` (created if needed).

    Returns the plot paths followed by the JSON path, the order ``wsgm theory`` reports them.
    """
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(res, indent=1)
    json_path = out / "theory.json"
    atomic_write(json_path, lambda tmp: tmp.write_text(text))
    return [*plot(res, out), json_path]
