"""``wsgm upsample RUN --input LOW.npz --out FILE.npz --steps N``: WSGM super-resolution.

Runs only the conditional scales of a trained WSGM, from a given low-resolution field to the
model's full resolution: the factorization p(x_0) = p(x_k) prod_{j<=k} p(xbar_j | x_j)
makes super-resolution free (Guth et al. 2022, §3).

Input convention: ``fields`` of size (H/2^k, W/2^k), 1 <= k <= J, taken as the
**un-normalized orthonormal wavelet low-pass x_k** of the model's wavelet (what
``wavelets.wavedec(x, wavelet, k)[0]`` returns). A plain block-averaged image (the mean of
each 2^k x 2^k block) is x_k / 2^k for the Haar wavelet (each 2-D Haar level sums a 2x2
block and divides by 2), so pass ``--input-kind average`` to multiply it by 2^k; for other
wavelets this is the same low-pass up to their smoothing. Output: ``n_inputs * K`` samples,
the K draws for input i at rows i*K .. i*K + K - 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from ..data.inputs import load_data
from ..errors import WSGMError
from ..models.wsgm import WSGM, scale_grid
from ..sampling.job import run_batches
from .options import HelpFormatter, add_sampling_options, sampling_spec
from .sample import (
    _dist,
    add_output_args,
    model_grids,
    prepare_out,
    sampling_meta,
    warn_if_unfinished,
    write_outputs,
)

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "upsample",
        help="super-resolve low-resolution fields with a WSGM's conditional scales",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument("model_dir", help="run directory (or its model/ directory) of a WSGM")
    p.add_argument("--input", required=True, help="low-resolution fields (.npz with 'fields')")
    p.add_argument("--n-per-input", type=int, default=1, help="samples per input field")
    p.add_argument(
        "--input-kind",
        choices=("lowpass", "average"),
        default="lowpass",
        help="lowpass: the wavelet low-pass x_k; average: block means (x 2^k)",
    )
    add_sampling_options(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (batch b: (seed, b))")
    add_output_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..models.io import load_model

    prepare_out(args)
    spec = sampling_spec(args)
    rank, _, device = _dist(args.cpu)
    model = load_model(args.model_dir, weights=spec.weights, device=device)
    if rank == 0:
        warn_if_unfinished(args.model_dir)
    if not isinstance(model, WSGM):
        raise WSGMError(
            f"{args.model_dir} holds an SGM; upsampling needs a WSGM (train with --model wsgm)"
        )
    if args.n_per_input < 1:
        raise WSGMError(f"--n-per-input must be >= 1, got {args.n_per_input}")
    low = torch.from_numpy(load_data(args.input).fields)
    cfg = model.config
    if low.ndim != 4 or low.shape[1] != cfg.channels:
        raise WSGMError(
            f"{args.input}: fields of shape {tuple(low.shape)} do not have the model's "
            f"{cfg.channels} channel(s)"
        )
    k = (cfg.size[-1] // max(int(low.shape[-1]), 1)).bit_length() - 1
    if args.input_kind == "average":
        low = low * float(2**k)
    grids = model_grids(model, spec)
    rows = low.repeat_interleave(args.n_per_input, dim=0).to(device)
    total = rows.shape[0]

    def draw(b: int, g: torch.Generator, tick: Any) -> torch.Tensor:
        part = rows[b * spec.batch_size : (b + 1) * spec.batch_size]
        pad = spec.batch_size - part.shape[0]
        if pad:  # full batches keep every draw independent of the batch position
            part = torch.cat([part, part[:1].expand(pad, *part.shape[1:])])
        return model.upsample(part, sampler=spec.sampler, grids=grids, generator=g, callback=tick)

    fields = run_batches(  # not resumable: no partial file
        draw,
        total,
        batch_size=spec.batch_size,
        seed=spec.seed,
        device=device,
        out_shape=(cfg.channels, *cfg.size),
        # the conditional scales k .. 1 run, each with its grid's steps
        steps_per_batch=sum(len(scale_grid(grids, j)) - 1 for j in range(1, k + 1)),
        progress=not args.no_progress,
    )
    if rank != 0 or fields is None:
        return 0
    meta = {
        "source": "wsgm upsample",
        "input": str(args.input),
        "input_kind": args.input_kind,
        "input_size": list(low.shape[-2:]),
        "n_per_input": args.n_per_input,
        **sampling_meta(spec, args.model_dir, cfg),
    }
    write_outputs(args, fields, meta)
    print(f"wrote {total} samples of size {cfg.size[0]}x{cfg.size[1]} to {Path(args.out)}")
    return 0
