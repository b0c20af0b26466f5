"""``wsgm eval``: step sweep of trained models against held-out reference data.

    wsgm eval --sgm runs/sgm --wsgm runs/wsgm --reference ref.npz --out sweep/
    wsgm eval runs/wsgm --reference ref.npz --out sweep/ --sweep-steps 4,8,16,32

Samples every model with N steps for each N of ``--sweep-steps`` (N per scale for a WSGM), and
measures the samples against one half of the reference set; the other half gives each
metric's noise floor at the same sample size. Fields: spectrum error, marginal-histogram
and magnetization W1. Images (data whose metadata say so, or ``--images``): KID/FID if the
Inception weights are installed, SWD, spectrum, and the classifier Fréchet distance when
``--classifier-data`` gives labelled training images. Writes ``sweep.json``, ``sweep.csv``,
``error_vs_steps.png``, ``error_vs_time.png`` and ``samples_<model>.png`` into ``--out`` and
prints, per metric, the smallest N within 2x the noise floor.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import WSGMError
from ..experiments.sweep import DEFAULT_STEPS
from .options import (
    HelpFormatter,
    add_deprecated,
    add_sampling_options,
    add_threads_option,
    sampling_spec,
    steps_list,
)

__all__ = ["register", "run", "parse_steps"]


def parse_steps(text: str) -> list[int]:
    """``"2,4,8"`` -> [2, 4, 8]; anything else is a clear error."""
    return list(steps_list(text))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "eval",
        help="step sweep: error vs sampler steps N against reference data",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    p.add_argument("models", nargs="*", help="run or model directories (labelled by kind)")
    p.add_argument("--sgm", help="run directory of the SGM")
    p.add_argument("--wsgm", help="run directory of the WSGM")
    p.add_argument("--reference", required=True, help="held-out data (.npz), >= 2 x --n fields")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--sweep-steps",
        default=",".join(map(str, DEFAULT_STEPS)),
        metavar="N1,N2,...",
        help="comma-separated sampler step counts N",
    )
    add_deprecated(p, "--steps", new="--sweep-steps", dest="sweep_steps")
    p.add_argument("--n", type=int, help="samples per N (default: half the reference, <= 512)")
    p.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="independent sample draws per N: the sweep reports each metric's mean and "
        "standard error, and 'within 2x the floor' uses the mean",
    )
    p.add_argument("--metrics", help="comma-separated metric names (default: all available)")
    p.add_argument(
        "--kind",
        choices=("image", "field"),
        help="which metrics: image (SWD, spectrum, classifier FD, KID/FID) or field (spectrum, "
        "histogram and magnetization W1) (default: the kind of data the models were trained on)",
    )
    p.add_argument(
        "--images",
        dest="kind",
        action="store_const",
        const="image",
        help="deprecated spelling of --kind image",
    )
    p.add_argument(
        "--rescale-reference",
        action="store_true",
        help="map the reference's value range linearly onto the models' training range "
        "instead of refusing a reference whose range differs",
    )
    p.add_argument("--classifier-data", help="labelled training images for classifier_fd")
    p.add_argument("--inception", help="FID Inception TorchScript file (default: installed)")
    add_sampling_options(p, per_model=False, coarse=True)
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the samples (batch b of N: (seed, N, b)) and of the halves",
    )
    p.add_argument(
        "--factor",
        type=float,
        default=2.0,
        help="headline: smallest N within FACTOR x the noise floor",
    )
    p.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="evaluate a run whose training has not reached its target steps",
    )
    p.add_argument("--cpu", action="store_true", help="stay on the CPU even with a GPU")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_threads_option(p)
    p.set_defaults(func=run)


def _labelled(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = [("sgm", args.sgm)] if args.sgm else []
    pairs += [("wsgm", args.wsgm)] if args.wsgm else []
    for path in args.models:
        pairs.append(("", path))
    if not pairs:
        raise WSGMError("give at least one model: a run directory, or --sgm DIR / --wsgm DIR")
    return pairs


def run(args: argparse.Namespace) -> int:
    from ..data.inputs import load_data
    from ..data.io import load_labels
    from ..experiments.evaluate import run_sweep
    from ..experiments.results import headline_sentence
    from ..experiments.runs import load_trained
    from ..experiments.sweep import FIELD_METRICS, FieldSuite, ImageSuite, MetricSuite
    from ..sampling.allocation import parse_allocations
    from ..training.device import use_cpu

    steps = parse_steps(args.sweep_steps)
    spec = sampling_spec(args)
    parse_allocations(args.allocations)  # a bad list fails before any model is loaded
    device = (
        torch.device("cpu")
        if use_cpu(args.cpu)
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    models = {}
    for label, path in _labelled(args):
        model = load_trained(
            path, device=device, weights=spec.weights, require_finished=not args.allow_unfinished
        )
        if label and model.config.kind != label:
            raise WSGMError(f"--{label} {path} holds a {model.config.kind} model, not a {label}")
        name = label or model.config.kind
        k = 2
        while name in models:
            name, k = f"{label or model.config.kind}{k}", k + 1
        models[name] = model
    ref = load_data(args.reference)
    if ref.fields.ndim != 4:
        raise WSGMError(f"{args.reference}: need 2-d fields (n, C, H, W), got {ref.fields.shape}")
    for name, model in models.items():
        cfg = model.config
        if tuple(ref.fields.shape[1:]) != (cfg.channels, *cfg.size):
            raise WSGMError(
                f"reference {args.reference} holds fields "
                f"{'x'.join(map(str, ref.fields.shape[1:]))} but the {name} model was trained "
                f"on {cfg.channels}x{cfg.size[0]}x{cfg.size[1]}; give reference data of the "
                "model's size"
            )
    ref.fields = check_reference_range(ref.fields, models, args.reference, args.rescale_reference)
    n = args.n if args.n is not None else min(len(ref.fields) // 2, 512)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    kind = args.kind or _models_kind(models)
    suite: MetricSuite
    if kind == "image":
        if metrics is None and device.type == "cpu":
            # KID/FID run the Inception network on every sample: minutes per N on a CPU.
            from ..metrics.image_metrics import available_image_metrics

            metrics = [m for m in available_image_metrics() if m not in ("kid", "fid")]
            if args.classifier_data:
                metrics.append("classifier_fd")
        classifier = None
        if args.classifier_data:
            from ..metrics.classifier import classifier_for

            (Path(args.out) / "classifier").mkdir(parents=True, exist_ok=True)
            labels = load_labels(args.classifier_data)
            if labels is None:
                raise WSGMError(f"--classifier-data {args.classifier_data} has no labels")
            classifier, _ = classifier_for(
                load_data(args.classifier_data).fields,
                labels,
                cache_dir=Path(args.out) / "classifier",
                generator=torch.Generator().manual_seed(args.seed),
                device=device,
            )
        if metrics is None or {"kid", "fid"} & set(metrics):
            _announce_inception(n, len(steps) * len(models), args.inception, device)
        suite = ImageSuite(
            ref.fields,
            sample_size=n,
            metrics=metrics,
            classifier=classifier,
            inception_path=args.inception,
            device=device,
            generator=torch.Generator().manual_seed(args.seed),
            progress=not args.no_progress,
        )
    else:
        suite = FieldSuite(
            ref.fields,
            sample_size=n,
            metrics=metrics or FIELD_METRICS,
            generator=np.random.default_rng(args.seed),
        )
    print(
        f"metrics for {kind} data: {', '.join(suite.metrics)}"
        + (
            " (KID/FID are off on a CPU unless --metrics names them)"
            if kind == "image" and device.type == "cpu" and not args.metrics
            else ""
        ),
        flush=True,
    )
    data, _ = run_sweep(
        models,
        suite,
        args.out,
        steps=steps,
        spec=spec,
        factor=args.factor,
        settings={
            "reference": str(args.reference),
            "models": {
                k: str(p) for k, p in zip(models, [p for _, p in _labelled(args)], strict=True)
            },
        },
        cmap="gray" if kind == "image" else "viridis",
        progress=not args.no_progress,
        repeats=args.repeats,
        allocations=parse_allocations(args.allocations),
    )
    print(f"wrote {Path(args.out) / 'sweep.json'} (+ sweep.csv, PNGs)")
    for metric, per in data["headline"]["metrics"].items():
        if suite.noise_floors.get(metric, 1.0) <= 0:  # KID is unbiased: its floor is ~0
            print(f"{metric}: no 'within {args.factor:g}x the noise floor' (floor <= 0)")
            continue
        cells = ", ".join(
            f"{lab}: {f'N = {v}' if v is not None else 'not within ' + str(max(steps))}"
            for lab, v in per.items()
        )
        print(f"{metric}: within {args.factor:g}x noise floor at {cells}")
    if "sgm" in models and "wsgm" in models:
        # KID's floor is ~0 (unbiased): the first other metric makes the headline.
        print(headline_sentence(data, next((m for m in suite.metrics if m != "kid"), "kid")))
    _print_matched_cost(data["models"], suite.metrics)
    return 0


def _print_matched_cost(models: dict[str, Any], metrics: Sequence[str]) -> None:
    """Each WSGM (every allocation) against the SGM at equal cost, one line per metric."""
    from ..experiments.matched_cost import matched_cost_summary

    if "sgm" not in models:
        return
    for label, m in models.items():
        if label == "sgm" or m.get("kind") != "wsgm":
            continue
        for axis in ("cost", "seconds"):
            for metric in metrics:
                summary = matched_cost_summary(
                    models["sgm"], m, metric, axis=axis, name=label.upper()
                )
                print(f"at equal {axis}, {metric}: {summary}")


def _models_kind(models: dict[str, Any]) -> str:
    """The kind of data the models were trained on (they must agree)."""
    kinds = {name: m.config.resolved_kind for name, m in models.items()}
    if len(set(kinds.values())) > 1:
        raise WSGMError(
            f"the models were trained on different kinds of data ({kinds}); evaluate them "
            "separately or choose the metrics with --kind"
        )
    return next(iter(kinds.values()))


def check_reference_range(
    fields: np.ndarray, models: dict[str, Any], path: str, rescale: bool
) -> np.ndarray:
    """The reference fields, refused (or, with ``rescale``, mapped linearly) when their value
    range differs from a model's training range by more than a quarter of that range."""
    lo, hi = float(fields.min()), float(fields.max())
    for name, model in models.items():
        trained = model.config.data_range
        if trained is None:
            continue  # saved before models recorded their data's range
        t_lo, t_hi = trained
        span = max(t_hi - t_lo, 1e-12)
        if abs(lo - t_lo) <= 0.25 * span and abs(hi - t_hi) <= 0.25 * span:
            continue
        if not rescale:
            raise WSGMError(
                f"reference {path} has values in [{lo:.3g}, {hi:.3g}] but the {name} model was "
                f"trained on data in [{t_lo:.3g}, {t_hi:.3g}]; give reference data on the "
                "model's scale, or --rescale-reference to map one range onto the other"
            )
        print(
            f"rescaling the reference from [{lo:.3g}, {hi:.3g}] to [{t_lo:.3g}, {t_hi:.3g}]",
            flush=True,
        )
        return ((fields - lo) / max(hi - lo, 1e-12) * (t_hi - t_lo) + t_lo).astype(np.float32)
    return fields


def _announce_inception(n: int, sample_sets: int, path: str | None, device: torch.device) -> None:
    """Say, before it starts, how long the Inception features of KID/FID will take: the two
    reference halves and every sample set, timed on a few images here."""
    import time

    from ..metrics.inception import InceptionFeatures, default_inception_path, load_inception

    if path is None and default_inception_path() is None:
        return  # KID/FID are not available; nothing slow will run
    features = InceptionFeatures(load_inception(path, device=device))
    x = torch.zeros(4, 1, 32, 32, device=device)
    with torch.inference_mode():
        features(x)  # warm-up
        t0 = time.perf_counter()
        features(x)
    per_image = (time.perf_counter() - t0) / 4
    images = n * (2 + sample_sets)
    print(
        f"KID/FID: Inception features of {images} images, about {per_image * images / 60:.1f} "
        f"min here ({per_image:.2f} s per image); --metrics without kid,fid skips them",
        flush=True,
    )
