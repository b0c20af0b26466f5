"""Sensible defaults picked from the data: levels, network depth, padding, augmentation.

- ``levels`` (WSGM, ``model.levels = 0``): the coarsest grid is 8x8 (4x4 for 8x8 data, as
  in the paper's experiments), capped by the powers of two that divide the size.
- ``channel_mults`` (``[]``): one level per halving down to ``min_resolution``, at most 4
  levels, multipliers (1, 2, 2, 2): each network's depth follows its own grid size, so
  the cost per pixel is about the same at every scale.
- ``padding`` (``auto``): circular for periodic fields (data of kind ``field``, e.g. phi^4 and
  Gaussian fields), zeros for images (:mod:`wsgm.training.data` resolves the kind).
- ``augment`` (``auto``): random circular shifts and flips for periodic fields, none else.
"""

from __future__ import annotations

from .. import wavelets
from ..models.config import ModelConfig, network_names
from ..nn import UNetConfig
from .config import RunConfig

__all__ = ["auto_levels", "auto_mults", "model_config_for"]


def auto_levels(size: int) -> int:
    most = wavelets.max_levels(size)
    want = max(1, size.bit_length() - 1 - 3) if size >= 16 else 1
    return max(1, min(want, most))


def auto_mults(resolution: int, min_resolution: int) -> tuple[int, ...]:
    n = 1
    r = resolution
    while n < 4 and r % 2 == 0 and r // 2 >= min_resolution:
        r //= 2
        n += 1
    return (1, 2, 2, 2)[:n]


def model_config_for(
    run: RunConfig,
    *,
    channels: int,
    size: tuple[int, int],
    kind: str,
    periodic: bool,
    value_range: tuple[float, float] | None = None,
) -> ModelConfig:
    """The concrete :class:`ModelConfig` of ``run`` for data of this shape and metadata
    (``run``'s values are checked first, :meth:`RunConfig.validate`)."""
    run.validate()
    m, u = run.model, run.unet
    padding = u.padding
    if padding == "auto":
        padding = "circular" if periodic else "zeros"
    levels = 0
    if m.kind == "wsgm":
        levels = m.levels or auto_levels(min(size))
        wavelets.orthogonal_filters(m.wavelet)
        wavelets.check_levels(size, levels)
    unets: dict[str, UNetConfig] = {}
    for name in network_names(m.kind, levels):
        if name in ("net", "coarse"):
            res, cin, cout, ccond = min(size) >> levels, channels, channels, 0
        else:
            res, cin, cout, ccond = min(size) >> int(name[5:]), 3 * channels, 3 * channels, channels
        coarse = name == "coarse"
        unets[name] = UNetConfig(
            in_channels=cin,
            out_channels=cout,
            cond_channels=ccond,
            base_channels=(u.coarse_channels or u.base_channels) if coarse else u.base_channels,
            channel_mults=tuple(u.channel_mults) or auto_mults(res, u.min_resolution),
            num_res_blocks=u.num_res_blocks,
            attention_levels=tuple(u.attention_levels),
            mid_attention=u.mid_attention or (coarse and u.coarse_attention),
            num_heads=u.num_heads,
            dropout=u.dropout,
            padding_mode=padding,
            min_resolution=u.min_resolution,
            mean_head=u.mean_head,
            mean_head_unit_dc=u.mean_head_unit_dc,
        )
    return ModelConfig(
        kind=m.kind,
        channels=channels,
        size=size,
        unets=unets,
        wavelet=m.wavelet,
        levels=levels,
        T=m.T,
        prediction=m.prediction,
        skip=m.skip,
        skip_details=m.skip_details,
        data_kind=kind,
        data_range=value_range,
    )
