"""Joint spectra of the wavelet coefficients of a stationary field (docs/design.md §3.3).

One level of the orthonormal periodized DWT maps a stationary field on an M×M grid to 4
jointly stationary fields (low-pass and 3 detail bands) on the M/2 grid. At each half-grid
frequency k' their 4×4 cross-spectrum sums the 4 aliased frequencies through the filters:

    S_y(k') = ¼ Σ_a H(k' + a M/2) H(k' + a M/2)^* S(k' + a M/2),   a ∈ {0, 1}²,

with H_c the frequency response of channel c (FFT convention of numpy/torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..wavelets import dwt

__all__ = [
    "filter_responses", "cross_spectrum", "lowpass_spectrum", "ConditionalSpectra",
    "conditional_spectra",
]  # fmt: skip


@lru_cache(maxsize=64)
def filter_responses(wavelet: str, size: int) -> np.ndarray:
    """Frequency responses H_c(k), shape (4, size, size), of the 4 DWT channels at ``size``.

    Read off :func:`wsgm.wavelets.dwt` itself (impulses at the 4 positions of a 2×2 cell),
    so the theory uses exactly the transform, band order and filter folding of the model.
    """
    half = size // 2
    imp = torch.zeros(4, size, size, dtype=torch.float64)
    pos = [(0, 0), (0, 1), (1, 0), (1, 1)]
    for i, (p1, p2) in enumerate(pos):
        imp[i, p1, p2] = 1.0
    low, det = dwt(imp, wavelet, ndim=2)
    chans = torch.cat([low[:, None], det], dim=1).numpy()  # (impulse, channel, half, half)
    g = np.zeros((4, size, size))
    m = np.arange(half)
    for i, (p1, p2) in enumerate(pos):
        # y_c[m] = Σ_n g_c[2m − n] x[n]: impulse at p gives y_c[m] = g_c[2m − p].
        rows = (2 * m - p1) % size
        cols = (2 * m - p2) % size
        g[:, rows[:, None], cols[None, :]] = chans[i]
    return np.fft.fft2(g)


def cross_spectrum(spec: np.ndarray, wavelet: str) -> np.ndarray:
    """4×4 cross-spectrum (half, half, 4, 4) of (low, details) of a field with spectrum ``spec``."""
    size = spec.shape[-1]
    half = size // 2
    h = filter_responses(wavelet, size)
    s_y = np.zeros((half, half, 4, 4), dtype=np.complex128)
    for a1 in (0, half):
        for a2 in (0, half):
            hs = h[:, a1 : a1 + half, a2 : a2 + half]  # (4, half, half)
            ss = spec[a1 : a1 + half, a2 : a2 + half]
            s_y += 0.25 * np.einsum("cij,dij,ij->ijcd", hs, hs.conj(), ss)
    return s_y


def lowpass_spectrum(spec: np.ndarray, wavelet: str, levels: int) -> np.ndarray:
    """Spectrum of the low-pass x_levels of a field with spectrum ``spec``: the (low, low)
    entry of :func:`cross_spectrum`, ``levels`` times (``spec`` itself for 0)."""
    for _ in range(levels):
        spec = cross_spectrum(spec, wavelet)[..., 0, 0].real
    return spec


@dataclass
class ConditionalSpectra:
    """One level's Gaussian law of the normalized details given the low-pass, per frequency.

    ``low``: spectrum of the low-pass (half, half); ``band_std``: std of each detail band (3,);
    ``cond_cov``: normalized conditional covariance, the Schur complement
    S_bb − S_bl S_ll^{-1} S_lb scaled by 1/std (half, half, 3, 3), Hermitian;
    ``mean_cov``: normalized covariance of the conditional mean, S_bb − C (law of total
    variance); ``gain``: E[ŷ_b | ŷ_l] = gain_b ŷ_l for the un-normalized coefficients.
    """

    low: np.ndarray
    band_std: np.ndarray
    cond_cov: np.ndarray
    mean_cov: np.ndarray
    gain: np.ndarray


def conditional_spectra(spec: np.ndarray, wavelet: str) -> ConditionalSpectra:
    """The conditional law of one DWT level of a field with spectrum ``spec``
    (docs/design.md §3.3)."""
    s_y = cross_spectrum(spec, wavelet)
    s_ll = s_y[..., 0, 0].real
    s_bb, s_bl = s_y[..., 1:, 1:], s_y[..., 1:, 0]
    std = np.sqrt(np.einsum("ijbb->b", s_bb).real / s_ll.size)
    scale = 1.0 / (std[:, None] * std[None, :])
    cond = s_bb - np.einsum("ijb,ijc->ijbc", s_bl, s_bl.conj()) / s_ll[..., None, None]
    cond = 0.5 * (cond + np.conj(np.swapaxes(cond, -1, -2)))
    return ConditionalSpectra(
        low=s_ll,
        band_std=std,
        cond_cov=cond * scale,
        mean_cov=(s_bb - cond) * scale,
        gain=s_bl / s_ll[..., None],
    )
