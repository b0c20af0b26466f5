"""Cost to reach a spectrum error with exact scores: SGM, WSGM with N at every scale, and
WSGM with the cost-aware allocation (docs/design.md §7.7) — closed form, no network.

A stationary Gaussian field with spectrum |ω|^-η (η = 1.75 by default: the two-point
function of 2-d critical φ⁴), or the power spectrum of a data file (``--data``, e.g. a φ⁴
``train.npz``), is sampled with its exact scores; the spectrum error (§7.4, RMS over radial
shells of the log power ratio) of the generated law is computed exactly per N
(:class:`wsgm.gaussian.scaling.Evaluator`, the same closed forms as ``wsgm theory``). The SGM
sees its field at unit pixel variance, as ``wsgm train`` does. Cost = network evaluations
per sample weighted by the pixels each network works on, in full-resolution evaluations
(an SGM's N; a WSGM step at scale j costs 4^-j).

Prints, per size and sampler/grid, the errors against cost and the cost from which on each
schedule stays within ``--target`` (log-linear between swept N). ``--out FILE`` writes the
JSON.

    python benchmarks/allocation_twin.py --sizes 32,64 --out docs/results/allocation_twin.json
    python benchmarks/allocation_twin.py --data runs/phi4_scaling/L32/data/train.npz
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from wsgm.data.inputs import load_data
from wsgm.experiments.gaussian_twin import data_spectrum
from wsgm.experiments.scaling import n_needed
from wsgm.fileio import atomic_write
from wsgm.gaussian.scaling import Evaluator, GridSpec, SGMCase, WSGMCase
from wsgm.metrics.spectrum import radial_shells
from wsgm.sampling.allocation import scale_costs
from wsgm.sampling.spec import SamplingSpec

SETTINGS = (("euler", "quadratic"), ("dpm2m", "logsnr"))


def cost_staying_below(costs: list[float], errors: list[float], target: float) -> float | None:
    """The cost from which on every error is <= ``target``, log-linear between the last
    point above it and the next (a few-step error can dip below once and rise again: that
    cost would not be a reliable setting); None if the last error is above."""
    above = [i for i, e in enumerate(errors) if not e <= target]
    if not above:
        return costs[0]
    i = above[-1]
    if i == len(errors) - 1:
        return None
    return n_needed(costs[i:], errors[i:], target)


def curves(
    size: int, levels: int, spectrum: np.ndarray | None, sampler: str, grid: str,
    steps: list[int], *, eta: float, wavelet: str, T: float,
) -> dict[str, dict[str, list[float]]]:  # fmt: skip
    """Per schedule: cost and exact spectrum error at every N."""
    sgm = Evaluator(SGMCase(size, eta=eta, xi=0.0, normalize="pixel", shell_index=radial_shells,
                            spectrum=spectrum), sampler, GridSpec(grid, T))  # fmt: skip
    wsgm = Evaluator(WSGMCase(size, levels=levels, eta=eta, xi=0.0, wavelet=wavelet,
                              shell_index=radial_shells, spectrum=spectrum),
                     sampler, GridSpec(grid, T))  # fmt: skip
    costs = scale_costs(size, levels)
    out: dict[str, dict[str, list[float]]] = {
        k: {"cost": [], "error": [], "counts": []} for k in ("sgm", "wsgm", "wsgm-cost")
    }
    for n in steps:
        out["sgm"]["cost"].append(float(n))
        out["sgm"]["error"].append(sgm(n)["spectrum"])
        out["sgm"]["counts"].append([n])
        for key, alloc in (("wsgm", "equal"), ("wsgm-cost", "cost")):
            counts = SamplingSpec(sampler=sampler, grid=grid, steps=n, allocation=alloc).counts(
                levels=levels, size=size
            )
            out[key]["cost"].append(float(sum(c * k for c, k in zip(counts, costs, strict=True))))
            out[key]["error"].append(wsgm.at_counts(counts)["spectrum"])
            out[key]["counts"].append(list(counts))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="32,64")
    ap.add_argument("--steps", default="2,4,8,16,32,64,128,256")
    ap.add_argument("--eta", type=float, default=1.75)
    ap.add_argument("--data", default=None, help="use this data file's power spectrum")
    ap.add_argument("--coarsest", type=int, default=8)
    ap.add_argument("--wavelet", default="db4")
    ap.add_argument("--T", type=float, default=5.0)
    ap.add_argument("--target", type=float, default=0.05, help="spectrum error to reach")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    spectrum = None
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.data:
        fields = load_data(args.data).fields
        spectrum = data_spectrum(fields[:2048])
        sizes = [int(fields.shape[-1])]
    result: dict[str, object] = {"target": args.target, "steps": steps, "eta": args.eta,
                                 "data": args.data, "runs": []}  # fmt: skip
    t0 = time.perf_counter()
    for size in sizes:
        levels = int(math.log2(size // args.coarsest))
        for sampler, grid in SETTINGS:
            c = curves(size, levels, spectrum, sampler, grid, steps, eta=args.eta,
                       wavelet=args.wavelet, T=args.T)  # fmt: skip
            reach = {
                k: cost_staying_below(v["cost"], v["error"], args.target) for k, v in c.items()
            }
            result["runs"].append({"size": size, "levels": levels, "sampler": sampler,  # type: ignore[attr-defined]
                                   "grid": grid, "curves": c, "cost_to_target": reach})  # fmt: skip
            print(f"\nL = {size} (J = {levels}), {sampler}/{grid}: spectrum error against cost")
            print(f"{'N':>5} | {'SGM cost':>8} {'error':>8} | {'WSGM cost':>9} {'error':>8} | "
                  f"{'alloc cost':>10} {'error':>8}  counts (coarsest, scale 1..J)")  # fmt: skip
            for i, n in enumerate(steps):
                s, w, a = c["sgm"], c["wsgm"], c["wsgm-cost"]
                print(f"{n:>5} | {s['cost'][i]:>8.3g} {s['error'][i]:>8.4f} | "
                      f"{w['cost'][i]:>9.3g} {w['error'][i]:>8.4f} | {a['cost'][i]:>10.3g} "
                      f"{a['error'][i]:>8.4f}  {a['counts'][i]}")  # fmt: skip
            cells = ", ".join(
                f"{k} {v:.3g}" if v is not None else f"{k} not reached" for k, v in reach.items()
            )
            print(f"cost from which on the spectrum error stays <= {args.target}: {cells}")
    result["seconds"] = time.perf_counter() - t0
    print(f"\n{result['seconds']:.1f} s")
    if args.out:
        atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(result, indent=1)))


if __name__ == "__main__":
    main()
