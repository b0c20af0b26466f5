"""SGM: one score network on the full-resolution data (the baseline of Guth et al. 2022).

The data are normalized per channel (``stats.low_mean[0]``, ``stats.low_std[0]``) before the
diffusion, so the OU prior N(0, I) has the data's scale; samples are un-normalized.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..samplers import Callback, ScoreFn, get_sampler
from ..sampling.spec import DEFAULT
from ..sde import OU
from .base import ScoreModel
from .normalization import NormalizationStats

__all__ = ["SGM", "sgm_sample"]


@torch.no_grad()
def sgm_sample(
    score_fn: ScoreFn,
    stats: NormalizationStats,
    *,
    shape: tuple[int, ...],
    sampler: str | Callable[..., Tensor],
    grid: Tensor,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    sde: OU | None = None,
    callback: Callback | None = None,
) -> Tensor:
    """Draw ``shape = (n, C, H, W)`` samples: reverse diffusion of the normalized data."""
    run = get_sampler(sampler) if isinstance(sampler, str) else sampler
    sde = sde or OU()
    z = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    xn = run(score_fn, z, grid, generator=generator, sde=sde, callback=callback)
    return stats.to(device=xn.device, dtype=xn.dtype).unnormalize_low(xn, 0)


class SGM(ScoreModel):
    """One UNet ``nets["net"]`` on the normalized full-resolution data."""

    def training_pairs(
        self, x0: Tensor, names: tuple[str, ...] | None = None
    ) -> dict[str, tuple[Tensor, Tensor | None]]:
        return {"net": (self.stats_on(x0).normalize_low(x0, 0), None)}

    @torch.no_grad()
    def sample(  # type: ignore[override]
        self,
        n: int,
        *,
        sampler: str | Callable[..., Tensor] = DEFAULT.sampler,
        grids: Tensor | dict[str, Tensor] | None = None,
        generator: torch.Generator | None = None,
        callback: Callback | None = None,
    ) -> Tensor:
        """``n`` samples; ``grids`` None: the grid of :data:`wsgm.sampling.spec.DEFAULT`."""
        if grids is None:
            grids = DEFAULT.grid_of(DEFAULT.steps, T=self.sde.T)
        grid = grids["net"] if isinstance(grids, dict) else grids
        shape = (n, self.config.channels, *self.config.size)
        return sgm_sample(
            self.score_fn("net"),
            self.stats,
            shape=shape,
            sampler=sampler,
            grid=grid,
            generator=generator,
            device=self.device,
            sde=self.sde,
            callback=callback,
        )
