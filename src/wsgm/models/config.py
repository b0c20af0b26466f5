"""The model's configuration: which kind, data shape, wavelet, levels, one UNet per network.

Saved as ``config.json`` in the model directory; loading rebuilds the networks from it.
Network names: ``net`` for an SGM; ``coarse`` (the low-pass x_J) and ``scale1`` ..
``scaleJ`` (the details of scale j given x_j, j = 1 the finest) for a WSGM.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import WSGMError
from ..nn import UNetConfig

__all__ = [
    "ModelConfig", "MODEL_KINDS", "PREDICTIONS", "SKIPS", "FORMAT_VERSION", "network_names",
]  # fmt: skip

MODEL_KINDS = ("sgm", "wsgm")
# What the networks output: the noise eps, or v = alpha eps - sigma x0 (see OU.eps_from_v).
PREDICTIONS = ("eps", "v")
# What the unconditional network's output is added to (wsgm.models.twin_skip): the
# parametrization's own skip, or the exact noise estimate of the data's Gaussian / mixture twin.
SKIPS = ("none", "gaussian", "mixture")
FORMAT_VERSION = 1


def network_names(kind: str, levels: int) -> tuple[str, ...]:
    """Names of the networks of a model, coarse to fine for a WSGM."""
    if kind == "sgm":
        return ("net",)
    return ("coarse", *(f"scale{j}" for j in range(levels, 0, -1)))


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's networks (weights and stats are separate)."""

    kind: str
    channels: int
    size: tuple[int, int]
    unets: dict[str, UNetConfig] = field(default_factory=dict)
    wavelet: str = "db4"
    levels: int = 0
    T: float = 5.0
    # "eps" is what models saved before the choice existed were trained with.
    prediction: str = "eps"
    # "none" for models saved before the twin skip existed.
    skip: str = "none"
    # The detail networks learn the residual of the twin's exact conditional score too
    # (False for models saved before they could; an SGM has no detail network).
    skip_details: bool = False
    # What the training data were ("image" | "field"; "" for models saved before files said)
    # and their value range: sampling outputs say what they are, eval checks its reference.
    data_kind: str = ""
    data_range: tuple[float, float] | None = None
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))
        if self.data_range is not None:
            lo, hi = (float(v) for v in self.data_range)
            object.__setattr__(self, "data_range", (lo, hi))
        if self.data_kind not in ("", "image", "field"):
            raise WSGMError(f"unknown data kind {self.data_kind!r}; allowed: image, field")
        if self.kind not in MODEL_KINDS:
            raise WSGMError(f"unknown model kind {self.kind!r}; allowed: {', '.join(MODEL_KINDS)}")
        if self.prediction not in PREDICTIONS:
            raise WSGMError(
                f"unknown prediction {self.prediction!r}; allowed: {', '.join(PREDICTIONS)}"
            )
        if self.skip not in SKIPS:
            raise WSGMError(f"unknown skip {self.skip!r}; allowed: {', '.join(SKIPS)}")
        if self.skip != "none" and self.channels != 1:
            raise WSGMError(
                f"model.skip = {self.skip!r} needs one-channel data (the twins are one-channel "
                f'fields), got {self.channels} channels; use model.skip = "none"'
            )
        if self.skip_details and self.skip == "none":
            raise WSGMError(
                "model.skip_details = true needs a twin: set model.skip to gaussian or mixture "
                '(the details have the same exact conditional score under both), or "none" '
                "to both"
            )
        if self.kind == "sgm" and self.levels != 0:
            raise WSGMError(f"an SGM has no wavelet levels, got levels={self.levels}")
        if self.kind == "wsgm" and self.levels < 1:
            raise WSGMError(f"a WSGM needs levels >= 1, got levels={self.levels}")
        expected = set(network_names(self.kind, self.levels))
        if set(self.unets) != expected:
            raise WSGMError(
                f"model config has networks {sorted(self.unets)}, expected {sorted(expected)}"
            )

    @property
    def names(self) -> tuple[str, ...]:
        return network_names(self.kind, self.levels)

    @property
    def periodic(self) -> bool:
        """Whether the networks treat the data as periodic (circular padding)."""
        return self.unets[self.names[0]].padding_mode == "circular"

    @property
    def resolved_kind(self) -> str:
        """The data kind, also for models saved before it was stored (from the padding)."""
        return self.data_kind or ("field" if self.periodic else "image")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["unets"] = {k: dataclasses.asdict(v) for k, v in self.unets.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = dict(d)
        version = int(d.get("format_version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise WSGMError(
                f"model format version {version} is newer than this wsgm understands "
                f"({FORMAT_VERSION}); upgrade wsgm"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise WSGMError(f"model config has unknown keys {unknown}; valid keys: {sorted(known)}")
        d["unets"] = {k: UNetConfig(**v) for k, v in d.get("unets", {}).items()}
        return cls(**d)
