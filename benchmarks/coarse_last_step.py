"""Where a trained WSGM's coarse scale loses at few steps (issue #12, per-scale diagnosis).

At N = 8 Euler–Maruyama steps on the quadratic grid, the 8×8 coarse network of the 32×32
φ⁴ WSGM gives 35–70 % too much power at every non-zero shell, while the data's mixture twin
with exact scores is within a few per cent. Two tables locate it:

1. **Which noise levels.** The same sampler with the network's score at some of the steps
   and the twin's exact score at the others: log power ratio to the data per shell k = 0..6.
2. **Why.** The state the sampler feeds its last (Tweedie) step at t_{N-1} (reached with
   the twin's exact score) against a true x_{t_{N-1}} (data plus exact noise), and the power
   of the network's and the twin's denoised outputs from both, relative to the data.

    python benchmarks/coarse_last_step.py --run runs/phi4_scaling/L32/runs/wsgm \\
        --data-dir runs/phi4_scaling/L32 --steps 8

Fields: the last ``--n`` of ``DATA/train.npz``; normalized coarse coordinates of the run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from wsgm import wavelets
from wsgm.experiments.diagnose import twins_of
from wsgm.experiments.runs import load_trained
from wsgm.metrics.spectrum import power_spectrum_2d, radial_average
from wsgm.models.wsgm import scale_grid
from wsgm.samplers import ScoreFn, get_sampler
from wsgm.sampling.spec import SamplingSpec


def shells(x: Tensor) -> np.ndarray:
    """Radial power per shell k = 0, 1, ... of one-channel fields."""
    return radial_average(power_spectrum_2d(x[:, 0].double().numpy()), include_zero=True)[1]


def windowed(inside: ScoreFn, outside: ScoreFn, lo: float, hi: float) -> ScoreFn:
    """``inside`` for lo <= t < hi, ``outside`` elsewhere (one t per call, as the samplers do)."""

    def score(x: Tensor, t: Tensor, cond: Tensor | None) -> Tensor:
        return (inside if lo <= float(t.flatten()[0]) < hi else outside)(x, t, cond)

    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="a trained WSGM run or model directory")
    ap.add_argument("--data-dir", required=True, help="a folder holding data/train.npz")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_trained(Path(args.run))
    cfg, sde = model.config, model.sde
    train = np.load(Path(args.data_dir) / "data" / "train.npz")["fields"]
    low = torch.as_tensor(train[-args.n :, None].astype(np.float32))
    for _ in range(cfg.levels):
        low = wavelets.dwt(low, cfg.wavelet)[0]
    x0 = model.stats.normalize_low(low, cfg.levels)
    data = shells(x0)
    twin = twins_of(train[: min(len(train), 2048)], cfg.levels, cfg.wavelet)["mixture"]
    net, exact = model.score_fn("coarse"), twin.coarse_score_fn
    spec = SamplingSpec(sampler="euler", grid="quadratic", steps=args.steps)
    grid = scale_grid(spec.grids(T=sde.T, levels=cfg.levels, size=cfg.size[-1]), 0)
    run = get_sampler("euler")
    shape = (args.n, cfg.channels, *x0.shape[-2:])
    print(f"coarse {shape[-1]}x{shape[-1]}, Euler-Maruyama / quadratic, N = {args.steps}, "
          f"grid {np.round(grid.numpy(), 4).tolist()}")  # fmt: skip
    print("1. log(power / data) per shell k = 0..; network on the window, exact twin elsewhere")
    t_last = float(grid[-2])
    cut = t_last * (1 + 1e-6)
    windows = {"every step": (0.0, np.inf), "no step": (np.inf, np.inf),
               "all but the last": (cut, np.inf), "the last step only": (0.0, cut)}  # fmt: skip
    for label, (lo, hi) in windows.items():
        g = torch.Generator().manual_seed(args.seed)
        z = torch.randn(shape, generator=g)
        x = run(windowed(net, exact, lo, hi), z, grid, generator=g, sde=sde)
        r = np.log(shells(x) / data)
        print(f"   network at {label:18s} {np.round(r, 3).tolist()}  "
              f"rms k>=1 {np.sqrt((r[1:] ** 2).mean()):.3f}")  # fmt: skip
    g = torch.Generator().manual_seed(args.seed)
    z = torch.randn(shape, generator=g)
    state = run(exact, z, grid[:-1], generator=g, sde=sde, denoise_last=False)
    tt = torch.tensor(t_last)
    true_t = sde.perturb(x0, tt, torch.randn(x0.shape, generator=g))
    print(f"2. at t_(N-1) = {t_last:.4g}: sampler state (exact twin path) / true x_t power "
          f"{np.round(shells(state) / shells(true_t), 3).tolist()}")  # fmt: skip
    for name, xs in (("sampler state", state), ("true x_t", true_t)):
        for src, fn in (("network", net), ("exact twin", exact)):
            with torch.no_grad():
                d = sde.denoise(xs, fn(xs, tt, None), tt)
            print(f"   denoised {name:13s} by {src:10s}: power / data "
                  f"{np.round(shells(d) / data, 3).tolist()}")  # fmt: skip


if __name__ == "__main__":
    main()
