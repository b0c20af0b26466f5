"""How much of each WSGM network's score does the data's twin carry? (docs/design.md §6.7)

For every network of a WSGM on a data file, the denoising loss E||eps_hat - eps||² at fixed
times t of an *untrained* model (its output layer starts at zero) with the plain v skip
(eps_hat = sigma_t x) and with the twin skip (``model.skip = mixture`` for the coarse network,
``model.skip_details`` for the detail networks): the twin's own DSM loss, on the same fields
and the same noise. 1 = no denoising; a trained network's loss sits below both.

    python benchmarks/twin_skip_loss.py --data runs/phi4_scaling/L32/data/train.npz --levels 2
"""

from __future__ import annotations

import argparse

import torch

from wsgm.data.io import load_fields
from wsgm.models.io import build_model
from wsgm.models.twin_skip import stats_for_model
from wsgm.training.config import RunConfig, apply_overrides
from wsgm.training.defaults import model_config_for

TIMES = (0.01, 0.05, 0.2, 0.5, 1.0, 2.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a one-channel field file (.npz)")
    ap.add_argument("--levels", type=int, default=2)
    ap.add_argument("--wavelet", default="db4")
    ap.add_argument("--n", type=int, default=1024, help="fields used (default: 1024)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x = torch.as_tensor(load_fields(args.data).fields[: args.n]).float()
    x = x[:, None] if x.ndim == 3 else x
    losses: dict[tuple[str, str, float], float] = {}
    for skip in ("plain", "twin"):
        sets = [f"model.levels={args.levels}", f"model.wavelet={args.wavelet}"]
        if skip == "twin":
            sets += ["model.skip=mixture", "model.skip_details=true"]
        run = apply_overrides(RunConfig(), sets)
        cfg = model_config_for(run, channels=1, size=tuple(x.shape[-2:]), kind="field",
                               periodic=True)  # fmt: skip
        model = build_model(cfg, stats_for_model(x, cfg))
        g = torch.Generator().manual_seed(args.seed)
        for name, (target, cond) in model.training_pairs(x).items():
            eps = torch.randn(target.shape, generator=g)
            for t in TIMES:
                tt = torch.full((len(target),), t)
                with torch.no_grad():
                    got = model.eps_fn(name)(model.sde.perturb(target, tt, eps), tt, cond)
                losses[(skip, name, t)] = float(((got - eps) ** 2).mean())
    print(f"untrained DSM loss on {len(x)} fields of {args.data} (plain v skip / twin skip)")
    print("network  " + "  ".join(f"t={t:<13}" for t in TIMES))
    for name in model.config.names:
        cells = "  ".join(
            f"{losses[('plain', name, t)]:.4f}/{losses[('twin', name, t)]:.4f}" for t in TIMES
        )
        print(f"{name:8s} {cells}")


if __name__ == "__main__":
    main()
