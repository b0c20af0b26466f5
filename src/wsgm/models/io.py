"""Model directories: ``config.json`` + safetensors weights, swapped in atomically.

A model directory holds

- ``config.json``: ``{"model": ModelConfig, "train": <training config or null>, "wsgm_version"}``;
- ``weights.safetensors``: the raw weights, keys ``<network>.<parameter>``;
- ``ema.safetensors``: the EMA weights (same keys; what sampling uses by default);
- ``stats.safetensors``: the normalization statistics (:class:`NormalizationStats`);
- optionally the training state (written by :mod:`wsgm.training.checkpoint`).

Nothing is ever unpickled: weights are safetensors, everything else JSON. A directory is
written under a temporary name, fsynced, then renamed into place; the previous complete
directory is kept (``.NAME.prev``) until the new one is in place (:func:`swap_in_dir`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from .. import __version__
from ..data.io import fsync_dir
from ..errors import WSGMError
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
    "swap_in_dir",
    "recover_dir",
    "save_tensors",
    "load_tensors",
    "read_json",
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


def read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise WSGMError(f"{path} is missing: not a wsgm model directory")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WSGMError(f"{path} is not readable JSON (corrupt?): {exc}") from exc
    if not isinstance(data, dict):
        raise WSGMError(f"{path} must hold a JSON object")
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_model_files(
    directory: Path,
    model: ScoreModel,
    *,
    ema: dict[str, Tensor] | None = None,
    train_config: dict[str, Any] | None = None,
) -> None:
    """Write config, raw + EMA weights and stats into an existing ``directory``."""
    raw = model.nets.state_dict()
    write_json(
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


def _fsync_tree(directory: Path) -> None:
    for p in sorted(directory.rglob("*")):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [*sorted(q for q in directory.rglob("*") if q.is_dir()), directory, directory.parent]:
        fsync_dir(d)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def recover_dir(target: Path) -> None:
    """Finish or undo an interrupted :func:`swap_in_dir` of ``target``.

    Also removes the half-written ``.NAME.tmp-PID`` directories of writers that died
    (PID no longer running on this machine); they never held a complete checkpoint.
    """
    prev = target.parent / f".{target.name}.prev"
    # Several processes of one launch may recover at once: a path already handled by
    # another one is not an error.
    with contextlib.suppress(FileNotFoundError):
        if prev.exists():
            if target.exists():
                shutil.rmtree(prev)  # the new directory is complete and in place
            else:
                os.replace(prev, target)  # killed between the two renames: restore the old one
    if target.parent.is_dir():
        for tmp in target.parent.glob(f".{target.name}.tmp-*"):
            pid = tmp.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                shutil.rmtree(tmp, ignore_errors=True)


def swap_in_dir(target: Path, fill: Callable[[Path], None]) -> None:
    """Call ``fill(tmp_dir)``, fsync it, and replace ``target`` by it.

    Until the final rename the previous ``target`` stays complete (renamed to ``.NAME.prev``
    only for the instant between the two renames, and restored by :func:`recover_dir`).
    """
    parent = target.parent
    if not parent.is_dir():
        raise WSGMError(f"folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise WSGMError(f"folder {parent} is not writable")
    recover_dir(target)
    tmp = parent / f".{target.name}.tmp-{os.getpid()}"
    prev = parent / f".{target.name}.prev"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        fill(tmp)
        _fsync_tree(tmp)
        if target.exists():
            os.replace(target, prev)
        os.replace(tmp, target)
        fsync_dir(parent)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = (
                f"the previous {target} is kept"
                if target.exists()
                else f"nothing was written to {target}"
            )
            raise WSGMError(
                f"disk full (no space left on device) while writing {target}; {kept}; "
                "free some space and run the same command again"
            ) from exc
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    recover_dir(target)


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
    meta = read_json(d / "config.json")
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
