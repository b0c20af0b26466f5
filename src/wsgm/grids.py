"""Time grids: plain 1-d tensors of forward times, decreasing from T to t_end.

A grid with N steps has N + 1 points ``t_0 = T > t_1 > ... > t_N = t_end``. Samplers take
the grid as data (k-diffusion style), so any decreasing tensor is a valid grid.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .sde import OU

__all__ = [
    "uniform",
    "quadratic",
    "power",
    "log_uniform",
    "log_snr",
    "make_grid",
    "GRIDS",
    "check_grid",
]


def _check(n: int, T: float, t_end: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of steps must be a positive integer, got {n!r}")
    if not (math.isfinite(T) and T > 0):
        raise ValueError(f"horizon T must be positive and finite, got {T!r}")
    if not (0 <= t_end < T):
        raise ValueError(f"t_end must satisfy 0 <= t_end < T={T}, got {t_end!r}")


def power(
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    rho: float = 2.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """t_k = t_end + (T - t_end) ((N - k)/N)^rho, k = 0..N: steps shrink near t = 0 for rho > 1."""
    _check(n, T, t_end)
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho!r}")
    u = torch.arange(n, -1, -1, dtype=dtype, device=device) / n
    return t_end + (T - t_end) * u**rho


def uniform(
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Equal steps (T - t_end)/N."""
    return power(n, T=T, t_end=t_end, rho=1.0, dtype=dtype, device=device)


def quadratic(
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """t_k = T (k/N)^2 read backwards (docs/design.md §2.4): fine steps near the data."""
    return power(n, T=T, t_end=t_end, rho=2.0, dtype=dtype, device=device)


def log_uniform(
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    t_min: float = 1e-3,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Geometric spacing from T down to ``t_min`` over N - 1 steps, then one step to t_end.

    Suits multiscale data whose score changes on every time scale (equal steps in log t).
    """
    _check(n, T, t_end)
    if not (t_end <= t_min < T):
        raise ValueError(f"t_min must satisfy t_end <= t_min < T, got t_min={t_min!r}")
    if n == 1:
        return torch.tensor([T, t_end], dtype=dtype, device=device)
    head = torch.logspace(math.log10(T), math.log10(t_min), n, dtype=dtype, device=device)
    return torch.cat([head, torch.tensor([t_end], dtype=dtype, device=device)])


def log_snr(
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    t_min: float = 2e-3,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Equal steps in lambda = log(alpha_t / sigma_t) from T down to ``t_min`` over N - 1
    steps, then one step to t_end (Lu et al. 2022, DPM-Solver §3.3: the step of an
    exponential integrator is a step in lambda).

    lambda and its inverse are :meth:`wsgm.sde.OU.log_snr` / :meth:`OU.time_of_log_snr`.
    """
    _check(n, T, t_end)
    if not (t_end <= t_min < T):
        raise ValueError(f"t_min must satisfy t_end <= t_min < T, got t_min={t_min!r}")
    if n == 1:
        return torch.tensor([T, t_end], dtype=dtype, device=device)
    ends = OU.log_snr(torch.tensor([T, t_min], dtype=torch.float64))
    lam = torch.linspace(float(ends[0]), float(ends[1]), n, dtype=torch.float64)
    head = OU.time_of_log_snr(lam)
    head[0], head[-1] = T, t_min  # exact end points (no round trip through lambda)
    tail = torch.tensor([t_end], dtype=torch.float64)
    return torch.cat([head, tail]).to(dtype=dtype, device=device)


GRIDS = {"uniform": uniform, "quadratic": quadratic, "log": log_uniform, "logsnr": log_snr}


def make_grid(
    name: str,
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """Grid by name: one of ``uniform``, ``quadratic``, ``log``, ``logsnr``."""
    if name not in GRIDS:
        raise ValueError(f"unknown time grid {name!r}; allowed: {', '.join(sorted(GRIDS))}")
    return GRIDS[name](n, T=T, t_end=t_end, dtype=dtype, device=device)


def check_grid(grid: Tensor) -> None:
    """Raise if ``grid`` is not a strictly decreasing 1-d tensor of non-negative times."""
    if grid.ndim != 1 or grid.shape[0] < 2:
        raise ValueError(
            f"a time grid is a 1-d tensor with at least 2 points, got shape {tuple(grid.shape)}"
        )
    if not bool(torch.all(grid[1:] < grid[:-1])) or bool(grid[-1] < 0):
        raise ValueError("a time grid must be strictly decreasing and end at a time >= 0")
