"""``wsgm data phi4`` (critical φ⁴ fields by Monte Carlo) and ``wsgm data merge`` (join shards).

Registered by :mod:`wsgm.commands.data`, which owns the ``wsgm data`` group.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run_phi4", "run_merge"]


def register(data_subparsers: Any) -> None:
    """Add the ``phi4`` and ``merge`` subcommands to the ``wsgm data`` group."""
    from ..data.phi4 import DEFAULT_BETA_C, DEFAULT_BETA_C_ERR, DEFAULT_LAM, MCMCConfig
    from .options import HelpFormatter

    defaults = MCMCConfig()
    p = data_subparsers.add_parser(
        "phi4",
        help="2-d phi^4 fields at the critical point by Monte Carlo",
        description=(
            "Sample the periodic 2-d lattice field theory S = sum_x [-beta sum_mu phi_x "
            "phi_(x+mu) + phi_x^2 + lam (phi_x^2 - 1)^2] with Metropolis + embedded-Ising "
            "Wolff clusters. With no option it samples at the measured critical point "
            f"beta_c = {DEFAULT_BETA_C} +- {DEFAULT_BETA_C_ERR} for lam = 1. Resumable: a "
            "killed run keeps FILE.partial.npz and the same command continues it."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("--size", type=int, required=True, help="lattice size L (even, >= 4)")
    p.add_argument("--n", type=int, required=True, help="number of configurations (all shards)")
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument(
        "--beta",
        type=float,
        default=DEFAULT_BETA_C,
        help="hopping coupling beta (the default is the measured critical point)",
    )
    p.add_argument("--lam", type=float, default=DEFAULT_LAM, help="quartic coupling")
    p.add_argument("--seed", type=int, default=0, help="base random seed")
    p.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    p.add_argument(
        "--chains",
        type=int,
        default=None,
        help="independent Markov chains (default: the number of workers)",
    )
    p.add_argument(
        "--shard",
        default="1/1",
        metavar="K/N",
        help="make the K-th of N disjoint parts with independent seeds",
    )
    p.add_argument(
        "--thermalize",
        type=int,
        default=defaults.thermalize,
        help="thermalization sweeps per chain",
    )
    p.add_argument(
        "--pilot",
        type=int,
        default=defaults.pilot,
        help="sweeps measuring tau_int to set the spacing",
    )
    p.add_argument(
        "--spacing",
        type=int,
        default=None,
        help="sweeps between saved configurations (default: >= 2 tau_int, from the pilot)",
    )
    p.add_argument(
        "--no-clusters",
        action="store_true",
        help="local Metropolis only (for comparisons; slow at criticality)",
    )
    p.add_argument(
        "--checkpoint-seconds",
        type=float,
        default=30.0,
        help="how often the partial file is rewritten, in seconds",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_phi4)

    m = data_subparsers.add_parser(
        "merge",
        help="join the shards of one `wsgm data phi4 --shard K/N` run",
        description="Join shard files, checking they come from the same run and none is missing.",
        formatter_class=HelpFormatter,
    )
    m.add_argument("parts", nargs="+", metavar="PART", help="shard files")
    m.add_argument("--out", required=True, help="output .npz file")
    m.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    m.set_defaults(func=run_merge)


def run_phi4(args: argparse.Namespace) -> int:
    from ..data.phi4 import MCMCConfig, parse_shard
    from ..data.phi4_files import write_phi4

    config = MCMCConfig(
        thermalize=args.thermalize,
        pilot=args.pilot,
        spacing=args.spacing,
        clusters=not args.no_clusters,
    )
    path = write_phi4(
        args.out,
        args.n,
        size=args.size,
        beta=args.beta,
        lam=args.lam,
        seed=args.seed,
        workers=args.workers,
        chains=args.chains,
        shard=parse_shard(args.shard),
        config=config,
        progress=not args.no_progress,
        checkpoint_seconds=args.checkpoint_seconds,
        overwrite=args.overwrite,
    )
    print(f"wrote {path}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from ..data.phi4_files import merge_phi4

    path = merge_phi4(args.parts, args.out, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0
