"""Exponential moving average of network weights, with warm-up.

decay_k = min(decay, (1 + k) / (10 + k)) at optimizer step k, so the average forgets the
random initialization quickly (Tarvainen & Valpola 2017; the schedule used by DDPM codes).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["EMA", "ema_decay"]


def ema_decay(decay: float, step: int) -> float:
    return min(decay, (1.0 + step) / (10.0 + step))


class EMA:
    """Shadow copies of a module's floating-point state (parameters and buffers)."""

    def __init__(self, module: nn.Module, shadow: dict[str, Tensor] | None = None) -> None:
        state = module.state_dict()
        if shadow is None:
            shadow = {k: v.detach().clone() for k, v in state.items()}
        missing = sorted(set(state) ^ set(shadow))
        if missing:
            raise ValueError(f"EMA state does not match the network: keys {missing[:5]}")
        self.shadow = {
            k: shadow[k].to(device=v.device, dtype=v.dtype).clone() for k, v in state.items()
        }

    @torch.no_grad()
    def update(self, module: nn.Module, step: int, decay: float) -> None:
        """shadow <- shadow + (1 - decay_k) (weights - shadow), for all floating-point
        tensors in one multi-tensor kernel per device and dtype (a per-tensor loop is a
        kernel launch per tensor on a GPU); other buffers are copied."""
        d = ema_decay(decay, step)
        state = module.state_dict()
        floats = [k for k, v in state.items() if v.is_floating_point()]
        if floats:
            torch._foreach_lerp_(
                [self.shadow[k] for k in floats], [state[k] for k in floats], 1.0 - d
            )
        for k, v in state.items():
            if not v.is_floating_point():
                self.shadow[k].copy_(v)
