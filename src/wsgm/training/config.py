"""Training run configuration: typed dataclasses read from TOML with ``key=value`` overrides.

A config file has a top-level ``data`` path, the data ``kind`` and three tables; every key
is optional::

    data = "phi4_32.npz"
    kind = "auto"      # or "image" / "field": what the data are (auto: the file says)
    [model]   kind, wavelet, levels, T, prediction
    [unet]    base_channels, channel_mults, num_res_blocks, attention_levels, mid_attention,
              num_heads, dropout, padding, min_resolution, mean_head, mean_head_unit_dc
    [train]   steps, batch_size, lr, ... (see :class:`TrainSection`)

Overrides use dotted keys (``train.lr=1e-3``, ``unet.channel_mults=[1,2]``); values are
parsed as TOML values, and a bare word is taken as a string. ``auto`` values are resolved
from the data (:func:`wsgm.training.defaults`). The resolved config is saved in the run
directory; on resume it must agree with the saved one except for the keys in
:data:`RUNTIME_KEYS` (how long and how verbosely to train, which scales).

Every value is checked when it is set (type, allowed words, ranges: :func:`check_value`),
so a bad ``--set``, config file or preset fails while it is read, before any work starts.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.io import DATA_KINDS
from ..errors import WSGMError
from ..losses import T_SCHEDULES, WEIGHTINGS
from ..models.config import MODEL_KINDS, PREDICTIONS, SKIPS
from ..nn import PADDING_MODES

__all__ = [
    "ModelSection",
    "UNetSection",
    "TrainSection",
    "RunConfig",
    "RUNTIME_KEYS",
    "load_toml",
    "apply_overrides",
    "config_diff",
    "flat_keys",
    "check_value",
]

# Keys that may change between a run and its resumption. The data file may move: a resumed
# run recognizes its data by their content hash (wsgm.training.loop), not by the path.
RUNTIME_KEYS = frozenset(
    {
        "data",
        "train.steps",
        "train.checkpoint_every",
        "train.log_every",
        "train.progress",
        "train.scales",
        "train.cpu",
        "train.max_loss",
    }
)


@dataclass
class ModelSection:
    """Which model: ``kind`` sgm|wsgm; ``levels`` 0 = auto (coarsest grid 8x8, or 4x4 at 8x8)."""

    kind: str = "wsgm"
    wavelet: str = "db4"
    levels: int = 0
    T: float = 5.0
    # The networks predict v = alpha eps - sigma x0 (wsgm.sde.OU.eps_from_v): the output then
    # follows the scale of the input where noise dominates, which GroupNorm alone cannot do,
    # and probability-flow (ODE) samplers stay stable. "eps" predicts the noise directly.
    prediction: str = "v"
    # The unconditional network (SGM's, WSGM's coarsest) learns the residual of the exact
    # score of the data's twin: "gaussian", "mixture" or "none" (wsgm.models.twin_skip).
    skip: str = "none"
    # With a twin (skip above), the WSGM's detail networks learn the residual of the twin's
    # exact conditional score too; an SGM has no detail network, so it changes nothing there.
    skip_details: bool = False


@dataclass
class UNetSection:
    """Shared UNet hyper-parameters; ``channel_mults = []`` picks a depth per network size,
    ``padding = "auto"`` picks circular for periodic fields and zeros for images."""

    base_channels: int = 32
    channel_mults: list[int] = field(default_factory=list)
    num_res_blocks: int = 1
    attention_levels: list[int] = field(default_factory=list)
    mid_attention: bool = False
    num_heads: int = 4
    dropout: float = 0.0
    padding: str = "auto"
    min_resolution: int = 4
    # See wsgm.nn.UNetConfig.mean_head: lets each network denoise the zero-frequency mode.
    mean_head: bool = True
    # See wsgm.nn.UNetConfig.mean_head_unit_dc: the head reads the zero mode in unit scale.
    mean_head_unit_dc: bool = False
    # The WSGM's coarsest network only (its grid is small, so width and attention are cheap
    # there): channels (0 = base_channels) and self-attention at its lowest resolution.
    coarse_channels: int = 0
    coarse_attention: bool = False


@dataclass
class TrainSection:
    """Optimization (AdamW + linear warm-up + clipping + EMA with warm-up), logging, stops.

    ``t_schedule`` is one of :data:`wsgm.losses.T_SCHEDULES`, ``loss_weighting`` one of
    :data:`wsgm.losses.WEIGHTINGS` (``v``: EDM's weighting); ``augment`` auto|none|periodic
    (random circular shifts and flips, symmetries of periodic stationary fields);
    ``scales`` lists the networks to train (``coarse`` or scale numbers 1..J; empty = all);
    ``mixed_precision`` no|fp16|bf16 (passed to accelerate). ``batch_size`` is the global
    batch: under P processes each trains on batch_size / P of it.
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_steps: int = 100
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    t_schedule: str = "quadratic"
    t_min: float = 1e-3
    loss_weighting: str = "eps"
    # γ of input perturbation (wsgm.losses): the network sees alpha x0 + sigma (eps + γ xi)
    # and predicts eps; 0 = plain denoising score matching.
    input_perturbation: float = 0.0
    seed: int = 0
    augment: str = "auto"
    mixed_precision: str = "no"
    checkpoint_every: int = 500
    log_every: int = 20
    max_loss: float = 100.0
    scales: list[str] = field(default_factory=list)
    progress: bool = True
    cpu: bool = False


@dataclass
class RunConfig:
    """A whole training run: data path and the three sections."""

    data: str = ""
    kind: str = "auto"
    model: ModelSection = field(default_factory=ModelSection)
    unet: UNetSection = field(default_factory=UNetSection)
    train: TrainSection = field(default_factory=TrainSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The config as a TOML file that :func:`load_toml` reads back (every key)."""
        import json

        def value(v: Any) -> str:
            return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

        d = self.to_dict()
        lines = [f"{k} = {value(d[k])}" for k in ("data", "kind")]
        for section in _SECTIONS:
            lines += ["", f"[{section}]"] + [f"{k} = {value(v)}" for k, v in d[section].items()]
        return "\n".join(lines) + "\n"

    def validate(self) -> RunConfig:
        """Check every value (for configs built or changed in code rather than parsed)."""
        for key, value in flatten(self.to_dict()).items():
            check_value(key, value, source="config")
        if self.unet.mean_head_unit_dc and not self.unet.mean_head:
            raise WSGMError(
                "unet.mean_head_unit_dc = true sets the mean head's input, but unet.mean_head "
                "is false; set unet.mean_head = true or leave mean_head_unit_dc false"
            )
        return self

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "config") -> RunConfig:
        cfg = cls()
        for key, value in flatten(d).items():
            _set(cfg, key, value, source=source)
        return cfg


_SECTIONS = {"model": ModelSection, "unet": UNetSection, "train": TrainSection}

# Keys added after runs were first saved, with the value that reproduces those runs.
LEGACY_DEFAULTS: dict[str, Any] = {
    "unet.mean_head": False,
    "model.prediction": "eps",
    "kind": "auto",
}


def with_legacy_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved run config with the keys it predates filled in as they behaved back then."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in saved.items()}
    for dotted, value in LEGACY_DEFAULTS.items():
        if "." not in dotted:
            out.setdefault(dotted, value)
            continue
        section, key = dotted.split(".", 1)
        if isinstance(out.get(section), dict) and key not in out[section]:
            out[section][key] = value
    return out


def flat_keys() -> list[str]:
    """Every valid dotted key."""
    keys = ["data", "kind"]
    for name, section in _SECTIONS.items():
        keys += [f"{name}.{f.name}" for f in dataclasses.fields(section)]
    return keys


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {dotted key: value}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _coerce(key: str, value: Any, default: Any, source: str) -> Any:
    """Check ``value`` against the type of the field's default (int -> float allowed)."""

    def bad(kind: str) -> WSGMError:
        return WSGMError(f"{source}: {key} must be {kind}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if isinstance(default, list):
        if isinstance(value, int | str) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise bad("a list")
        if key == "train.scales":
            return [str(v) for v in value]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise bad("a list of integers")
        return list(value)
    return value


# Allowed words and lower bounds of the keys that have them.
_CHOICES: dict[str, tuple[str, ...]] = {
    "kind": ("auto", *DATA_KINDS),
    "model.kind": MODEL_KINDS,
    "model.prediction": PREDICTIONS,
    "model.skip": SKIPS,
    "unet.padding": ("auto", *PADDING_MODES),
    "train.t_schedule": T_SCHEDULES,
    "train.loss_weighting": WEIGHTINGS,
    "train.augment": ("auto", "none", "periodic"),
    "train.mixed_precision": ("no", "fp16", "bf16"),
}
_AT_LEAST_ONE = (
    "train.steps",
    "train.batch_size",
    "train.checkpoint_every",
    "train.log_every",
    "unet.num_heads",
    "unet.min_resolution",
)
_POSITIVE = ("train.lr", "train.grad_clip", "train.t_min", "model.T", "unet.base_channels")
_NON_NEGATIVE = (
    "train.warmup_steps", "train.weight_decay", "model.levels", "unet.dropout",
    "unet.coarse_channels", "train.input_perturbation",
)  # fmt: skip


def check_value(key: str, value: Any, *, source: str) -> None:
    """Refuse a value outside what ``key`` allows, naming the key, the value and the range."""
    if key in _CHOICES and value not in _CHOICES[key]:
        raise WSGMError(f"{source}: {key} must be one of {', '.join(_CHOICES[key])}, got {value!r}")
    if key in _AT_LEAST_ONE and value < 1:
        raise WSGMError(f"{source}: {key} must be >= 1, got {value}")
    if key in _POSITIVE and not value > 0:
        raise WSGMError(f"{source}: {key} must be > 0, got {value}")
    if key in _NON_NEGATIVE and not value >= 0:
        raise WSGMError(f"{source}: {key} must be >= 0, got {value}")
    if key == "train.ema_decay" and not 0 <= value < 1:
        raise WSGMError(f"{source}: train.ema_decay must be in [0, 1), got {value}")
    if key == "unet.dropout" and not value < 1:
        raise WSGMError(f"{source}: unet.dropout must be in [0, 1), got {value}")


def _set(cfg: RunConfig, key: str, value: Any, *, source: str) -> None:
    valid = flat_keys()
    if key not in valid:
        raise WSGMError(f"{source}: unknown config key {key!r}; valid keys: {', '.join(valid)}")
    if key in ("data", "kind"):
        text = str(_coerce(key, value, "", source))
        check_value(key, text, source=source)
        setattr(cfg, key, text)
        return
    section_name, name = key.split(".", 1)
    section = getattr(cfg, section_name)
    coerced = _coerce(key, value, getattr(section, name), source)
    check_value(key, coerced, source=source)
    setattr(section, name, coerced)


def load_toml(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    """Read a TOML config file on top of ``base`` (defaults if None)."""
    p = Path(path)
    if not p.exists():
        raise WSGMError(f"config file {p} does not exist")
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WSGMError(f"config file {p} is not valid TOML: {exc}") from exc
    cfg = base if base is not None else RunConfig()
    for key, value in flatten(data).items():
        _set(cfg, key, value, source=str(p))
    return cfg


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply ``key=value`` overrides (``--set``) in order."""
    for item in overrides:
        if "=" not in item:
            raise WSGMError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        _set(cfg, key.strip(), _parse_value(text.strip()), source="--set")
    return cfg


def config_diff(
    a: dict[str, Any], b: dict[str, Any], *, ignore: frozenset[str] = RUNTIME_KEYS
) -> list[str]:
    """Dotted keys whose values differ between two config dicts (``ignore`` excluded). A key
    one of them lacks (a config written before the key existed) counts as its default."""
    fa, fb = flatten(a), flatten(b)
    defaults = flatten(RunConfig().to_dict())
    keys = sorted((set(fa) | set(fb)) - ignore)
    return [k for k in keys if fa.get(k, defaults.get(k)) != fb.get(k, defaults.get(k))]
