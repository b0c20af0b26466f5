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
from ..sampling.allocation import ALLOCATIONS
from ..sampling.spec import DEFAULT, SamplingSpec
from ..training.config import RunConfig, apply_overrides

__all__ = ["Preset", "EXPERIMENTS", "preset_for", "DEMO", "PAPER_SAMPLING"]

EXPERIMENTS = ("gaussian", "phi4", "images")

PAPER_SAMPLING = DEFAULT.replace(sampler="euler", grid="quadratic", batch_size=256)
"""The paper's comparison: Euler–Maruyama on the quadratic grid (the sweeps' sampler)."""


@dataclass(frozen=True)
class Preset:
    """One reproduction's settings, typed: the data, the training shared by both models
    (:meth:`run_config`), the sweep's step counts and its :class:`SamplingSpec`.

    ``image_metrics`` (images only) lists the metrics to compute; empty = every available
    one (KID/FID need the Inception weights and are slow on a CPU). ``n_samples`` samples
    are drawn per N and compared with half of a held-out reference set of ``2 n_samples``
    fields (the other half gives the noise floor). ``seed`` seeds the data, the training
    and the sampling. ``run_overrides`` are the user's ``--set key=value`` training-config
    overrides, applied to both models last; they are checked when the preset is made.
    ``allocations``: the WSGM's step allocations to sweep (``equal``: N at every scale, the
    paper; ``cost``: :mod:`wsgm.sampling.allocation`).
    """

    experiment: str
    size: int
    n_train: int
    n_samples: int
    steps: tuple[int, ...]
    train_steps: int
    train_batch: int = 64
    base_channels: int = 32
    channel_mults: tuple[int, ...] = ()
    lr: float = 1e-3
    warmup_steps: int = 100
    ema_decay: float = 0.995
    sampling: SamplingSpec = PAPER_SAMPLING
    allocations: tuple[str, ...] = ("equal",)
    seed: int = 0
    eta: float = 2.0
    xi: float = 0.0
    classifier_epochs: int = 2
    image_metrics: tuple[str, ...] = ()
    run_overrides: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.experiment not in EXPERIMENTS:
            raise WSGMError(
                f"unknown experiment {self.experiment!r}; choose from {', '.join(EXPERIMENTS)}"
            )
        for name in ("size", "n_train", "n_samples", "train_steps", "train_batch"):
            if getattr(self, name) < 1:
                raise WSGMError(f"{name} must be a positive integer, got {getattr(self, name)}")
        bad = [a for a in self.allocations if a not in ALLOCATIONS]
        if bad or not self.allocations:
            raise WSGMError(
                f"unknown step allocations {bad or list(self.allocations)}; allowed: "
                f"{', '.join(ALLOCATIONS)}"
            )
        if not self.steps or min(self.steps) < 1:
            raise WSGMError(f"sweep steps must be positive integers, got {list(self.steps)}")
        self.run_config("wsgm", "")  # a bad value or --set fails here, before any work

    def replace(self, **changes: Any) -> Preset:
        """A copy with ``changes`` (None values ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def spec(self) -> SamplingSpec:
        """The sweep's sampling settings, seeded by the preset's seed."""
        return self.sampling.replace(seed=self.seed)

    def run_config(
        self, kind: str, data: str, *, cpu: bool = False, progress: bool = True
    ) -> RunConfig:
        """The training run of the ``kind`` model (sgm or wsgm) on ``data``: the same
        settings for both kinds, then the user's ``run_overrides``."""
        run = RunConfig(data=str(data))
        run.model.kind = kind
        run.unet.base_channels = self.base_channels
        run.unet.channel_mults = list(self.channel_mults)
        t = run.train
        t.steps, t.batch_size, t.lr = self.train_steps, self.train_batch, self.lr
        t.warmup_steps, t.ema_decay, t.seed = self.warmup_steps, self.ema_decay, self.seed
        t.checkpoint_every = max(50, self.train_steps // 10)
        t.cpu, t.progress = cpu or t.cpu, progress
        run.validate()
        return apply_overrides(run, list(self.run_overrides))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_STEPS = (2, 4, 8, 16, 32, 64, 128, 256, 512)

_FULL_SAMPLING = PAPER_SAMPLING.replace(batch_size=1000)

_DEFAULTS = {
    "gaussian": Preset(
        "gaussian",
        size=32,
        n_train=4096,
        n_samples=256,
        steps=(2, 4, 8, 16, 32, 64, 128, 256),
        train_steps=1000,
        base_channels=16,
        train_batch=32,
    ),
    # The settings of benchmarks/train_phi4.py (configs/phi4_32.toml): ~8 min per model.
    "phi4": Preset(
        "phi4",
        size=32,
        n_train=4096,
        n_samples=256,
        steps=(2, 4, 8, 16, 32, 64, 128, 256),
        train_steps=3000,
        base_channels=32,
        train_batch=32,
    ),
    "images": Preset(
        "images",
        size=32,
        n_train=10000,
        n_samples=500,
        steps=(4, 8, 16, 32, 64, 128, 256),
        train_steps=3000,
        base_channels=32,
        train_batch=64,
        ema_decay=0.999,
        lr=5e-4,
        image_metrics=("classifier_fd", "swd", "spectrum"),
    ),
}

_FULL = {
    "gaussian": Preset(
        "gaussian",
        size=64,
        n_train=20000,
        n_samples=2000,
        steps=_STEPS,
        train_steps=50000,
        base_channels=64,
        train_batch=128,
        ema_decay=0.9995,
        lr=2e-4,
        warmup_steps=1000,
        sampling=_FULL_SAMPLING,
    ),
    "phi4": Preset(
        "phi4",
        size=64,
        n_train=20000,
        n_samples=2000,
        steps=_STEPS,
        train_steps=100000,
        base_channels=64,
        train_batch=128,
        ema_decay=0.9995,
        lr=2e-4,
        warmup_steps=1000,
        sampling=_FULL_SAMPLING,
    ),
    "images": Preset(
        "images",
        size=32,
        n_train=60000,
        n_samples=5000,
        steps=_STEPS,
        train_steps=200000,
        base_channels=128,
        channel_mults=(1, 2, 2, 2),
        train_batch=128,
        ema_decay=0.9999,
        lr=2e-4,
        warmup_steps=5000,
        sampling=_FULL_SAMPLING,
    ),
}

DEMO = Preset(
    "phi4",
    size=32,
    n_train=4096,
    n_samples=256,
    # N up to 128: the SGM's N = 256 point alone took a quarter of the demo; each N is drawn
    # from its own seeds, so the points kept are what they were.
    steps=(2, 4, 8, 16, 32, 64, 128),
    train_steps=1000,
    base_channels=16,
    train_batch=32,
)
"""``wsgm demo``: critical phi^4 at 32x32, the paper's sampler (:data:`PAPER_SAMPLING`)."""


def preset_for(experiment: str, *, full: bool = False) -> Preset:
    """The default (or ``full``) preset of an experiment; unknown names are an error."""
    table = _FULL if full else _DEFAULTS
    if experiment not in table:
        raise WSGMError(f"unknown experiment {experiment!r}; choose from {', '.join(EXPERIMENTS)}")
    return table[experiment]
