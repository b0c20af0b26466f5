"""Sinusoidal embedding of the diffusion time, fed to every residual block of the UNet.

The network knows nothing of the SDE: it only sees the forward time ``t`` in (0, T]. The
score of multiscale data changes on every time scale near t = 0, so the features are
sinusoids of ``log t`` (equal resolution per decade of t) rather than of ``t`` itself, as in
the noise-level conditioning c_noise = log(sigma)/4 of Karras et al. (2022, Table 1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["TimeEmbedding", "sinusoidal_features"]

# Below this time the log is clamped: no grid or training schedule goes lower.
_T_FLOOR = 1e-6


def sinusoidal_features(
    s: Tensor, dim: int, *, min_freq: float = 0.05, max_freq: float = 20.0
) -> Tensor:
    """``dim`` features [sin(f_k s), cos(f_k s)] of a (B,) tensor with geometric f_k.

    The frequencies span [min_freq, max_freq]: the lowest gives a smooth code over the
    ~15 units that log t covers, the highest resolves changes of a few percent in t.
    """
    if dim % 2:
        raise ValueError(f"embedding dim must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(
        torch.linspace(math.log(min_freq), math.log(max_freq), half, device=s.device, dtype=s.dtype)
    )
    arg = s[:, None] * freqs[None, :]
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)


class TimeEmbedding(nn.Module):
    """t (B,) -> features (B, out_dim): sinusoids of log t followed by a 2-layer MLP."""

    def __init__(self, feature_dim: int, out_dim: int) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.mlp = nn.Sequential(
            nn.Linear(feature_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim)
        )

    def forward(self, t: Tensor) -> Tensor:
        s = torch.log(t.clamp_min(_T_FLOOR))
        dtype = next(self.mlp.parameters()).dtype
        feats = sinusoidal_features(s.to(dtype), self.feature_dim)
        return self.mlp(feats)
