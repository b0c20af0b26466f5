"""A UNet noise predictor in the DDPM/ADM family: ``UNet(config)(x, t, cond=None) -> eps``.

Residual blocks with GroupNorm and scale-shift time conditioning (Dhariwal & Nichol 2021,
§3), optional multi-head self-attention at chosen levels, channel multipliers per level,
zero-initialized last convolutions (the untrained network outputs 0, which with
v-prediction is the score of N(0, I): docs/design.md §2.2). Padding is a parameter:
``circular`` for periodic fields (shifting the input by a multiple of 2**levels shifts the
output), ``zeros`` for images. An optional
conditioning image at the input resolution is concatenated to the input channels.

The number of down-samplings adapts to the input: a level is skipped (no down- or
up-sampling, same weights) once the spatial size would drop below ``min_resolution``, so one
network runs on any size down to 1x1; the WSGM coarsest scales are 2x2 to 8x8 grids.
The network knows nothing about the diffusion: ``t`` is just a positive number per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .embedding import TimeEmbedding

__all__ = ["UNetConfig", "UNet", "PADDING_MODES"]

PADDING_MODES = ("circular", "zeros", "reflect")


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of one score network (saved in the model's ``config.json``)."""

    in_channels: int = 1
    out_channels: int = 1
    cond_channels: int = 0
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_levels: tuple[int, ...] = ()
    mid_attention: bool = False
    num_heads: int = 4
    dropout: float = 0.0
    padding_mode: str = "circular"
    groups: int = 8
    min_resolution: int = 4
    # Adds a small MLP of the input's per-channel spatial means and the time embedding to
    # the output: GroupNorm removes spatial means from the features, so without it the
    # network hardly predicts the zero-frequency part of eps (magnetization of a field, the
    # DC mode of each wavelet band), which then stays undenoised.
    mean_head: bool = False
    # The head reads each channel's zero-frequency coefficient in orthonormal units, the
    # spatial mean times sqrt(H W) (unit variance for white noise on any grid), instead of the
    # spatial mean (variance 1 / (H W)): a wavelet band's mean is one mode of order 1 that the
    # raw mean shrinks 16-fold on a 16x16 grid, too small for the head to read, so the mode
    # was denoised as if of unit variance (docs/design.md §6.6).
    mean_head_unit_dc: bool = False

    def __post_init__(self) -> None:
        # JSON round trips give lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "channel_mults", tuple(int(m) for m in self.channel_mults))
        object.__setattr__(self, "attention_levels", tuple(int(a) for a in self.attention_levels))
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(
                f"unknown padding_mode {self.padding_mode!r}; allowed: {', '.join(PADDING_MODES)}"
            )
        if self.in_channels < 1 or self.out_channels < 1 or self.cond_channels < 0:
            raise ValueError(
                f"channels must be positive (cond_channels >= 0), got in={self.in_channels}, "
                f"out={self.out_channels}, cond={self.cond_channels}"
            )
        if self.base_channels < 1 or not self.channel_mults or min(self.channel_mults) < 1:
            raise ValueError(
                f"base_channels and channel_mults must be positive, got {self.base_channels}, "
                f"{self.channel_mults}"
            )
        if self.mean_head_unit_dc and not self.mean_head:
            raise ValueError("mean_head_unit_dc needs mean_head = True (it sets the head's input)")
        if self.num_res_blocks < 1:
            raise ValueError(f"num_res_blocks must be >= 1, got {self.num_res_blocks}")
        bad = [a for a in self.attention_levels if not 0 <= a < len(self.channel_mults)]
        if bad:
            raise ValueError(
                f"attention_levels {bad} out of range; levels are 0..{len(self.channel_mults) - 1}"
            )
        if self.min_resolution < 1:
            raise ValueError(f"min_resolution must be >= 1, got {self.min_resolution}")


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, groups), channels)


def _conv3(cin: int, cout: int, mode: Any, *, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode=mode)


def _zero(module: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


class ResBlock(nn.Module):
    """GN-SiLU-conv, scale-shift by the time embedding, GN-SiLU-dropout-conv(zero), + skip."""

    def __init__(self, cin: int, cout: int, emb_dim: int, cfg: UNetConfig) -> None:
        super().__init__()
        self.norm1 = _norm(cin, cfg.groups)
        self.conv1 = _conv3(cin, cout, cfg.padding_mode)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = _norm(cout, cfg.groups)
        self.drop = nn.Dropout(cfg.dropout)
        self.conv2 = _zero(_conv3(cout, cout, cfg.padding_mode))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over all positions (permutation-, hence shift-equivariant)."""

    def __init__(self, channels: int, cfg: UNetConfig) -> None:
        super().__init__()
        heads = math.gcd(channels, cfg.num_heads)
        self.heads = heads
        self.norm = _norm(channels, cfg.groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = _zero(nn.Conv2d(channels, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class _Level(nn.Module):
    """The residual (+ attention) blocks of one UNet level."""

    def __init__(
        self, chans: list[tuple[int, int]], emb_dim: int, cfg: UNetConfig, attn: bool
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(a, b, emb_dim, cfg) for a, b in chans)
        self.attns = nn.ModuleList(Attention(b, cfg) if attn else nn.Identity() for _, b in chans)


class UNet(nn.Module):
    """eps_theta(x, t, cond): (B, in, H, W), (B,) or 0-d, (B, cond, H, W) -> (B, out, H, W)."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        cfg = self.config = config
        mode = cfg.padding_mode
        chs = [cfg.base_channels * m for m in cfg.channel_mults]
        emb_dim = 4 * cfg.base_channels
        self.time = TimeEmbedding(cfg.base_channels, emb_dim)
        self.conv_in = _conv3(cfg.in_channels + cfg.cond_channels, chs[0], mode)

        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skips = [chs[0]]
        ch = chs[0]
        for i, c in enumerate(chs):
            pairs = []
            for _ in range(cfg.num_res_blocks):
                pairs.append((ch, c))
                ch = c
                skips.append(ch)
            self.down.append(_Level(pairs, emb_dim, cfg, i in cfg.attention_levels))
            if i < len(chs) - 1:
                self.downsample.append(_conv3(ch, ch, mode, stride=2))
                skips.append(ch)

        self.mid1 = ResBlock(ch, ch, emb_dim, cfg)
        self.mid_attn: nn.Module = Attention(ch, cfg) if cfg.mid_attention else nn.Identity()
        self.mid2 = ResBlock(ch, ch, emb_dim, cfg)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in reversed(list(enumerate(chs))):
            pairs = []
            for _ in range(cfg.num_res_blocks + 1):
                pairs.append((ch + skips.pop(), c))
                ch = c
            self.up.append(_Level(pairs, emb_dim, cfg, i in cfg.attention_levels))
            if i > 0:
                self.upsample.append(_conv3(ch, ch, mode))
        self.norm_out = _norm(ch, cfg.groups)
        self.conv_out = _zero(_conv3(ch, cfg.out_channels, mode))
        self.mean_head: nn.Module | None = None
        if cfg.mean_head:
            n_in = cfg.in_channels + cfg.cond_channels
            last = nn.Linear(emb_dim, cfg.out_channels)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.mean_head = nn.Sequential(nn.Linear(n_in + emb_dim, emb_dim), nn.SiLU(), last)

    def forward(self, x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        cfg = self.config
        if x.ndim != 4 or x.shape[1] != cfg.in_channels:
            raise ValueError(
                f"UNet expects x of shape (B, {cfg.in_channels}, H, W), got {tuple(x.shape)}"
            )
        if cfg.cond_channels:
            if cond is None or cond.shape != (x.shape[0], cfg.cond_channels, *x.shape[2:]):
                got = None if cond is None else tuple(cond.shape)
                raise ValueError(
                    f"UNet expects cond of shape (B, {cfg.cond_channels}, H, W) = "
                    f"{(x.shape[0], cfg.cond_channels, *x.shape[2:])}, got {got}"
                )
            x = torch.cat([x, cond.to(x.dtype)], dim=1)
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        emb = self.time(t.expand(x.shape[0]) if t.ndim == 0 else t)

        x_mean = x.mean(dim=(-2, -1))
        if cfg.mean_head_unit_dc:
            x_mean = x_mean * math.sqrt(x.shape[-2] * x.shape[-1])
        h = self.conv_in(x)
        hs = [h]
        did_down: list[bool] = []
        for i, lvl in enumerate(self.down):
            level = cast(_Level, lvl)
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = attn(block(h, emb))
                hs.append(h)
            if i < len(self.downsample):
                size = min(h.shape[-2:])
                # Down-sample only while the result stays >= min_resolution (and exact).
                ok = size % 2 == 0 and size // 2 >= cfg.min_resolution
                did_down.append(ok)
                if ok:
                    h = self.downsample[i](h)
                hs.append(h)

        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)

        for k, lvl in enumerate(self.up):
            level = cast(_Level, lvl)
            for block, attn in zip(level.blocks, level.attns, strict=True):
                h = attn(block(torch.cat([h, hs.pop()], dim=1), emb))
            if k < len(self.upsample) and did_down.pop():
                h = self.upsample[k](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        out = self.conv_out(F.silu(self.norm_out(h)))
        if self.mean_head is not None:
            head = self.mean_head(torch.cat([x_mean, emb.to(x_mean.dtype)], dim=1))
            out = out + head[:, :, None, None].to(out.dtype)
        return out
