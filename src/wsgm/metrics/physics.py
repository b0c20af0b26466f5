"""Physical observables of lattice fields, on a batch from any source.

Fields are numpy arrays (n, L, L) or (n, C, L, L); the magnetization of a sample is its
site mean m = V⁻¹ Σ_x φ_x (over channels too). Ensemble averages ⟨·⟩ are over the batch.

- susceptibility χ = V (⟨m²⟩ − ⟨|m|⟩²), the finite-volume estimator that stays finite in
  the ordered phase (the symmetric ⟨m⟩ vanishes in a finite box);
- Binder cumulant U₄ = 1 − ⟨m⁴⟩ / (3⟨m²⟩²): 0 for a Gaussian m, 2/3 for a two-valued m;
  its curves for different L cross at the critical point, where for the 2-d Ising class
  U₄* ≈ 0.6107 (Salas & Sokal, J. Stat. Phys. 98, 551 (2000));
- the φ⁴ action per site, S/V, for S = Σ_x [−β Σ_μ φ_x φ_{x+μ} + φ_x² + λ(φ_x² − 1)²];
- the two-point function G(r) = ⟨φ_x φ_{x+r}⟩, averaged over x and over shells |r|;
- the integrated autocorrelation time of a Monte Carlo series with the automatic window
  of Madras & Sokal (J. Stat. Phys. 50, 109 (1988)).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import WSGMError
from .spectrum import power_spectrum_2d, radial_average

__all__ = [
    "magnetization",
    "magnetization_histogram",
    "susceptibility",
    "binder_cumulant",
    "energy",
    "two_point_correlation",
    "integrated_autocorrelation_time",
]


def _fields(fields: np.ndarray) -> np.ndarray:
    arr = np.asarray(fields, dtype=np.float64)
    if arr.ndim not in (3, 4):
        raise WSGMError(f"fields must have shape (n, L, L) or (n, C, L, L), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise WSGMError("the batch of fields is empty (n = 0)")
    return arr


def _sites(arr: np.ndarray) -> int:
    return int(arr.shape[-1] * arr.shape[-2])


def magnetization(fields: np.ndarray) -> np.ndarray:
    """Site (and channel) mean of every sample, shape (n,)."""
    arr = _fields(fields)
    return arr.reshape(arr.shape[0], -1).mean(axis=1)


def magnetization_histogram(
    fields: np.ndarray, *, bins: int | np.ndarray = 50, range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized histogram (density, bin edges) of m; bimodal in the ordered/critical regime."""
    m = magnetization(fields)
    if range is None:
        top = float(np.abs(m).max()) or 1.0
        range = (-top, top)
    density, edges = np.histogram(m, bins=bins, range=range, density=True)
    return density, edges


def susceptibility(fields: np.ndarray) -> float:
    """χ = V (⟨m²⟩ − ⟨|m|⟩²) with V the number of sites of one sample."""
    arr = _fields(fields)
    m = magnetization(arr)
    return float(_sites(arr) * (np.mean(m**2) - np.mean(np.abs(m)) ** 2))


def binder_cumulant(fields: np.ndarray) -> float:
    """U₄ = 1 − ⟨m⁴⟩ / (3⟨m²⟩²)."""
    m = magnetization(fields)
    m2 = float(np.mean(m**2))
    if m2 == 0.0:
        raise WSGMError("Binder cumulant undefined: every sample has zero magnetization")
    return 1.0 - float(np.mean(m**4)) / (3.0 * m2 * m2)


def energy(fields: np.ndarray, *, beta: float, lam: float) -> np.ndarray:
    """φ⁴ action per site S/V of every sample (channels averaged), shape (n,).

    S = Σ_x [−β Σ_μ φ_x φ_{x+μ} + φ_x² + λ(φ_x² − 1)²] on the periodic lattice, each bond
    counted once (μ over the two positive directions).
    """
    arr = _fields(fields)
    bonds = arr * (np.roll(arr, -1, axis=-1) + np.roll(arr, -1, axis=-2))
    p2 = arr * arr
    density = -beta * bonds + p2 + lam * (p2 - 1.0) ** 2
    return density.reshape(arr.shape[0], -1).mean(axis=1)


def two_point_correlation(
    fields: np.ndarray, *, connected: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """G(r) = ⟨φ_x φ_{x+r}⟩ averaged over x, samples and the shells round(|r|) = 0..L/2.

    Computed exactly (periodic) through the power spectrum: G = IFFT(P). With
    ``connected`` the squared batch mean ⟨φ⟩² is subtracted.
    """
    arr = _fields(fields)
    g = np.fft.ifft2(power_spectrum_2d(arr)).real
    if connected:
        g = g - float(arr.mean()) ** 2
    r, mean = radial_average(g, include_zero=True)
    r_max = min(g.shape) // 2
    return r[: r_max + 1], mean[: r_max + 1]


def _autocorrelation(series: np.ndarray) -> np.ndarray:
    """Normalized autocorrelation ρ(t), t = 0..T−1, averaged over the leading axes (chains)."""
    x = series.reshape(-1, series.shape[-1])
    x = x - x.mean(axis=1, keepdims=True)
    T = x.shape[1]
    n_fft = 1 << (2 * T - 1).bit_length()
    f = np.fft.rfft(x, n=n_fft, axis=1)
    acov = np.fft.irfft(f.real**2 + f.imag**2, n=n_fft, axis=1)[:, :T].mean(axis=0)
    acov /= np.arange(T, 0, -1)  # unbiased lag normalization
    if acov[0] <= 0.0:
        return np.concatenate([[1.0], np.zeros(T - 1)])
    return acov / acov[0]


def integrated_autocorrelation_time(series: np.ndarray, *, window_factor: float = 6.0) -> float:
    """τ_int = ½ + Σ_{t=1}^{W} ρ(t) with the automatic window W = min{W : W ≥ c·τ_int(W)}.

    Convention of Sokal: independent samples have τ_int = ½, and the variance of a mean of T
    correlated samples is 2 τ_int σ² / T, so samples 2 τ_int apart count as independent.
    ``series`` is (T,) or (chains, T); with several chains ρ(t) is averaged over them.
    A constant series returns ½. If no window satisfies the criterion (a series too short for
    its correlations) the estimate at the largest window, T/2, is returned.
    """
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] < 2:
        raise WSGMError(
            f"an autocorrelation time needs a series of length >= 2, got shape {x.shape}"
        )
    if not np.isfinite(x).all():
        raise WSGMError("the series contains NaN or Inf")
    if not (math.isfinite(window_factor) and window_factor > 0):
        raise WSGMError(f"window_factor must be a positive number, got {window_factor!r}")
    rho = _autocorrelation(x)
    taus = 0.5 + np.cumsum(rho[1:])
    w = np.arange(1, len(rho))
    ok = np.nonzero(w >= window_factor * taus)[0]
    if len(ok) == 0:
        return float(taus[max(0, len(taus) // 2 - 1)])
    return float(max(taus[ok[0]], 0.5))
