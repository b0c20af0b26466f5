"""Exact scores of stationary Gaussian fields, for SGM and for every WSGM scale.

These are the "perfect networks" of the theory (docs/design.md §3.4): plugged into the real
samplers and the real coarse-to-fine WSGM sampler (:func:`wsgm.models.wsgm.wsgm_sample`) in
place of trained networks, they must reproduce the closed-form KL of
:mod:`wsgm.gaussian.theory`; that checks the sampling plumbing and the normalization end to
end.

All scores act in Fourier on the last two axes. For the noised law of N(μ, C) under the OU
process, grad log p_t(y) = −(α² C + σ² I)^{-1} (y − α μ), with α = e^{−t}, σ² = 1 − e^{−2t}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..samplers import ScoreFn
from ..sde import broadcast_time
from ..wavelets import check_levels
from .cross_spectra import conditional_spectra

__all__ = ["stationary_score", "conditional_score", "ExactWSGM", "exact_wsgm"]


def stationary_score(spectrum: Tensor) -> ScoreFn:
    """Score of N(0, diag_F(spectrum)) noised by the OU process, for fields of any batch shape."""
    ndim = spectrum.ndim
    dims = tuple(range(-ndim, 0))

    def score(x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        del cond
        p = spectrum.to(device=x.device, dtype=x.dtype)
        den = torch.exp(-2.0 * t) * p - torch.expm1(-2.0 * t)
        return -torch.fft.ifftn(torch.fft.fftn(x, dim=dims) / den, dim=dims).real

    return score


def conditional_score(
    cond_cov: Tensor, gain: Tensor, detail_std: Tensor, low_std: Tensor | float
) -> ScoreFn:
    """Score of the normalized details (B, 3, h, w) given the normalized low-pass (B, 1, h, w)
    of a stationary Gaussian field, noised by the OU process (docs/design.md §3.3–§3.4).

    ``cond_cov`` (h, w, 3, 3): conditional covariance per frequency of the details divided by
    ``detail_std`` (3,); ``gain`` (h, w, 3): E[ŷ_b | ŷ_l] = gain_b ŷ_l for the un-normalized
    coefficients; ``low_std``: the low-pass's normalization. With α = e^{−t}, per frequency
    s = −(α² C + (1 − α²) I)^{-1} (ŷ − α m(ŷ_l)); C is diagonalized once, so ``t`` may be one
    time or one per field and no 3×3 system is solved per call. The tensors stay on the device
    they are given on: pass them where the samplers run.
    """
    lam, vec = torch.linalg.eigh(cond_cov)  # (h, w, 3), (h, w, 3, 3)
    lam = lam.permute(2, 0, 1)  # (3, h, w), real
    # the conditional mean per unit of the normalized low-pass: G_b s_l / s_b, (3, h, w)
    ratio = gain.permute(2, 0, 1) * low_std / detail_std[:, None, None]

    def score(x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("the conditional score needs the low-pass as `cond`")
        cplx = torch.complex128 if x.dtype == torch.float64 else torch.complex64
        u = vec.to(dtype=cplx)
        alpha = torch.exp(-broadcast_time(t, x))
        mean_hat = ratio.to(dtype=cplx) * torch.fft.fft2(cond[:, :1])  # (B, 3, h, w)
        resid = torch.fft.fft2(x) - alpha * mean_hat
        r = torch.einsum("ijcb,ncij->nbij", u.conj(), resid)  # into C's eigenbasis
        r = r / (alpha**2 * lam.to(x.dtype) + (1 - alpha**2))
        return -torch.fft.ifft2(torch.einsum("ijbc,ncij->nbij", u, r)).real

    return score


@dataclass
class ExactWSGM:
    """Exact score functions and normalization statistics of a one-channel Gaussian field.

    Follows the conventions of :mod:`wsgm.models.wsgm`: ``cond_score_fns[j - 1]`` is scale j
    (finest first); ``low_std[j]`` is the std of x_j (j = 0..J); ``detail_std[j - 1]`` the
    per-band std of scale j. All means are zero.
    """

    coarse_score_fn: ScoreFn
    cond_score_fns: list[ScoreFn]
    low_std: np.ndarray
    detail_std: np.ndarray

    def stats_tensors(self, dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
        """The normalization statistics of the exact field as the four named tensors
        ``low_mean`` (J + 1, 1), ``low_std`` (J + 1, 1), ``detail_mean`` (J, 1, 3) and
        ``detail_std`` (J, 1, 3): the layout of
        :class:`wsgm.models.normalization.NormalizationStats`, which a caller builds with
        ``NormalizationStats.from_tensors(exact.stats_tensors())``."""
        levels = self.detail_std.shape[0]
        return {
            "low_mean": torch.zeros(levels + 1, 1, dtype=dtype),
            "low_std": torch.as_tensor(self.low_std, dtype=dtype).reshape(levels + 1, 1),
            "detail_mean": torch.zeros(levels, 1, 3, dtype=dtype),
            "detail_std": torch.as_tensor(self.detail_std, dtype=dtype).reshape(levels, 1, 3),
        }


def exact_wsgm(spectrum: np.ndarray, levels: int, *, wavelet: str = "haar") -> ExactWSGM:
    """Exact WSGM scores for a stationary field with power spectrum ``spectrum`` (L, L)."""
    check_levels(spectrum.shape, levels)
    spec = np.asarray(spectrum, dtype=np.float64)
    low_std = [float(np.sqrt(spec.mean()))]
    detail_std: list[np.ndarray] = []
    cond_fns: list[ScoreFn] = []
    for _ in range(levels):
        level = conditional_spectra(spec, wavelet)
        low_std.append(float(np.sqrt(level.low.mean())))
        detail_std.append(level.band_std)
        cond_fns.append(
            conditional_score(
                torch.as_tensor(level.cond_cov),
                torch.as_tensor(level.gain),
                torch.as_tensor(level.band_std),
                low_std[-1],
            )
        )
        spec = level.low
    coarse = stationary_score(torch.as_tensor(spec / spec.mean()))
    return ExactWSGM(coarse, cond_fns, np.asarray(low_std), np.stack(detail_std))
