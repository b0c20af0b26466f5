"""Every sampler of :mod:`wsgm.samplers` in closed form on a Gaussian target (docs/design.md
§3.2, §3.7).

With the exact score of N(m, c) noised by the OU process, s(y, t) = −(y − α_t m)/D_t,
D_t = α_t² c + σ_t², every step of every sampler is linear in the state, the mean m and the
fresh noise. Started from y ~ N(0, 1) at t_0 = T, the state is y = g m + w with w Gaussian,
independent of m, of variance v, and the sampler's output is exactly N(g m, v) given m. The
recursions below propagate (g, v) step by step, exactly as the code in
:mod:`wsgm.samplers` steps (same final Tweedie step x̂_0 = p y + r m, p = α c/D,
r = σ²/D, at t_{N−1}; same special cases when ``denoise_last=False``):

    euler      y ← a y + b m + √(2δ) z,  a = 1 + δ (1 − 2/D_k),  b = 2δ α_k/D_k
    ancestral  y ← μ(y, x̂_0) + √var z  (the OU bridge of docs/design.md §2.1)
    heun       y ← A y + B m  (the Euler predictor and trapezoidal corrector, composed)
    dpm2m      y ← (σ_{k+1}/σ_k) y − α_{k+1} (e^{−h} − 1) D, D from x̂_0 at t_k and t_{k−1}:
               the state is (y, previous x̂_0), both affine in (m, z_0) with z_0 the prior
               draw (the ODE adds no noise), so v = (coefficient of z_0)².

:func:`limit_moments` gives the N → ∞ limit of the same samplers on a grid whose last
score evaluation tends to ``t_last``: the exact reverse SDE (euler, ancestral) or flow ODE
(heun, dpm2m) from the prior N(0, 1) at T, then Tweedie at ``t_last`` (closed form below).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

from ..errors import WSGMError

__all__ = [
    "SAMPLER_NAMES",
    "STOCHASTIC",
    "sampler_moments",
    "em_moments",
    "limit_moments",
    "check_sampler",
]

SAMPLER_NAMES = ("euler", "ancestral", "heun", "dpm2m")
STOCHASTIC = {"euler": True, "ancestral": True, "heun": False, "dpm2m": False}
_CHUNK = 256  # modes per parallel chunk; the mode loop is innermost so it vectorizes
# Below this many mode-steps one thread is faster: waking the pool costs ~0.1-40 ms (more
# on a busy machine) while one thread does ~3e9 mode-steps per second.
_PARALLEL_WORK = 20_000_000


def check_sampler(name: str) -> str:
    """``name`` if it is a sampler with a closed form, else a WSGMError naming the allowed."""
    if name not in SAMPLER_NAMES:
        raise WSGMError(f"unknown sampler {name!r}; allowed: {', '.join(SAMPLER_NAMES)}")
    return name


@numba.njit(cache=True)
def _coefs(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    return np.exp(-ts), -np.expm1(-2.0 * ts)


@numba.njit(cache=True, parallel=True)
def _euler(
    c: np.ndarray, ts: np.ndarray, denoise_last: bool
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = ts.shape[0] - 1
    alpha, s2 = _coefs(ts)
    a2 = alpha * alpha
    n_steps = n - 1 if denoise_last else n
    g_out, v_out = np.zeros(c.shape[0]), np.ones(c.shape[0])
    for ch in numba.prange((c.shape[0] + _CHUNK - 1) // _CHUNK):
        lo, hi = ch * _CHUNK, min(c.shape[0], (ch + 1) * _CHUNK)
        g, v, cc = g_out[lo:hi], v_out[lo:hi], c[lo:hi]
        for k in range(n_steps):
            delta = ts[k] - ts[k + 1]
            two_delta = 2.0 * delta
            for i in range(hi - lo):
                inv = 1.0 / (a2[k] * cc[i] + s2[k])
                a = 1.0 + delta * (1.0 - 2.0 * inv)
                g[i] = a * g[i] + two_delta * alpha[k] * inv
                v[i] = a * a * v[i] + two_delta
        if denoise_last:
            k = n - 1
            for i in range(hi - lo):
                den = a2[k] * cc[i] + s2[k]
                p = alpha[k] * cc[i] / den
                g[i] = p * g[i] + s2[k] / den
                v[i] = p * p * v[i]
    return g_out, v_out


@numba.njit(cache=True, parallel=True)
def _ancestral(
    c: np.ndarray, ts: np.ndarray, denoise_last: bool
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = ts.shape[0] - 1
    alpha, s2 = _coefs(ts)
    a2 = alpha * alpha
    tweedie_last = denoise_last or ts[n] == 0.0
    n_steps = n - 1 if tweedie_last else n
    g_out, v_out = np.zeros(c.shape[0]), np.ones(c.shape[0])
    for ch in numba.prange((c.shape[0] + _CHUNK - 1) // _CHUNK):
        lo, hi = ch * _CHUNK, min(c.shape[0], (ch + 1) * _CHUNK)
        g, v, cc = g_out[lo:hi], v_out[lo:hi], c[lo:hi]
        for k in range(n_steps):
            gap = ts[k] - ts[k + 1]
            one_m_a2 = -math.expm1(-2.0 * gap)
            c_x0 = alpha[k + 1] * one_m_a2 / s2[k]  # bridge mean = c_x0 x̂_0 + c_y y
            c_y = math.exp(-gap) * s2[k + 1] / s2[k]
            var = s2[k + 1] * one_m_a2 / s2[k]
            for i in range(hi - lo):
                den = a2[k] * cc[i] + s2[k]
                a = c_x0 * alpha[k] * cc[i] / den + c_y
                g[i] = a * g[i] + c_x0 * s2[k] / den
                v[i] = a * a * v[i] + var
        if tweedie_last:
            k = n - 1
            for i in range(hi - lo):
                den = a2[k] * cc[i] + s2[k]
                p = alpha[k] * cc[i] / den
                g[i] = p * g[i] + s2[k] / den
                v[i] = p * p * v[i]
    return g_out, v_out


@numba.njit(cache=True, parallel=True)
def _heun(
    c: np.ndarray, ts: np.ndarray, denoise_last: bool
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = ts.shape[0] - 1
    alpha, s2 = _coefs(ts)
    a2 = alpha * alpha
    ends_at_zero = ts[n] == 0.0
    n_steps = n - 1 if denoise_last else n
    g_out, v_out = np.zeros(c.shape[0]), np.ones(c.shape[0])
    for ch in numba.prange((c.shape[0] + _CHUNK - 1) // _CHUNK):
        lo, hi = ch * _CHUNK, min(c.shape[0], (ch + 1) * _CHUNK)
        g, v, cc = g_out[lo:hi], v_out[lo:hi], c[lo:hi]
        for k in range(n_steps):
            delta = ts[k] - ts[k + 1]
            euler_only = k == n - 1 and ends_at_zero
            for i in range(hi - lo):
                inv = 1.0 / (a2[k] * cc[i] + s2[k])
                d1, d0 = 1.0 - inv, alpha[k] * inv  # d = d1 y + d0 m
                e1, e0 = 1.0 + delta * d1, delta * d0  # x_E = e1 y + e0 m
                if euler_only:
                    a, b = e1, e0
                else:
                    inv2 = 1.0 / (a2[k + 1] * cc[i] + s2[k + 1])
                    f1 = 1.0 - inv2  # d' = f1 x_E + alpha' inv2 m
                    a = 1.0 + 0.5 * delta * (d1 + f1 * e1)
                    b = 0.5 * delta * (d0 + f1 * e0 + alpha[k + 1] * inv2)
                g[i] = a * g[i] + b
                v[i] = a * a * v[i]
        if denoise_last:
            k = n - 1
            for i in range(hi - lo):
                den = a2[k] * cc[i] + s2[k]
                p = alpha[k] * cc[i] / den
                g[i] = p * g[i] + s2[k] / den
                v[i] = p * p * v[i]
    return g_out, v_out


@numba.njit(cache=True, parallel=True)
def _dpm2m(
    c: np.ndarray, ts: np.ndarray, denoise_last: bool
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    n = ts.shape[0] - 1
    alpha, s2 = _coefs(ts)
    a2 = alpha * alpha
    sig = np.sqrt(s2)
    lam = -ts - 0.5 * np.log(s2)
    n_steps = n - 1 if (denoise_last or ts[n] == 0.0) else n
    g_out, v_out = np.zeros(c.shape[0]), np.ones(c.shape[0])
    for ch in numba.prange((c.shape[0] + _CHUNK - 1) // _CHUNK):
        lo, hi = ch * _CHUNK, min(c.shape[0], (ch + 1) * _CHUNK)
        m = hi - lo
        cc = c[lo:hi]
        # y = g m + b z0;  previous x̂_0 = gp m + bp z0
        g, b = np.zeros(m), np.ones(m)
        gp, bp = np.zeros(m), np.zeros(m)
        for k in range(n_steps):
            h = lam[k + 1] - lam[k]
            ratio = sig[k + 1] / sig[k]
            w = -alpha[k + 1] * math.expm1(-h)
            hr = 0.0 if k == 0 else 0.5 * h / (lam[k] - lam[k - 1])
            for i in range(m):
                den = a2[k] * cc[i] + s2[k]
                p = alpha[k] * cc[i] / den
                xg, xb = p * g[i] + s2[k] / den, p * b[i]  # x̂_0 at t_k
                dg = (1.0 + hr) * xg - hr * gp[i]
                db = (1.0 + hr) * xb - hr * bp[i]
                g[i] = ratio * g[i] + w * dg
                b[i] = ratio * b[i] + w * db
                gp[i], bp[i] = xg, xb
        k = n - 1
        for i in range(m):
            if n_steps == n - 1:
                den = a2[k] * cc[i] + s2[k]
                p = alpha[k] * cc[i] / den
                g_out[lo + i] = p * g[i] + s2[k] / den
                v_out[lo + i] = (p * b[i]) ** 2
            else:
                g_out[lo + i] = g[i]
                v_out[lo + i] = b[i] ** 2
    return g_out, v_out


_KERNELS = {"euler": _euler, "ancestral": _ancestral, "heun": _heun, "dpm2m": _dpm2m}


def _times(grid: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(grid, torch.Tensor):
        grid = grid.detach().cpu().numpy()
    return np.ascontiguousarray(grid, dtype=np.float64)


def sampler_moments(
    c: np.ndarray,
    grid: np.ndarray | torch.Tensor,
    *,
    sampler: str = "euler",
    denoise_last: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean gain ``g`` and variance ``v`` of a sampler's output per direction.

    ``c``: target variances (any shape); ``grid``: decreasing forward times
    (:mod:`wsgm.grids`); ``sampler``: a name of :data:`wsgm.samplers.SAMPLERS`. The output of
    that sampler with the exact score of N(m, c), started from N(0, 1), is exactly
    N(g m, v) given m (docs/design.md §3.7).
    """
    check_sampler(sampler)
    c = np.asarray(c, dtype=np.float64)
    ts = _times(grid)
    threads = numba.get_num_threads()
    # torch's thread count is the project's one setting (--threads, $WSGM_THREADS, the fair
    # share of wsgm.cpu); numba's pool follows it, never above the pool numba was built with.
    want = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    numba.set_num_threads(1 if c.size * ts.size < _PARALLEL_WORK else max(1, want))
    try:
        g, v = _KERNELS[sampler](np.ascontiguousarray(c.ravel()), ts, bool(denoise_last))
    finally:
        numba.set_num_threads(threads)
    return g.reshape(c.shape), v.reshape(c.shape)


def em_moments(
    c: np.ndarray, grid: np.ndarray | torch.Tensor, *, denoise_last: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sampler_moments` of Euler–Maruyama (docs/design.md §3.2)."""
    return sampler_moments(c, grid, sampler="euler", denoise_last=denoise_last)


def limit_moments(
    c: np.ndarray, *, sampler: str, T: float, t_last: float
) -> tuple[np.ndarray, np.ndarray]:
    """(g, v) of ``sampler`` as N → ∞ on a grid whose last score evaluation tends to
    ``t_last`` (0 for the power grids, t_min for log, logsnr and karras), with the final
    Tweedie step.

    From y_T ~ N(0, 1) the exact reverse dynamics keep D_t (D_t = α_t² c + σ_t²) as the
    reference: for the SDE the errors e_v = v − D, e_g = g − α decay as
    e_v(t) = (1 − D_T) e^{−2(T−t)} (D_t/D_T)², e_g(t) = −α_T e^{−(T−t)} D_t/D_T; for the ODE
    v(t) = D_t/D_T and e_g(t) = −α_T (D_t/D_T)^{1/2}. Then x̂_0 = p y + r m at t_last.
    """
    check_sampler(sampler)
    c = np.asarray(c, dtype=np.float64)
    a_T2 = math.exp(-2.0 * T)
    d_T = a_T2 * c - math.expm1(-2.0 * T)
    a_t, s2_t = math.exp(-t_last), -math.expm1(-2.0 * t_last)
    d_t = a_t * a_t * c + s2_t
    if STOCHASTIC[sampler]:
        decay = math.exp(-(T - t_last))
        v = d_t + (1.0 - d_T) * decay**2 * (d_t / d_T) ** 2
        g = a_t - math.sqrt(a_T2) * decay * d_t / d_T
    else:
        v = d_t / d_T
        g = a_t - math.sqrt(a_T2) * np.sqrt(d_t / d_T)
    p = a_t * c / d_t
    return p * g + s2_t / d_t, p * p * v
