"""``wsgm reproduce gaussian|phi4|images --out DIR``: one paper experiment end to end.

Makes the data (``DIR/data``), trains an SGM and a WSGM with the same settings
(``DIR/runs/{sgm,wsgm}``; a finished run is reused, an interrupted one resumed by the same
command), sweeps the number of sampler steps and writes ``DIR/report.md`` with
``sweep.json``, ``sweep.csv`` and the figures. Defaults are sized for a few CPU cores;
``--full`` takes the paper-scale preset (a GPU). Any option overrides the preset.

- gaussian: Gaussian fields with spectrum |ω|^-2, next to the exact-score KL of the theory.
- phi4: critical φ⁴ at L = 32 (64 with --full).
- gaussian and phi4 also draw the spectrum error of the data's Gaussian twin (same power
  spectrum) sampled with its exact scores: the discretization error alone.
- images: Fashion-MNIST at 32x32 from /usr/share/datasets/fashion-mnist (Debian package
  dataset-fashion-mnist), or any image folder / IDX / .npz with --data.
"""

from __future__ import annotations

import argparse
import shlex
import time

from ..grids import GRIDS
from ..samplers import SAMPLERS

__all__ = ["register", "run", "add_preset_args", "preset_from_args", "command_line"]


def add_preset_args(p: argparse.ArgumentParser) -> None:
    """Options that override a :class:`wsgm.experiments.presets.Preset`."""
    p.add_argument("--size", type=int, help="field / image size L")
    p.add_argument("--n-train", type=int, help="training fields")
    p.add_argument("--n", type=int, help="samples per N (the reference holds 2 x N)")
    p.add_argument("--steps", help="comma-separated sampler step counts N")
    p.add_argument("--train-steps", type=int, help="optimizer steps of each network")
    p.add_argument("--channels", type=int, help="UNet base channels")
    p.add_argument("--batch-size", type=int, help="training batch size")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--sampler", choices=tuple(SAMPLERS), help="sampler (default euler)")
    p.add_argument("--grid", choices=tuple(GRIDS), help="time grid (default quadratic)")
    p.add_argument("--seed", type=int, help="seed of the data, the training and the sampling")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="training config override for both models")
    p.add_argument("--metrics", help="images: comma-separated image metrics (kid, fid, "
                   "classifier_fd, swd, spectrum)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--cpu", action="store_true", help="stay on the CPU even with a GPU")
    p.add_argument("--no-progress", action="store_true")


def preset_from_args(preset: object, args: argparse.Namespace) -> object:
    from ..experiments.presets import Preset
    from .eval import parse_steps

    assert isinstance(preset, Preset)
    return preset.replace(
        size=args.size, n_train=args.n_train, n_samples=args.n,
        steps=tuple(parse_steps(args.steps)) if args.steps else None,
        train_steps=args.train_steps, base_channels=args.channels,
        batch_size=args.batch_size, lr=args.lr, sampler=args.sampler, grid=args.grid,
        seed=args.seed,
        image_metrics=tuple(m.strip() for m in args.metrics.split(",")) if getattr(
            args, "metrics", None) else None,
        run_overrides=tuple(preset.run_overrides) + tuple(args.overrides) or None,
    )


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, from the parsed options (for the report)."""
    words = ["wsgm", str(args.command)]
    if getattr(args, "experiment", None):
        words.append(str(args.experiment))
    words += ["--out", str(args.out)]
    for key, value in sorted(vars(args).items()):
        skip = key in ("command", "experiment", "out", "func")
        if skip or value is None or value is False or value == []:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif key == "overrides":
            for item in value:
                words += ["--set", str(item)]
        else:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "reproduce", help="run a paper experiment (data, training, sweep, report)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help="gaussian, phi4 or images")
    p.add_argument("--out", required=True, help="output folder (reused by a second run)")
    p.add_argument("--full", action="store_true", help="paper-scale preset (for a GPU)")
    p.add_argument("--data", help="images: an image folder, IDX folder or .npz (default: "
                   "Fashion-MNIST)")
    add_preset_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.presets import Preset, preset_for
    from ..experiments.reproduce import reproduce
    from ..experiments.results import headline_sentence

    preset = preset_from_args(preset_for(args.experiment, full=args.full), args)
    assert isinstance(preset, Preset)
    t0 = time.perf_counter()
    data = reproduce(
        args.experiment, args.out, preset, source=args.data, progress=not args.no_progress,
        cpu=args.cpu, threads=args.threads, command=command_line(args))
    print(f"report: {data['report']} ({time.perf_counter() - t0:.0f} s)")
    metric = "spectrum" if args.experiment != "images" else next(iter(
        data["headline"]["metrics"]))
    print(headline_sentence(data, metric))
    return 0
