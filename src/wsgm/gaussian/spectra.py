"""The power-spectrum family shared by the exact theory and the Gaussian-field generator.

P(ω) = (ξ^η + |ω|^η)^(-1) on the frequencies ω = 2π k / L, k ∈ {-L/2, ..., L/2 - 1}^d of a
periodic L^d grid (|ω| ≤ π√d), normalized so that the largest eigenvalue is 1.

ξ = 0 is the critical, scale-free case, where P(0) is infinite. A finite periodic box has no
mode longer than L, so we give the zero frequency the variance of the lowest non-zero
frequency, P(0) := P(2π/L) — the box's infrared cutoff. With this convention
κ = P(2π/L)/P(π√d) = (√d L / 2)^η for ξ = 0.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import WSGMError

__all__ = ["frequencies", "power_spectrum", "check_spectrum_params"]


def check_spectrum_params(eta: float, xi: float) -> None:
    """Raise a clear error for η ≤ 0, ξ < 0 or non-finite values."""
    if not (math.isfinite(eta) and eta > 0):
        raise WSGMError(f"spectral exponent eta must be a positive number, got eta={eta!r}")
    if not (math.isfinite(xi) and xi >= 0):
        raise WSGMError(f"inverse correlation length xi must be >= 0, got xi={xi!r}")


def frequencies(size: int, ndim: int = 2) -> np.ndarray:
    """|ω| on the FFT grid of a periodic ``size``^ndim lattice (numpy fft ordering)."""
    w = 2 * np.pi * np.fft.fftfreq(size)
    grids = np.meshgrid(*([w] * ndim), indexing="ij")
    return np.sqrt(sum(g**2 for g in grids))


def power_spectrum(size: int, *, eta: float = 2.0, xi: float = 0.0, ndim: int = 2) -> np.ndarray:
    """Eigenvalues of the covariance (the power spectrum), shape (size,)*ndim, max = 1."""
    check_spectrum_params(eta, xi)
    if size < 1:
        raise WSGMError(f"size must be a positive integer, got {size!r}")
    omega = frequencies(size, ndim)
    with np.errstate(divide="ignore"):
        p = 1.0 / (xi**eta + omega**eta)
    if size > 1 and not np.isfinite(p.flat[0]):
        p.flat[0] = 1.0 / (xi**eta + (2 * np.pi / size) ** eta)
    elif size == 1 and not np.isfinite(p.flat[0]):
        p.flat[0] = 1.0
    return p / p.max()
