"""``wsgm data``: make and look at data sets (Gaussian fields, images, φ⁴; inspect).

Every subcommand writes the one format of :mod:`wsgm.data.io` (``fields`` + JSON ``meta``,
optional ``labels``), atomically, and refuses to replace an existing file unless told.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from ..errors import WSGMError
from . import data_phi4
from .options import HelpFormatter, add_deprecated, add_threads_option

__all__ = ["register", "run_gaussian", "run_fields", "run_images", "run_inspect"]


def register(subparsers: Any) -> None:
    """Add the ``data`` group and its subcommands to the top-level parser."""
    p = subparsers.add_parser(
        "data",
        help="make and inspect data sets (gaussian, phi4, merge, images, fields, inspect)",
        description="Make data sets in wsgm's .npz format, or look at one.",
        formatter_class=HelpFormatter,
    )
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: _help(p))

    g = sub.add_parser(
        "gaussian",
        help="stationary Gaussian fields by exact spectral synthesis",
        description="Periodic LxL Gaussian fields whose power spectrum is "
        "P(w) = 1/(xi^eta + |w|^eta), normalized to max 1 (wsgm.gaussian.spectra).",
        formatter_class=HelpFormatter,
    )
    g.add_argument("--size", type=int, required=True, help="grid side L")
    g.add_argument("--n", type=int, required=True, help="number of fields")
    g.add_argument("--out", required=True, help="output .npz file")
    g.add_argument("--eta", type=float, default=2.0, help="spectral exponent")
    g.add_argument(
        "--xi", type=float, default=0.0, help="inverse correlation length (0: scale free)"
    )
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    g.set_defaults(func=run_gaussian)

    im = sub.add_parser(
        "images",
        help="images from a folder, IDX files (Fashion-MNIST) or .npy/.npz",
        description="Convert images to (n, C, S, S) float32 in [-1, 1], S a power of two. "
        "SOURCE: a folder of PNG/JPEG (recursive; centre crop + resize), an IDX "
        "file or folder (fashion-mnist = /usr/share/datasets/fashion-mnist from "
        "`apt-get install dataset-fashion-mnist`), or a .npy/.npz array.",
        formatter_class=HelpFormatter,
    )
    im.add_argument("source", metavar="SOURCE", help="folder, IDX file/folder, .npy/.npz")
    im.add_argument(
        "--size",
        type=int,
        default=None,
        help="output side, a power of two (required for folders; IDX/arrays "
        "default to the next power of two, 28 -> 32)",
    )
    im.add_argument("--out", required=True, help="output .npz file")
    im.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="1 (gray) or 3 (RGB); default: the source's",
    )
    im.add_argument("--limit", type=int, default=None, help="keep at most this many images")
    im.add_argument(
        "--split",
        choices=("train", "test"),
        default="train",
        help="IDX folders and .npz with x_test: which split",
    )
    im.add_argument(
        "--fit",
        choices=("auto", "pad", "resize"),
        default="auto",
        help="IDX/arrays: pad onto a -1 canvas or resize (auto: pad if smaller)",
    )
    im.add_argument(
        "--range",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        default=None,
        dest="value_range",
        help="input values mapped to [-1, 1] (arrays)",
    )
    im.add_argument("--read-batch", type=int, default=256, help="images read and converted at once")
    add_deprecated(im, "--batch-size", new="--read-batch", dest="read_batch", type=int)
    add_threads_option(im)
    im.add_argument("--no-progress", action="store_true", help="no progress bar")
    im.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    im.set_defaults(func=run_images)

    fl = sub.add_parser(
        "fields",
        help="physical fields from your own .npy/.npz float array",
        description="Turn a float array (n, H, W) or (n, C, H, W) — from a .npy, or an .npz "
        "array named fields, x, x_train, images, data or arr_0 (or its only array) — into a "
        "wsgm data file of kind field: periodic unless --aperiodic, values kept as they are.",
        formatter_class=HelpFormatter,
    )
    fl.add_argument("source", metavar="SOURCE", help=".npy or .npz file of floats")
    fl.add_argument("--out", required=True, help="output .npz file")
    fl.add_argument(
        "--aperiodic",
        action="store_true",
        help="the fields are not periodic (zero padding, no shift augmentation)",
    )
    fl.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    fl.set_defaults(func=run_fields)

    ins = sub.add_parser(
        "inspect",
        help="what a data file holds, its observables and a figure",
        description="Print shape, dtype, meta and observables (mean, variance, <|m|>, <m^2>, "
        "Binder U4, radial power spectrum); optionally plot them next to the "
        "reference curves of the source (e.g. the exact Gaussian spectrum).",
        formatter_class=HelpFormatter,
    )
    ins.add_argument("file", metavar="FILE", help="a .npz written by a wsgm command")
    ins.add_argument("--png", default=None, metavar="OUT.png", help="write a summary figure")
    ins.add_argument("--json", action="store_true", help="print the observables as JSON")
    ins.add_argument("--examples", type=int, default=6, help="example fields in the figure")
    ins.add_argument(
        "--against",
        metavar="REF.npz",
        help="compare <phi^2>, <|m|>, U4 and chi with this file's (e.g. a model's samples "
        "against the MCMC data), each with its blocked-jackknife standard error and z-score",
    )
    ins.add_argument(
        "--blocks",
        type=int,
        default=64,
        help="jackknife blocks for --against (contiguous in file order; >= 2)",
    )
    ins.set_defaults(func=run_inspect)

    data_phi4.register(sub)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _check_out(out: str, overwrite: bool) -> None:
    if Path(out).exists() and not overwrite:
        raise WSGMError(f"{out} already exists; pass --overwrite to replace it")
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WSGMError(f"cannot create the output folder {Path(out).parent}: {exc}") from exc


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise WSGMError(f"{name} must be a positive integer, got {value}")


def run_gaussian(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data.gaussian import iter_gaussian_fields
    from ..data.io import FieldWriter

    _positive("--size", args.size)
    _positive("--n", args.n)
    _check_out(args.out, args.overwrite)
    gen = np.random.default_rng(args.seed)
    meta = {
        "source": "gaussian",
        "generator": "wsgm.data.gaussian/1",
        "spectrum": "P(w) = 1/(xi^eta + |w|^eta) / max, P(0) := P(2pi/L) when xi = 0",
        "eta": args.eta,
        "xi": args.xi,
        "size": args.size,
        "n": args.n,
        "seed": args.seed,
    }
    with FieldWriter(args.out) as writer:
        for batch in iter_gaussian_fields(
            args.n, size=args.size, eta=args.eta, xi=args.xi, generator=gen
        ):
            writer.append(batch)
        path = writer.close(meta)
    print(
        f"wrote {path}: {args.n} Gaussian fields {args.size}x{args.size} "
        f"(eta={args.eta:g}, xi={args.xi:g}, seed={args.seed})"
    )
    return 0


def run_fields(args: argparse.Namespace) -> int:
    from ..data.inputs import load_data
    from ..data.io import save_fields

    _check_out(args.out, args.overwrite)
    data = load_data(args.source)
    if data.meta.get("kind") == "image":
        raise WSGMError(f"{args.source} holds images; use `wsgm data images` for them")
    meta = {
        **{k: v for k, v in data.meta.items() if k in ("path", "key")},
        "source": "array",
        "kind": "field",
        "periodic": not args.aperiodic,
    }
    save_fields(args.out, data.fields, meta)
    n, c, h, w = data.fields.shape
    print(
        f"wrote {args.out}: {n} fields {c}x{h}x{w} of kind field "
        f"({'aperiodic' if args.aperiodic else 'periodic'})"
    )
    return 0


def run_images(args: argparse.Namespace) -> int:
    from ..data.images import ImageOptions, ImageSkipWarning, convert_images

    opts = ImageOptions(
        size=args.size,
        channels=args.channels,
        fit=args.fit,
        limit=args.limit,
        split=args.split,
        batch_size=args.read_batch,
        value_range=None if args.value_range is None else tuple(args.value_range),
    )
    _check_out(args.out, args.overwrite)

    def show(message: Any, category: Any, *rest: Any, **kw: Any) -> None:
        print(f"wsgm data images: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", ImageSkipWarning)
        warnings.showwarning = show
        meta = convert_images(args.source, args.out, opts, progress=not args.no_progress)
    labels = f", labels ({meta['num_classes']} classes)" if meta.get("labels") else ""
    skipped = meta.get("skipped_count", 0)
    print(
        f"wrote {args.out}: {meta['count']} images {meta['channels']}x{meta['size']}x"
        f"{meta['size']} in [-1, 1]{labels}"
        + (f"; skipped {skipped} unreadable file(s)" if skipped else "")
    )
    native = meta.get("native_size")
    if meta.get("fit") == "pad" and native and min(native) < meta["size"]:
        print(
            f"note: the {native[0]}x{native[1]} images were centred on a {meta['size']}x"
            f"{meta['size']} canvas of -1 (the side must be a power of two); --fit resize "
            "resizes them instead",
            file=sys.stderr,
        )
    return 0


def _compare_observables(fields: Any, against: str, *, blocks: int) -> tuple[list[dict], list[str]]:
    """The observables of ``fields`` and of the file ``against``: JSON rows and a table."""
    from ..data.inputs import load_data
    from ..metrics.observables import compare, comparison_lines, field_observables

    rows = compare(
        field_observables(fields, blocks=blocks),
        field_observables(load_data(against).fields, blocks=blocks),
    )
    out = [
        {
            "name": r.name,
            "value": r.a.value,
            "se": r.a.se,
            "against_value": r.b.value,
            "against_se": r.b.se,
            "difference": r.difference,
            "z": r.z,
            "within_2se": r.within(2.0),
        }
        for r in rows
    ]
    return out, comparison_lines(rows, a="file", b="against")


def run_inspect(args: argparse.Namespace) -> int:
    from ..data.inputs import load_data
    from ..data.io import load_labels
    from ..data.summary import describe, observables, plot_summary, reference_for

    data = load_data(args.file, allow_nonfinite=True)
    labels = load_labels(args.file) if str(args.file).endswith(".npz") else None
    obs = observables(data.fields)
    ref = reference_for(data.meta, data.spatial)
    rows, table = (
        _compare_observables(data.fields, args.against, blocks=args.blocks)
        if args.against
        else (None, [])
    )
    if args.json:
        out = {
            "file": str(args.file),
            "shape": list(data.fields.shape),
            "source": data.meta.get("source"),
            "kind": data.meta.get("kind"),
            **obs,
        }
        if rows is not None:
            out["against"] = {"file": str(args.against), "blocks": args.blocks, "rows": rows}
        print(json.dumps(out))
    else:
        print(describe(data, args.file, obs, labels))
        if ref is not None:
            for note in ref.notes:
                print(f"reference: {note}")
        if rows is not None:
            print(f"observables against {args.against}:")
            print("\n".join(table))
    if args.png:
        path = plot_summary(data, args.png, obs=obs, reference=ref, examples=args.examples)
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
