"""Samplers of the reverse OU process: each is ``(score_fn, x, grid, *, generator, cond) -> x0``.

``score_fn(x, t, cond)`` returns grad log p_t(x) for a 0-d time tensor ``t`` (forward time).
``x`` is a sample of the prior N(0, I) at time ``grid[0]``; ``grid`` is a decreasing tensor of
forward times (see :mod:`wsgm.grids`). With N = len(grid) - 1 steps every sampler makes N
score evaluations per step type (Heun: 2N - 1), and its last step, from t_{N-1}, returns the
denoised mean E[X_0 | X_{t_{N-1}}] (Tweedie) instead of adding noise (docs/design.md
§2.5), unless ``denoise_last=False`` in which case the last step is an ordinary step to t_N.

``callback`` (optional, as in k-diffusion) is called after every step k = 0..N-1 with
``{"i": k, "t": t_k, "x": x}`` (``x`` the state after the step; after the last one, the
result): progress bars and trajectory recording hook in there, not into the score.

The samplers never leave the device of ``x`` (no ``.item()`` in the loop).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .grids import check_grid
from .sde import OU

__all__ = [
    "ScoreFn",
    "Callback",
    "euler_maruyama",
    "ancestral",
    "heun",
    "dpm_solver_2m",
    "SAMPLERS",
    "ORDERS",
    "order_of",
    "get_sampler",
]

ScoreFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]
Callback = Callable[[dict[str, object]], None]


def _randn(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _done(callback: Callback | None, k: int, t: Tensor, x: Tensor) -> Tensor:
    if callback is not None:
        callback({"i": k, "t": t, "x": x})
    return x


def _times(grid: Tensor, x: Tensor) -> Tensor:
    check_grid(grid)
    return grid.to(device=x.device, dtype=x.dtype)


@torch.no_grad()
def euler_maruyama(
    score_fn: ScoreFn,
    x: Tensor,
    grid: Tensor,
    *,
    generator: torch.Generator | None = None,
    cond: Tensor | None = None,
    sde: OU = OU(),
    denoise_last: bool = True,
    callback: Callback | None = None,
) -> Tensor:
    """Euler–Maruyama on the reverse SDE (the scheme of the paper's theory, Guth et al. §3).

    Step k, delta_k = t_k - t_{k+1}:  x <- x + delta_k (x + 2 s(x, t_k)) + sqrt(2 delta_k) z.
    """
    ts = _times(grid, x)
    n = ts.shape[0] - 1
    for k in range(n):
        t, t_next = ts[k], ts[k + 1]
        score = score_fn(x, t, cond)
        if k == n - 1 and denoise_last:
            return _done(callback, k, t, sde.denoise(x, score, t))
        delta = t - t_next
        x = x + delta * sde.reverse_drift(x, score) + torch.sqrt(2.0 * delta) * _randn(x, generator)
        _done(callback, k, t, x)
    return x


@torch.no_grad()
def ancestral(
    score_fn: ScoreFn,
    x: Tensor,
    grid: Tensor,
    *,
    generator: torch.Generator | None = None,
    cond: Tensor | None = None,
    sde: OU = OU(),
    denoise_last: bool = True,
    callback: Callback | None = None,
) -> Tensor:
    """Exact-OU ancestral step (DDPM-style, the step of the paper's experiments).

    Predict x0 by Tweedie at t_k, then draw x_{t_{k+1}} from the exact OU bridge
    q(x_{t_{k+1}} | x_{t_k}, x0) (:meth:`OU.posterior`).
    """
    ts = _times(grid, x)
    n = ts.shape[0] - 1
    ends_at_zero = float(grid[-1]) == 0.0  # one host read, outside the loop
    for k in range(n):
        t, t_next = ts[k], ts[k + 1]
        x0 = sde.denoise(x, score_fn(x, t, cond), t)
        if k == n - 1 and (denoise_last or ends_at_zero):
            return _done(callback, k, t, x0)
        mean, std = sde.posterior(x, x0, t, t_next)
        x = mean + std * _randn(x, generator)
        _done(callback, k, t, x)
    return x


@torch.no_grad()
def heun(
    score_fn: ScoreFn,
    x: Tensor,
    grid: Tensor,
    *,
    generator: torch.Generator | None = None,
    cond: Tensor | None = None,
    sde: OU = OU(),
    denoise_last: bool = True,
    callback: Callback | None = None,
) -> Tensor:
    """Deterministic probability-flow ODE, Heun's 2nd-order method (Karras et al. 2022, Alg. 1).

    In forward time the ODE is dx/dt = -(x + s(x, t)); the last step is Tweedie at t_{N-1}
    (or an Euler step to t_N with ``denoise_last=False``). ``generator`` is unused.
    """
    del generator
    ts = _times(grid, x)
    n = ts.shape[0] - 1
    ends_at_zero = float(grid[-1]) == 0.0  # one host read, outside the loop
    for k in range(n):
        t, t_next = ts[k], ts[k + 1]
        score = score_fn(x, t, cond)
        if k == n - 1 and denoise_last:
            return _done(callback, k, t, sde.denoise(x, score, t))
        delta = t - t_next
        d = sde.flow_drift(x, score)
        x_euler = x + delta * d
        if k == n - 1 and ends_at_zero:
            x = _done(callback, k, t, x_euler)
            continue
        d_next = sde.flow_drift(x_euler, score_fn(x_euler, t_next, cond))
        x = x + 0.5 * delta * (d + d_next)
        _done(callback, k, t, x)
    return x


@torch.no_grad()
def dpm_solver_2m(
    score_fn: ScoreFn,
    x: Tensor,
    grid: Tensor,
    *,
    generator: torch.Generator | None = None,
    cond: Tensor | None = None,
    sde: OU = OU(),
    denoise_last: bool = True,
    callback: Callback | None = None,
) -> Tensor:
    """DPM-Solver++(2M): the probability-flow ODE by a 2nd-order multistep exponential
    integrator on the denoised prediction (Lu et al. 2022, "DPM-Solver++", Alg. 2).

    With lambda = log(alpha / sigma), h = lambda_{k+1} - lambda_k and D the denoised
    estimate, x_{k+1} = (sigma_{k+1} / sigma_k) x_k - alpha_{k+1} (e^{-h} - 1) D, where
    D = x0_k on the first step and D = (1 + 1/(2r)) x0_k - x0_{k-1} / (2r), r = h_{k-1} / h,
    afterwards. One score evaluation per step, like Euler–Maruyama, but second order; the
    linear part is integrated exactly, so it suits the ``logsnr`` grid. The last step
    returns x0 at t_{N-1} (also when ``denoise_last=False`` and the grid ends at t = 0,
    where lambda is infinite). ``generator`` is unused (the ODE is deterministic).
    """
    del generator
    ts = _times(grid, x)
    n = ts.shape[0] - 1
    ends_at_zero = float(grid[-1]) == 0.0  # one host read, outside the loop
    alpha, sigma, lam = sde.alpha(ts), sde.sigma(ts), sde.log_snr(ts)
    x0_prev: Tensor | None = None
    for k in range(n):
        t = ts[k]
        x0 = sde.denoise(x, score_fn(x, t, cond), t)
        if k == n - 1 and (denoise_last or ends_at_zero):
            return _done(callback, k, t, x0)
        h = lam[k + 1] - lam[k]
        d = x0
        if x0_prev is not None:
            half_inv_r = 0.5 * h / (lam[k] - lam[k - 1])
            d = (1.0 + half_inv_r) * x0 - half_inv_r * x0_prev
        x = (sigma[k + 1] / sigma[k]) * x - alpha[k + 1] * torch.expm1(-h) * d
        x0_prev = x0
        _done(callback, k, t, x)
    return x


SAMPLERS: dict[str, Callable[..., Tensor]] = {
    "euler": euler_maruyama,
    "ancestral": ancestral,
    "heun": heun,
    "dpm2m": dpm_solver_2m,
}


ORDERS: dict[str, int] = {"euler": 1, "ancestral": 1, "heun": 2, "dpm2m": 2}
"""Each sampler's order of convergence in the step size (weak order for the SDE ones)."""


def order_of(name: str) -> int:
    """The order of convergence of sampler ``name`` (:data:`ORDERS`)."""
    get_sampler(name)
    return ORDERS[name]


def get_sampler(name: str) -> Callable[..., Tensor]:
    """Sampler by name: ``euler`` (Euler–Maruyama), ``ancestral`` (exact OU), ``heun``,
    ``dpm2m`` (DPM-Solver++(2M))."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; allowed: {', '.join(SAMPLERS)}")
    return SAMPLERS[name]
