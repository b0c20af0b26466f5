"""KL per pixel of Gaussian-field samples, measured and predicted by the exact theory.

For a stationary Gaussian target with power spectrum P
(:func:`wsgm.gaussian.spectra.power_spectrum`, the law of :mod:`wsgm.data.gaussian`), a
model that is Gaussian and stationary has a diagonal covariance v(ω) in Fourier, and

    KL(target ‖ model) / L² = mean over ω of ½ (P/v − 1 + log(v/P)).

:func:`fourier_kl` estimates it from samples with v(ω) = the sample mean of |x̂(ω)|² (unitary
FFT); this ignores the samples' non-Gaussianity and cross-frequency correlations, and has a
small finite-sample bias, which the noise floor (the same estimate on reference fields)
shows. :func:`theory_curves` gives the KL that SGM and WSGM would reach with exact scores
(:mod:`wsgm.gaussian.theory`), with the models' own normalizations: the SGM works on data divided by
their pixel standard deviation, the WSGM on per-band normalized wavelet coefficients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..gaussian.spectra import power_spectrum
from ..gaussian.theory import em_moments, gaussian_kl, wsgm_kl_per_pixel
from ..grids import make_grid

__all__ = ["fourier_kl", "fourier_kl_metric", "sgm_theory_kl", "theory_curves"]


def fourier_kl(samples: np.ndarray, spectrum: np.ndarray) -> float:
    """½ mean_ω (P/v − 1 + log(v/P)) with v the samples' mean |x̂(ω)|² (one channel)."""
    x = np.asarray(samples, dtype=np.float64)
    x = x.reshape(x.shape[0], *x.shape[-2:])
    v = np.mean(np.abs(np.fft.fft2(x, norm="ortho")) ** 2, axis=0)
    v = np.maximum(v, np.finfo(np.float64).tiny)
    r = spectrum / v
    return float(0.5 * np.mean(r - 1.0 - np.log(r)))


def fourier_kl_metric(
    size: int, *, eta: float, xi: float
) -> Callable[[np.ndarray, np.ndarray], float]:
    """A two-argument distance (samples, ignored reference) -> :func:`fourier_kl`, for a
    :class:`wsgm.experiments.sweep.FieldSuite` (the exact spectrum is the reference)."""
    spectrum = power_spectrum(size, eta=eta, xi=xi)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        return fourier_kl(a, spectrum)

    return kl


def sgm_theory_kl(
    size: int, steps: int, *, eta: float, xi: float, grid: str, T: float, t_min: float | None = None
) -> float:
    """Exact-score Euler–Maruyama KL per pixel of an SGM on data normalized to unit pixel
    variance (what :class:`wsgm.models.SGM` does)."""
    p = power_spectrum(size, eta=eta, xi=xi)
    c = (p / p.mean()).ravel()
    _, v = em_moments(c, make_grid(grid, steps, T=T, t_min=t_min), denoise_last=True)
    return float(np.mean(gaussian_kl(c, v)))


def theory_curves(
    size: int,
    steps: Sequence[int],
    *,
    eta: float,
    xi: float,
    levels: int,
    wavelet: str,
    grid: str = "quadratic",
    T: float = 5.0,
    t_min: float | None = None,
) -> dict[str, tuple[list[int], list[float]]]:
    """``{"sgm": (steps, KL), "wsgm": (steps, KL)}`` with exact scores (per pixel), on
    ``grid`` ending at ``t_min`` (None: its default)."""
    xs = [int(n) for n in steps]
    sgm = [sgm_theory_kl(size, n, eta=eta, xi=xi, grid=grid, T=T, t_min=t_min) for n in xs]
    wsgm = [
        wsgm_kl_per_pixel(
            size, n, levels=levels, eta=eta, xi=xi, wavelet=wavelet, grid=grid, T=T, t_min=t_min
        )  # fmt: skip
        for n in xs
    ]
    return {"sgm": (xs, sgm), "wsgm": (xs, wsgm)}
