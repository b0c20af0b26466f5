"""What a training run resolved, printed once at its start: data, kind, padding,
augmentation, model, networks and their sizes, device, processes, threads, progress."""

from __future__ import annotations

import torch

from ..models.base import ScoreModel
from .data import TrainingData

__all__ = ["startup_summary"]


def startup_summary(
    *,
    data: TrainingData,
    model: ScoreModel,
    augment: bool,
    steps: dict[str, int],
    target: int,
    selected: tuple[str, ...],
    device: torch.device,
    processes: int,
    resumed: bool,
) -> str:
    """A few lines a user can check before the hours of training start."""
    cfg = model.config
    n, c, h, w = data.fields.shape
    lo, hi = data.value_range
    padding = cfg.unets[cfg.names[0]].padding_mode
    lines = [
        f"data: {data.path} — {n} fields {c}x{h}x{w}, values in [{lo:.3g}, {hi:.3g}], "
        f"kind {data.kind}" + (" (periodic)" if data.periodic else ""),
        f"  -> {padding} padding, " + ("random shifts and flips" if augment else "no augmentation"),
    ]
    if cfg.kind == "wsgm":
        coarsest = f"{cfg.size[0] >> cfg.levels}x{cfg.size[1] >> cfg.levels}"
        lines.append(
            f"model: wsgm, {cfg.wavelet}, J = {cfg.levels} (coarsest {coarsest}), "
            f"{cfg.prediction}-prediction"
        )
    else:
        lines.append(f"model: sgm, {cfg.prediction}-prediction")
    for name in cfg.names:
        params = sum(p.numel() for p in model.nets[name].parameters())
        mark = "" if name in selected else " (not trained in this run)"
        lines.append(f"  {name}: {params / 1e6:.2f} M parameters, at step {steps[name]}{mark}")
    threads = torch.get_num_threads() if device.type == "cpu" else None
    where = f"{device}" + (f", {threads} threads" if threads else "")
    lines.append(
        f"{'resuming' if resumed else 'training'} to step {target} on {where}, "
        f"{processes} process(es)"
    )
    return "\n".join(lines)
