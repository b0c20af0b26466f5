"""Denoising score matching on the noise (docs/design.md §2.3; Ho et al. 2020, eq. 14).

    L(theta) = E_{t, x_0, eps} || eps - eps_theta(alpha_t x_0 + sigma_t eps, t, cond) ||^2

with the OU marginals of :mod:`wsgm.sde` and t drawn from a training schedule:

- ``uniform``:   t ~ U[t_min, T];
- ``quadratic``: t = t_min + (T - t_min) u^2, u ~ U[0, 1] (more weight on small t, where the
  sampling grids of :mod:`wsgm.grids` put their fine steps);
- ``log``:       log t ~ U[log t_min, log T] (equal weight per decade of t);
- ``logsnr``:    λ_t = log(α_t/σ_t) ~ U[λ_T, λ_{t_min}] (the density of the ``logsnr``
  sampling grid's points, so the network is trained where that sampler evaluates it;
  Kingma et al. 2021 parametrize the noise by the same λ).

The minimizer is eps_theta(x, t) = -sigma_t grad log p_t(x), so ``OU.score_from_eps``
turns the network into a score. The loss is the mean over samples and coordinates, so an
untrained zero-output network scores exactly 1.

Weighting (:data:`WEIGHTINGS`): ``eps`` puts unit weight on the eps error at every t (the
above); ``v`` puts unit weight on the error of v = alpha eps - sigma x_0, i.e. 1/alpha_t^2 on
the eps error: EDM's lambda(sigma) = (sigma^2 + sigma_d^2)/(sigma sigma_d)^2 on the x_0 error
for unit-variance data (Karras et al. 2022, Table 1, with sigma = sigma_t/alpha_t), which
weighs the noisy end more. Either way the minimizer is the same.

Input perturbation (``input_perturbation`` γ > 0; Ning et al. 2023, "Input perturbation
reduces exposure bias in diffusion models"): the network sees
x_t = alpha_t x_0 + sigma_t (eps + γ xi), xi ~ N(0, I) independent, and is still asked for
eps. A few-step sampler hands the network states with more noise than a true x_t holds
(docs/design.md §6.6); this trains it on such states. The minimizer is then no longer the
exact score: for N(0, P) data eps_theta(y) = sigma_t y / (alpha_t² P + sigma_t² (1 + γ²))
against sigma_t y / (alpha_t² P + sigma_t²), a shrinkage of the noise estimate of relative
size ≈ γ² where noise dominates. γ = 0 (the default) is plain DSM.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor

from .sde import OU

__all__ = [
    "T_SCHEDULES", "WEIGHTINGS", "sample_times", "noisy_batch", "NoisyBatch", "DSMLoss", "dsm_loss",
]  # fmt: skip

T_SCHEDULES = ("uniform", "quadratic", "log", "logsnr")
WEIGHTINGS = ("eps", "v")


def sample_times(
    n: int,
    *,
    schedule: str,
    T: float,
    t_min: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``n`` training times in [t_min, T] drawn from ``schedule`` (see module docstring)."""
    if schedule not in T_SCHEDULES:
        raise ValueError(f"unknown time schedule {schedule!r}; allowed: {', '.join(T_SCHEDULES)}")
    if not 0 < t_min < T:
        raise ValueError(f"t_min must satisfy 0 < t_min < T={T}, got {t_min!r}")
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    if schedule == "uniform":
        t = t_min + (T - t_min) * u
    elif schedule == "quadratic":
        t = t_min + (T - t_min) * u**2
    elif schedule == "log":
        t = torch.exp(math.log(t_min) + (math.log(T) - math.log(t_min)) * u)
    else:
        hi, lo = (
            OU.log_snr(torch.tensor(t_min, dtype=torch.float64)),
            OU.log_snr(torch.tensor(T, dtype=torch.float64)),
        )
        t = OU.time_of_log_snr(lo + (hi - lo) * u).clamp(t_min, T)
    return t.to(dtype)


def noisy_batch(
    x0: Tensor,
    *,
    sde: OU,
    schedule: str,
    t_min: float,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(x_t, t, eps): one forward-noised copy of every sample of ``x0``, t of shape (B,)."""
    t = sample_times(
        x0.shape[0],
        schedule=schedule,
        T=sde.T,
        t_min=t_min,
        generator=generator,
        device=x0.device,
        dtype=x0.dtype,
    )
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return sde.perturb(x0, t, eps), t, eps


class NoisyBatch(NamedTuple):
    """A forward-noised batch: ``x_t = alpha_t x_0 + sigma_t eps`` with its times and noise."""

    x_t: Tensor
    t: Tensor
    eps: Tensor

    def part(self, index: slice) -> NoisyBatch:
        """The samples ``index`` of the batch (a process's slice of the global batch)."""
        return NoisyBatch(self.x_t[index], self.t[index], self.eps[index])


@dataclass(frozen=True)
class DSMLoss:
    """Denoising score matching: the noise distribution (:meth:`draw`) and the weighting
    (:meth:`__call__`: unit weight on the eps error at every t, the mean over samples and
    coordinates), as in EDM's ``loss_fn`` split into its two halves.

    The training loop draws the noise of the whole global batch with :meth:`draw` (so every
    process draws the same) and evaluates the loss on its slice.
    """

    sde: OU = field(default_factory=OU)
    schedule: str = "quadratic"
    t_min: float = 1e-3
    weighting: str = "eps"
    input_perturbation: float = 0.0

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(
                f"unknown loss weighting {self.weighting!r}; allowed: {', '.join(WEIGHTINGS)}"
            )
        if not self.input_perturbation >= 0:
            raise ValueError(f"input_perturbation must be >= 0, got {self.input_perturbation!r}")

    def draw(self, x0: Tensor, generator: torch.Generator | None = None) -> NoisyBatch:
        """One forward-noised copy of every sample of ``x0`` (:func:`noisy_batch`), with the
        input perturbation γ sigma_t xi added to x_t (not to the target eps) when γ > 0."""
        x_t, t, eps = noisy_batch(
            x0, sde=self.sde, schedule=self.schedule, t_min=self.t_min, generator=generator
        )
        if self.input_perturbation > 0:  # γ = 0 draws nothing more: old runs resume bitwise
            xi = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
            sigma = self.sde.sigma(t).reshape(-1, *([1] * (x0.ndim - 1)))
            x_t = x_t + self.input_perturbation * sigma * xi
        return NoisyBatch(x_t, t, eps)

    def __call__(
        self,
        eps_fn: Callable[[Tensor, Tensor, Tensor | None], Tensor],
        batch: NoisyBatch,
        cond: Tensor | None = None,
    ) -> Tensor:
        """The Monte Carlo estimate of L(theta) on ``batch`` (a 0-d float32 tensor)."""
        err = (eps_fn(batch.x_t, batch.t, cond).float() - batch.eps.float()) ** 2
        if self.weighting == "eps":
            return torch.mean(err)
        w = torch.exp(2.0 * batch.t.float())  # 1 / alpha_t^2
        return torch.mean(err * w.reshape(-1, *([1] * (err.ndim - 1))))


def dsm_loss(
    eps_fn: Callable[[Tensor, Tensor, Tensor | None], Tensor],
    x0: Tensor,
    *,
    cond: Tensor | None = None,
    sde: OU | None = None,
    schedule: str = "quadratic",
    t_min: float = 1e-3,
    weighting: str = "eps",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Monte Carlo estimate of L(theta) on the batch ``x0`` (a 0-d tensor)."""
    loss = DSMLoss(sde or OU(), schedule, t_min, weighting)
    return loss(eps_fn, loss.draw(x0, generator), cond)
