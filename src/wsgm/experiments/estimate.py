"""How long a reproduction will take on this machine, from a few seconds of calibration.

:func:`estimate` builds the preset's two models with random weights, times a few optimizer
steps and a few network evaluations of each network on this machine (with this process's
threads), and scales them by the preset's counts:

- training: ``train_steps`` x (one step of every network of the SGM + of the WSGM);
- sweep: sum over N of N x (one evaluation of every network, on a batch) x batches;
- data: φ⁴ Monte Carlo at about 2e-6 s per site per field on 2 cores
  (``benchmarks/phi4_mcmc.py``), plus thermalization; Gaussian fields and images: seconds.

The bare network costs are scaled by the overheads measured on the demo from a fresh clone
(2 idle cores): the training loop (batches, augmentation, EMA, logging, checkpoints) took
1.37x its optimizer steps, the sweep (samplers, metrics, figures, twin curves) 1.75x its
network evaluations. It is an estimate (±20 % on an idle machine; a busy one is slower)
and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from ..losses import DSMLoss
from ..models.io import build_model
from ..models.twin_skip import stats_for_model
from ..training.defaults import model_config_for
from .presets import Preset

__all__ = ["estimate"]

TRAIN_OVERHEAD = 1.37  # measured: the demo's training / its bare optimizer steps
SWEEP_OVERHEAD = 1.75  # measured: the demo's sweep / its bare network evaluations


def _timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (allocations, kernels)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def _model_costs(preset: Preset, kind: str, *, repeats: int = 2) -> tuple[float, float]:
    """(seconds of one training step of every network, of one evaluation of every network
    on a sampling batch) for the preset's ``kind`` model."""
    run = preset.run_config(kind, "")
    g = torch.Generator().manual_seed(0)
    size = preset.size
    channels = 1  # phi^4, Gaussian fields and Fashion-MNIST are one-channel
    x = torch.randn(max(preset.train_batch, 8), channels, size, size, generator=g)
    cfg = model_config_for(run, channels=channels, size=(size, size), kind="field", periodic=True)
    model = build_model(cfg, stats_for_model(x, cfg))
    loss = DSMLoss(model.sde, run.train.t_schedule, run.train.t_min, run.train.loss_weighting)
    opt = torch.optim.AdamW(model.nets.parameters(), lr=1e-4)
    pairs = model.training_pairs(x[: preset.train_batch])

    def step() -> None:
        total = sum(loss(model.eps_fn(n), loss.draw(t, g), c) for n, (t, c) in pairs.items())
        opt.zero_grad()
        total.backward()  # type: ignore[union-attr]
        opt.step()

    batch = min(32, preset.spec.batch_size, preset.n_samples)  # scaled up below
    inputs = {
        n: (torch.randn(batch, *t.shape[1:], generator=g), c)
        for n, (t, c) in model.training_pairs(x[:1].expand(batch, -1, -1, -1)).items()
    }

    @torch.no_grad()
    def evaluate() -> None:
        for n, (z, c) in inputs.items():
            model.nets[n](z, torch.full((batch,), 0.5), None if c is None else c)

    return _timed(step, repeats), _timed(evaluate, repeats) * preset.n_samples / batch


def estimate(preset: Preset) -> dict[str, float]:
    """Estimated seconds per phase (data, training sgm/wsgm, sweep) and in all."""
    out: dict[str, float] = {}
    if preset.experiment == "phi4":
        out["data"] = 10.0 + 2e-6 * preset.size**2 * (preset.n_train + 2 * preset.n_samples)
    else:
        out["data"] = 5.0
    sweep = 0.0
    for kind in ("sgm", "wsgm"):
        train_step, evaluation = _model_costs(preset, kind)
        out[f"training {kind}"] = TRAIN_OVERHEAD * preset.train_steps * train_step
        sweep += sum(preset.steps) * evaluation
    out["sweep"] = SWEEP_OVERHEAD * sweep
    out["total"] = sum(out.values())
    return out
