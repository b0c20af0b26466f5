"""The exact-twin skip: the unconditional network learns the residual of an exact score
(docs/design.md §6.7).

With ``model.skip = "gaussian"`` or ``"mixture"`` the network that models a whole field (the
SGM's ``net``, the WSGM's ``coarse``) no longer predicts the noise from scratch: its noise
prediction is

    eps(x, t) = eps_twin(x, t) + c(t) out(x, t),   eps_twin = −σ_t s_twin(x, t),

with s_twin the closed-form score of the data's twin at that scale (docs/design.md §3.9) in
the model's normalized coordinates, and c(t) out the parametrization's own network term
(α_t v̂ for v-prediction, the output itself for eps-prediction), which replaces the plain skip
(σ_t x for v, 0 for eps). The twin is the stationary Gaussian with the data's spectrum
(``gaussian``: eps_twin is the Wiener filter's noise estimate) or the symmetric mixture
½ N(±μ𝟙, C) with μ from the moments of the field mean and C the connected spectrum
(``mixture``). EDM's c_skip = σ_d²/(σ² + σ_d²) is the same construction for white data of
variance σ_d²; here the linear (per component) part is the data's exact one at every
frequency, so off the training distribution — the states a few-step sampler feeds the
network — the model's response starts from the exact score's rather than from an
unconstrained network's (§6.7 has the measurement).

With ``model.skip_details`` the WSGM's detail networks get the same construction with the
twin's exact *conditional* score of the normalized details given the normalized low-pass
(:func:`wsgm.gaussian.scores.conditional_score`, linear-Gaussian per frequency). It is the
same for both twins: for an orthonormal periodized DWT the details given the low-pass are one
Gaussian under the mixture too, that of its total spectrum (:mod:`wsgm.gaussian.mixture`),
which is the data's spectrum. The twin is centred: the data's detail means are zero for a
stationary field, and their estimates are left to the network.

The twin's parameters are statistics of the training data, stored with the normalization
statistics (:class:`NormalizationStats` ``skip_spectrum``, ``skip_mean``,
``skip_field_spectrum``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..errors import WSGMError
from ..gaussian.cross_spectra import conditional_spectra, lowpass_spectrum
from ..gaussian.mixture import component_spectrum, constant_lowpass, mixture_score, moment_mean
from ..gaussian.scores import conditional_score
from ..metrics.spectrum import data_spectrum
from ..samplers import ScoreFn
from ..sde import OU, broadcast_time
from .config import SKIPS, ModelConfig
from .normalization import NormalizationStats, compute_stats

__all__ = ["fit_twin_skip", "twin_skip_eps", "twin_detail_skip_eps", "stats_for_model"]

EpsFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]


@torch.no_grad()
def fit_twin_skip(
    fields: Tensor,
    stats: NormalizationStats,
    *,
    law: str,
    levels: int,
    wavelet: str,
    max_fields: int = 8192,
) -> NormalizationStats:
    """``stats`` with the twin of ``law`` fitted on the first ``max_fields`` of ``fields``
    (n, 1, H, W): ``skip_spectrum`` (h, w) = P_J / s_J² and ``skip_mean`` = μ_J / s_J, the
    spectrum of the twin's low-pass x_J (component spectrum for the mixture, the data's for
    the Gaussian) and its mixture mean, in the normalized coordinates of ``stats``, and
    ``skip_field_spectrum`` (H, W), the data's spectrum P (§6.7)."""
    if law not in SKIPS[1:]:
        raise WSGMError(f"unknown twin skip {law!r}; allowed: {', '.join(SKIPS)}")
    if fields.ndim != 4 or fields.shape[1] != 1:
        raise WSGMError(
            f"model.skip = {law!r} needs one-channel data (the twins are one-channel fields), "
            f'got fields of shape {tuple(fields.shape)}; use model.skip = "none"'
        )
    x = fields[:max_fields, 0].double().cpu().numpy()
    field_spectrum = data_spectrum(x)
    spectrum, mean = field_spectrum, 0.0
    if law == "mixture":  # as experiments.mixture_twin.fit_mixture fits it
        m = x.mean(axis=(1, 2)) - x.mean()
        mean = moment_mean(float(np.mean(m**2)), float(np.mean(m**4)))
        spectrum = component_spectrum(spectrum, mean)
    spectrum = lowpass_spectrum(spectrum, wavelet, levels)  # at scale J (§3.3)
    mean *= constant_lowpass(tuple(x.shape[-2:]), levels, wavelet)
    s = float(stats.low_std[levels, 0])
    return dataclasses.replace(
        stats,
        skip_spectrum=torch.as_tensor(spectrum / s**2, dtype=torch.float32),
        skip_mean=torch.tensor(mean / s, dtype=torch.float32),
        skip_field_spectrum=torch.as_tensor(field_spectrum, dtype=torch.float32),
    )


def twin_skip_eps(stats: NormalizationStats, sde: OU) -> EpsFn:
    """eps_twin(x, t, cond) = −σ_t s_twin(x, t) of the twin stored in ``stats`` (§6.7)."""
    if stats.skip_spectrum is None or stats.skip_mean is None:
        raise WSGMError(
            "this model's config asks for the twin skip but its statistics hold no twin "
            "(stats.safetensors without skip_spectrum / skip_mean); retrain the model"
        )
    # One host read here, none per call: the samplers call the score in a loop.
    return _noise_estimate(mixture_score(stats.skip_spectrum, float(stats.skip_mean)), sde)


def twin_detail_skip_eps(stats: NormalizationStats, sde: OU, *, level: int, wavelet: str) -> EpsFn:
    """eps_twin(x, t, cond) = −σ_t s_twin(x, t | cond) for the normalized details of scale
    ``level`` (1 = finest) given the normalized low-pass ``cond``: the exact conditional score
    of the data's Gaussian twin (§3.3, §6.7) in the coordinates of ``stats`` (its
    ``detail_std[level − 1]`` and ``low_std[level]``). Built on the device of ``stats``."""
    if stats.skip_field_spectrum is None:
        raise WSGMError(
            "this model's config asks for the twin skip of its detail networks but its "
            "statistics hold no field spectrum (stats.safetensors without "
            "skip_field_spectrum, saved before model.skip_details existed); retrain the model"
        )
    if not 1 <= level <= stats.levels:
        raise WSGMError(f"no detail scale {level}: the statistics have scales 1..{stats.levels}")
    # One host read per score function, none per call.
    field_spectrum = stats.skip_field_spectrum.double().cpu().numpy()
    law = conditional_spectra(lowpass_spectrum(field_spectrum, wavelet, level - 1), wavelet)
    model_std = stats.detail_std[level - 1, 0].double().cpu().numpy()
    # the twin's covariance came normalized by its own band std; the network's is the data's
    cov = law.cond_cov * np.outer(law.band_std, law.band_std) / np.outer(model_std, model_std)
    device = stats.detail_std.device
    score = conditional_score(
        torch.as_tensor(cov, device=device),
        torch.as_tensor(law.gain, device=device),
        torch.as_tensor(model_std, device=device),
        float(stats.low_std[level, 0]),
    )
    return _noise_estimate(score, sde)


def _noise_estimate(score: ScoreFn, sde: OU) -> EpsFn:
    """eps(x, t, cond) = −σ_t score(x, t, cond), with t broadcast against x (one time for
    the batch when sampling, one per field when training)."""

    def eps(x: Tensor, t: Tensor, cond: Tensor | None) -> Tensor:
        tt = broadcast_time(t, x)
        return -sde.sigma(tt) * score(x, tt, cond)

    return eps


def stats_for_model(fields: Tensor, config: ModelConfig) -> NormalizationStats:
    """The statistics a fresh model of ``config`` needs from its training ``fields``: the
    normalization statistics, plus the twin when ``config.skip`` asks for one."""
    stats = compute_stats(fields, wavelet=config.wavelet, levels=config.levels)
    if config.skip == "none":
        return stats
    return fit_twin_skip(
        fields, stats, law=config.skip, levels=config.levels, wavelet=config.wavelet
    )
