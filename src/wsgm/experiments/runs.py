"""Training runs of a reproduction (train or resume) and loading finished models for a sweep.

A run directory is finished when its ``model/`` holds weights and, if it was written by
:func:`wsgm.training.loop.train`, every network reached ``train.steps``. :func:`load_trained`
refuses a directory without a model with one message that says how to make one.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from ..errors import WSGMError
from ..fileio import read_json
from ..models.base import ScoreModel
from ..models.io import load_model
from ..training.config import RunConfig, config_diff

__all__ = ["train_run", "load_trained", "training_progress", "TrainingStopped"]


def training_progress(run_dir: str | os.PathLike[str]) -> tuple[dict[str, int], int] | None:
    """(steps per network, target steps) of a run directory's checkpoint, or None."""
    d = Path(run_dir)
    state, cfg = d / "model" / "train_state.json", d / "run_config.json"
    if not state.exists():
        return None
    try:
        steps = {k: int(v) for k, v in read_json(state)["steps"].items()}
        target = int(read_json(cfg)["train"]["steps"]) if cfg.exists() else 0
    except (WSGMError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return steps, target


def load_trained(
    path: str | os.PathLike[str],
    *,
    device: torch.device | str | None = None,
    weights: str = "ema",
    require_finished: bool = True,
) -> ScoreModel:
    """The model of a run (or model) directory; an unfinished or missing one is an error."""
    p = Path(path)
    if not p.exists():
        raise WSGMError(f"run directory {p} does not exist (train one with `wsgm train`)")
    has_model = (
        (p / "config.json").exists()
        or (p / "model" / "config.json").exists()
        or (p / ".model.prev" / "config.json").exists()
    )
    if not has_model:
        started = (p / "run_config.json").exists() or (p / "metrics.jsonl").exists()
        what = "its training has not written a model yet" if started else "no model in it"
        raise WSGMError(
            f"{p} holds no finished model ({what}); finish it with `wsgm train --run-dir {p}` "
            "(the same command resumes) or pass a run directory with a model/ folder"
        )
    progress = training_progress(p)
    if progress is not None and require_finished:
        steps, target = progress
        behind = {k: v for k, v in steps.items() if v < target}
        if behind:
            raise WSGMError(
                f"the model in {p} is not finished: networks at steps {behind} of {target}; "
                f"resume with `wsgm train --run-dir {p}` or pass --allow-unfinished"
            )
    return load_model(p, weights=weights, device=device)


def _config_changed(run_dir: Path, new: dict[str, object]) -> bool:
    try:
        old = read_json(run_dir / "run_config.json")
    except WSGMError:
        return True
    return bool(config_diff(old, new))


def train_run(run: RunConfig, run_dir: str | os.PathLike[str]) -> float:
    """Train (or resume, or reuse if finished) the run ``run`` in ``run_dir``; seconds."""
    from ..training.loop import train

    kind, progress = run.model.kind, run.train.progress
    done = training_progress(run_dir)
    if (
        done is not None
        and all(v >= run.train.steps for v in done[0].values())
        and not _config_changed(Path(run_dir), run.to_dict())
    ):
        if progress:
            print(f"reusing the finished {kind} run in {run_dir}", flush=True)
        return 0.0
    if progress:
        print(
            f"training {kind} in {run_dir} ({run.train.steps} steps)", file=sys.stderr, flush=True
        )
    t0 = time.perf_counter()
    result = train(run, run_dir)
    seconds = time.perf_counter() - t0
    if result.interrupted:  # Ctrl-C: the checkpoint is saved; stop the whole command here
        raise TrainingStopped(seconds)
    return seconds


class TrainingStopped(KeyboardInterrupt):
    """A training stopped by Ctrl-C (its checkpoint saved; the same command resumes it), with
    the ``seconds`` it ran, so a caller can account for them before stopping too."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"training stopped after {seconds:.0f} s; the same command resumes")
        self.seconds = seconds
