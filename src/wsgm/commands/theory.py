"""``wsgm theory``: the paper's central figure, exactly — steps needed vs image size.

Prints KL per pixel vs number of Euler–Maruyama steps N for SGM and WSGM with exact scores
on critical Gaussian fields (η = 2, ξ = 0 by default), the N needed to reach a KL of
``--epsilon`` nats per pixel for each size L, and the fitted exponent of N_needed vs L
(the SGM's covariance at λ_max = 1). Then, for every normalization of the SGM (lambda-max,
pixel) × measure (KL per pixel, spectrum error, worst shell) × sampler/grid of
``--settings``, the N needed against L, computed exactly (docs/design.md §3.7–§3.8).
Writes ``theory.json`` and the PNG plots with ``--out DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..gaussian.report import (
    DEFAULT_EPSILONS,
    DEFAULT_N_MAX,
    DEFAULT_SIZES,
    DEFAULT_STEPS,
    compute,
    format_report,
    write_report,
)
from ..gaussian.scaling import DEFAULT_SETTINGS
from ..grids import DEFAULT_REF_SIZE, GRIDS
from ..metrics.spectrum import radial_shells
from ..samplers import SAMPLERS
from .options import HelpFormatter, add_deprecated, add_threads_option


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
        help="comma-separated image sizes L (default: 16,32,64,128,256,512)",
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
        default=DEFAULT_EPSILONS["kl"],
        help="target KL per pixel for N_needed, in nats",
    )
    p.add_argument(
        "--epsilon-spectrum",
        type=float,
        default=DEFAULT_EPSILONS["spectrum"],
        help="target spectrum error (RMS over radial shells of log P_gen/P) for N_needed",
    )
    p.add_argument(
        "--epsilon-worst",
        type=float,
        default=DEFAULT_EPSILONS["worst_shell"],
        help="target worst-shell |log P_gen/P| for N_needed",
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
        metavar="GRID",
        help="time grid of the KL table (uniform: the grid of the paper's theorem); one of "
        + ", ".join(GRIDS),
    )
    p.add_argument(
        "--sampler",
        default="euler",
        metavar="SAMPLER",
        help="sampler of the KL table (euler: the paper's theorem); one of " + ", ".join(SAMPLERS),
    )
    p.add_argument(
        "--normalize",
        default="both",
        metavar="NORM",
        help="SGM normalization of the settings tables: lambda-max (covariance scaled to "
        "λ_max = 1), pixel (unit pixel variance, what wsgm train does) or both; the KL table "
        "is always lambda-max and the WSGM the same under both",
    )
    p.add_argument(
        "--settings",
        default=",".join(f"{s}/{g}" for s, g in DEFAULT_SETTINGS),
        metavar="SAMPLER/GRID,...",
        help="comma-separated sampler/grid pairs of the settings tables",
    )
    p.add_argument(
        "--ref-size",
        type=int,
        default=DEFAULT_REF_SIZE,
        help="L_ref of the logsnr-shifted grid: log-SNR shifted by 2 log(L_ref/L)",
    )
    p.add_argument(
        "--n-max",
        type=int,
        default=DEFAULT_N_MAX,
        help="largest N tried in the settings tables (N is null beyond it)",
    )
    p.add_argument("--T", type=float, default=5.0, help="OU horizon T > 0")
    add_threads_option(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for theory.json, theory_kl.png, theory_steps.png and "
        "theory_needed_<measure>.png",
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
        sampler=args.sampler,
        normalize=args.normalize,
        settings=args.settings,
        epsilon_spectrum=args.epsilon_spectrum,
        epsilon_worst=args.epsilon_worst,
        ref_size=args.ref_size,
        n_max=args.n_max,
        shell_index=radial_shells,
    )
    print(format_report(res))
    if args.out is not None:
        for path in write_report(res, args.out):
            print(f"wrote {path}")
    return 0
