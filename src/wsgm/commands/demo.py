"""``wsgm demo``: the whole method in one command on critical φ⁴ at 32x32.

Samples the data by MCMC, trains a small SGM and a small WSGM with the same settings,
sweeps the number of sampler steps N, writes ``OUT/report.md`` (default ``runs/demo``)
and prints the headline: the N at which each model's spectrum error comes within 2x its
noise floor. The README gives its measured time on 2 cores; a second run reuses what is done.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from ..experiments.presets import DEMO
    from .options import HelpFormatter
    from .reproduce import add_preset_args

    p = subparsers.add_parser(
        "demo",
        help="φ⁴ 32x32: train SGM and WSGM briefly, sweep N, write a report",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--out", default="runs/demo", help="output folder")
    add_preset_args(p, DEMO)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.estimate import estimate
    from ..experiments.presets import DEMO, Preset
    from ..experiments.reproduce import reproduce
    from ..experiments.results import headline_sentence, matched_sentence
    from .reproduce import command_line, preset_from_args

    preset = preset_from_args(DEMO, args)
    assert isinstance(preset, Preset)
    if not (Path(args.out) / "report.md").exists():
        est = estimate(preset)
        phases = ", ".join(f"{k} ~{v:.0f} s" for k, v in est.items() if k != "total")
        print(
            f"wsgm demo: about {est['total'] / 60:.1f} min on this machine ({phases}; "
            "calibrated in a few seconds, a busy machine takes longer)",
            flush=True,
        )
    t0 = time.perf_counter()
    data = reproduce(
        "phi4",
        args.out,
        preset,
        progress=not args.no_progress,
        cpu=args.cpu,
        threads=args.threads,
        command=command_line(args),
    )
    elapsed = time.perf_counter() - t0
    print(f"\nreport: {data['report']}  ({elapsed / 60:.1f} min)")
    for metric in ("spectrum", "histogram_w1", "magnetization_w1"):
        print(headline_sentence(data, metric))
    for metric in ("spectrum", "histogram_w1", "magnetization_w1"):
        print(matched_sentence(data, metric))
    return 0
