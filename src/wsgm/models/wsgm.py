"""WSGM: coarse-to-fine sampling over an orthonormal wavelet decomposition (Guth et al. 2022).

Conventions (read these before plugging in your own score functions):

- Scales. ``x_0`` is the data (n, C, H, W); ``(x_j, xbar_j) = dwt(x_{j-1})`` for
  j = 1 .. J with the orthonormal periodized DWT of :mod:`wsgm.wavelets`, so x_j and the
  detail bands xbar_j (n, C, 3, H/2^j, W/2^j) live on the H/2^j x W/2^j grid; j = 1 is the
  finest scale, j = J the coarsest. p(x_0) = p(x_J) prod_{j=1..J} p(xbar_j | x_j).
- Normalization (:class:`NormalizationStats`). Every network sees normalized tensors only:
  the coarsest target is ``(x_J - low_mean[J]) / low_std[J]`` (per channel); the detail
  target of scale j is ``(xbar_j - detail_mean[j-1]) / detail_std[j-1]`` (per channel and
  band), flattened to (n, 3C, h, w) with channel c, band b at index 3c + b; its conditioning
  input is ``(x_j - low_mean[j]) / low_std[j]`` (n, C, h, w).
- Score callables. ``coarse_score_fn(x, t, None)`` is the score of the normalized x_J;
  ``cond_score_fns[j - 1](xbar, t, cond)`` is the score of the normalized xbar_j given the
  normalized x_j = ``cond`` (so the list is finest first: index 0 is scale 1).
- Grids. One shared tensor, or a sequence of J + 1 grids indexed by scale: ``grids[0]`` for
  the coarsest x_J, ``grids[j]`` for the details of scale j (1 = finest).
- Sampling. Draw the normalized x_J, un-normalize it; then for j = J .. 1: normalize x_j,
  sample the normalized details given it, un-normalize them, x_{j-1} = idwt(x_j, xbar_j).
  Per scale the cost is N network calls on an (H/2^j)^2 grid, so the total is linear in the
  number of pixels for a fixed N (docs/design.md §1.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .. import wavelets
from ..samplers import Callback, ScoreFn, get_sampler
from ..sampling.spec import DEFAULT
from ..sde import OU
from .base import ScoreModel
from .normalization import NormalizationStats

__all__ = ["WSGM", "wsgm_sample", "wsgm_refine", "refine_once", "scale_grid", "wavelet_pairs"]

SamplerArg = str | Callable[..., Tensor]


def scale_grid(grids: Tensor | Sequence[Tensor], j: int) -> Tensor:
    """The grid of scale j (0 = coarsest network, j >= 1 = details of scale j)."""
    if isinstance(grids, Tensor):
        return grids
    if not 0 <= j < len(grids):
        raise ValueError(f"no time grid for scale {j}: got {len(grids)} grids (index 0 = coarsest)")
    return grids[j]


def _sampler(sampler: SamplerArg) -> Callable[..., Tensor]:
    return get_sampler(sampler) if isinstance(sampler, str) else sampler


def _at_scale(callback: Callback | None, j: int) -> Callback | None:
    """The sampler callback of scale j: ``callback``'s argument gains ``"scale": j``."""
    if callback is None:
        return None
    return lambda info: callback({**info, "scale": j})


@torch.no_grad()
def wsgm_refine(
    x_low: Tensor,
    cond_score_fns: Sequence[ScoreFn],
    stats: NormalizationStats,
    *,
    level: int,
    wavelet: str,
    sampler: SamplerArg,
    grids: Tensor | Sequence[Tensor],
    generator: torch.Generator | None = None,
    sde: OU | None = None,
    callback: Callback | None = None,
) -> Tensor:
    """Sample x_0 given the un-normalized low-pass ``x_low`` = x_level (n, C, h, w).

    Runs the conditional scales ``level`` .. 1 (see the module docstring); this is the
    super-resolution the factorization gives for free.
    """
    if not 1 <= level <= len(cond_score_fns) or level > stats.levels:
        raise ValueError(
            f"level={level} out of range: the model has {min(len(cond_score_fns), stats.levels)} "
            "conditional scales (1 = finest)"
        )
    run = _sampler(sampler)
    sde = sde or OU()
    st = stats.to(device=x_low.device, dtype=x_low.dtype)
    x = x_low
    c = st.channels
    if x.shape[1] != c:
        raise ValueError(f"low-pass has {x.shape[1]} channels, the model has {c}")
    for j in range(level, 0, -1):
        x = refine_once(x, cond_score_fns[j - 1], st, level=j, wavelet=wavelet, sampler=run,
                        grid=scale_grid(grids, j), generator=generator, sde=sde,
                        callback=_at_scale(callback, j))  # fmt: skip
    return x


@torch.no_grad()
def refine_once(
    x_low: Tensor,
    score_fn: ScoreFn,
    stats: NormalizationStats,
    *,
    level: int,
    wavelet: str,
    sampler: SamplerArg,
    grid: Tensor,
    generator: torch.Generator | None = None,
    sde: OU | None = None,
    callback: Callback | None = None,
) -> Tensor:
    """x_{level-1} from the un-normalized low-pass ``x_low`` = x_level: the details of scale
    ``level`` drawn with ``score_fn`` (the conditional score of that scale) on ``grid``, then
    the inverse wavelet step (docs/design.md §1, one factor of the factorization)."""
    st = stats.to(device=x_low.device, dtype=x_low.dtype)
    c = x_low.shape[1]
    z = torch.randn(
        (x_low.shape[0], 3 * c, *x_low.shape[-2:]),
        generator=generator,
        device=x_low.device,
        dtype=x_low.dtype,
    )
    cond = st.normalize_low(x_low, level)
    dn = _sampler(sampler)(
        score_fn, z, grid, generator=generator, cond=cond, sde=sde or OU(), callback=callback
    )
    return wavelets.idwt(x_low, st.unnormalize_details(dn, level), wavelet)


def wavelet_pairs(
    x0: Tensor,
    stats: NormalizationStats,
    levels: int,
    wavelet: str,
    names: Sequence[str] = (),
) -> dict[str, tuple[Tensor, Tensor | None]]:
    """The (target, condition) of each WSGM network ``names`` (empty: all) for fields ``x0``,
    normalized by ``stats``: ``scale{j}`` = (x̄_j, x_j), ``coarse`` = (x_J, None)."""
    out: dict[str, tuple[Tensor, Tensor | None]] = {}
    x = x0
    for j in range(1, levels + 1):
        x, d = wavelets.dwt(x, wavelet)
        if not names or f"scale{j}" in names:
            out[f"scale{j}"] = (stats.normalize_details(d, j), stats.normalize_low(x, j))
    if not names or "coarse" in names:
        out["coarse"] = (stats.normalize_low(x, levels), None)
    return out


@torch.no_grad()
def wsgm_sample(
    coarse_score_fn: ScoreFn,
    cond_score_fns: Sequence[ScoreFn],
    stats: NormalizationStats,
    *,
    shape: tuple[int, int, int, int],
    wavelet: str,
    sampler: SamplerArg,
    grids: Tensor | Sequence[Tensor],
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    sde: OU | None = None,
    callback: Callback | None = None,
    coarse_sampler: SamplerArg | None = None,
) -> Tensor:
    """Draw ``shape = (n, C, H, W)`` samples coarse to fine with J = len(cond_score_fns).

    ``coarse_sampler``: the coarsest network's sampler if not ``sampler`` (docs/design.md
    §7.11). ``callback`` is the samplers' (:mod:`wsgm.samplers`), with ``"scale"`` added: J
    for the coarsest network's steps, then j for the details of scale j."""
    levels = len(cond_score_fns)
    if levels != stats.levels:
        raise ValueError(
            f"{levels} conditional score functions but statistics for {stats.levels} levels"
        )
    wavelets.check_levels(shape, levels)
    n, c, h, w = shape
    run = _sampler(sampler)
    sde = sde or OU()
    z = torch.randn(
        (n, c, h >> levels, w >> levels), generator=generator, device=device, dtype=dtype
    )
    xn = (run if coarse_sampler is None else _sampler(coarse_sampler))(
        coarse_score_fn,
        z,
        scale_grid(grids, 0),
        generator=generator,
        sde=sde,
        callback=_at_scale(callback, levels),
    )
    x_low = stats.to(device=xn.device, dtype=xn.dtype).unnormalize_low(xn, levels)
    return wsgm_refine(
        x_low,
        cond_score_fns,
        stats,
        level=levels,
        wavelet=wavelet,
        sampler=run,
        grids=grids,
        generator=generator,
        sde=sde,
        callback=callback,
    )


class WSGM(ScoreModel):
    """``nets["coarse"]`` for x_J and ``nets[f"scale{j}"]`` for xbar_j given x_j."""

    @property
    def levels(self) -> int:
        return self.config.levels

    def cond_score_fns(self) -> list[ScoreFn]:
        return [self.score_fn(f"scale{j}") for j in range(1, self.levels + 1)]

    def training_pairs(
        self, x0: Tensor, names: tuple[str, ...] | None = None
    ) -> dict[str, tuple[Tensor, Tensor | None]]:
        return wavelet_pairs(
            x0, self.stats_on(x0), self.levels, self.config.wavelet, names or self.config.names
        )

    @torch.no_grad()
    def sample(  # type: ignore[override]
        self,
        n: int,
        *,
        sampler: SamplerArg = DEFAULT.sampler,
        grids: Tensor | Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
        callback: Callback | None = None,
        coarse_sampler: SamplerArg | None = None,
    ) -> Tensor:
        """``n`` samples; ``grids`` None: those of :data:`wsgm.sampling.spec.DEFAULT`;
        ``coarse_sampler``: the coarsest network's sampler if not ``sampler``."""
        return wsgm_sample(
            self.score_fn("coarse"),
            self.cond_score_fns(),
            self.stats,
            shape=(n, self.config.channels, *self.config.size),
            wavelet=self.config.wavelet,
            sampler=sampler,
            grids=self._grids(grids),
            generator=generator,
            device=self.device,
            sde=self.sde,
            callback=callback,
            coarse_sampler=coarse_sampler,
        )

    def _grids(self, grids: Tensor | Sequence[Tensor] | None) -> Tensor | Sequence[Tensor]:
        return DEFAULT.grids(T=self.sde.T, levels=self.levels) if grids is None else grids

    @torch.no_grad()
    def upsample(
        self,
        x_low: Tensor,
        *,
        sampler: SamplerArg = DEFAULT.sampler,
        grids: Tensor | Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
        callback: Callback | None = None,
    ) -> Tensor:
        """Super-resolve un-normalized low-passes x_k (n, C, H/2^k, W/2^k), 1 <= k <= J."""
        h = int(x_low.shape[-1])
        ratio = self.config.size[-1] // max(h, 1)
        k = ratio.bit_length() - 1
        if (
            ratio != 2**k
            or not 1 <= k <= self.levels
            or self.config.size[-2] != x_low.shape[-2] * ratio
        ):
            allowed = ", ".join(
                f"{self.config.size[0] >> j}x{self.config.size[1] >> j}"
                for j in range(1, self.levels + 1)
            )
            raise ValueError(
                f"low-resolution input of size {tuple(x_low.shape[-2:])} does not match a scale "
                f"of this model; allowed sizes: {allowed}"
            )
        return wsgm_refine(
            x_low.to(self.device),
            self.cond_score_fns(),
            self.stats,
            level=k,
            wavelet=self.config.wavelet,
            sampler=sampler,
            grids=self._grids(grids),
            generator=generator,
            sde=self.sde,
            callback=callback,
        )
