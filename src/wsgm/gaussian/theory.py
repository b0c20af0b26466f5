"""Exact KL of SGM and WSGM with exact scores on stationary Gaussian fields.

docs/design.md §3.2–§3.3, §3.7–§3.8.

For a stationary Gaussian field on a periodic L×L grid the covariance is diagonal in
Fourier. With exact scores, every sampler of :mod:`wsgm.samplers` is a linear recursion, so
the law it produces stays Gaussian and its moments are computable mode by mode (Guth et al.
2022, §3 and App. B; the recursions of all samplers are in :mod:`wsgm.gaussian.moments`).
For Euler–Maruyama:

- per eigen-direction of variance ``c`` and (for a conditional law) mean ``m``, the reverse
  chain y_{k+1} = a_k y_k + b_k m + sqrt(2 δ_k) z with
  a_k = 1 + δ_k (1 − 2/(α_k² c + σ_k²)),  b_k = 2 δ_k α_k /(α_k² c + σ_k²)
  (α = e^{−t}, σ² = 1 − e^{−2t}, δ_k = t_k − t_{k+1}) keeps y ~ N(g m, v), starting at
  g = 0, v = 1; the optional final Tweedie step (what the samplers do by default) maps
  y ↦ p y + r m with p = α c/(α² c + σ²), r = σ²/(α² c + σ²);
- KL(target ‖ model) = ½ (c/v − 1 + log(v/c)) + ½ (1 − g)² E[m²]/v.

SGM: one such problem per Fourier mode with c = P(ω), m = 0, P normalized to λ_max = 1
(``lambda-max``) or to unit pixel variance (``pixel``, what ``wsgm train`` does).

WSGM: p(x_0) = p(x_J) Π_j p(x̄_j | x_j). One level of the orthonormal periodized DWT maps
a stationary field on an M-grid to 4 jointly stationary fields on the M/2-grid; at each
half-grid frequency their 4×4 cross-spectrum is obtained by summing the 4 aliased
frequencies through the filters, S_y(k') = ¼ Σ_a H(k'+aM/2) H(k'+aM/2)^* S(k'+aM/2).
The detail bands are normalized by their standard deviations (as the learned model does);
their conditional law given the low-pass is Gaussian with covariance the Schur complement
C = S_bb − S_bl S_ll^{-1} S_lb and a mean linear in the low-pass, whose variance is
S_bb − C (law of total variance). The chain rule gives
KL(WSGM) = KL(coarsest, by the SGM formula on its normalized spectrum) + Σ_j E KL(scale j).

Everything is per pixel of the full-resolution field (total KL / L²).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import grids as grids_mod
from ..errors import WSGMError
from ..samplers import get_sampler
from ..sde import OU
from ..wavelets import check_levels, orthogonal_filters
from .cross_spectra import conditional_spectra
from .moments import em_moments, sampler_moments
from .scores import stationary_score
from .spectra import check_spectrum_params, power_spectrum

__all__ = [
    "NORMALIZATIONS",
    "em_moments",
    "sampler_moments",
    "normalized_spectrum",
    "unique_values",
    "unique_moments",
    "gaussian_kl",
    "sgm_kl_per_pixel",
    "wsgm_kl_per_pixel",
    "sgm_condition_number",
    "WaveletProblem",
    "wavelet_problems",
    "steps_needed",
    "fit_exponent",
]


def gaussian_kl(
    c: np.ndarray, v: np.ndarray, g: np.ndarray | float = 1.0, mean_power: np.ndarray | float = 0.0
) -> np.ndarray:
    """KL(N(m, c) ‖ N(g m, v)) averaged over m with E[m²] = ``mean_power``, elementwise."""
    ratio = c / v
    return 0.5 * (ratio - 1.0 - np.log(ratio)) + 0.5 * (1.0 - g) ** 2 * mean_power / v


# --------------------------------------------------------------------------------------
# SGM
# --------------------------------------------------------------------------------------
NORMALIZATIONS = ("lambda-max", "pixel")


def check_normalization(name: str) -> str:
    """``name`` if it is a normalization of the SGM's covariance, else a WSGMError."""
    if name not in NORMALIZATIONS:
        raise WSGMError(f"unknown normalization {name!r}; allowed: {', '.join(NORMALIZATIONS)}")
    return name


def normalized_spectrum(
    size: int,
    *,
    eta: float = 2.0,
    xi: float = 0.0,
    normalize: str = "lambda-max",
    spectrum: np.ndarray | None = None,
) -> np.ndarray:
    """The covariance eigenvalues the SGM sees (docs/design.md §3.8): ``lambda-max`` scales
    the largest to 1 (the condition-number argument, smallest = 1/κ), ``pixel`` scales the
    field to unit pixel variance, mean(P) = 1 (what ``wsgm train`` and the twin do).
    ``spectrum``: any positive (L, L) power spectrum instead of the (η, ξ) family (a data
    set's, for its Gaussian twin)."""
    p = power_spectrum(size, eta=eta, xi=xi) if spectrum is None else _positive(spectrum)
    scale = p.mean() if check_normalization(normalize) == "pixel" else p.max()
    return p / scale


def _positive(spectrum: np.ndarray) -> np.ndarray:
    p = np.asarray(spectrum, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise WSGMError(f"a power spectrum must be a finite, positive L x L array, got {p.shape}")
    return p


def _unique_with_counts(values: np.ndarray, decimals: int = 14) -> tuple[np.ndarray, np.ndarray]:
    reps, counts, _ = unique_values(values, decimals)
    return reps, counts


def unique_values(
    values: np.ndarray, decimals: int = 14
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(one representative per distinct value, counts, index of each value's representative).

    Values equal to ``decimals`` decimals count as one."""
    # Modes with equal variance give equal moments: computing each distinct value once is
    # exact and makes L = 512 cheap (22k distinct |ω| instead of 262k modes).
    keys = np.round(values.ravel(), decimals)
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    reps = np.zeros(uniq.shape[0])
    reps[inverse] = values.ravel()
    return reps, counts, inverse.ravel()


def unique_moments(
    c: np.ndarray,
    grid: np.ndarray | torch.Tensor,
    *,
    sampler: str = "euler",
    denoise_last: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sampler_moments` computed once per distinct value of ``c`` (same result)."""
    reps, _, inverse = unique_values(np.asarray(c, dtype=np.float64))
    g, v = sampler_moments(reps, grid, sampler=sampler, denoise_last=denoise_last)
    shape = np.shape(c)
    return g[inverse].reshape(shape), v[inverse].reshape(shape)


def sgm_condition_number(size: int, *, eta: float = 2.0, xi: float = 0.0) -> float:
    """κ = λ_max/λ_min of the (normalized) covariance of the full field."""
    p = power_spectrum(size, eta=eta, xi=xi)
    return float(p.max() / p.min())


def sgm_kl_per_pixel(
    size: int,
    steps: int,
    *,
    eta: float = 2.0,
    xi: float = 0.0,
    grid: str = "uniform",
    T: float = 5.0,
    denoise_last: bool = True,
    sampler: str = "euler",
    normalize: str = "lambda-max",
    ref_size: int = grids_mod.DEFAULT_REF_SIZE,
    t_min: float | None = None,
) -> float:
    """Exact KL per pixel of SGM with exact scores after ``steps`` steps of ``sampler``
    (docs/design.md §3.2, §3.7), the covariance normalized by ``normalize`` (§3.8)."""
    p = normalized_spectrum(size, eta=eta, xi=xi, normalize=normalize)
    c, counts = _unique_with_counts(p)
    ts = grids_mod.make_grid(grid, steps, T=T, size=size, ref_size=ref_size, t_min=t_min)
    _, v = sampler_moments(c, ts, sampler=sampler, denoise_last=denoise_last)
    return float(np.sum(counts * gaussian_kl(c, v)) / p.size)


# --------------------------------------------------------------------------------------
# WSGM: per-frequency joint spectra of (low-pass, details) and their Schur complements
# --------------------------------------------------------------------------------------
@dataclass
class WaveletProblem:
    """The normalized conditional Gaussian problem of one scale (or the coarsest one).

    ``variances``: eigenvalues of the normalized conditional covariance (or of the coarsest
    normalized covariance), ``mean_power``: E|m̃|² of the conditional mean in the same
    eigen-directions (0 for the coarsest), ``size``: the side of its grid. For a scale,
    ``eigvecs`` (h, w, 3, 3) are the eigenvectors (columns) and ``gain`` (h, w, 3) the
    un-normalized regression of the details on the low-pass (docs/design.md §3.3); for the
    coarsest, ``band_std`` is its pixel std and ``variances`` its spectrum divided by it².
    """

    scale: int
    size: int
    variances: np.ndarray
    mean_power: np.ndarray
    coarsest: bool
    band_std: np.ndarray = field(default_factory=lambda: np.ones(0))
    eigvecs: np.ndarray | None = None
    gain: np.ndarray | None = None

    @property
    def kappa(self) -> float:
        return float(self.variances.max() / self.variances.min())


def wavelet_problems(
    size: int,
    levels: int,
    *,
    eta: float = 2.0,
    xi: float = 0.0,
    wavelet: str = "haar",
    spectrum: np.ndarray | None = None,
) -> list[WaveletProblem]:
    """The conditional problems of scales j = 1..J then the coarsest (index J), normalized;
    ``spectrum``: any positive (L, L) power spectrum instead of the (η, ξ) family."""
    check_levels((size, size), levels)
    spec = power_spectrum(size, eta=eta, xi=xi) if spectrum is None else _positive(spectrum)
    out: list[WaveletProblem] = []
    for j in range(1, levels + 1):
        level = conditional_spectra(spec, wavelet)
        lam, u = np.linalg.eigh(level.cond_cov)
        q = np.einsum("ijbk,ijbc,ijck->ijk", u.conj(), level.mean_cov, u).real
        out.append(
            WaveletProblem(
                j,
                spec.shape[0] // 2,
                np.clip(lam, 1e-300, None),
                np.clip(q, 0, None),
                False,
                level.band_std,
                u,
                level.gain,
            )
        )
        spec = level.low
    var = spec.mean()
    out.append(
        WaveletProblem(
            levels, spec.shape[0], spec / var, np.zeros_like(spec), True, np.array([math.sqrt(var)])
        )
    )
    return out


def wsgm_kl_per_pixel(
    size: int,
    steps: int,
    *,
    levels: int | None = None,
    eta: float = 2.0,
    xi: float = 0.0,
    wavelet: str = "haar",
    grid: str = "uniform",
    T: float = 5.0,
    denoise_last: bool = True,
    coarsest: int = 4,
    sampler: str = "euler",
    ref_size: int = grids_mod.DEFAULT_REF_SIZE,
    t_min: float | None = None,
) -> float:
    """Exact KL per pixel of WSGM with exact scores, ``steps`` steps of ``sampler`` per scale
    (docs/design.md §3.3, §3.7). Each problem is normalized by its std, so the result does
    not depend on the SGM's normalization (§3.8). ``logsnr-shifted`` shifts each problem's
    grid by the problem's own size.

    ``levels`` defaults to log2(size / coarsest) (the coarsest low-pass is coarsest² pixels).
    """
    levels = default_levels(size, coarsest) if levels is None else levels
    total = 0.0
    for prob in wavelet_problems(size, levels, eta=eta, xi=xi, wavelet=wavelet):
        ts = grids_mod.make_grid(grid, steps, T=T, size=prob.size, ref_size=ref_size, t_min=t_min)
        g, v = unique_moments(prob.variances, ts, sampler=sampler, denoise_last=denoise_last)
        total += float(np.sum(gaussian_kl(prob.variances, v, g, prob.mean_power)))
    return total / size**2


def wsgm_condition_number(
    size: int,
    *,
    levels: int | None = None,
    eta: float = 2.0,
    xi: float = 0.0,
    wavelet: str = "haar",
    coarsest: int = 4,
) -> float:
    """Largest condition number over the normalized WSGM problems (all scales + coarsest)."""
    levels = default_levels(size, coarsest) if levels is None else levels
    return max(p.kappa for p in wavelet_problems(size, levels, eta=eta, xi=xi, wavelet=wavelet))


def default_levels(size: int, coarsest: int) -> int:
    """J = log2(size / coarsest), checked (one WSGMError naming the value and the allowed)."""
    if isinstance(coarsest, bool) or not isinstance(coarsest, int) or coarsest < 1:
        raise WSGMError(f"coarsest size must be a power of two >= 1, got {coarsest!r}")
    if coarsest & (coarsest - 1):
        raise WSGMError(f"coarsest size must be a power of two >= 1, got {coarsest!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise WSGMError(f"image size L must be a positive integer, got {size!r}")
    if size < coarsest:
        raise WSGMError(
            f"coarsest size {coarsest} is larger than the image size L = {size}; "
            f"allowed: a coarsest size <= L"
        )
    if size % coarsest or (size // coarsest) & (size // coarsest - 1):
        allowed = ", ".join(str(coarsest << j) for j in range(5))
        raise WSGMError(
            f"size {size} must be a power-of-two multiple 2^J x {coarsest} of the coarsest "
            f"size {coarsest}; allowed: {allowed}, ..."
        )
    return int(round(math.log2(size // coarsest)))


# --------------------------------------------------------------------------------------
# Steps needed and scaling exponents
# --------------------------------------------------------------------------------------
def steps_needed(
    kl_of_steps: Callable[[int], float], epsilon: float, *, n_max: int = 1 << 22
) -> int:
    """Smallest N with kl_of_steps(N) ≤ epsilon (KL decreases with N; doubling + bisection).

    Returns -1 if not reached by ``n_max``.
    """
    if not epsilon > 0:
        raise WSGMError(f"epsilon must be a positive KL per pixel, got {epsilon!r}")
    lo, hi = 0, 1
    while kl_of_steps(hi) > epsilon:
        lo, hi = hi, hi * 2
        if hi > n_max:
            return -1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if kl_of_steps(mid) > epsilon:
            lo = mid
        else:
            hi = mid
    return hi


def fit_exponent(sizes: list[int], values: list[float]) -> float:
    """Least-squares slope of log(values) against log(sizes)."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(values, float))
    slope = float(np.polyfit(x, y, 1)[0])
    return 0.0 if abs(slope) < 1e-12 else slope  # constant N: 0, not ±1e-16


def validate(eta: float, xi: float, steps: list[int]) -> None:
    """Check the user-facing parameters of the theory command and functions."""
    check_spectrum_params(eta, xi)
    for n in steps:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise WSGMError(f"number of steps must be a positive integer, got {n!r}")
    _ = orthogonal_filters  # the wavelet name is validated where it is used


# --------------------------------------------------------------------------------------
# Monte Carlo check: the real samplers with exact Fourier-diagonal scores
# --------------------------------------------------------------------------------------
def monte_carlo_sgm_kl(
    size: int,
    steps: int,
    *,
    n_samples: int = 4000,
    eta: float = 2.0,
    xi: float = 0.0,
    grid: str = "uniform",
    sampler: str = "euler",
    T: float = 5.0,
    denoise_last: bool = True,
    normalize: str = "lambda-max",
    generator: torch.Generator | None = None,
    groups: int = 20,
    device: torch.device | str | None = None,
    batch_size: int = 2000,
) -> tuple[float, float]:
    """KL per pixel of what a real sampler produces with exact scores, estimated from samples.

    The sampler output is stationary and Gaussian (the exact score is linear and
    shift-equivariant), so its law is fixed by its per-mode variances v(k), estimated by
    mean |F x(k)|²/L². The plug-in KL is bias-corrected and its standard error estimated by
    a grouped jackknife over ``groups`` groups of samples. Returns (kl, standard error).
    """
    if n_samples < 2 * groups:
        raise WSGMError(f"n_samples must be at least 2*groups={2 * groups}, got {n_samples}")
    lam = torch.as_tensor(
        normalized_spectrum(size, eta=eta, xi=xi, normalize=normalize),
        dtype=torch.float64,
        device=device,
    )
    score = stationary_score(lam)
    run = get_sampler(sampler)
    ts = grids_mod.make_grid(grid, steps, T=T, device=device)
    per_group = n_samples // groups
    n_used = per_group * groups
    power = torch.zeros(groups, size, size, dtype=torch.float64, device=device)
    group_of = torch.arange(n_used, device=device) // per_group
    for start in range(0, n_used, batch_size):
        b = min(batch_size, n_used - start)
        x = torch.randn(b, size, size, generator=generator, dtype=torch.float64, device=device)
        y = run(score, x, ts, generator=generator, sde=OU(T), denoise_last=denoise_last)
        power.index_add_(0, group_of[start : start + b], torch.fft.fft2(y).abs() ** 2 / size**2)
    power_np = power.cpu().numpy()
    lam_np = lam.cpu().numpy()

    def kl_of(v: np.ndarray) -> float:
        return float(np.mean(gaussian_kl(lam_np, v)))

    full = kl_of(power_np.sum(0) / (groups * per_group))
    loo = np.array(
        [kl_of((power_np.sum(0) - power_np[g]) / ((groups - 1) * per_group)) for g in range(groups)]
    )
    corrected = groups * full - (groups - 1) * loo.mean()
    stderr = math.sqrt((groups - 1) / groups * np.sum((loo - loo.mean()) ** 2))
    return float(corrected), float(stderr)
