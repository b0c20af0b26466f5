"""What exact scores give for the physicist's observables at a sampler setting: the sampler's
own bias of ⟨φ²⟩, ⟨|m|⟩, U₄ and χ, against which a trained model's observables are read.

For every setting (sampler, grid, N or steps per scale, t_min) this prints

* the Gaussian twin of the data (same two-point function) sampled by the WSGM with exact
  scores, in closed form (:func:`wsgm.experiments.gaussian_twin.twin_scale_energies`): the
  generated over true energy in total (= ⟨φ²⟩ ratio) and per scale, and the t_min at which
  its ⟨φ²⟩ comes out exact (:func:`~wsgm.experiments.gaussian_twin.twin_unbiased_t_min`);
* the mixture twin ½ N(±μ𝟙, C) (docs/design.md §3.9) sampled by the WSGM with exact scores
  through the real samplers, ``--n`` fields, against ``--n`` exact draws of the same law:
  the shift of each observable the sampler causes, with its standard error (blocked
  jackknife on each side, 64 blocks).

    python benchmarks/observables_exact.py --data runs/phi4_scaling/L32/data/train.npz \\
        --settings dpm2m:logsnr:16 dpm2m:logsnr:16:0.009 dpm2m:logsnr:32 \\
        euler:quadratic:128 --threads 2

A setting is ``sampler:grid:N[:t_min][@coarse_sampler:coarse_grid]``; N may be per scale,
``64/16/16`` (coarsest first, then scale 1 .. J, as ``--steps-per-scale``); ``@euler:quadratic``
samples the coarsest network with Euler–Maruyama on the quadratic grid (``--coarse-sampler``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from wsgm.data.io import load_fields
from wsgm.errors import WSGMError
from wsgm.experiments.gaussian_twin import twin_scale_energies, twin_unbiased_t_min
from wsgm.experiments.mixture_twin import fit_mixture, sample_exact, twin_law
from wsgm.fileio import write_json_atomic
from wsgm.gaussian.mixture import exact_mixture, sample_mixture
from wsgm.metrics.observables import OBSERVABLES, field_observables
from wsgm.sampling.spec import SamplingSpec, derive_seed


def parse_setting(text: str) -> SamplingSpec:
    """``sampler:grid:N[:t_min][@coarse_sampler:coarse_grid]`` (N or N0/N1/...) -> a
    :class:`SamplingSpec`."""
    text, _, coarse = text.partition("@")
    extra: dict = {}
    if coarse:
        c_sampler, _, c_grid = coarse.partition(":")
        extra = {"coarse_sampler": c_sampler, "coarse_grid": c_grid or None}
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise WSGMError(f"a setting is sampler:grid:N[:t_min], got {text!r}")
    sampler, grid, steps = parts[:3]
    counts = tuple(int(s) for s in steps.split("/"))
    kw: dict = {"sampler": sampler, "grid": grid}
    kw.update({"steps": counts[0]} if len(counts) == 1 else {"steps_per_scale": counts})
    if len(parts) == 4:
        kw["t_min"] = float(parts[3])
    return SamplingSpec(**kw, **extra)


def label(spec: SamplingSpec) -> str:
    n = "/".join(map(str, spec.steps_per_scale)) if spec.steps_per_scale else str(spec.steps)
    coarse = f", coarsest {spec.coarse_sampler}" if spec.coarse_sampler else ""
    return f"{spec.sampler} {spec.grid_label}{coarse} N={n}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="the training fields (.npz)")
    ap.add_argument("--settings", nargs="+", required=True, help="sampler:grid:N[:t_min]")
    ap.add_argument("--levels", type=int, default=2)
    ap.add_argument("--wavelet", default="db4")
    ap.add_argument("--n", type=int, default=16384, help="mixture-twin fields per side")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="JSON of the table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    fields = load_fields(args.data).fields
    x = np.asarray(fields, dtype=np.float64).reshape(len(fields), *fields.shape[-2:])
    fit = fit_mixture(x)
    size = x.shape[-1]
    data_obs = field_observables(x)
    print(f"data {args.data} ({len(x)} fields): "
          + ", ".join(f"{k} {v.value:.4f} ± {v.se:.4f}" for k, v in data_obs.items()))  # fmt: skip
    p_c, mu = twin_law(fit, "mixture")
    g_law = torch.Generator().manual_seed(derive_seed(args.seed, 1))
    law = sample_mixture(p_c, mu, args.n, generator=g_law)
    law_obs = field_observables(law.numpy().reshape(args.n, size, size))
    print(f"mixture twin (mu {mu:.4f}), {args.n} exact draws: "
          + ", ".join(f"{k} {v.value:.4f} ± {v.se:.4f}" for k, v in law_obs.items()))  # fmt: skip
    ex = exact_mixture(p_c, mu, args.levels, wavelet=args.wavelet)
    rows = []
    print()
    print("| setting | Gaussian twin ⟨φ²⟩ ratio (lowpass / scales J..1) | unbiased t_min | "
          + " | ".join(f"mixture Δ{k} (z)" for k in OBSERVABLES) + " |")  # fmt: skip
    print("|---|---|---|" + "---|" * len(OBSERVABLES))
    for text in args.settings:
        spec = parse_setting(text)
        energies = twin_scale_energies(fit.total, spec, levels=args.levels,
                                       wavelet=args.wavelet)  # fmt: skip
        try:
            t_star: float | None = twin_unbiased_t_min(fit.total, spec, levels=args.levels,
                                                      wavelet=args.wavelet)  # fmt: skip
        except WSGMError:
            t_star = None
        grids = spec.grids(T=5.0, levels=args.levels, size=size)
        t0 = time.perf_counter()
        parts = []
        for b, start in enumerate(range(0, args.n, args.batch)):
            m = min(args.batch, args.n - start)
            g = torch.Generator().manual_seed(derive_seed(args.seed, 2, b))
            x = sample_exact(ex, (m, 1, size, size), sampler=spec.sampler, grid=grids,
                             generator=g, wavelet=args.wavelet,
                             coarse_sampler=spec.coarse_sampler)  # fmt: skip
            parts.append(x[:, 0].numpy())
        seconds = time.perf_counter() - t0
        made = field_observables(np.concatenate(parts))
        shifts = {}
        for k in OBSERVABLES:
            d = made[k].value - law_obs[k].value
            se = math.hypot(made[k].se, law_obs[k].se)
            shifts[k] = {"value": made[k].value, "se": made[k].se, "shift": d, "z": d / se}
        scales = " / ".join(f"{energies[k]:.4f}" for k in energies if k != "total")
        t_txt = "—" if t_star is None else f"{t_star:.4f}"
        print(f"| {label(spec)} | {energies['total']:.4f} ({scales}) | {t_txt} | "
              + " | ".join(f"{v['shift']:+.4f} ({v['z']:+.1f})" for v in shifts.values())
              + " |", flush=True)  # fmt: skip
        rows.append({"setting": text, "spec": spec.to_dict(), "twin_energies": energies,
                     "unbiased_t_min": t_star, "mixture": shifts, "seconds": seconds})  # fmt: skip
    print(f"\n(Δ: WSGM with the mixture twin's exact scores minus {args.n} exact draws of the "
          "mixture; z with both blocked-jackknife SEs)")  # fmt: skip
    if args.out:
        out = {"data": args.data, "n": args.n, "levels": args.levels, "wavelet": args.wavelet,
               "data_observables": {k: [v.value, v.se] for k, v in data_obs.items()},
               "mixture_law": {k: [v.value, v.se] for k, v in law_obs.items()},
               "mixture_mean": mu, "rows": rows}  # fmt: skip
        write_json_atomic(Path(args.out), out)


if __name__ == "__main__":
    main()
