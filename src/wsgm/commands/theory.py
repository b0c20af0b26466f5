"""``wsgm theory``: the paper's central figure, exactly — steps needed vs image size.

Prints KL per pixel vs number of Euler–Maruyama steps N for SGM and WSGM with exact scores
on critical Gaussian fields (η = 2, ξ = 0 by default), the N needed to reach a KL of
``--epsilon`` nats per pixel for each size L, and the fitted exponent of N_needed vs L.
Writes ``theory.json`` and two PNG plots with ``--out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..gaussian.report import DEFAULT_SIZES, DEFAULT_STEPS, compute, format_report, write_report
from .options import HelpFormatter, add_deprecated


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from exc


def register(sub: Any) -> None:
    p = sub.add_parser(
        "theory",
        help="exact KL of SGM vs WSGM with exact scores on Gaussian fields (no learning)",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--sizes",
        type=_int_list,
        default=list(DEFAULT_SIZES),
        help="comma-separated image sizes L (default: 16,32,64,128,256)",
    )
    p.add_argument(
        "--sweep-steps",
        type=_int_list,
        default=list(DEFAULT_STEPS),
        metavar="N1,N2,...",
        help="comma-separated step counts N of the KL table (default: 2,4,...,2^18)",
    )
    add_deprecated(p, "--steps", new="--sweep-steps", dest="sweep_steps", type=_int_list)
    p.add_argument("--eta", type=float, default=2.0, help="spectral exponent η > 0")
    p.add_argument(
        "--xi",
        type=float,
        default=0.0,
        help="inverse correlation length ξ ≥ 0 (0: critical, scale-free)",
    )
    p.add_argument(
        "--epsilon",
        type=float,
        default=0.05,
        help="target KL per pixel for N_needed, in nats",
    )
    p.add_argument("--wavelet", default="haar", help="orthogonal wavelet")
    p.add_argument(
        "--coarsest",
        type=int,
        default=4,
        help="size of the coarsest WSGM low-pass (4: J = log2(L/4))",
    )
    p.add_argument(
        "--grid",
        default="uniform",
        choices=["uniform", "quadratic", "log"],
        help="time grid (uniform: the grid of the paper's theorem)",
    )
    p.add_argument("--T", type=float, default=5.0, help="OU horizon")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for theory.json, theory_kl.png and theory_steps.png",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    res = compute(
        sizes=args.sizes,
        steps=args.sweep_steps,
        eta=args.eta,
        xi=args.xi,
        epsilon=args.epsilon,
        wavelet=args.wavelet,
        coarsest=args.coarsest,
        grid=args.grid,
        T=args.T,
    )
    print(format_report(res))
    if args.out is not None:
        for path in write_report(res, args.out):
            print(f"wrote {path}")
    return 0
