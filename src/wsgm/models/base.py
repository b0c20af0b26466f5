"""What SGM and WSGM share: the networks by name, the statistics, score functions."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..nn import UNet
from ..samplers import ScoreFn
from ..sde import OU
from .config import ModelConfig
from .normalization import NormalizationStats

__all__ = ["ScoreModel", "network_eps_fn", "network_score_fn"]

EpsFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]


def network_eps_fn(net: Callable[..., Tensor], sde: OU, prediction: str = "eps") -> EpsFn:
    """The noise prediction eps(x, t, cond) of a network that outputs ``prediction``.

    ``eps``: the output itself; ``v``: sigma_t x + alpha_t out (:meth:`OU.eps_from_v`).
    Training (the DSM loss on eps) and sampling both go through this function.
    """
    if prediction == "eps":
        return net
    if prediction == "v":

        def eps(x: Tensor, t: Tensor, cond: Tensor | None) -> Tensor:
            return sde.eps_from_v(net(x, t, cond), x, t)

        return eps
    raise ValueError(f"unknown prediction {prediction!r}; allowed: eps, v")


def network_score_fn(net: Callable[..., Tensor], sde: OU, prediction: str = "eps") -> ScoreFn:
    """Turn a network into a score s(x, t, cond) = -eps(x, t, cond) / sigma_t."""
    eps = network_eps_fn(net, sde, prediction)

    def score(x: Tensor, t: Tensor, cond: Tensor | None) -> Tensor:
        return sde.score_from_eps(eps(x, t, cond), t)

    return score


class ScoreModel(nn.Module):
    """Networks (``self.nets[name]``), their config and the normalization statistics.

    Subclasses define :meth:`training_pairs` (the normalized target and conditioning of
    each network for a batch of data) and :meth:`sample`.
    """

    def __init__(self, config: ModelConfig, stats: NormalizationStats) -> None:
        super().__init__()
        self.config = config
        self.stats = stats
        self.sde = OU(T=config.T)
        self.nets = nn.ModuleDict({name: UNet(config.unets[name]) for name in config.names})

    def score_fn(self, name: str) -> ScoreFn:
        return network_score_fn(self.nets[name], self.sde, self.config.prediction)

    def training_pairs(
        self, x0: Tensor, names: tuple[str, ...] | None = None
    ) -> dict[str, tuple[Tensor, Tensor | None]]:
        raise NotImplementedError

    def sample(self, n: int, **kwargs: object) -> Tensor:
        raise NotImplementedError

    def stats_on(self, x: Tensor) -> NormalizationStats:
        return self.stats.to(device=x.device, dtype=x.dtype)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
