"""The numbers, tables and plots of ``wsgm theory``: steps needed vs image size, exactly.

The KL table: KL per pixel vs number of Euler–Maruyama steps N (``--sampler``, ``--grid``)
for SGM (covariance at λ_max = 1) and WSGM with exact scores on critical Gaussian fields
(η = 2, ξ = 0 by default), the N needed to reach a KL of ``epsilon`` nats per pixel for each
size L, and the fitted exponent of N_needed vs L (:mod:`wsgm.gaussian.theory`). Then the
settings: N_needed vs L for every normalization × measure × sampler/grid
(:mod:`wsgm.gaussian.scaling`, docs/design.md §3.7–§3.8). :func:`compute` gives them as a
JSON-ready dict, :func:`format_report` as the printed tables, :func:`write_report` writes
``theory.json`` and the PNG plots.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WSGMError
from ..fileio import atomic_write
from ..grids import DEFAULT_REF_SIZE
from ..wavelets import orthogonal_filters
from . import scaling, scaling_report, theory
from .moments import check_sampler
from .spectrum_exact import ShellIndex

__all__ = [
    "DEFAULT_SIZES",
    "DEFAULT_STEPS",
    "DEFAULT_EPSILONS",
    "DEFAULT_N_MAX",
    "compute",
    "format_report",
    "plot",
    "write_report",
]

DEFAULT_SIZES = (16, 32, 64, 128, 256, 512)
DEFAULT_STEPS = tuple(2**k for k in range(1, 19))
DEFAULT_EPSILONS = {"kl": 0.05, "spectrum": 0.05, "worst_shell": 0.1}
DEFAULT_N_MAX = 1 << 20


def _check_inputs(
    *,
    sizes: list[int],
    T: float,
    epsilons: dict[str, float],
    normalize: str,
    ref_size: int,
    n_max: int,
) -> list[str]:
    if not (isinstance(T, int | float) and math.isfinite(T) and T > 0):
        raise WSGMError(f"horizon T must be a positive finite number, got T={T!r}")
    if not sizes:
        raise WSGMError("give at least one image size L")
    for name, eps in epsilons.items():
        if not (isinstance(eps, int | float) and math.isfinite(eps) and eps > 0):
            raise WSGMError(f"{name} must be positive, got {eps!r}")
    if normalize not in (*theory.NORMALIZATIONS, "both"):
        allowed = ", ".join((*theory.NORMALIZATIONS, "both"))
        raise WSGMError(f"unknown normalization {normalize!r}; allowed: {allowed}")
    if isinstance(ref_size, bool) or not isinstance(ref_size, int) or ref_size < 1:
        raise WSGMError(f"the reference size L_ref must be a positive integer, got {ref_size!r}")
    if isinstance(n_max, bool) or not isinstance(n_max, int) or n_max < 1:
        raise WSGMError(f"the largest N tried must be a positive integer, got {n_max!r}")
    return list(theory.NORMALIZATIONS) if normalize == "both" else [normalize]


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
    sampler: str = "euler",
    normalize: str = "both",
    settings: str | list[str] | tuple[tuple[str, str], ...] = scaling.DEFAULT_SETTINGS,
    epsilon_spectrum: float = DEFAULT_EPSILONS["spectrum"],
    epsilon_worst: float = DEFAULT_EPSILONS["worst_shell"],
    ref_size: int = DEFAULT_REF_SIZE,
    n_max: int = DEFAULT_N_MAX,
    shell_index: ShellIndex | None = None,
) -> dict[str, Any]:
    """All numbers of the theory report as a JSON-ready dict (see ``wsgm theory --help``).

    The KL table (keys ``sgm``, ``wsgm``, ``exponent``) is ``sampler`` on ``grid`` with the
    SGM's covariance at λ_max = 1; ``settings`` holds N_needed for every normalization ×
    measure × sampler/grid (docs/design.md §3.7–§3.8). The spectrum measures need the
    shells of :mod:`wsgm.metrics`, ``shell_index`` = :func:`wsgm.metrics.spectrum.radial_shells`
    (this layer cannot import it); without it only the KL is computed.
    """
    theory.validate(eta, xi, steps)
    orthogonal_filters(wavelet)
    epsilons = {"epsilon": epsilon, "epsilon_spectrum": epsilon_spectrum}
    epsilons["epsilon_worst"] = epsilon_worst
    norms = _check_inputs(
        sizes=sizes, T=T, epsilons=epsilons, normalize=normalize, ref_size=ref_size, n_max=n_max
    )
    for L in sizes:
        theory.default_levels(L, coarsest)
    check_sampler(sampler)
    scaling.check_grid_name(grid)
    pairs = scaling.parse_settings(settings)
    for name in {grid, *(g for _, g in pairs)}:  # grid errors now, not mid-run
        spec = scaling.GridSpec(name, T=T, ref_size=ref_size)
        for L in sizes:
            for size in {L >> j for j in range(theory.default_levels(L, coarsest) + 1)}:
                spec.times(2, size)
    measures = scaling.MEASURES if shell_index is not None else ("kl",)
    eps = {"kl": epsilon, "spectrum": epsilon_spectrum, "worst_shell": epsilon_worst}
    t0 = time.perf_counter()
    label = "euler_maruyama" if sampler == "euler" else sampler
    out: dict[str, Any] = {
        "eta": eta,
        "xi": xi,
        "epsilon": epsilon,
        "wavelet": wavelet,
        "grid": grid,
        "T": T,
        "coarsest": coarsest,
        "sampler": f"{label} (exact scores, final Tweedie step)",
        "normalization": "lambda-max",
        "sizes": list(sizes),
        "steps": list(steps),
        "sgm": {},
        "wsgm": {},
    }
    found: dict[tuple[str, ...], dict[int, int | None]] = {}
    limits: dict[tuple[str, ...], dict[int, float]] = {}

    def needed(book: scaling.CaseBook, model: str, smp: str, grd: str, measure: str) -> int | None:
        rec = found.setdefault((model, smp, grd, measure), {})
        if book.size not in rec:
            ev = book.evaluator(model, smp, grd)
            rec[book.size] = ev.steps_needed(
                measure,
                eps[measure],
                n_max=n_max,
                guess=scaling.next_guess(list(rec.values()), n_max),
            )
            limits.setdefault((model, smp, grd, measure), {})[book.size] = ev.limit()[measure]
        return rec[book.size]

    for L in sizes:
        levels = theory.default_levels(L, coarsest)
        book = scaling.CaseBook(
            L,
            levels=levels,
            eta=eta,
            xi=xi,
            wavelet=wavelet,
            T=T,
            ref_size=ref_size,
            shell_index=shell_index,
        )
        for model, key in (("sgm", "sgm:lambda-max"), ("wsgm", "wsgm")):
            ev = book.evaluator(key, sampler, grid)
            n = needed(book, key, sampler, grid, "kl")
            out[model][str(L)] = {
                "kappa": book.case(key).kappa,
                **({"levels": levels} if model == "wsgm" else {}),
                "kl_per_pixel": [ev(n_steps)["kl"] for n_steps in steps],
                "n_needed": -1 if n is None else n,
            }
        for smp, grd in pairs:
            for key in ("wsgm", *(f"sgm:{nz}" for nz in norms)):
                for m in measures:
                    needed(book, key, smp, grd, m)
    out["exponent"] = {}
    for model in ("sgm", "wsgm"):
        needed_n = [out[model][str(L)]["n_needed"] for L in sizes]
        ok = len(sizes) >= 2 and all(n > 0 for n in needed_n)
        out["exponent"][model] = theory.fit_exponent(sizes, needed_n) if ok else None
    out.update(
        settings_normalizations=norms,
        measures=list(measures),
        epsilons={m: eps[m] for m in measures},
        ref_size=ref_size,
        n_max=n_max,
        scan=scaling.SCAN,
        notes=scaling_report.NOTES,
        settings=scaling_report.settings_entries(sizes, norms, measures, pairs, eps, found, limits),
    )
    out["seconds"] = time.perf_counter() - t0
    return out


def format_report(res: dict[str, Any]) -> str:
    """The tables ``wsgm theory`` prints."""
    sizes = res["sizes"]
    sampler = res["sampler"].split(" ")[0]
    sampler = "Euler–Maruyama" if sampler == "euler_maruyama" else sampler
    lines = [
        f"Exact KL per pixel with exact scores, {sampler} on a {res['grid']} grid, "
        f"T={res['T']}, spectrum (ξ^η+|ω|^η)^-1 with η={res['eta']}, ξ={res['xi']}; "
        f"WSGM: {res['wavelet']} wavelet, coarsest {res['coarsest']}x{res['coarsest']}",
        "Normalization lambda-max: the SGM sees the covariance scaled to λ_max = 1; the WSGM "
        "normalizes each problem by its std",
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
    ]
    if res.get("settings"):
        lines.append(scaling_report.format_settings(res))
    lines.append(f"({res['seconds']:.1f} s)")
    return "\n".join(lines)


def plot(res: dict[str, Any], out: Path) -> list[Path]:
    """theory_kl.png (KL vs N, SGM | WSGM), theory_steps.png (N_needed vs L) and
    theory_needed_<measure>.png (every setting, :func:`scaling_report.plot_settings`)."""
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
    if res.get("settings"):
        paths += scaling_report.plot_settings(res, out)
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
