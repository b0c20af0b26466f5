"""What SGM and WSGM share: the networks by name, the statistics, score functions."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..nn import UNet
from ..samplers import ScoreFn
from ..sde import OU, broadcast_time
from .config import ModelConfig
from .normalization import NormalizationStats
from .twin_skip import twin_detail_skip_eps, twin_skip_eps

__all__ = ["ScoreModel", "network_eps_fn", "network_score_fn"]

EpsFn = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]


def network_eps_fn(
    net: Callable[..., Tensor], sde: OU, prediction: str = "eps", skip: EpsFn | None = None
) -> EpsFn:
    """The noise prediction eps(x, t, cond) of a network that outputs ``prediction``.

    ``eps``: the output itself; ``v``: sigma_t x + alpha_t out (:meth:`OU.eps_from_v`).
    ``skip`` (:mod:`wsgm.models.twin_skip`) replaces the plain skip (0, sigma_t x) by an exact
    noise estimate: skip(x, t, cond) + out, or skip(x, t, cond) + alpha_t out.
    Training (the DSM loss on eps) and sampling both go through this function.
    """
    if prediction not in ("eps", "v"):
        raise ValueError(f"unknown prediction {prediction!r}; allowed: eps, v")
    if skip is None and prediction == "eps":
        return net
    if skip is None:

        def eps_v(x: Tensor, t: Tensor, cond: Tensor | None) -> Tensor:
            return sde.eps_from_v(net(x, t, cond), x, t)

        return eps_v

    def eps_skip(x: Tensor, t: Tensor, cond: Tensor | None) -> Tensor:
        out = net(x, t, cond)
        if prediction == "v":
            out = sde.alpha(broadcast_time(t, x)) * out
        return skip(x, t, cond) + out

    return eps_skip


def network_score_fn(
    net: Callable[..., Tensor], sde: OU, prediction: str = "eps", skip: EpsFn | None = None
) -> ScoreFn:
    """Turn a network into a score s(x, t, cond) = -eps(x, t, cond) / sigma_t."""
    eps = network_eps_fn(net, sde, prediction, skip)

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

    def eps_fn(self, name: str) -> EpsFn:
        """Network ``name``'s noise prediction, with the twin skip where the config has one
        (the unconditional network, ``net`` or ``coarse``, with ``skip``; the WSGM's detail
        networks too with ``skip_details``; docs/design.md §6.7)."""
        return network_eps_fn(self.nets[name], self.sde, self.config.prediction, self._skip(name))

    def score_fn(self, name: str) -> ScoreFn:
        return network_score_fn(self.nets[name], self.sde, self.config.prediction, self._skip(name))

    def _skip(self, name: str) -> EpsFn | None:
        cfg = self.config
        if cfg.skip == "none" or (name != cfg.names[0] and not cfg.skip_details):
            return None
        # on the networks' device once, so no sampling step copies the twin's spectrum
        stats = self.stats.to(device=self.device)
        if name == cfg.names[0]:
            return twin_skip_eps(stats, self.sde)
        level = cfg.levels + 1 - cfg.names.index(name)  # names: coarse, scale J, .., scale 1
        return twin_detail_skip_eps(stats, self.sde, level=level, wavelet=cfg.wavelet)

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
