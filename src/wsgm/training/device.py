"""Which device accelerate should use, so that ``torchrun`` works on CPU-only machines.

accelerate only sets up its multi-process CPU mode (gloo) when asked for the CPU; on a
machine without a GPU each ``torchrun`` process would otherwise run alone, unaware of the
others. So the CPU is requested whenever a distributed launch meets a machine without CUDA.
"""

from __future__ import annotations

import os

import torch

__all__ = ["use_cpu"]


def _launched_distributed() -> bool:
    if os.environ.get("LOCAL_RANK") is not None:
        return True
    for key in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        try:
            if int(os.environ.get(key, "1")) > 1:
                return True
        except ValueError:
            continue
    return False


def use_cpu(requested: bool) -> bool:
    """The ``cpu`` flag for ``Accelerator`` / ``PartialState``."""
    return bool(requested) or (_launched_distributed() and not torch.cuda.is_available())
