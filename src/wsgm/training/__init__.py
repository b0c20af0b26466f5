"""Training: the run configuration, the loop, checkpoints and the per-step randomness.

- :mod:`~wsgm.training.config`: typed run config (TOML + ``--set`` overrides, checked on read);
- :mod:`~wsgm.training.defaults`: what ``auto`` values resolve to for given data;
- :mod:`~wsgm.training.loop`: :func:`train` (denoising score matching on accelerate);
- :mod:`~wsgm.training.checkpoint`: atomic checkpoints and resume;
- :mod:`~wsgm.training.batches`, :mod:`~wsgm.training.ema`, :mod:`~wsgm.training.device`.
"""

from __future__ import annotations

from .config import RunConfig, apply_overrides, load_toml
from .loop import TrainingDiverged, TrainResult, train

__all__ = ["RunConfig", "apply_overrides", "load_toml", "train", "TrainResult", "TrainingDiverged"]
