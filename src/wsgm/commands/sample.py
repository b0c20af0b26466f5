"""``wsgm sample RUN --steps N --n COUNT --seed S --out FILE.npz``: draw samples of a model.

Writes ``FILE.npz`` (key ``fields`` in the layout of the data files, plus ``meta``) and a PNG
grid ``FILE.png``. The same N steps at every scale unless ``--steps-per-scale`` gives J + 1
numbers: the coarsest network first, then scale 1 (the finest) .. J. Batch b draws from a
generator seeded by (seed, b), so the samples depend on the seed and the batch size only,
not on the number of processes: under ``torchrun`` / ``accelerate launch`` process r draws
batches r, r + P, ... and process 0 joins and writes them. Finished batches are kept in
``FILE.npz.partial.npz`` (every ``--save-every`` seconds): a killed job, run again with the
same command, resumes and writes bitwise the file an uninterrupted job writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..data.io import save_fields
from ..errors import WSGMError
from ..fileio import atomic_write
from ..models.base import ScoreModel
from ..models.config import ModelConfig
from ..sampling.allocation import scale_costs
from ..sampling.job import discard_partial, partial_path, run_batches, tensor_fingerprint
from ..sampling.spec import SamplingSpec
from .options import HelpFormatter, add_sampling_options, add_threads_option, sampling_spec

__all__ = ["register", "run", "model_grids", "save_png_grid", "add_output_args"]


def add_output_args(p: argparse.ArgumentParser) -> None:
    """``--out``, ``--overwrite``, ``--no-png``, ``--cpu`` and ``--no-progress``."""
    p.add_argument(
        "--out",
        required=True,
        help="output .npz, its folder created if needed (a .png grid is written next to it)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--cpu", action="store_true", help="sample on the CPU even if a GPU is present")
    p.add_argument("--no-png", action="store_true", help="do not write the PNG grid")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads_option(p)


def prepare_out(args: argparse.Namespace) -> Path:
    """``--out`` checked before any work: a .npz, not an existing file unless
    ``--overwrite``, its folder created."""
    out = Path(args.out)
    if out.suffix != ".npz":
        raise WSGMError(f"--out must end in .npz, got {out}")
    if out.exists() and not args.overwrite:
        raise WSGMError(f"{out} already exists; pass --overwrite to replace it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WSGMError(f"cannot create the output folder {out.parent}: {exc}") from exc
    return out


def steps_per_batch(model: ScoreModel, spec: SamplingSpec) -> int:
    """Sampler steps of one batch, over all networks (what the progress bar counts)."""
    levels = model.config.levels if model.config.kind == "wsgm" else None
    return sum(spec.counts(levels=levels, size=min(model.config.size)))


def warn_if_unfinished(model_dir: str) -> None:
    """Say so when the run's training has not reached its target steps."""
    from ..experiments.runs import training_progress

    progress = training_progress(model_dir)
    if progress is None:
        return
    steps, target = progress
    behind = {k: v for k, v in steps.items() if v < target}
    if behind:
        print(
            f"warning: the model in {model_dir} is not finished (networks at steps {behind} of "
            f"{target}); resume it with `wsgm train --run-dir {model_dir}`",
            file=sys.stderr,
            flush=True,
        )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "sample",
        help="draw samples from a trained model",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument("model_dir", help="run directory (or its model/ directory)")
    p.add_argument(
        "--n",
        "--num-samples",
        dest="n",
        type=int,
        required=True,
        help="number of samples (use --num-samples under torchrun, whose parser takes --n)",
    )
    add_sampling_options(p, coarse=True)
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (batch b: (seed, b))")
    add_output_args(p)
    p.add_argument(
        "--save-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="save finished batches to OUT.partial.npz at most this often; "
        "a killed job resumes from there when the same command is run again",
    )
    p.set_defaults(func=run)


def model_grids(model: ScoreModel, spec: SamplingSpec) -> Tensor | list[Tensor]:
    """The grid(s) of ``spec`` for ``model``: one shared grid, or J + 1 (coarsest, scale
    1 .. J) from ``spec.steps_per_scale``."""
    levels = model.config.levels if model.config.kind == "wsgm" else None
    return spec.grids(T=model.sde.T, levels=levels, size=min(model.config.size))


def _dist(cpu: bool = False) -> tuple[int, int, torch.device]:
    from accelerate import PartialState

    from ..training.device import use_cpu

    state = PartialState(cpu=use_cpu(cpu))
    return state.process_index, state.num_processes, state.device


def save_png_grid(
    path: Path, fields: np.ndarray, *, max_images: int = 64, cmap: str = "viridis"
) -> None:
    """A grid of up to ``max_images`` samples (one colour scale for all) as a PNG;
    one-channel images in gray, fields in ``cmap``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = fields[:max_images]
    k = x.shape[0]
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    lo, hi = np.percentile(x, [0.5, 99.5])
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.5 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= k:
            continue
        img = x[i]
        if img.shape[0] == 3:
            ax.imshow(np.clip((img.transpose(1, 2, 0) - lo) / max(hi - lo, 1e-12), 0, 1))
        else:
            ax.imshow(img[0], cmap=cmap, vmin=lo, vmax=hi)
    fig.tight_layout(pad=0.1)
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    finally:
        plt.close(fig)


def step_cost(spec: SamplingSpec, cfg: ModelConfig) -> float:
    """Network evaluations per sample weighted by the pixels each network works on, in
    full-resolution evaluations (an SGM's N; :func:`wsgm.sampling.allocation.scale_costs`)."""
    if cfg.kind != "wsgm":
        return float(spec.steps)
    size = min(cfg.size)
    counts = spec.counts(levels=cfg.levels, size=size)
    return float(sum(n * c for n, c in zip(counts, scale_costs(size, cfg.levels), strict=True)))


def sampling_meta(spec: SamplingSpec, model_dir: str, cfg: ModelConfig) -> dict[str, object]:
    """The sampler settings and model of a sampling command, for the output's ``meta``:
    the resolved step count of every network (``counts``) and their pixel-weighted cost."""
    levels = cfg.levels if cfg.kind == "wsgm" else None
    return {
        **spec.to_dict(),
        "grid_rho": spec.grid_rho,
        "steps_per_scale": ",".join(map(str, spec.steps_per_scale)) or None,
        "counts": ",".join(map(str, spec.counts(levels=levels, size=min(cfg.size)))),
        "cost": step_cost(spec, cfg),
        "model_dir": str(model_dir),
        "kind": cfg.resolved_kind,
        "periodic": cfg.periodic,
    }


def write_outputs(args: argparse.Namespace, fields: np.ndarray, meta: dict[str, Any]) -> Path:
    out = Path(args.out)
    save_fields(out, fields, meta)
    if not args.no_png:
        cmap = "gray" if meta.get("kind") == "image" else "viridis"
        save_png_grid(out.with_suffix(".png"), fields, cmap=cmap)
    return out


def run(args: argparse.Namespace) -> int:
    from ..models.io import load_model

    out = prepare_out(args)
    spec = sampling_spec(args)
    rank, _, device = _dist(args.cpu)
    model = load_model(args.model_dir, weights=spec.weights, device=device)
    if rank == 0:
        warn_if_unfinished(args.model_dir)
    grids = model_grids(model, spec)
    cfg = model.config
    # Finished batches go to OUT.npz.partial.npz; the same command resumes a killed job.
    partial = partial_path(out)
    spec_meta = sampling_meta(spec, "", cfg)
    job = {
        "command": "sample",
        "weights_sha256": tensor_fingerprint(model.nets.state_dict()),
        "stats_sha256": tensor_fingerprint(model.stats.tensors()),
        "model": cfg.to_dict(),
        **{k: v for k, v in spec_meta.items() if k in _JOB_KEYS},
    }
    if spec.allocation != "equal":  # (only then, so partial files of equal-N jobs still match)
        job["counts"] = spec_meta["counts"]
    for key in _JOB_KEYS_IF_SET:  # likewise: absent from partial files written before them
        if spec_meta.get(key) is not None:
            job[key] = spec_meta[key]
    fields = run_batches(
        lambda b, g, tick: model.sample(
            spec.batch_size,
            sampler=spec.sampler,
            grids=grids,
            generator=g,
            callback=tick,
            **spec.samplers(),
        ),
        args.n,
        batch_size=spec.batch_size,
        seed=spec.seed,
        device=device,
        out_shape=(cfg.channels, *cfg.size),
        partial=partial,
        key=job,
        save_every=getattr(args, "save_every", 30.0),
        steps_per_batch=steps_per_batch(model, spec),
        progress=not args.no_progress,
    )
    if rank != 0 or fields is None:
        return 0
    meta = {
        "source": "wsgm sample",
        "model_kind": cfg.kind,
        "levels": cfg.levels,
        "wavelet": cfg.wavelet,
        **sampling_meta(spec, args.model_dir, cfg),
    }
    write_outputs(args, fields, meta)
    discard_partial(partial)
    print(f"wrote {args.n} samples to {out}")
    return 0


# The settings a partial file of finished batches must agree on (n, batch size and seed are
# added by run_batches).
_JOB_KEYS = ("sampler", "grid", "grid_rho", "steps", "steps_per_scale", "weights")
_JOB_KEYS_IF_SET = ("t_min", "coarse_sampler", "coarse_grid")
