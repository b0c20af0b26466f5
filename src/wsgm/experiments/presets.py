"""Settings of the paper reproductions: a CPU-sized default and a ``--full`` (GPU) preset each.

A :class:`Preset` fixes the data (size, counts), both models' networks and training, and the
sweep (step counts, samples per N). The SGM and the WSGM always get the same training
settings (steps, batch size, learning rate, UNet width); only the architecture differs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import WSGMError

__all__ = ["Preset", "EXPERIMENTS", "preset_for", "DEMO"]

EXPERIMENTS = ("gaussian", "phi4", "images")


@dataclass(frozen=True)
class Preset:
    """One reproduction's settings.

    ``image_metrics`` (images only) lists the metrics to compute; empty = every available
    one (KID/FID need the Inception weights and are slow on a CPU). ``n_samples`` samples
    are drawn per N and compared with half of a held-out reference
    set of ``2 n_samples`` fields (the other half gives the noise floor). ``run_overrides``
    are ``key=value`` training-config overrides (:mod:`wsgm.training.config`) applied to both
    models after the preset's own.
    """

    experiment: str
    size: int
    n_train: int
    n_samples: int
    steps: tuple[int, ...]
    train_steps: int
    batch_size: int = 64
    base_channels: int = 32
    channel_mults: tuple[int, ...] = ()
    lr: float = 1e-3
    warmup_steps: int = 100
    ema_decay: float = 0.995
    sampler: str = "euler"
    grid: str = "quadratic"
    sample_batch: int = 256
    seed: int = 0
    eta: float = 2.0
    xi: float = 0.0
    classifier_epochs: int = 2
    image_metrics: tuple[str, ...] = ()
    run_overrides: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Preset:
        """A copy with ``changes`` (None values ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def run_settings(self) -> list[str]:
        """``key=value`` training overrides shared by the SGM and the WSGM."""
        mults = ",".join(str(m) for m in self.channel_mults)
        return [
            f"unet.base_channels={self.base_channels}",
            f"unet.channel_mults=[{mults}]",
            f"train.steps={self.train_steps}",
            f"train.batch_size={self.batch_size}",
            f"train.lr={self.lr}",
            f"train.warmup_steps={self.warmup_steps}",
            f"train.ema_decay={self.ema_decay}",
            f"train.seed={self.seed}",
            f"train.checkpoint_every={max(50, self.train_steps // 10)}",
            *self.run_overrides,
        ]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_STEPS = (2, 4, 8, 16, 32, 64, 128, 256, 512)

_DEFAULTS = {
    "gaussian": Preset("gaussian", size=32, n_train=4096, n_samples=256,
                       steps=(2, 4, 8, 16, 32, 64, 128, 256), train_steps=1000,
                       base_channels=16, batch_size=32),
    # The settings of benchmarks/train_phi4.py (configs/phi4_32.toml): ~8 min per model.
    "phi4": Preset("phi4", size=32, n_train=4096, n_samples=256,
                   steps=(2, 4, 8, 16, 32, 64, 128, 256), train_steps=3000,
                   base_channels=32, batch_size=32),
    "images": Preset("images", size=32, n_train=10000, n_samples=500,
                     steps=(4, 8, 16, 32, 64, 128, 256), train_steps=3000,
                     base_channels=32, batch_size=64, ema_decay=0.999, lr=5e-4,
                     image_metrics=("classifier_fd", "swd", "spectrum")),
}

_FULL = {
    "gaussian": Preset("gaussian", size=64, n_train=20000, n_samples=2000, steps=_STEPS,
                       train_steps=50000, base_channels=64, batch_size=128,
                       ema_decay=0.9995, lr=2e-4, warmup_steps=1000, sample_batch=1000),
    "phi4": Preset("phi4", size=64, n_train=20000, n_samples=2000, steps=_STEPS,
                   train_steps=100000, base_channels=64, batch_size=128, ema_decay=0.9995,
                   lr=2e-4, warmup_steps=1000, sample_batch=1000),
    "images": Preset("images", size=32, n_train=60000, n_samples=5000, steps=_STEPS,
                     train_steps=200000, base_channels=128, channel_mults=(1, 2, 2, 2),
                     batch_size=128, ema_decay=0.9999, lr=2e-4, warmup_steps=5000,
                     sample_batch=1000),
}

DEMO = Preset(
    "phi4", size=32, n_train=4096, n_samples=256, steps=(2, 4, 8, 16, 32, 64, 128, 256),
    train_steps=1000, base_channels=16, batch_size=32,
)
"""``wsgm demo``: critical phi^4 at 32x32, sized to finish in under 15 minutes on 2 cores."""


def preset_for(experiment: str, *, full: bool = False) -> Preset:
    """The default (or ``full``) preset of an experiment; unknown names are an error."""
    table = _FULL if full else _DEFAULTS
    if experiment not in table:
        raise WSGMError(
            f"unknown experiment {experiment!r}; choose from {', '.join(EXPERIMENTS)}"
        )
    return table[experiment]
