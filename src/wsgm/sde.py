"""The Ornstein–Uhlenbeck forward process and the formulas of its time reversal.

Forward SDE (docs/design.md §2.1): dX_t = -X_t dt + sqrt(2) dB_t, stationary law N(0, I), so

    X_t = alpha_t X_0 + sigma_t Z,   alpha_t = exp(-t),   sigma_t^2 = 1 - exp(-2 t).

Reverse SDE in reverse time s = T - t:  dY = [Y + 2 grad log p_t(Y)] ds + sqrt(2) dB.
Probability-flow ODE:                   dY = [Y + grad log p_t(Y)] ds.

This module is the only place that knows these formulas; samplers, losses and models call it.
Every function broadcasts ``t`` against ``x`` without assuming the number of dimensions:
``t`` is a 0-d tensor, a float, or a 1-d tensor with one entry per batch element.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["OU", "broadcast_time"]


def broadcast_time(t: Tensor | float, x: Tensor) -> Tensor:
    """Return ``t`` as a tensor on ``x``'s device and dtype that broadcasts against ``x``.

    A 1-d ``t`` of length ``x.shape[0]`` is reshaped to ``(B, 1, ..., 1)``.
    """
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.ndim == 1 and x.ndim > 1:
        t = t.reshape(t.shape[0], *([1] * (x.ndim - 1)))
    return t


@dataclass(frozen=True)
class OU:
    """Variance-preserving Ornstein–Uhlenbeck process with horizon ``T``.

    ``T`` (default 5) leaves a signal fraction exp(-T) ≈ 0.0067 at the end of the forward
    process, so starting the reverse process from N(0, I) costs an error of that order.
    """

    T: float = 5.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.T) and self.T > 0):
            raise ValueError(f"OU horizon T must be a positive finite number, got T={self.T!r}")

    # --- marginals -------------------------------------------------------------------
    @staticmethod
    def alpha(t: Tensor) -> Tensor:
        """Signal coefficient alpha_t = exp(-t)."""
        return torch.exp(-t)

    @staticmethod
    def sigma2(t: Tensor) -> Tensor:
        """Noise variance sigma_t^2 = 1 - exp(-2t) (computed with expm1 for small t)."""
        return -torch.expm1(-2.0 * t)

    @classmethod
    def sigma(cls, t: Tensor) -> Tensor:
        """Noise standard deviation sigma_t."""
        return torch.sqrt(cls.sigma2(t))

    @classmethod
    def log_snr(cls, t: Tensor) -> Tensor:
        """lambda_t = log(alpha_t / sigma_t), the time variable of exponential integrators
        (Lu et al. 2022, DPM-Solver §3.1); +inf at t = 0."""
        return -t - 0.5 * torch.log(cls.sigma2(t))

    @staticmethod
    def time_of_log_snr(lam: Tensor) -> Tensor:
        """Inverse of :meth:`log_snr`: alpha_t^2 = sigmoid(2 lambda), so
        t = softplus(-2 lambda) / 2."""
        return 0.5 * torch.nn.functional.softplus(-2.0 * lam)

    def perturb(self, x0: Tensor, t: Tensor | float, noise: Tensor) -> Tensor:
        """Sample of X_t given X_0 = x0 with the given standard normal ``noise``."""
        tb = broadcast_time(t, x0)
        return self.alpha(tb) * x0 + self.sigma(tb) * noise

    # --- score <-> noise predictor -------------------------------------------------------
    def score_from_eps(self, eps: Tensor, t: Tensor | float) -> Tensor:
        """grad log p_t(x) ≈ -eps_theta(x, t) / sigma_t."""
        return -eps / self.sigma(broadcast_time(t, eps))

    def eps_from_score(self, score: Tensor, t: Tensor | float) -> Tensor:
        """Inverse of :meth:`score_from_eps`."""
        return -score * self.sigma(broadcast_time(t, score))

    def eps_from_v(self, v: Tensor, x: Tensor, t: Tensor | float) -> Tensor:
        """Noise prediction from a velocity prediction (Salimans & Ho 2022, "v-prediction").

        With x_t = alpha x0 + sigma eps and v = alpha eps - sigma x0, eps = sigma x_t + alpha v.
        A network predicting v has the exact N(0, I) answer eps = sigma x_t built in (v = 0),
        which is EDM's skip connection (Karras et al. 2022, Table 1) written for the OU
        process: the output scales with the input where the noise dominates.
        """
        tb = broadcast_time(t, x)
        return self.sigma(tb) * x + self.alpha(tb) * v

    def denoise(self, x: Tensor, score: Tensor, t: Tensor | float) -> Tensor:
        """Tweedie's formula E[X_0 | X_t = x] = (x + sigma_t^2 score) / alpha_t."""
        tb = broadcast_time(t, x)
        return (x + self.sigma2(tb) * score) / self.alpha(tb)

    # --- drifts of the reverse processes (in reverse time) -------------------------------
    @staticmethod
    def reverse_drift(x: Tensor, score: Tensor) -> Tensor:
        """Drift of the reverse SDE, x + 2 score."""
        return x + 2.0 * score

    @staticmethod
    def flow_drift(x: Tensor, score: Tensor) -> Tensor:
        """Drift of the probability-flow ODE, x + score."""
        return x + score

    @staticmethod
    def diffusion2() -> float:
        """Squared diffusion coefficient g^2 = 2 of both the forward and reverse SDE."""
        return 2.0

    # --- exact OU transition (for ancestral steps) ---------------------------------------
    def posterior(
        self, x_t: Tensor, x0: Tensor, t: Tensor | float, s: Tensor | float
    ) -> tuple[Tensor, Tensor]:
        """Mean and std of q(x_s | x_t, x_0) for s < t (the exact OU bridge, DDPM posterior).

        With a = alpha_{t-s}, the transition x_t = a x_s + sqrt(1 - a^2) z gives
        mean = (alpha_s (1 - a^2) x0 + a sigma_s^2 x_t) / sigma_t^2,
        var  = sigma_s^2 (1 - a^2) / sigma_t^2.
        """
        tb, sb = broadcast_time(t, x_t), broadcast_time(s, x_t)
        a = self.alpha(tb - sb)
        one_m_a2 = -torch.expm1(-2.0 * (tb - sb))
        s2s, s2t = self.sigma2(sb), self.sigma2(tb)
        mean = (self.alpha(sb) * one_m_a2 * x0 + a * s2s * x_t) / s2t
        std = torch.sqrt(s2s * one_m_a2 / s2t)
        return mean, std
