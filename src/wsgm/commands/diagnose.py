"""``wsgm diagnose RUN --reference REF.npz --out DIR``: which network of a trained WSGM, at
which noise level, falls short of its exact-score twins (docs/design.md §6.5).

Writes ``DIR/diagnose.json`` and ``DIR/report.md`` with two tables: each scale sampled on its
own given the true coarser scales (network against the data's Gaussian and mixture twins'
exact scores, each row with its noise floor), and the denoising loss of every network per
noise level against the twins' exact denoisers on the same fields.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..errors import WSGMError
from .options import (
    HelpFormatter,
    add_sampling_options,
    add_threads_option,
    parse_float_list,
    sampling_spec,
    steps_list,
)

__all__ = ["register", "run"]

DEFAULT_TIMES = "0.003,0.01,0.03,0.1,0.3,1,3"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "diagnose",
        help="per-scale diagnosis of a trained WSGM against its exact-score twins",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument("model_dir", help="run directory (or its model/ directory) of a WSGM")
    p.add_argument("--reference", required=True, help="held-out fields of the model's size")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--sweep-steps", default="8,32,128", metavar="N1,N2,...",
                   help="the step counts N at which every scale is sampled")  # fmt: skip
    p.add_argument("--n", type=int, default=None,
                   help="samples per row (needs 2n reference fields; default: half of them, "
                   "at most 512)")  # fmt: skip
    p.add_argument("--times", default=DEFAULT_TIMES, metavar="T1,T2,...",
                   help="noise levels t of the denoising-loss table (0 < t <= T)")  # fmt: skip
    add_sampling_options(p, per_model=False)
    p.add_argument("--seed", type=int, default=0, help="seed of the halves, noise and samples")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is present")
    add_threads_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.inputs import load_data
    from ..experiments.diagnose import denoising_losses, report_lines, scale_errors, twins_of
    from ..experiments.runs import load_trained
    from ..fileio import write_json_atomic
    from ..models.wsgm import WSGM
    from ..training.device import use_cpu

    steps = steps_list(args.sweep_steps)
    times = parse_float_list(args.times, what="--times")
    spec = sampling_spec(args)
    if args.allocations not in (None, "equal"):
        raise WSGMError("wsgm diagnose samples one scale at a time: --allocate does not apply")
    device = (
        torch.device("cpu")
        if use_cpu(args.cpu)
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    model = load_trained(args.model_dir, device=device, weights=spec.weights)
    if not isinstance(model, WSGM):
        raise WSGMError(f"{args.model_dir} holds a {model.config.kind} model; diagnose a WSGM")
    ref = load_data(args.reference).fields
    if ref.ndim != 4 or ref.shape[1] != 1:
        raise WSGMError(f"{args.reference}: the twins need one-channel fields, got {ref.shape}")
    n = args.n if args.n is not None else min(len(ref) // 2, 512)
    t0 = time.perf_counter()
    twins = twins_of(ref[:, 0], model.config.levels, model.config.wavelet)
    scales = scale_errors(model, ref, steps=steps, spec=spec, n=n, twins=twins)
    losses = denoising_losses(model, ref, times=times, twins=twins, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "model_dir": str(args.model_dir),
        "reference": str(args.reference),
        "sampling": spec.to_dict(),
        "samples_per_row": n,
        "seconds": time.perf_counter() - t0,
        "scales": scales,
        "losses": losses,
    }
    write_json_atomic(out / "diagnose.json", data)
    head = [
        f"# Per-scale diagnosis of {args.model_dir}",
        "",
        f"Sampler {spec.sampler} on the {spec.grid_label} grid, {n} samples per row, reference "
        f"{args.reference} (halves of {n}); noise floor = the distance between the halves. "
        "Twins: the data's Gaussian and mixture twins with exact scores (docs/design.md §6.5).",
        "",
    ]
    (out / "report.md").write_text("\n".join(head + report_lines(scales, losses)) + "\n")
    print(f"wrote {out / 'diagnose.json'} and report.md ({data['seconds']:.0f} s)")
    worst = max((r for r in scales if r["source"] == "network"),
                key=lambda r: r["spectrum"] / r["floor"]["spectrum"])  # fmt: skip
    print(
        f"largest network spectrum error / floor: {worst['scale']} at N = {worst['N']}: "
        f"{worst['spectrum'] / worst['floor']['spectrum']:.2f}x ({worst['spectrum']:.4g})"
    )
    return 0
