"""Power of the Fourier modes that are the wavelet bands' zero-frequency modes (issue #12).

The spatial mean of a detail band of scale j is one Fourier mode of the field: for a
periodic L×L field, scale j's diagonal band holds the mode (L/2^j, L/2^j) and its two axis
bands the modes (L/2^j, 0) and (0, L/2^j) (the high-pass filter passes π, the low-pass
stops it). A WSGM's network of scale j must denoise them through its mean head, since
GroupNorm hides spatial means from its convolutions (docs/design.md §6.6). This script
draws scale j's details given *true* low-passes (``refine_once``, as ``wsgm diagnose``
does), with the network of every model given and with the exact conditional score of the
data's Gaussian twin, and prints the mean power |φ̂_k|²/L² of those modes against the
data's, with standard errors over fields and z-scores (they matter beyond their number: the
spectrum error of §7.4 weighs each radial shell alike, and the corner shell of a 32×32 field
is the single mode (16, 16)).

    python benchmarks/zero_modes.py --data-dir runs/phi4_scaling/L32 \\
        --models baseline=runs/recipes/baseline/run,meanhead=runs/recipes/meanhead/run \\
        --n 1024 --steps 64

Fields: the last ``--n`` fields of ``DATA/train.npz`` (their low-passes are the conditions,
the fields themselves the data row); Euler–Maruyama on the quadratic grid.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from wsgm import wavelets
from wsgm.experiments.diagnose import twins_of
from wsgm.experiments.runs import load_trained
from wsgm.models.normalization import NormalizationStats
from wsgm.models.wsgm import refine_once, scale_grid
from wsgm.samplers import get_sampler
from wsgm.sampling.spec import SamplingSpec


def mode_powers(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-field |φ̂_k|²/n² of the modes (n/2, n/2) and (n/2, 0), (0, n/2) (averaged) of
    n×n fields: the means of the diagonal and the axis bands of their first DWT level."""
    side = x.shape[-1]
    f = np.fft.fft2(x.astype(np.float64))
    p = (f.real**2 + f.imag**2) / (side * side)
    q = side // 2
    return {f"({q},{q})": p[:, q, q], f"({q},0)": (p[:, q, 0] + p[:, 0, q]) / 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True, help="a folder holding data/train.npz")
    ap.add_argument("--models", required=True, help="label=run_dir,label=run_dir,...")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train = np.load(Path(args.data_dir) / "data" / "train.npz")["fields"]
    x0 = torch.as_tensor(train[-args.n :, None].astype(np.float32))
    pairs = (m.split("=", 1) for m in args.models.split(","))
    models = {label: load_trained(Path(path)) for label, path in pairs}
    first = next(iter(models.values()))
    cfg, sde = first.config, first.sde
    levels, wavelet, side = cfg.levels, cfg.wavelet, cfg.size[-1]
    twin = twins_of(train[: min(len(train), 2048)], levels, wavelet)["gaussian"]
    twin_stats = NormalizationStats.from_tensors(twin.stats_tensors(torch.float32))
    lows = [x0]
    for _ in range(levels):
        lows.append(wavelets.dwt(lows[-1], wavelet)[0])
    grids = SamplingSpec(sampler="euler", grid="quadratic", steps=args.steps).grids(
        T=sde.T, levels=levels, size=side
    )
    run = get_sampler("euler")
    print(f"{args.n} fields, Euler-Maruyama / quadratic grid, N = {args.steps}; power ± SE")
    for j in range(1, levels + 1):
        sources = {"data": lows[j - 1]}
        scorers = {k: (m.cond_score_fns()[j - 1], m.stats) for k, m in models.items()}
        scorers["exact twin"] = (twin.cond_score_fns[j - 1], twin_stats)
        for label, (fn, st) in scorers.items():
            g = torch.Generator().manual_seed(args.seed + j)
            sources[label] = refine_once(
                lows[j], fn, st, level=j, wavelet=wavelet, sampler=run,
                grid=scale_grid(grids, j), generator=g, sde=sde,
            )  # fmt: skip
        data = mode_powers(sources["data"][:, 0].numpy())
        n = side >> (j - 1)
        print(f"scale {j} (modes of the {n}x{n} low-pass x_{j - 1}):")
        for label, x in sources.items():
            pw = mode_powers(x[:, 0].numpy())
            cells = []
            for mode, v in pw.items():
                se = v.std(ddof=1) / np.sqrt(len(v))
                d = data[mode]
                z = (v.mean() - d.mean()) / np.hypot(se, d.std(ddof=1) / np.sqrt(len(d)))
                cells.append(f"{mode}: {v.mean():.4f} ± {se:.4f} ({v.mean() / d.mean() - 1:+.1%}"
                             + ("" if label == "data" else f", z {z:+.1f}") + ")")  # fmt: skip
            print(f"  {label:12s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
