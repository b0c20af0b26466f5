"""Training checkpoints: the model directory ``RUN/model/`` plus the training state in it.

Besides the model files of :mod:`wsgm.models.io` (config.json, weights, EMA, stats) the
directory holds

- ``optimizer.safetensors``: AdamW moments per network, keys ``<net>/<param index>/<name>``;
- ``train_state.json``: optimizer steps per network, AdamW param groups, the run config and
  the SHA-256 of every other file (damage after the write is detected on loading).

The whole directory is swapped in atomically (:func:`wsgm.fileio.swap_in_dir`), so the
model and its training state always match, and a crash leaves the previous checkpoint.
The checkpoint before the latest is kept as ``RUN/model.previous/`` (hard links: no extra
space until the next checkpoint); if ``model/`` is found damaged on resume, the training
loop puts the previous one in its place (:func:`restore_previous_if_damaged`).
Random states need no saving: every training step seeds its own generator from
(seed, network, step), so a resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from ..errors import WSGMError
from ..fileio import fsync_dir, read_json, recover_dir, swap_in_dir, write_json_atomic
from ..models.base import ScoreModel
from ..models.config import ModelConfig
from ..models.io import (
    build_model,
    load_tensors,
    mismatch_summary,
    save_tensors,
    write_model_files,
)
from ..models.normalization import NormalizationStats
from .config import with_legacy_defaults

__all__ = [
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "has_checkpoint",
    "saved_run_config",
    "restore_previous_if_damaged",
    "PREVIOUS",
]

STATE_VERSION = 1
PREVIOUS = "model.previous"  # the checkpoint before the latest, used if the latest is damaged
_STATE = "training state"  # what read_json calls train_state.json in its messages


@dataclass
class Checkpoint:
    """Everything a resumed run needs."""

    model_config: ModelConfig
    run_config: dict[str, Any]
    stats: NormalizationStats
    raw: dict[str, Tensor]
    ema: dict[str, Tensor]
    optimizers: dict[str, dict[str, Any]]
    steps: dict[str, int]


def _advice(d: Path) -> str:
    return (
        f"training cannot resume from {d}; move it away (e.g. `mv {d} {d}.bad`) to start the "
        "run over, or restore it from a backup"
    )


def has_checkpoint(run_dir: Path) -> bool:
    """Whether ``RUN/model/`` (or ``RUN/model.previous/``) holds a training checkpoint.

    Interrupted swaps are finished first. A ``model/`` without ``train_state.json`` (a bare
    model directory, or a damaged one) and no previous checkpoint is an error rather than
    "no checkpoint": starting over would overwrite it.
    """
    d, prev = run_dir / "model", run_dir / PREVIOUS
    recover_dir(d)
    recover_dir(prev)
    if (d / "train_state.json").exists() or (prev / "train_state.json").exists():
        return True
    if d.exists():
        raise WSGMError(
            f"{d} exists but holds no training state (train_state.json is missing: a bare "
            f"model directory, or a damaged checkpoint); {_advice(d)}"
        )
    return False


def saved_run_config(run_dir: Path) -> dict[str, Any]:
    """The run config saved with the checkpoint (the previous one's if ``model/`` is damaged)."""
    d = run_dir / "model"
    try:
        return with_legacy_defaults(
            read_json(d / "train_state.json", what=_STATE).get("run_config", {})
        )
    except WSGMError as exc:
        if (run_dir / PREVIOUS / "train_state.json").exists():
            with contextlib.suppress(WSGMError):
                return with_legacy_defaults(
                    read_json(run_dir / PREVIOUS / "train_state.json", what=_STATE)["run_config"]
                )
        raise WSGMError(f"{exc}; {_advice(d)}") from exc


def _link_files(src: Path) -> Callable[[Path], None]:
    """A ``swap_in_dir`` filler that hard-links (or copies) the files of ``src``.

    Checkpoint files are never modified in place (a checkpoint is replaced as a whole), so
    hard links cost no space until the next checkpoint replaces ``model/``.
    """

    def fill(d: Path) -> None:
        for f in sorted(src.iterdir()):
            if f.is_file():
                try:
                    os.link(f, d / f.name)
                except OSError:
                    shutil.copy2(f, d / f.name)

    return fill


def restore_previous_if_damaged(run_dir: Path) -> str | None:
    """Replace a damaged ``RUN/model/`` by ``RUN/model.previous/`` if that one is sound.

    The damaged directory is kept as ``RUN/model.damaged-<time>``. Returns a message saying
    what was done, or None when ``model/`` is fine (or there is no sound previous one: then
    :func:`load_checkpoint` reports the damage). Call it from one process only.
    """
    d, prev = run_dir / "model", run_dir / PREVIOUS
    recover_dir(d)
    recover_dir(prev)
    if not prev.exists():
        return None
    if d.exists():
        try:
            _load_checkpoint(d)
            return None
        except WSGMError as exc:
            problem = str(exc)
    else:
        problem = f"{d} is missing"
    try:
        steps = _load_checkpoint(prev).steps
    except WSGMError:
        return None
    aside = run_dir / f"model.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    if d.exists():
        os.replace(d, aside)
    os.replace(prev, d)
    fsync_dir(run_dir)
    kept = f"; the damaged one is kept in {aside}" if aside.exists() else ""
    return f"{problem}; resuming from the previous checkpoint (steps {steps}){kept}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _optimizer_tensors(
    opt_states: dict[str, dict[str, Any]],
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors: dict[str, Tensor] = {}
    groups: dict[str, Any] = {}
    for net, sd in opt_states.items():
        for idx, st in sd["state"].items():
            for key, val in st.items():
                tensors[f"{net}/{idx}/{key}"] = val
        groups[net] = [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
            for g in sd["param_groups"]
        ]
    return tensors, groups


def save_checkpoint(
    run_dir: Path,
    model: ScoreModel,
    *,
    ema: dict[str, Tensor],
    optimizers: dict[str, dict[str, Any]],
    steps: dict[str, int],
    run_config: dict[str, Any],
) -> None:
    """Write ``RUN/model/`` atomically; the checkpoint it replaces becomes ``RUN/model.previous/``.

    Any failure leaves the previous complete checkpoint in place.
    """
    tensors, groups = _optimizer_tensors(optimizers)

    def fill(d: Path) -> None:
        write_model_files(d, model, ema=ema, train_config=run_config)
        save_tensors(d / "optimizer.safetensors", tensors)
        write_json_atomic(
            d / "train_state.json",
            {
                "version": STATE_VERSION,
                "steps": steps,
                "param_groups": groups,
                "run_config": run_config,
                # detects files damaged after the atomic swap (truncation, bit flips)
                "sha256": {p.name: _sha256(p) for p in sorted(d.iterdir()) if p.is_file()},
            },
        )

    current = run_dir / "model"
    recover_dir(current)
    if (current / "train_state.json").exists():
        swap_in_dir(run_dir / PREVIOUS, _link_files(current))
    swap_in_dir(current, fill)


def load_checkpoint(run_dir: Path) -> Checkpoint:
    """Read and check ``RUN/model/``: a damaged checkpoint is one clear :class:`WSGMError`."""
    d = run_dir / "model"
    recover_dir(d)
    try:
        return _load_checkpoint(d)
    except WSGMError as exc:
        raise WSGMError(f"{exc}; {_advice(d)}") from exc


def _load_checkpoint(d: Path) -> Checkpoint:
    state = read_json(d / "train_state.json", what=_STATE)
    version = state.get("version", 0)
    if not isinstance(version, int) or version != STATE_VERSION:
        newer = isinstance(version, int) and version > STATE_VERSION
        raise WSGMError(
            f"{d / 'train_state.json'} has training-state version {version!r}, this wsgm reads "
            f"version {STATE_VERSION}" + ("; upgrade wsgm" if newer else "")
        )
    for name, digest in dict(state.get("sha256", {})).items():
        if not (d / name).is_file():
            raise WSGMError(f"{d / name} is missing: the checkpoint is incomplete")
        if _sha256(d / name) != digest:
            raise WSGMError(f"{d / name} is corrupt (its SHA-256 differs from the one saved)")
    meta = read_json(d / "config.json", what="model config")
    tensors = load_tensors(d / "optimizer.safetensors")
    optimizers: dict[str, dict[str, Any]] = {}
    for net, groups in state["param_groups"].items():
        per: dict[int, dict[str, Tensor]] = {}
        for key, val in tensors.items():
            name, idx, k = key.split("/")
            if name == net:
                per.setdefault(int(idx), {})[k] = val
        optimizers[net] = {"state": per, "param_groups": groups}
    ck = Checkpoint(
        model_config=ModelConfig.from_dict(meta["model"]),
        run_config=with_legacy_defaults(state["run_config"]),
        stats=NormalizationStats.from_tensors(load_tensors(d / "stats.safetensors")),
        raw=load_tensors(d / "weights.safetensors"),
        ema=load_tensors(d / "ema.safetensors"),
        optimizers=optimizers,
        steps={k: int(v) for k, v in state["steps"].items()},
    )
    nets = build_model(ck.model_config, ck.stats).nets
    for what, sd in (("weights", ck.raw), ("ema", ck.ema)):
        try:
            nets.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise WSGMError(
                f"{d / f'{what}.safetensors'} does not match config.json: {mismatch_summary(exc)}"
            ) from exc
    return ck
