"""Model directories: ``config.json`` + safetensors weights, swapped in atomically.

A model directory holds

- ``config.json``: ``{"model": ModelConfig, "train": <training config or null>, "wsgm_version"}``;
- ``weights.safetensors``: the raw weights, keys ``<network>.<parameter>``;
- ``ema.safetensors``: the EMA weights (same keys; what sampling uses by default);
- ``stats.safetensors``: the normalization statistics (:class:`NormalizationStats`);
- optionally the training state (written by :mod:`wsgm.training.checkpoint`).

Nothing is ever unpickled: weights are safetensors, everything else JSON. A directory is
written under a temporary name, fsynced, then renamed into place; the previous complete
directory is kept (``.NAME.prev``) until the new one is in place
(:func:`wsgm.fileio.swap_in_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from .. import __version__
from ..errors import WSGMError
from ..fileio import read_json, swap_in_dir, write_json_atomic
from .base import ScoreModel
from .config import ModelConfig
from .normalization import NormalizationStats
from .sgm import SGM
from .wsgm import WSGM

__all__ = [
    "build_model",
    "write_model_files",
    "save_model",
    "load_model",
    "save_tensors",
    "load_tensors",
    "find_model_dir",
    "mismatch_summary",
]

WEIGHT_FILES = {"ema": "ema.safetensors", "raw": "weights.safetensors"}


def mismatch_summary(exc: RuntimeError) -> str:
    """One line for a ``load_state_dict`` error: how many problems, and the first one."""
    lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
    if not lines:
        return " ".join(str(exc).split())
    return f"{len(lines)} problem(s), the first: {lines[0]}"


def build_model(config: ModelConfig, stats: NormalizationStats) -> ScoreModel:
    """A freshly initialized SGM or WSGM for ``config``."""
    return (SGM if config.kind == "sgm" else WSGM)(config, stats)


def save_tensors(
    path: Path, tensors: dict[str, Tensor], metadata: dict[str, str] | None = None
) -> None:
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path), metadata=metadata
    )


def load_tensors(path: Path) -> dict[str, Tensor]:
    if not path.exists():
        raise WSGMError(f"{path} is missing: the model directory is incomplete")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WSGMError(f"{path} is not a readable safetensors file (corrupt?): {exc}") from exc


def write_model_files(
    directory: Path,
    model: ScoreModel,
    *,
    ema: dict[str, Tensor] | None = None,
    train_config: dict[str, Any] | None = None,
) -> None:
    """Write config, raw + EMA weights and stats into an existing ``directory``."""
    raw = model.nets.state_dict()
    write_json_atomic(
        directory / "config.json",
        {
            "model": model.config.to_dict(),
            "train": train_config,
            "wsgm_version": __version__,
        },
    )
    save_tensors(directory / WEIGHT_FILES["raw"], raw)
    save_tensors(directory / WEIGHT_FILES["ema"], ema if ema is not None else raw)
    save_tensors(directory / "stats.safetensors", model.stats.tensors())


def save_model(
    model: ScoreModel, path: str | os.PathLike[str], *, ema: dict[str, Tensor] | None = None
) -> Path:
    """Write ``model`` as a model directory at ``path`` (atomically)."""
    target = Path(path)
    swap_in_dir(target, lambda d: write_model_files(d, model, ema=ema))
    return target


def find_model_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` itself if it holds ``config.json``, else ``path/model`` (a run directory)."""
    p = Path(path)
    if not p.exists():
        raise WSGMError(f"model directory {p} does not exist (train one with `wsgm train`)")
    if (p / "config.json").exists():
        return p
    if (p / "model" / "config.json").exists():
        return p / "model"
    # A writer is between its two renames: the previous complete directory (read only here;
    # the writer's own recover_dir puts it back).
    if (p / ".model.prev" / "config.json").exists():
        return p / ".model.prev"
    raise WSGMError(
        f"{p} is neither a model directory nor a run directory (no config.json, no model/)"
    )


def load_model(
    path: str | os.PathLike[str],
    *,
    weights: str = "ema",
    device: torch.device | str | None = None,
) -> ScoreModel:
    """Load the model in ``path`` (a model or run directory) with its EMA or raw weights."""
    if weights not in WEIGHT_FILES:
        raise WSGMError(f"unknown weights {weights!r}; allowed: {', '.join(WEIGHT_FILES)}")
    d = find_model_dir(path)
    meta = read_json(d / "config.json", what="model config")
    if "model" not in meta:
        raise WSGMError(f"{d / 'config.json'} has no 'model' entry: not a wsgm model directory")
    config = ModelConfig.from_dict(meta["model"])
    stats = NormalizationStats.from_tensors(load_tensors(d / "stats.safetensors"))
    model = build_model(config, stats)
    state = load_tensors(d / WEIGHT_FILES[weights])
    try:
        model.nets.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WSGMError(
            f"{d / WEIGHT_FILES[weights]} does not match config.json: {mismatch_summary(exc)}"
        ) from exc
    model.eval()
    if device is not None:
        model.to(device)
    return model
