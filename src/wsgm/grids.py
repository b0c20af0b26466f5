"""Time grids: plain 1-d tensors of forward times, decreasing from T to t_end.

A grid with N steps has N + 1 points ``t_0 = T > t_1 > ... > t_N = t_end``. Samplers take
the grid as data (k-diffusion style), so any decreasing tensor is a valid grid
(docs/design.md §2.4).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .sde import OU

__all__ = [
    "uniform",
    "quadratic",
    "power",
    "log_uniform",
    "log_snr",
    "karras",
    "log_snr_shifted",
    "make_grid",
    "GRIDS",
    "T_MIN_GRIDS",
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


def _edm_sigma(t: float) -> float:
    """EDM's noise level of forward time t: x_t / α_t = x_0 + σ ε with σ = σ_t/α_t."""
    return math.sqrt(math.expm1(2.0 * t))


KARRAS_T_MIN = 0.5 * math.log1p(0.002**2)  # EDM's σ_min = 0.002 (Karras et al. 2022)


def karras(
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    t_min: float = KARRAS_T_MIN,
    rho: float = 7.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """The EDM grid (Karras et al. 2022, eq. 5): N − 1 steps from T to ``t_min`` equally
    spaced in σ^{1/ρ}, σ = σ_t/α_t = (e^{2t} − 1)^{1/2} the noise level of x_t/α_t, then one
    step to t_end; t = ½ log(1 + σ²). ρ = 7 puts most points at small σ. The default t_min
    is EDM's σ_min = 0.002 (t_min ≈ 2e-6); σ_max is σ(T) (≈ 148 at T = 5).
    """
    _check(n, T, t_end)
    if not (t_end <= t_min < T):
        raise ValueError(f"t_min must satisfy t_end <= t_min < T, got t_min={t_min!r}")
    if not rho > 0:
        raise ValueError(f"rho must be positive, got {rho!r}")
    if n == 1:
        return torch.tensor([T, t_end], dtype=dtype, device=device)
    hi, lo = _edm_sigma(T) ** (1.0 / rho), _edm_sigma(t_min) ** (1.0 / rho)
    u = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    sigma = (hi + u * (lo - hi)) ** rho
    head = 0.5 * torch.log1p(sigma**2)
    head[0], head[-1] = T, t_min  # exact end points (no round trip through σ)
    tail = torch.tensor([t_end], dtype=torch.float64)
    return torch.cat([head, tail]).to(dtype=dtype, device=device)


# L_ref of ``logsnr-shifted``: the size at which it is the logsnr grid
DEFAULT_REF_SIZE = 64


def log_snr_shifted(
    n: int,
    *,
    size: int,
    ref_size: int = DEFAULT_REF_SIZE,
    T: float = 5.0,
    t_end: float = 0.0,
    t_min: float = 2e-3,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """The ``logsnr`` grid with its log-SNR shifted for the image size (Hoogeboom et al.
    2023, "simple diffusion", §3.1): log SNR = log(α²/σ²) = 2λ is shifted by
    2 log(ref_size/size), i.e. λ by s = log(ref_size/size).

    Equal steps in λ from λ(T) to λ(t_min) + s over N − 1 steps, then one step to t_end.
    The start stays at T, where the prior N(0, I) sits (simple diffusion shifts the start
    too, which a fixed horizon T does not allow), so the shift grows linearly from 0 at T to s
    at the last score evaluation. At size = ref_size this is :func:`log_snr`. At size >
    ref_size, s < 0: every step after the first is at a lower SNR than on ``logsnr``, the
    last score evaluation moves to a noisier time (≈ t_min (size/ref_size)² while that is
    small) and the N − 1 steps are spread over a λ range shorter by |s|, i.e. finer steps at
    high noise and none at the low noise levels, whose details a larger image averages
    over more pixels. At size < ref_size the grid reaches lower noise than ``logsnr``.
    """
    _check(n, T, t_end)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"the shifted log-SNR grid needs the image size L >= 1, got {size!r}")
    if isinstance(ref_size, bool) or not isinstance(ref_size, int) or ref_size < 1:
        raise ValueError(f"ref_size must be a positive integer, got {ref_size!r}")
    if not (t_end <= t_min < T):
        raise ValueError(f"t_min must satisfy t_end <= t_min < T, got t_min={t_min!r}")
    ends = OU.log_snr(torch.tensor([T, t_min], dtype=torch.float64))
    last = float(ends[1]) + math.log(ref_size / size)
    if not last > float(ends[0]):
        largest = ref_size * math.exp(float(ends[1] - ends[0]))
        raise ValueError(
            f"size {size} is too large for ref_size {ref_size} at T={T}: the shifted last "
            f"time would be beyond T (need size < {largest:.0f})"
        )
    t_last = float(OU.time_of_log_snr(torch.tensor(last, dtype=torch.float64)))
    if size == ref_size:
        t_last = t_min
    if n == 1:
        return torch.tensor([T, t_end], dtype=dtype, device=device)
    if not t_last > t_end:
        raise ValueError(f"the shifted last time {t_last!r} is not above t_end={t_end!r}")
    lam = torch.linspace(float(ends[0]), last, n, dtype=torch.float64)
    head = OU.time_of_log_snr(lam)
    head[0], head[-1] = T, t_last
    tail = torch.tensor([t_end], dtype=torch.float64)
    return torch.cat([head, tail]).to(dtype=dtype, device=device)


GRIDS: dict[str, Callable[..., Tensor]] = {
    "uniform": uniform,
    "quadratic": quadratic,
    "log": log_uniform,
    "logsnr": log_snr,
    "karras": karras,
    "logsnr-shifted": log_snr_shifted,
}
SIZED_GRIDS = frozenset({"logsnr-shifted"})  # grids that need the image size (``size=``)
# grids whose last score evaluation is at a chosen t_min > 0 (the power grids refine to 0)
T_MIN_GRIDS = frozenset({"log", "logsnr", "karras", "logsnr-shifted"})


def make_grid(
    name: str,
    n: int,
    *,
    T: float = 5.0,
    t_end: float = 0.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    size: int | None = None,
    ref_size: int = DEFAULT_REF_SIZE,
    t_min: float | None = None,
) -> Tensor:
    """Grid by name: one of :data:`GRIDS` (docs/design.md §2.4).

    ``size`` (the image side L) and ``ref_size`` are used by ``logsnr-shifted`` only, which
    needs ``size``; the other grids ignore them. ``t_min``: the last score-evaluation time of
    a grid of :data:`T_MIN_GRIDS` (None: the grid's default); the power grids have none.
    """
    if name not in GRIDS:
        raise ValueError(f"unknown time grid {name!r}; allowed: {', '.join(GRIDS)}")
    extra: dict[str, float] = {}
    if t_min is not None:
        if name not in T_MIN_GRIDS:
            raise ValueError(
                f"time grid {name!r} refines down to t = 0 and takes no t_min; t_min is for "
                f"{', '.join(sorted(T_MIN_GRIDS))}"
            )
        extra["t_min"] = float(t_min)
    if name in SIZED_GRIDS:
        if size is None:
            raise ValueError(
                f"time grid {name!r} needs the image size: make_grid({name!r}, n, size=L)"
            )
        return log_snr_shifted(
            n, size=size, ref_size=ref_size, T=T, t_end=t_end, dtype=dtype, device=device, **extra
        )
    return GRIDS[name](n, T=T, t_end=t_end, dtype=dtype, device=device, **extra)


def check_grid(grid: Tensor) -> None:
    """Raise if ``grid`` is not a strictly decreasing 1-d tensor of non-negative times."""
    if grid.ndim != 1 or grid.shape[0] < 2:
        raise ValueError(
            f"a time grid is a 1-d tensor with at least 2 points, got shape {tuple(grid.shape)}"
        )
    if not bool(torch.all(grid[1:] < grid[:-1])) or bool(grid[-1] < 0):
        raise ValueError("a time grid must be strictly decreasing and end at a time >= 0")
