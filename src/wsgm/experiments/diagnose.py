"""Per-scale diagnosis of a trained WSGM against its exact-score twins (docs/design.md §6.5).

Which network of a trained WSGM, at which noise level, falls short of what exact scores
would give? Two tables, each network against the same quantity with exact scores of the
data's twins (:mod:`wsgm.experiments.mixture_twin`: the Gaussian twin has the data's two-point
function, the mixture twin adds its bimodal magnetization; both share the conditional
scores of every detail scale, and differ only at the coarsest):

**Sampling, one scale at a time** (:func:`scale_errors`). The reference fields are split into
halves A and B (n each, §7.4). Coarsest: n fields x_J drawn by the coarse network (N steps)
and by each twin's exact coarse score, against A's x_J. Scale j: the details of scale j
drawn given B's *true* low-pass x_j, by the network of scale j and by the twin's exact
conditional score, then x_{j-1} = the inverse wavelet step, against A's x_{j-1}. So every
scale is measured on its own, with true coarser scales, and the noise floor of each row is
D(B's x_{j-1}, A's x_{j-1}) at the same resolution. Metrics: the spectrum error, histogram
and magnetization W1 of §7.4, on un-normalized low-passes.

**Denoising loss per noise level** (:func:`denoising_losses`). For every network and each t of
a list: the ε-prediction loss E‖ε̂(x_t, t | cond) − ε‖² per coordinate (the training
objective, in the network's normalized coordinates) on held-out fields; beside it the same
loss of each twin's exact score (ε̂ = −σ_t s) on the same fields, in the twin's normalized
coordinates (its statistics come from the spectrum, the network's from the data: the ratio
of the two normalizations is reported, ≈ 1). The Gaussian twin's exact denoiser is the best
*linear* one for any data with the data's two-point function, so a network above it at some
t is short of a Wiener filter there; below it, it uses the data's non-Gaussianity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import wavelets
from ..errors import WSGMError
from ..metrics.distances import DISTANCES
from ..metrics.halves import two_halves
from ..models.normalization import NormalizationStats
from ..models.wsgm import WSGM, refine_once, scale_grid, wavelet_pairs
from ..samplers import ScoreFn, get_sampler
from ..sampling.spec import SamplingSpec, derive_seed
from .mixture_twin import LAWS, fit_mixture, twin_law

__all__ = ["METRICS", "scale_errors", "denoising_losses", "twins_of"]

METRICS = ("spectrum", "histogram_w1", "magnetization_w1")


def twins_of(fields: np.ndarray, levels: int, wavelet: str) -> dict[str, Any]:
    """The exact WSGMs (:class:`wsgm.gaussian.scores.ExactWSGM`) of the data's twins, by
    law (``mixture``, ``gaussian``), fitted on one-channel ``fields``."""
    from ..gaussian.mixture import exact_mixture

    fit = fit_mixture(fields)
    return {law: exact_mixture(*twin_law(fit, law), levels, wavelet=wavelet) for law in LAWS}


def _stats(ex: Any, device: torch.device) -> NormalizationStats:
    return NormalizationStats.from_tensors(ex.stats_tensors(torch.float32)).to(device=device)


def _lowpasses(x: Tensor, levels: int, wavelet: str) -> list[Tensor]:
    """[x_0, x_1, ..., x_J]: the field and its low-passes."""
    out = [x]
    for _ in range(levels):
        x, _d = wavelets.dwt(x, wavelet)
        out.append(x)
    return out


def _measure(a: Tensor, ref: Tensor) -> dict[str, float]:
    x, r = a.detach().cpu().double().numpy(), ref.detach().cpu().double().numpy()
    return {m: float(DISTANCES[m](x, r)) for m in METRICS}


def scale_errors(
    model: WSGM,
    reference: np.ndarray,
    *,
    steps: Sequence[int],
    spec: SamplingSpec,
    n: int | None = None,
    twins: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows ``{"scale", "side", "N", "source", metric: value, "floor": {metric: value}}``
    for the coarsest (``scale`` = "coarse") and every detail scale j (given true x_j), for
    the network (``source`` "network") and each twin's exact scores (see module docstring).
    """
    cfg = model.config
    if cfg.kind != "wsgm":
        raise WSGMError(f"the per-scale diagnosis is for a WSGM, got a {cfg.kind} model")
    ref = np.asarray(reference, dtype=np.float32)
    if ref.ndim != 4 or tuple(ref.shape[1:]) != (cfg.channels, *cfg.size):
        raise WSGMError(
            f"reference fields of shape {ref.shape[1:]} do not match the model's "
            f"{(cfg.channels, *cfg.size)}"
        )
    a_np, b_np, n = two_halves(ref, n, np.random.default_rng(spec.seed), fewer="a smaller --n")
    dev = model.device
    levels, wavelet, sde = cfg.levels, cfg.wavelet, model.sde
    twins = twins if twins is not None else twins_of(ref[:, 0], levels, wavelet)
    low_a = _lowpasses(torch.as_tensor(a_np, device=dev), levels, wavelet)
    low_b = _lowpasses(torch.as_tensor(b_np, device=dev), levels, wavelet)
    run = get_sampler(spec.sampler)
    rows: list[dict[str, Any]] = []
    side = cfg.size[-1]
    for N in steps:
        grids = spec.replace(steps=N).grids(T=sde.T, levels=levels, size=side)
        # the coarsest: the network and each twin's exact coarse score, from noise
        floor = _measure(low_b[levels], low_a[levels])
        shape = (n, cfg.channels, *low_a[levels].shape[-2:])
        sources: dict[str, tuple[ScoreFn, NormalizationStats]] = {
            "network": (model.score_fn("coarse"), model.stats_on(low_a[levels]))
        }
        for law, ex in twins.items():
            sources[f"{law} twin"] = (ex.coarse_score_fn, _stats(ex, dev))
        for source, (fn, st) in sources.items():
            g = torch.Generator(device=dev).manual_seed(derive_seed(spec.seed, N, 0))
            z = torch.randn(shape, generator=g, device=dev)
            xn = run(fn, z, scale_grid(grids, 0), generator=g, sde=sde)
            x = st.to(device=dev, dtype=xn.dtype).unnormalize_low(xn, levels)
            rows.append({"scale": "coarse", "side": shape[-1], "N": N, "source": source,
                         **_measure(x, low_a[levels]), "floor": floor})  # fmt: skip
        # scale j given B's true x_j: the network of scale j and the twins' exact score
        cond_sources = {"network": (model.cond_score_fns(), model.stats)}
        ex = twins["gaussian"]  # the twins share their conditional scores
        cond_sources["twin"] = (ex.cond_score_fns, _stats(ex, dev))
        for j in range(levels, 0, -1):
            floor = _measure(low_b[j - 1], low_a[j - 1])
            for source, (fns, st) in cond_sources.items():
                g = torch.Generator(device=dev).manual_seed(derive_seed(spec.seed, N, j))
                x = refine_once(low_b[j], fns[j - 1], st, level=j, wavelet=wavelet,
                                sampler=run, grid=scale_grid(grids, j), generator=g,
                                sde=sde)  # fmt: skip
                rows.append({"scale": f"scale {j}", "side": int(x.shape[-1]), "N": N,
                             "source": source, **_measure(x, low_a[j - 1]),
                             "floor": floor})  # fmt: skip
    return rows


def denoising_losses(
    model: WSGM,
    fields: np.ndarray,
    *,
    times: Sequence[float],
    twins: dict[str, Any] | None = None,
    seed: int = 0,
    batch: int = 256,
) -> list[dict[str, Any]]:
    """Rows ``{"network", "t", "network_loss", "<law> twin": loss, ...}``: the ε-prediction
    loss per coordinate at each t of ``times`` on ``fields`` (n, C, H, W), of every network
    and of each twin's exact score in its own normalized coordinates (module docstring).
    Each (network, t) uses the same noise ε for all."""
    cfg = model.config
    if cfg.kind != "wsgm":
        raise WSGMError(f"the per-scale diagnosis is for a WSGM, got a {cfg.kind} model")
    bad = [t for t in times if not 0 < float(t) <= model.sde.T]
    if bad:
        raise WSGMError(f"noise levels t must be in (0, T = {model.sde.T:g}], got {bad}")
    dev = model.device
    x0 = torch.as_tensor(np.asarray(fields, dtype=np.float32)[:batch], device=dev)
    twins = twins if twins is not None else twins_of(x0[:, 0].cpu().numpy(), cfg.levels,
                                                     cfg.wavelet)  # fmt: skip
    pairs = {"network": model.training_pairs(x0)}
    scorers: dict[str, dict[str, ScoreFn]] = {
        "network": {name: model.score_fn(name) for name in cfg.names}
    }
    for law, ex in twins.items():
        st = _stats(ex, dev)
        pairs[f"{law} twin"] = wavelet_pairs(x0, st, cfg.levels, cfg.wavelet)
        scorers[f"{law} twin"] = {"coarse": ex.coarse_score_fn} | {
            f"scale{j}": ex.cond_score_fns[j - 1] for j in range(1, cfg.levels + 1)
        }
    sde = model.sde
    rows = []
    for k, name in enumerate(cfg.names):
        for i, t in enumerate(times):
            target, _ = pairs["network"][name]
            g = torch.Generator(device=dev).manual_seed(derive_seed(seed, k, i))
            eps = torch.randn(target.shape, generator=g, device=dev)
            tt = torch.tensor(float(t), device=dev)
            row: dict[str, Any] = {"network": name, "t": float(t)}
            for source, by_name in scorers.items():
                if source != "network" and name != "coarse" and source != "gaussian twin":
                    continue  # the twins share their conditional scores: one column
                tgt, cond = pairs[source][name]
                xt = sde.perturb(tgt, tt, eps)
                with torch.no_grad():
                    s = by_name[name](xt, tt, cond).to(xt.dtype)
                loss = (sde.eps_from_score(s, tt) - eps).pow(2).mean()
                key = "network_loss" if source == "network" else source
                row[key] = float(loss)
            ratio = pairs["network"][name][0].std() / pairs["gaussian twin"][name][0].std()
            row["normalization_ratio"] = float(ratio)
            rows.append(row)
    return rows


def report_lines(scale_rows: list[dict[str, Any]], loss_rows: list[dict[str, Any]]) -> list[str]:
    """Markdown tables of both diagnoses, value / floor for the sampling rows."""
    lines = ["## Sampling one scale at a time (true coarser scales), value / noise floor", "",
             "| scale | side | N | source | " + " | ".join(METRICS) + " |",
             "|---|---:|---:|---|" + "---:|" * len(METRICS)]  # fmt: skip
    for r in scale_rows:
        cells = " | ".join(f"{r[m]:.4g} ({r[m] / r['floor'][m]:.2g}x)" for m in METRICS)
        lines.append(f"| {r['scale']} | {r['side']} | {r['N']} | {r['source']} | {cells} |")
    cols = [k for k in loss_rows[0] if k not in ("network", "t")] if loss_rows else []
    lines += ["", "## Denoising loss per noise level (ε-prediction MSE per coordinate)", "",
              "| network | t | " + " | ".join(cols) + " |",
              "|---|---:|" + "---:|" * len(cols)]  # fmt: skip
    for r in loss_rows:
        cells = " | ".join(f"{r[c]:.4g}" if c in r else "" for c in cols)
        lines.append(f"| {r['network']} | {r['t']:.3g} | {cells} |")
    return lines
