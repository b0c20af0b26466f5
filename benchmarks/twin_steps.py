"""Steps needed for a spectrum error, SGM vs WSGM with exact scores, against the field size L.

The discretization side of the paper's claim, measured with the metric of the sweeps (RMS
over radial shells of the log power-spectrum ratio) instead of the KL of ``wsgm theory``:
stationary Gaussian fields with spectrum |ω|^-η (η = 1.75, the two-point function of 2-d
critical φ⁴: Ising class, η_Ising = 1/4), sampled with their exact scores
(:mod:`wsgm.experiments.gaussian_twin`) by a given sampler and grid, no network. The WSGM
has J = log2(L/8) levels (an 8x8 coarsest low-pass, like ``wsgm train``). The number of
twin samples shrinks as L grows (``--samples`` at L = 32, scaled by (32/L)²) so that every
size costs about the same; the Monte Carlo noise of each size is printed next to it.

Prints, per L, the errors at every N and, for each model, the smallest N from which on its
error stays <= ``--target`` (a few-step Tweedie output can dip below the target once and rise
again: that N would not be a reliable setting), and their ratio. ``--out FILE`` writes the
JSON.

    python benchmarks/twin_steps.py --sizes 32,64,128 --out twin_steps.json
    python benchmarks/twin_steps.py --sampler dpm2m --grid logsnr
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from wsgm.experiments.gaussian_twin import twin_noise, twin_spectrum_errors
from wsgm.fileio import atomic_write
from wsgm.gaussian.spectra import power_spectrum


def steps_staying_within(steps: list[int], errors: list[float], target: float) -> int | None:
    """The smallest N of ``steps`` from which on every error is <= target (None if none)."""
    need = None
    for n, e in zip(reversed(steps), reversed(errors), strict=True):
        if not e <= target:
            break
        need = n
    return need


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="32,64,128")
    ap.add_argument("--steps", default="4,8,16,32,64,128,256,512")
    ap.add_argument("--eta", type=float, default=1.75)
    ap.add_argument("--sampler", default="euler")
    ap.add_argument("--grid", default="quadratic")
    ap.add_argument("--wavelet", default="db4")
    ap.add_argument("--target", type=float, default=0.05, help="spectrum error to reach")
    ap.add_argument("--samples", type=int, default=2048, help="twin samples at L = 32")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    rows = []
    print(f"sampler {args.sampler}, grid {args.grid}, eta {args.eta}, target {args.target}")
    print(
        f"{'L':>5} {'n':>6} {'noise':>7} {'N SGM':>7} {'N WSGM':>7} {'ratio':>6}  errors "
        f"SGM / WSGM at N = {steps}"
    )
    for size in sizes:
        t0 = time.perf_counter()
        n = max(64, args.samples * 32 * 32 // (size * size))
        spec = power_spectrum(size, eta=args.eta, xi=0.0)
        levels = int(math.log2(size // 8))
        out = twin_spectrum_errors(
            spec,
            steps,
            sampler=args.sampler,
            grid=args.grid,
            levels=levels,
            wavelet=args.wavelet,
            n=n,
        )
        noise = twin_noise(spec, n=n)
        need = {k: steps_staying_within(out[k][0], out[k][1], args.target) for k in ("sgm", "wsgm")}
        ratio = (need["sgm"] / need["wsgm"]) if need["sgm"] and need["wsgm"] else float("nan")
        errs = " ".join(
            f"{s:.3f}/{w:.3f}" for s, w in zip(out["sgm"][1], out["wsgm"][1], strict=True)
        )
        fmt = lambda v: str(v) if v is not None else f">{max(steps)}"  # noqa: E731
        print(
            f"{size:>5} {n:>6} {noise:>7.4f} {fmt(need['sgm']):>7} {fmt(need['wsgm']):>7} "
            f"{ratio:>6.1f}  {errs}   ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        rows.append(
            {
                "size": size,
                "samples": n,
                "noise": noise,
                "levels": levels,
                "steps": steps,
                "sgm": out["sgm"][1],
                "wsgm": out["wsgm"][1],
                "steps_needed": need,
            }
        )
    if args.out:
        result = {
            "sampler": args.sampler,
            "grid": args.grid,
            "eta": args.eta,
            "target": args.target,
            "rows": rows,
        }
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2)))


if __name__ == "__main__":
    main()
