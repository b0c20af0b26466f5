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
from ..wavelets import check_levels
from .cross_spectra import conditional_spectra

__all__ = ["stationary_score", "ExactWSGM", "exact_wsgm"]


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


def _conditional_score(
    cond_cov: Tensor, gain: Tensor, detail_std: Tensor, low_std: float
) -> ScoreFn:
    """Score of the normalized details (B, 3, h, w) given the normalized low-pass (B, 1, h, w).

    ``cond_cov`` (h, w, 3, 3): normalized conditional covariance per frequency; ``gain``
    (h, w, 3): E[ŷ_b | ŷ_l] = gain_b ŷ_l for the un-normalized coefficients.
    """

    def score(x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is None:
            raise ValueError("the conditional score needs the low-pass as `cond`")
        cplx = torch.complex128 if x.dtype == torch.float64 else torch.complex64
        cov = cond_cov.to(device=x.device, dtype=cplx)
        g = gain.to(device=x.device, dtype=cplx)
        std = detail_std.to(device=x.device, dtype=x.dtype)
        alpha = torch.exp(-t)
        low_hat = torch.fft.fft2(cond[:, 0] * low_std)  # un-normalized low-pass, (B, h, w)
        mean_hat = g.permute(2, 0, 1)[None] * low_hat[:, None] / std[None, :, None, None]
        resid = torch.fft.fft2(x) - alpha * mean_hat  # (B, 3, h, w)
        eye = torch.eye(3, dtype=cplx, device=x.device)
        prec = torch.linalg.inv(alpha**2 * cov + (1 - alpha**2) * eye)  # (h, w, 3, 3)
        out = torch.einsum("ijbc,ncij->nbij", prec, resid)
        return -torch.fft.ifft2(out).real

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
            _conditional_score(
                torch.as_tensor(level.cond_cov),
                torch.as_tensor(level.gain),
                torch.as_tensor(level.band_std),
                low_std[-1],
            )
        )
        spec = level.low
    coarse = stationary_score(torch.as_tensor(spec / spec.mean()))
    return ExactWSGM(coarse, cond_fns, np.asarray(low_std), np.stack(detail_std))
