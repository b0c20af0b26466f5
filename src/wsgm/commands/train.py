"""``wsgm train``: train (or resume) an SGM or a WSGM; see :mod:`wsgm.training.loop`.

Settings, later ones winning: the built-in defaults (or, when the run directory already
holds a checkpoint, its saved config), ``--config FILE.toml``, the flags (``--data``,
``--model``, ``--train-steps``, ...), then ``--set key=value`` overrides. Every value is
checked as it is read. Running the same command again resumes from ``RUN/model/``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..errors import WSGMError
from ..training.checkpoint import has_checkpoint, saved_run_config
from ..training.config import RunConfig, TrainSection, apply_overrides, load_toml
from .options import HelpFormatter, add_deprecated, add_set_option, add_threads_option

__all__ = ["register", "run", "resolve_config"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "train",
        help="train an SGM or WSGM (resumes automatically)",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    t = TrainSection()  # the built-in defaults, shown in the help
    p.add_argument(
        "--run-dir", help="run directory (created; resumed if it holds a checkpoint); required"
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the full resolved config (every key, with its value) as TOML and exit",
    )
    p.add_argument(
        "--data",
        help="training data: a `wsgm data` .npz, a .npy/.npz float array, an image folder or "
        "IDX files (see README, 'Bring your own data')",
    )
    p.add_argument(
        "--kind",
        choices=("image", "field"),
        help="what the data are when the file does not say (a bare array): image (zero "
        "padding, no wrap-around augmentation) or field (periodic: circular padding, "
        "shift/flip augmentation) (default: what the data file says)",
    )
    p.add_argument("--model", choices=("sgm", "wsgm"), help="model kind (default: wsgm)")
    p.add_argument("--config", help="TOML config file ([model], [unet], [train] tables)")
    p.add_argument(
        "--train-steps",
        type=int,
        help=f"optimizer steps per network, in total (not additional) (default: {t.steps})",
    )
    add_deprecated(p, "--steps", new="--train-steps", dest="train_steps", type=int)
    p.add_argument(
        "--seed",
        type=int,
        help=f"seed of the initial weights and of every batch (default: {t.seed})",
    )
    p.add_argument(
        "--train-batch",
        type=int,
        help=f"global batch size, split evenly over processes (default: {t.batch_size})",
    )
    add_deprecated(p, "--batch-size", new="--train-batch", dest="train_batch", type=int)
    p.add_argument(
        "--levels", type=int, help="WSGM wavelet levels J (default: the coarsest grid is 8x8)"
    )
    p.add_argument("--wavelet", help="orthogonal wavelet: haar, dbN, symN, coifN (default: db4)")
    p.add_argument(
        "--scales",
        "--scale",
        dest="scales",
        help="train only these WSGM networks: comma list of 'coarse' and scale numbers "
        "1..J (1 = finest) (default: all)",
    )
    p.add_argument(
        "--mixed-precision",
        choices=("no", "fp16", "bf16"),
        help=f"autocast precision on a GPU (accelerate) (default: {t.mixed_precision})",
    )
    p.add_argument(
        "--cpu", action="store_true", default=None, help="train on the CPU even if a GPU is present"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_set_option(p, "override a config key (repeatable)")
    add_threads_option(p)
    p.set_defaults(func=run)


def resolve_config(args: argparse.Namespace) -> RunConfig:
    cfg = RunConfig()
    if args.run_dir and has_checkpoint(Path(args.run_dir)):
        run_dir = Path(args.run_dir)
        state_file = run_dir / "model" / "train_state.json"
        cfg = RunConfig.from_dict(saved_run_config(run_dir), source=str(state_file))
    if args.config:
        cfg = load_toml(args.config, cfg)
    flags = {
        "data": str(Path(args.data).resolve()) if args.data else None,
        "kind": args.kind,
        "model.kind": args.model,
        "train.steps": getattr(args, "train_steps", None),
        "train.seed": args.seed,
        "train.batch_size": getattr(args, "train_batch", None),
        "model.levels": args.levels,
        "model.wavelet": args.wavelet,
        "train.mixed_precision": args.mixed_precision,
        "train.cpu": args.cpu,
    }
    sets = [f"{k}={json.dumps(v)}" for k, v in flags.items() if v is not None]
    if args.scales is not None:
        sets.append(
            "train.scales=" + json.dumps([s.strip() for s in args.scales.split(",") if s.strip()])
        )
    if args.no_progress:
        sets.append("train.progress=false")
    apply_overrides(cfg, sets)
    return apply_overrides(cfg, list(args.overrides))


def run(args: argparse.Namespace) -> int:
    from ..training.loop import train

    cfg = resolve_config(args)
    if args.print_config:
        print(cfg.to_toml(), end="")
        return 0
    if not args.run_dir:
        raise WSGMError("give --run-dir DIR: where the run's checkpoints and logs go")
    result = train(cfg, args.run_dir)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"model in {Path(args.run_dir) / 'model'}; steps {result.steps}")
    # Ctrl-C stops with a checkpoint, but the run is not done: `train && sample` must stop.
    return 130 if result.interrupted else 0
