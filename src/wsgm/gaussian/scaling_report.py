"""The ``settings`` part of ``wsgm theory``: N_needed against L for every normalization ×
measure × sampler/grid, as JSON entries, printed tables and log-log plots
(docs/design.md §3.7–§3.8; computed by :func:`wsgm.gaussian.report.compute`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fileio import atomic_write
from .theory import fit_exponent

__all__ = ["MEASURE_LABELS", "NORMALIZATION_LABELS", "settings_entries", "format_settings"]

MEASURE_LABELS = {
    "kl": "KL per pixel (nats)",
    "spectrum": "spectrum error (RMS over shells of log P_gen/P)",
    "worst_shell": "worst shell |log P_gen/P|",
}
NORMALIZATION_LABELS = {
    "lambda-max": "SGM covariance scaled to lambda_max = 1 (the condition-number argument)",
    "pixel": "SGM field scaled to unit pixel variance, mean(P) = 1 (what wsgm train does)",
}
NOTES = {
    "normalization": "the KL table (sgm, wsgm, exponent) uses lambda-max: the SGM sees its "
    "covariance scaled to lambda_max = 1; each settings entry names its own normalization "
    "(lambda-max, or pixel: the field at unit pixel variance, mean(P) = 1, what wsgm train "
    "does). The WSGM normalizes each problem by its std: its numbers are the same under both",
    "n_needed": "the smallest N from which on the measure stays <= epsilon: every N <= scan "
    "is checked, above it the crossing of a decreasing measure is found by secant/bisection; "
    "null: the N -> infinity limit (settings[i].limit) is above epsilon, or N > n_max",
    "spectrum": "spectrum error of docs/design.md §7.4 from the exact expected spectrum: RMS "
    "over the radial shells round(|k|) (k = 0 excluded) of log(P_generated/P); worst_shell: "
    "the largest |log ratio| over the shells",
    "logsnr-shifted": "log-SNR shifted by 2 log(ref_size/L); the WSGM shifts each problem's "
    "grid by that problem's own size",
    "exponent": "least-squares slope of log N against log L over fit_sizes (the sizes where N "
    "is not null)",
}


def _fit(sizes: list[int], needed: dict[str, int | None]) -> tuple[float | None, list[int]]:
    pts = [(L, needed[str(L)]) for L in sizes if needed[str(L)] is not None]
    fit_sizes = [L for L, _ in pts]
    if len(pts) < 2:
        return None, fit_sizes
    return fit_exponent(fit_sizes, [float(n) for _, n in pts if n is not None]), fit_sizes


def settings_entries(
    sizes: list[int],
    norms: list[str],
    measures: tuple[str, ...],
    pairs: list[tuple[str, str]],
    eps: dict[str, float],
    found: dict[tuple[str, ...], dict[int, int | None]],
    limits: dict[tuple[str, ...], dict[int, float]],
) -> list[dict[str, Any]]:
    """One JSON entry per normalization × sampler/grid × measure (N null: not reached)."""
    entries = []
    for nz in norms:
        for smp, grd in pairs:
            for m in measures:
                entry: dict[str, Any] = {
                    "normalize": nz,
                    "sampler": smp,
                    "grid": grd,
                    "measure": m,
                    "epsilon": eps[m],
                }
                exps, fits, lims = {}, {}, {}
                for model, key in (("sgm", f"sgm:{nz}"), ("wsgm", "wsgm")):
                    rec = found[(key, smp, grd, m)]
                    entry[model] = {str(L): rec[L] for L in sizes}
                    exps[model], fits[model] = _fit(sizes, entry[model])
                    lims[model] = {str(L): limits[(key, smp, grd, m)][L] for L in sizes}
                entry.update(exponent=exps, fit_sizes=fits, limit=lims)
                entries.append(entry)
    return entries


def _cell(n: int | None, limit: float, eps: float, n_max: int) -> str:
    if n is not None:
        return str(n)
    return "never" if limit > eps else f">{n_max}"


def format_settings(res: dict[str, Any]) -> str:
    """The N_needed tables, one per normalization × measure."""
    sizes, n_max = res["sizes"], res["n_max"]
    lines = [
        "",
        "Steps needed N (per scale for WSGM) for every setting, with exact scores: the smallest N",
        f"from which on the measure stays <= epsilon (every N <= {res['scan']} is checked; above "
        "it the",
        "measure is taken to decrease and its crossing is searched); 'never': its N -> infinity",
        f"limit is above epsilon; '>{n_max}': not reached by --n-max. Exponent: slope of log N",
        "against log L ('*': fitted over the sizes where N exists). WSGM: every problem",
        "normalized by its own std, so its rows are the same under both normalizations;",
        "logsnr-shifted shifts each WSGM problem by its own grid size "
        f"(L_ref = {res['ref_size']}).",
    ]
    for nz in res["settings_normalizations"]:
        for m in res["measures"]:
            eps = res["epsilons"][m]
            lines += [
                "",
                f"normalization {nz}: {NORMALIZATION_LABELS[nz]}",
                f"  measure {m}: {MEASURE_LABELS[m]} <= {eps}",
                "sampler/grid".ljust(24)
                + "model".ljust(6)
                + "".join(f"L={L}".rjust(9) for L in sizes)
                + "exponent".rjust(10),
            ]
            for e in res["settings"]:
                if e["normalize"] != nz or e["measure"] != m:
                    continue
                for model in ("sgm", "wsgm"):
                    name = f"{e['sampler']}/{e['grid']}" if model == "sgm" else ""
                    row = name.ljust(24) + model.upper().ljust(6)
                    for L in sizes:
                        cell = _cell(e[model][str(L)], e["limit"][model][str(L)], eps, n_max)
                        row += cell.rjust(9)
                    ex = e["exponent"][model]
                    star = "*" if len(e["fit_sizes"][model]) < len(sizes) else ""
                    row += ("n/a" if ex is None else f"{ex:.3f}{star}").rjust(10)
                    lines.append(row)
    return "\n".join(lines)


def _save(fig: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


def plot_settings(res: dict[str, Any], out: Path) -> list[Path]:
    """theory_needed_<measure>.png: N_needed vs L, log-log, one panel per normalization, one
    colour per sampler/grid, SGM solid and WSGM dashed; unreached N are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes, norms = res["sizes"], res["settings_normalizations"]
    pairs = list(dict.fromkeys((e["sampler"], e["grid"]) for e in res["settings"]))
    colours = {p: f"C{i % 10}" for i, p in enumerate(pairs)}
    paths = []
    for m in res["measures"]:
        fig, axes = plt.subplots(
            1, len(norms), figsize=(6.8 * len(norms), 7.0), sharey=True, squeeze=False
        )
        for ax, nz in zip(axes[0], norms, strict=True):
            for e in res["settings"]:
                if e["normalize"] != nz or e["measure"] != m:
                    continue
                pair = (e["sampler"], e["grid"])
                for model, style, marker in (("sgm", "-", "o"), ("wsgm", "--", "s")):
                    pts = [(L, e[model][str(L)]) for L in sizes if e[model][str(L)] is not None]
                    missing = [str(L) for L in sizes if e[model][str(L)] is None]
                    ex = e["exponent"][model]
                    label = f"{model.upper()} {pair[0]}/{pair[1]}"
                    label += "" if ex is None else f", slope {ex + 0.0:.2f}"
                    label += f"; none at L={','.join(missing)}" if missing else ""
                    ax.loglog(
                        [p[0] for p in pts],
                        [p[1] for p in pts],
                        ls=style,
                        marker=marker,
                        ms=4,
                        color=colours[pair],
                        label=label,
                    )
            ax.set_title(f"normalization {nz}", fontsize=10)
            ax.set_xlabel("image size L")
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.minorticks_off()
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
        axes[0][0].set_ylabel(f"N needed for {m} <= {res['epsilons'][m]}")
        fig.suptitle(
            f"Steps needed, exact scores: {MEASURE_LABELS[m]} <= {res['epsilons'][m]} "
            "(SGM solid, WSGM dashed)",
            fontsize=10,
        )
        fig.tight_layout()
        path = out / f"theory_needed_{m}.png"
        _save(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths
