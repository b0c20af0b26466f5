"""Power spectra of batches of periodic 2-d fields.

For a field φ on a periodic H×W grid with N = H·W sites, the power at frequency k is
P(k) = ⟨|φ̂_k|²⟩ / N with φ̂ = FFT(φ) (numpy convention, no normalization), averaged over
samples and channels. With this normalization a white field of unit variance has P ≡ 1 and
Σ_k P(k) / N = ⟨φ²⟩ (Parseval). For a stationary field P is the Fourier transform of the
two-point function, e.g. 1/(2 − 2β Σ_μ cos k_μ) for the φ⁴ action at λ = 0
(:mod:`wsgm.data.phi4`).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import wavelets
from ..errors import WSGMError

__all__ = [
    "power_spectrum_2d", "data_spectrum", "radial_power_spectrum", "radial_shells",
    "radial_average", "scale_energies",
]  # fmt: skip


def _as_batch(fields: np.ndarray) -> np.ndarray:
    """(n, H, W) or (n, C, H, W) -> float64 (n·C, H, W)."""
    arr = np.asarray(fields, dtype=np.float64)
    if arr.ndim == 3:
        return arr
    if arr.ndim == 4:
        return arr.reshape(-1, *arr.shape[2:])
    raise WSGMError(f"fields must have shape (n, L, L) or (n, C, L, L), got shape {arr.shape}")


def power_spectrum_2d(fields: np.ndarray) -> np.ndarray:
    """Mean |FFT|²/N over samples and channels, shape (H, W), numpy FFT ordering (k=0 first)."""
    batch = _as_batch(fields)
    if batch.shape[0] == 0:
        raise WSGMError("cannot compute a power spectrum of an empty batch (n = 0)")
    n_sites = batch.shape[-1] * batch.shape[-2]
    spec = np.zeros(batch.shape[-2:], dtype=np.float64)
    # Chunked so that a large batch never holds its whole complex FFT in memory.
    for start in range(0, batch.shape[0], 256):
        f = np.fft.fft2(batch[start : start + 256])
        spec += (f.real**2 + f.imag**2).sum(axis=0)
    return spec / (batch.shape[0] * n_sites)


def radial_shells(shape: tuple[int, int]) -> np.ndarray:
    """Integer shell index round(|k|) of every FFT frequency (|k| in grid units, k=0 -> 0)."""
    ky = np.fft.fftfreq(shape[0]) * shape[0]
    kx = np.fft.fftfreq(shape[1]) * shape[1]
    return np.rint(np.hypot(ky[:, None], kx[None, :])).astype(np.int64)


def radial_average(
    values: np.ndarray, *, include_zero: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a 2-d array in FFT ordering (a spectrum, a correlation) over the integer shells
    round(|k|): (k, shell means) for the non-empty shells, k = 0 only with ``include_zero``."""
    shells = radial_shells(values.shape).ravel()
    counts = np.bincount(shells)
    sums = np.bincount(shells, weights=values.ravel())
    k = np.nonzero(counts)[0]
    if not include_zero:
        k = k[k > 0]
    return k.astype(np.float64), sums[k] / counts[k]


def radial_power_spectrum(
    fields: np.ndarray, *, include_zero: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum: (k, mean power of the shell round(|k|) = k).

    k runs over the integer shells 1 .. max (0 too when ``include_zero``; the k = 0 mode
    holds the squared mean, which is not a fluctuation at a non-zero wavelength). Shells go
    up to the corner of the Brillouin zone, ⌊√2·L/2⌉ for a square grid; the shells beyond
    L/2 are only partly filled.
    """
    return radial_average(power_spectrum_2d(fields), include_zero=include_zero)


def data_spectrum(fields: np.ndarray) -> np.ndarray:
    """Power spectrum P(k) = <|FFT(φ - mean)|²>/N of one-channel fields (n, [1,] H, W),
    k = 0 included (it holds the variance of the field mean), clipped to > 0."""
    x = np.asarray(fields, dtype=np.float64)
    spec = power_spectrum_2d(x - x.mean())
    return np.maximum(spec, 1e-12 * spec.max())


def scale_energies(fields: np.ndarray, *, wavelet: str, levels: int) -> dict[str, float]:
    """Mean square per pixel of a batch (n, [C,] H, W) and of its orthonormal DWT's pieces:
    ``{"total", "lowpass", "scale J", ..., "scale 1"}``, ``lowpass`` the coarsest low-pass
    x_J and ``scale j`` the details of scale j. The transform is orthonormal, so the pieces
    add up to ``total`` = ⟨φ²⟩ (Parseval per level): which scale of a WSGM carries an excess
    ⟨φ²⟩ (docs/design.md §7.10)."""
    x = torch.as_tensor(_as_batch(fields))[:, None]  # (n·C, 1, H, W) float64
    pixels = x.shape[-1] * x.shape[-2]
    low, details = wavelets.wavedec(x, wavelet, levels)  # details: coarsest scale first
    out = {"total": float((x**2).mean()),
           "lowpass": float((low**2).flatten(1).sum(1).mean()) / pixels}  # fmt: skip
    for j, d in zip(range(levels, 0, -1), details, strict=True):
        out[f"scale {j}"] = float((d**2).flatten(1).sum(1).mean()) / pixels
    return out
