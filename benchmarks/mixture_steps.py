"""Steps needed with exact scores for a bimodal law: the mixture twin of critical φ⁴ at L = 32.

The Gaussian twin (docs/design.md §3.6) reaches 2x the noise floor of the spectrum error with
4x fewer Euler–Maruyama steps per scale for the WSGM than for the SGM, but φ⁴'s low-pass is
bimodal. This samples the data's *mixture twin* ½ N(±μ𝟙, C) (same two-point function, μ from
⟨m²⟩ and ⟨m⁴⟩, so the same Binder cumulant; docs/design.md §3.9,
:mod:`wsgm.experiments.mixture_twin`) and the Gaussian twin with their exact scores, through the
real SGM and WSGM samplers (J levels of db4, coarsest 8x8 at L = 32, like the trained models),
no network, and reports per metric the smallest N within ``--factor`` x its Monte Carlo noise
floor (docs/design.md §7.5: the first such N of the list; ``*`` where a larger N leaves the
threshold again).

Data: ``--n-data`` critical φ⁴ fields by :func:`wsgm.data.phi4_files.write_phi4`, cached in
``--cache`` (reused when present). Metrics (against the law's exact radial spectrum, or n exact
draws; floors: n further exact draws): spectrum error, magnetization W1 and marginal-histogram
W1, plain and ±-symmetrized (``abs_``: W1 of |m| and |φ|; the plain ones carry the binomial
noise of the share of positive m, which no sampler with exact odd scores can change).

    python benchmarks/mixture_steps.py --threads 1 --out docs/results/mixture_steps.json
    python benchmarks/mixture_steps.py --steps 4,16,64 --samples 512    # a quick look
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from wsgm.data.io import load_fields
from wsgm.data.phi4_files import write_phi4
from wsgm.experiments.mixture_twin import LAWS, METRICS, fit_mixture, mixture_twin_sweep
from wsgm.experiments.sweep import steps_to_reach
from wsgm.fileio import atomic_write
from wsgm.sampling.spec import SamplingSpec


def needed(
    steps: list[int], values: list[float], floor: float, factor: float
) -> tuple[int | None, bool]:
    """The first N within factor x floor (§7.5, None if none) and whether every larger N of
    the list stays within."""
    n = steps_to_reach(steps, values, floor, factor=factor)
    stays = n is not None and all(v <= factor * floor for v in values[steps.index(n) :])
    return n, stays


def label(n: int | None, stays: bool, steps: list[int]) -> str:
    return f">{max(steps)}" if n is None else f"{n}{'' if stays else '*'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--n-data", type=int, default=2048, help="phi4 fields to fit the twin")
    ap.add_argument("--data-seed", type=int, default=1)
    ap.add_argument("--cache", default="/tmp/wsgm_mixture", help="folder of the cached data")
    ap.add_argument("--samples", type=int, default=2048, help="samples per N (and per floor set)")
    ap.add_argument("--steps", default="4,8,16,32,64,128,256")
    ap.add_argument("--levels", type=int, default=2)
    ap.add_argument("--wavelet", default="db4")
    ap.add_argument(
        "--configs", default="euler:quadratic,dpm2m:logsnr", help="sampler:grid,sampler:grid"
    )
    ap.add_argument("--factor", type=float, default=2.0, help="x the noise floor")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    steps = [int(s) for s in args.steps.split(",")]
    configs = [tuple(c.split(":")) for c in args.configs.split(",")]

    t_start = time.perf_counter()
    path = Path(args.cache) / f"phi4_L{args.size}_n{args.n_data}_seed{args.data_seed}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_phi4(
            path,
            args.n_data,
            size=args.size,
            seed=args.data_seed,
            workers=args.threads,
            progress=False,
        )
    fit = fit_mixture(load_fields(path).fields)
    s = fit.summary()
    print(
        f"phi4 L={args.size}, {args.n_data} fields ({path}): mu = {s['mean']:.4f} "
        f"(<m^2> = {s['m2']:.4f}, U4 = {s['binder']:.4f}; |m| histogram peak "
        f"{s['abs_m_peak']:.3f}), component var of m {s['component_m_var']:.5f}, pixel var "
        f"{s['pixel_var']:.4f}; {time.perf_counter() - t_start:.0f} s",
        flush=True,
    )
    runs: list[dict[str, Any]] = []
    for sampler, grid in configs:
        t0 = time.perf_counter()
        spec = SamplingSpec(sampler=sampler, grid=grid, seed=args.seed)
        out = mixture_twin_sweep(
            fit, steps, spec, levels=args.levels, wavelet=args.wavelet, n=args.samples
        )
        table: dict[str, Any] = {}
        print(
            f"\n== {sampler} / {grid}, n = {args.samples}, N = {steps} per scale "
            f"({time.perf_counter() - t0:.0f} s) =="
        )
        print(
            f"{'metric':<21} {'twin':<9} {'floor':>7} {'SGM N':>6} {'WSGM N':>6}  "
            "errors SGM / WSGM per N"
        )
        for metric in METRICS:
            for law in LAWS:
                floor = out["floors"][law][metric]
                errs = out["errors"][law]
                need = {m: needed(steps, errs[m][metric], floor, args.factor) for m in errs}
                table.setdefault(law, {})[metric] = {
                    "floor": floor,
                    "steps_needed": {m: v[0] for m, v in need.items()},
                    "stays_within": {m: v[1] for m, v in need.items()},
                }
                txt = {m: label(*v, steps) for m, v in need.items()}
                vals = " ".join(
                    f"{a:.4f}/{b:.4f}"
                    for a, b in zip(errs["sgm"][metric], errs["wsgm"][metric], strict=True)
                )
                print(
                    f"{metric:<21} {law:<9} {floor:>7.4f} {txt['sgm']:>6} {txt['wsgm']:>6}  {vals}"
                )
        b = out["binder"]
        print(
            f"Binder U4 (exact {out['binder_exact']['mixture']:.3f}), mixture SGM / WSGM: "
            + " ".join(
                f"{x:.3f}/{y:.3f}"
                for x, y in zip(b["mixture"]["sgm"], b["mixture"]["wsgm"], strict=True)
            ),
            flush=True,
        )
        runs.append({"sampler": sampler, "grid": grid, "summary": table, "sweep": out})
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.0f} s on {args.threads} thread(s)")
    if args.out:
        result = {
            "command": "python benchmarks/mixture_steps.py "
            + f"--threads {args.threads} --samples {args.samples} --steps {args.steps}",
            "size": args.size,
            "n_data": args.n_data,
            "data_seed": args.data_seed,
            "levels": args.levels,
            "wavelet": args.wavelet,
            "samples": args.samples,
            "factor": args.factor,
            "seed": args.seed,
            "fit": s,
            "seconds": total,
            "runs": runs,
        }
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2)))


if __name__ == "__main__":
    main()
