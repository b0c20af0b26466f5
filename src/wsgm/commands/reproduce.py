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
from typing import Any

from ..errors import WSGMError
from .options import (
    HelpFormatter,
    add_deprecated,
    add_sampling_options,
    add_set_option,
    add_threads_option,
    sampling_spec,
    steps_list,
)

__all__ = ["register", "run", "add_preset_args", "preset_from_args", "command_line"]


def add_preset_args(p: argparse.ArgumentParser, preset: Any = None) -> None:
    """Options that override a :class:`wsgm.experiments.presets.Preset`; their help shows
    ``preset``'s values as the defaults (or says "the preset's" when it depends on it)."""

    def dflt(name: str, show: Any = None) -> str:
        if preset is None:
            return " (default: the experiment's preset)"
        value = getattr(preset, name) if show is None else show
        if isinstance(value, tuple):
            value = ",".join(map(str, value))
        return f" (default: {value})"

    p.add_argument("--size", type=int, help="field / image size L" + dflt("size"))
    p.add_argument("--n-train", type=int, help="training fields" + dflt("n_train"))
    p.add_argument(
        "--n", type=int, help="samples per N (the reference holds 2 x N)" + dflt("n_samples")
    )
    p.add_argument(
        "--sweep-steps",
        metavar="N1,N2,...",
        help="comma-separated sampler step counts N of the sweep" + dflt("steps"),
    )
    add_deprecated(p, "--steps", new="--sweep-steps", dest="sweep_steps")
    p.add_argument(
        "--train-steps", type=int, help="optimizer steps of each network" + dflt("train_steps")
    )
    p.add_argument("--channels", type=int, help="UNet base channels" + dflt("base_channels"))
    p.add_argument(
        "--train-batch", type=int, help="training batch size (global)" + dflt("train_batch")
    )
    add_deprecated(p, "--batch-size", new="--train-batch", dest="train_batch", type=int)
    p.add_argument("--lr", type=float, help="learning rate" + dflt("lr"))
    add_sampling_options(p, defaults=None, per_model=False, weights=False, old_batch_flag=False)
    p.add_argument(
        "--seed", type=int, help="seed of the data, the training and the sampling" + dflt("seed")
    )
    add_set_option(p, "a training config override for both models (repeatable)")
    p.add_argument(
        "--metrics",
        help="images: comma-separated image metrics (kid, fid, classifier_fd, swd, spectrum)"
        + dflt("image_metrics", "classifier_fd,swd,spectrum" if preset is None else None),
    )
    add_threads_option(p)
    p.add_argument("--cpu", action="store_true", help="stay on the CPU even with a GPU")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def preset_from_args(preset: Any, args: argparse.Namespace) -> Any:
    """``preset`` with every option that was given (checked: a bad value fails here)."""
    from ..experiments.presets import Preset
    from ..sampling.allocation import parse_allocations

    assert isinstance(preset, Preset)
    sweep = getattr(args, "sweep_steps", None)
    metrics = getattr(args, "metrics", None)
    return preset.replace(
        size=args.size,
        n_train=args.n_train,
        n_samples=args.n,
        steps=steps_list(sweep) if sweep else None,
        train_steps=args.train_steps,
        base_channels=args.channels,
        train_batch=getattr(args, "train_batch", None),
        lr=args.lr,
        sampling=sampling_spec(args, base=preset.sampling),
        allocations=parse_allocations(alloc)
        if (alloc := getattr(args, "allocations", None))
        else None,
        seed=args.seed,
        image_metrics=tuple(m.strip() for m in metrics.split(",")) if metrics else None,
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
        "reproduce",
        help="run a paper experiment (data, training, sweep, report)",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "experiment",
        help="gaussian, phi4, images, or phi4-scaling (steps needed against L: --sizes)",
    )
    p.add_argument(
        "--sizes",
        default="16,32,64",
        metavar="L1,L2,...",
        help="phi4-scaling: the sizes L (8 x a power of two, >= 16; the WSGMs go down to 8x8)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="phi4-scaling: sample draws per N (mean and standard error)",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="phi4-scaling: train and sample nothing; write scaling.json and report.md from "
        "the finished models and sweeps saved in --out (what is not swept yet is listed)",
    )
    p.add_argument("--out", required=True, help="output folder (reused by a second run)")
    p.add_argument("--full", action="store_true", help="paper-scale preset (for a GPU)")
    p.add_argument(
        "--data",
        help="images: an image folder, IDX folder or .npz (default: "
        "Fashion-MNIST from /usr/share/datasets/fashion-mnist)",
    )
    add_preset_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.presets import Preset, preset_for
    from ..experiments.reproduce import reproduce
    from ..experiments.results import headline_sentence

    if args.experiment == "phi4-scaling":
        return _run_scaling(args)
    if args.report_only:
        raise WSGMError(
            "--report-only is for phi4-scaling (the other reproductions rewrite their report "
            "when rerun: finished runs and sweeps are reused)"
        )
    preset = preset_from_args(preset_for(args.experiment, full=args.full), args)
    assert isinstance(preset, Preset)
    t0 = time.perf_counter()
    data = reproduce(
        args.experiment,
        args.out,
        preset,
        source=args.data,
        progress=not args.no_progress,
        cpu=args.cpu,
        threads=args.threads,
        command=command_line(args),
    )
    print(f"report: {data['report']} ({time.perf_counter() - t0:.0f} s)")
    metric = "spectrum" if args.experiment != "images" else next(iter(data["headline"]["metrics"]))
    print(headline_sentence(data, metric))
    return 0


def _run_scaling(args: argparse.Namespace) -> int:
    from ..experiments.presets import Preset, preset_for
    from ..experiments.scaling import phi4_scaling
    from ..sampling.spec import parse_int_list

    preset = preset_from_args(preset_for("phi4", full=args.full), args)
    assert isinstance(preset, Preset)
    sizes = parse_int_list(args.sizes, what="--sizes")
    if preset.allocations != ("equal",):
        raise WSGMError(
            "phi4-scaling sweeps N at every scale (the paper's schedule); --allocate is for "
            "wsgm eval and the other reproductions"
        )
    if preset.spec.t_min is not None:
        raise WSGMError(
            "phi4-scaling sweeps its own sampler and grid settings with each grid's default "
            "t_min; --t-min is for wsgm sample, eval, diagnose and the other reproductions"
        )
    t0 = time.perf_counter()
    result = phi4_scaling(
        args.out, sizes, preset, repeats=args.repeats, progress=not args.no_progress,
        cpu=args.cpu, report_only=args.report_only,
    )  # fmt: skip
    print(f"report: {args.out}/report.md, scaling.json ({time.perf_counter() - t0:.0f} s)")
    spec = result.get("metrics", {}).get("spectrum", {})
    for kind in ("sgm", "wsgm"):
        cells = ", ".join(
            f"L={L}: {v:.3g}" if v is not None else f"L={L}: not reached"
            for L, v in spec.get(kind, {}).get("euler/quadratic", {}).items()
        )
        print(f"{kind.upper()} N needed (spectrum, euler/quadratic): {cells}")
    return 0
