"""Per-step randomness and data augmentation of the training loop.

Every training step of network n at its step k seeds its own generator from (seed, n, k)
(:func:`step_seed`, with rank 0 on every process: all processes draw the same global batch
and each takes its slice): no random state has to be checkpointed, a resumed run draws
exactly what an uninterrupted one would, and each network's training is independent of
which others are trained alongside it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..sampling.spec import derive_seed

__all__ = ["step_seed", "augment_periodic"]


def step_seed(seed: int, net_index: int, step: int, rank: int) -> int:
    """The seed of network ``net_index``'s step ``step``: the one seed rule,
    :func:`wsgm.sampling.spec.derive_seed`, of the four integers."""
    return derive_seed(seed, net_index, step, rank)


def augment_periodic(x: Tensor, g: torch.Generator) -> Tensor:
    """Random circular shift and flips per sample of (B, C, H, W) fields.

    Translations and reflections are symmetries of the law of a periodic stationary (and
    isotropic) field, so they enlarge the training set without changing its law.
    """
    b, _, h, w = x.shape
    dev = x.device
    sh = torch.randint(h, (b, 1), generator=g, device=dev)
    sw = torch.randint(w, (b, 1), generator=g, device=dev)
    flip_h = torch.randint(2, (b, 1), generator=g, device=dev).bool()
    flip_w = torch.randint(2, (b, 1), generator=g, device=dev).bool()
    rows = torch.arange(h, device=dev)[None, :]
    cols = torch.arange(w, device=dev)[None, :]
    rows = (torch.where(flip_h, h - 1 - rows, rows) + sh) % h
    cols = (torch.where(flip_w, w - 1 - cols, cols) + sw) % w
    bi = torch.arange(b, device=dev)[:, None, None]
    return x[bi, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()
