"""Noise floors of the image metrics on Fashion-MNIST at 32×32, and what a blur does to them.

From the 10k test images (padded 28 → 32, values in [−1, 1]) three disjoint random sets of
``--n`` images are drawn: A (the reference), B (same distribution: the noise floor B vs A)
and C, blurred with a Gaussian of σ = ``--sigma`` pixels (the "degraded model", C vs A).
Metrics: KID and FID with the FID Inception network (skipped with ``--no-inception`` or
when its weights are not installed), the Fréchet distance in the features of a CNN trained
for ``--epochs`` epochs on the 60k training images (cached in ``--cache``; its test
accuracy is printed), SWD of Laplacian patches and the power-spectrum error. Prints a
table, the classifier's accuracy and timings; ``--out FILE`` writes them as JSON.

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=src \\
        python benchmarks/image_metrics_floor.py --out image_metrics_floor.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from wsgm.data.images import ImageOptions, load_images
from wsgm.fileio import atomic_write
from wsgm.metrics.classifier import classifier_for
from wsgm.metrics.image_metrics import ImageMetricSuite, available_image_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion-mnist", help="IDX folder (default: Debian's)")
    parser.add_argument("--n", type=int, default=1000, help="images per set")
    parser.add_argument("--sigma", type=float, default=1.0, help="blur of the degraded set")
    parser.add_argument("--epochs", type=int, default=2, help="classifier training epochs")
    parser.add_argument(
        "--cache",
        default=str(Path.home() / ".cache/wsgm/classifier-fmnist32"),
        help="folder for the classifier weights",
    )
    parser.add_argument("--no-inception", action="store_true", help="skip KID and FID")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)

    t0 = time.perf_counter()
    opts = ImageOptions(size=32, fit="pad")
    train_x, train_y, _ = load_images(args.data, opts)
    test_x, test_y, _ = load_images(args.data, ImageOptions(size=32, fit="pad", split="test"))
    load_s = time.perf_counter() - t0
    assert train_y is not None and test_y is not None

    t0 = time.perf_counter()
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    clf, info = classifier_for(
        train_x,
        train_y,
        cache_dir=args.cache,
        generator=gen,
        epochs=args.epochs,
        test_images=test_x,
        test_labels=test_y,
    )
    clf_s = time.perf_counter() - t0

    perm = torch.randperm(len(test_x), generator=gen).numpy()
    n = args.n
    ref, held_out = test_x[perm[: 2 * n]], test_x[perm[2 * n : 3 * n]]
    degraded = gaussian_filter(
        held_out, sigma=(0, 0, args.sigma, args.sigma), mode="constant", cval=-1.0
    ).astype(np.float32)  # the padded background is −1
    metrics = available_image_metrics(classifier=clf)
    if args.no_inception:
        metrics = tuple(m for m in metrics if m not in ("kid", "fid"))

    t0 = time.perf_counter()
    suite = ImageMetricSuite(ref, sample_size=n, metrics=metrics, generator=gen, classifier=clf)
    floor_s, floor_parts = time.perf_counter() - t0, dict(suite.seconds)
    t0 = time.perf_counter()
    result = suite.evaluate(degraded)
    eval_s, eval_parts = time.perf_counter() - t0, dict(suite.seconds)

    print(
        f"Fashion-MNIST 32×32, {n} vs {n} test images; degraded = Gaussian blur σ = "
        f"{args.sigma} px; seed {args.seed}, {args.threads} thread(s)"
    )
    print(f"{'metric':<15}{'noise floor':>14}{'blurred':>14}{'ratio':>9}")
    for m in metrics:
        floor, value = result[m]["noise_floor"], result[m]["value"]
        # KID is unbiased: its floor is ≈ 0 and may be negative, so no ratio for it
        ratio = f"{value / floor:.1f}" if floor > 0 else "—"
        print(f"{m:<15}{floor:>14.6g}{value:>14.6g}{ratio:>9}")
    acc = info.get("test_accuracy")
    print(
        f"classifier: {args.epochs} epochs on {info.get('train_count')} training images, "
        f"test accuracy {acc:.4f}"
        if acc is not None
        else "classifier: (no test accuracy)"
    )
    print(
        f"seconds: load {load_s:.1f}, classifier train/load {clf_s:.1f}, suite (features "
        f"of 2×{n} reference + floors) {floor_s:.1f}, evaluate {n} images {eval_s:.1f}"
    )
    print("evaluate breakdown: " + ", ".join(f"{k} {v:.1f}" for k, v in eval_parts.items()))
    if args.out is not None:
        doc = {
            "n": n,
            "sigma": args.sigma,
            "seed": args.seed,
            "threads": args.threads,
            "metrics": result,
            "classifier": info,
            "seconds": {
                "load": load_s,
                "classifier": clf_s,
                "suite": floor_s,
                "evaluate": eval_s,
                "suite_parts": floor_parts,
                "evaluate_parts": eval_parts,
            },
        }
        text = json.dumps(doc, indent=2)
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(text + "\n"))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
