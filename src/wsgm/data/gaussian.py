"""Stationary Gaussian fields on a periodic grid by exact spectral synthesis.

A stationary Gaussian field on a periodic L^d grid has a circulant covariance Σ, diagonal
in the unitary Fourier basis F: Σ = F* diag(P) F with P the power spectrum
(:func:`wsgm.gaussian.spectra.power_spectrum`, docs/design.md §3.1, §5.2). Filtering real
white noise Z by √P in Fourier,

    X = F* diag(√P) F Z,

gives Cov(X) = F* diag(√P) F F* diag(√P) F = F* diag(P) F = Σ exactly (no truncation, no
approximation): every Fourier coefficient (F X)_k has E|(F X)_k|² = P_k. X is real because
P(ω) = P(−ω). With the unitary ("ortho") FFT the pixel variance is mean(P) and the spatial
mean m = (F X)_0 / L^{d/2} has variance P_0 / L^d.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from ..errors import WSGMError
from ..gaussian.spectra import check_spectrum_params, power_spectrum

__all__ = [
    "color_noise",
    "gaussian_fields",
    "gaussian_fields_torch",
    "iter_gaussian_fields",
    "pixel_variance",
    "magnetization_variance",
]


def _check(n: int, size: int, eta: float, xi: float, ndim: int) -> None:
    if not (isinstance(n, int | np.integer) and n >= 0):
        raise WSGMError(f"number of fields must be a non-negative integer, got n={n!r}")
    if not (isinstance(size, int | np.integer) and size >= 1):
        raise WSGMError(f"size must be a positive integer, got size={size!r}")
    if ndim not in (1, 2, 3):
        raise WSGMError(f"ndim must be 1, 2 or 3, got ndim={ndim!r}")
    check_spectrum_params(float(eta), float(xi))


def color_noise(
    z: np.ndarray | torch.Tensor, *, eta: float = 2.0, xi: float = 0.0, ndim: int = 2
) -> np.ndarray | torch.Tensor:
    """Filter white noise ``z`` (``(..., *(L,)*ndim)``) by √P in Fourier: F* diag(√P) F z.

    This is the linear map A with A Aᵀ = Σ = F* diag(P) F, applied over the last ``ndim``
    axes; numpy in → numpy out (float64), torch in → torch out (on z's device, float64).
    """
    if z.ndim < ndim or len(set(z.shape[-ndim:])) != 1:
        raise WSGMError(f"noise must end in {ndim} equal grid axes, got shape {tuple(z.shape)}")
    size = int(z.shape[-1])
    sqrt_p = np.sqrt(power_spectrum(size, eta=eta, xi=xi, ndim=ndim))
    axes = tuple(range(-ndim, 0))
    if isinstance(z, torch.Tensor):
        zt = z.to(torch.float64)
        f = torch.fft.fftn(zt, dim=axes, norm="ortho") * torch.as_tensor(sqrt_p, device=z.device)
        return torch.fft.ifftn(f, dim=axes, norm="ortho").real
    fz = np.fft.fftn(np.asarray(z, dtype=np.float64), axes=axes, norm="ortho")
    return np.fft.ifftn(fz * sqrt_p, axes=axes, norm="ortho").real


def gaussian_fields_torch(
    n: int,
    *,
    size: int,
    eta: float = 2.0,
    xi: float = 0.0,
    ndim: int = 2,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``n`` fields with spectrum P(η, ξ), shape ``(n, 1, *(size,)*ndim)``, on ``device``.

    The noise is drawn with ``generator`` on its device (``device`` defaults to it); the FFT
    runs in float64 (complex128) so the covariance is exact to rounding at any L.
    """
    _check(n, size, eta, xi, ndim)
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    shape = (n, 1, *([size] * ndim))
    z = torch.randn(shape, generator=generator, device=device, dtype=torch.float64)
    x = color_noise(z, eta=eta, xi=xi, ndim=ndim)
    assert isinstance(x, torch.Tensor)
    return x.to(dtype)


def gaussian_fields(
    n: int,
    *,
    size: int,
    eta: float = 2.0,
    xi: float = 0.0,
    ndim: int = 2,
    generator: np.random.Generator | torch.Generator,
) -> np.ndarray:
    """``n`` fields with spectrum P(η, ξ) as float32 numpy, shape ``(n, 1, *(size,)*ndim)``.

    Accepts a numpy Generator (numpy FFT) or a torch Generator (torch FFT on the
    generator's device, result copied back); the two give different draws of the same law.
    """
    if isinstance(generator, torch.Generator):
        return (
            gaussian_fields_torch(n, size=size, eta=eta, xi=xi, ndim=ndim, generator=generator)
            .cpu()
            .numpy()
        )
    if not isinstance(generator, np.random.Generator):
        raise WSGMError(
            f"generator must be a numpy or torch Generator, got {type(generator).__name__}"
        )
    _check(n, size, eta, xi, ndim)
    z = generator.standard_normal((n, 1, *([size] * ndim)))
    return np.asarray(color_noise(z, eta=eta, xi=xi, ndim=ndim), dtype=np.float32)


def iter_gaussian_fields(
    n: int,
    *,
    size: int,
    eta: float = 2.0,
    xi: float = 0.0,
    ndim: int = 2,
    generator: np.random.Generator | torch.Generator,
    batch_size: int | None = None,
) -> Iterator[np.ndarray]:
    """:func:`gaussian_fields` in batches, so ``n`` is bounded by disk, not memory.

    The default batch holds about 2^20 values (16 MiB per complex128 work array).
    """
    _check(n, size, eta, xi, ndim)
    if batch_size is None:
        batch_size = max(1, (1 << 20) // size**ndim)
    if batch_size < 1:
        raise WSGMError(f"batch_size must be a positive integer, got {batch_size!r}")
    for start in range(0, n, batch_size):
        yield gaussian_fields(
            min(batch_size, n - start), size=size, eta=eta, xi=xi, ndim=ndim, generator=generator
        )


def pixel_variance(size: int, *, eta: float = 2.0, xi: float = 0.0, ndim: int = 2) -> float:
    """Var(X_x) at any site: the mean of the power spectrum (Parseval, unitary FFT)."""
    return float(power_spectrum(size, eta=eta, xi=xi, ndim=ndim).mean())


def magnetization_variance(size: int, *, eta: float = 2.0, xi: float = 0.0, ndim: int = 2) -> float:
    """Var(m), m the spatial mean of one field: P_0 / size^ndim."""
    p0 = float(power_spectrum(size, eta=eta, xi=xi, ndim=ndim).flat[0])
    return p0 / math.prod([size] * ndim)
