"""Training loop: denoising score matching of every network of an SGM/WSGM on accelerate.

``train(run, run_dir)`` trains the selected networks (``train.scales``; default all) until
each has made ``train.steps`` optimizer steps. Every step trains all of them on their own
batches: network n at its step k draws its batch, times and noise from a generator seeded
by (seed, n, k), so its training does not depend on which other networks are
trained alongside, and a resumed run reproduces an uninterrupted one exactly. Each network
has its own AdamW (linear warm-up), gradient clipping and EMA (:mod:`wsgm.training.ema`).

``train.batch_size`` is the global batch. Under ``torchrun`` / ``accelerate launch`` the
networks are wrapped in DDP: every process draws the same global batch (indices,
augmentation, times, noise) from the (seed, network, step) generator and trains on its own
equal slice of it (batch_size must be divisible by the number of processes); DDP averages
the gradients, so a step equals a one-process step on the global batch up to float
rounding. The run directory holds

- ``model/``: the latest complete checkpoint (model files + training state), swapped in
  atomically every ``train.checkpoint_every`` steps, at the end and on Ctrl-C;
- ``model.previous/``: the checkpoint before it, used on resume if ``model/`` is damaged;
- ``run_config.json``: the resolved configuration;
- ``metrics.jsonl``: one JSON object per ``train.log_every`` steps (loss, grad norm and lr
  per network, steps/s) and one per event (start, checkpoint, stop, diverged).

A non-finite loss or gradient, or a loss above ``train.max_loss``, stops training with a
:class:`TrainingDiverged` error naming the step; the last good checkpoint is kept.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch import Tensor, nn

from .data.io import load_fields
from .errors import WSGMError
from .losses import T_SCHEDULES, noisy_batch
from .models.base import network_eps_fn
from .models.io import build_model
from .models.normalization import compute_stats
from .sde import OU
from .training.batches import augment_periodic, step_seed
from .training.checkpoint import (
    has_checkpoint,
    load_checkpoint,
    restore_previous_if_damaged,
    save_checkpoint,
)
from .training.config import RunConfig, config_diff, flatten
from .training.defaults import is_periodic, model_config_for
from .training.device import use_cpu
from .training.ema import EMA

__all__ = ["train", "TrainResult", "TrainingDiverged", "resolve_scales"]


class TrainingDiverged(WSGMError):
    """The loss or a gradient became NaN/Inf or exploded."""


@dataclass
class TrainResult:
    steps: dict[str, int]
    interrupted: bool
    last_loss: dict[str, float]


class _Bundle(nn.Module):
    """The trained networks as one module, so DDP wraps (and syncs) them together."""

    def __init__(self, nets: dict[str, nn.Module], sde: OU, prediction: str) -> None:
        super().__init__()
        self.nets = nn.ModuleDict(nets)
        self.eps = {n: network_eps_fn(self.nets[n], sde, prediction) for n in nets}

    def forward(self, inputs: dict[str, tuple[Tensor, Tensor, Tensor | None]]) -> dict[str, Tensor]:
        """The noise predictions of the networks (what the DSM loss compares with eps)."""
        return {name: self.eps[name](*args) for name, args in inputs.items()}


def resolve_scales(scales: list[str], names: tuple[str, ...], kind: str) -> tuple[str, ...]:
    """Network names for ``train.scales`` entries (``coarse``, ``1``..``J``, or names)."""
    if not scales:
        return names
    out = []
    for s in scales:
        name = s if s in names else (f"scale{s}" if kind == "wsgm" else s)
        if name not in names:
            allowed = (
                ", ".join(["coarse", *(n[5:] for n in names if n.startswith("scale"))])
                if kind == "wsgm"
                else "net"
            )
            raise WSGMError(f"unknown scale {s!r} in train.scales; allowed: {allowed}")
        out.append(name)
    return tuple(n for n in names if n in out)


def _check_run(run: RunConfig) -> None:
    t = run.train
    if t.t_schedule not in T_SCHEDULES:
        raise WSGMError(
            f"train.t_schedule must be one of {', '.join(T_SCHEDULES)}, got {t.t_schedule!r}"
        )
    if t.augment not in ("auto", "none", "periodic"):
        raise WSGMError(f"train.augment must be auto, none or periodic, got {t.augment!r}")
    if t.mixed_precision not in ("no", "fp16", "bf16"):
        raise WSGMError(
            f"train.mixed_precision must be no, fp16 or bf16, got {t.mixed_precision!r}"
        )
    for key in ("steps", "batch_size", "checkpoint_every", "log_every"):
        if getattr(t, key) < 1:
            raise WSGMError(f"train.{key} must be >= 1, got {getattr(t, key)}")
    if not (t.lr > 0 and t.grad_clip > 0 and 0 <= t.ema_decay < 1 and t.warmup_steps >= 0):
        raise WSGMError(
            "train.lr and train.grad_clip must be > 0, 0 <= train.ema_decay < 1, warmup_steps >= 0"
        )


def _prepare_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WSGMError(f"cannot create run directory {run_dir}: {exc}") from exc
    if not os.access(run_dir, os.W_OK):
        raise WSGMError(f"run directory {run_dir} is not writable")


class _Log:
    """Append JSON lines to ``metrics.jsonl`` (main process only)."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def __call__(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record, sort_keys=True) + "\n")


def train(
    run: RunConfig,
    run_dir: str | os.PathLike[str],
    *,
    should_stop: Callable[[dict[str, int]], bool] | None = None,
) -> TrainResult:
    """Train (or resume) the run in ``run_dir``; see the module docstring.

    ``should_stop(steps)`` is polled after every step (tests use it to simulate Ctrl-C).
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs
    from tqdm import tqdm

    _check_run(run)
    run_dir = Path(run_dir)
    _prepare_run_dir(run_dir)
    cfg = run.train
    if not run.data:
        raise WSGMError("no training data: give --data FILE (or `data = ...` in the config)")
    data = load_fields(run.data)
    if data.fields.ndim != 4:
        raise WSGMError(f"training needs 2-d fields (n, C, H, W), got shape {data.fields.shape}")
    fields = torch.from_numpy(data.fields)
    channels, size = int(fields.shape[1]), (int(fields.shape[2]), int(fields.shape[3]))

    accel = Accelerator(
        cpu=use_cpu(cfg.cpu),
        mixed_precision=cfg.mixed_precision,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    main = accel.is_main_process
    log = _Log(run_dir / "metrics.jsonl", main)

    if main:  # a damaged latest checkpoint is replaced by the previous one (and kept aside)
        restored = restore_previous_if_damaged(run_dir)
        if restored:
            print(f"warning: {restored}", file=sys.stderr, flush=True)
            log({"event": "restored_previous", "message": restored, "time": time.time()})
    accel.wait_for_everyone()
    resumed = has_checkpoint(run_dir)
    if resumed:
        ck = load_checkpoint(run_dir)
        diff = config_diff(ck.run_config, run.to_dict())
        if diff:
            old, new = flatten(ck.run_config), flatten(run.to_dict())
            detail = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in diff)
            raise WSGMError(
                f"run directory {run_dir} holds a checkpoint of another config ({detail}); "
                "use another --run-dir or the saved settings"
            )
        model = build_model(ck.model_config, ck.stats)
        model.nets.load_state_dict(ck.raw)
        steps = dict(ck.steps)
        opt_states = ck.optimizers
    else:
        mcfg = model_config_for(run, channels=channels, size=size, meta=data.meta)
        stats = compute_stats(fields, wavelet=mcfg.wavelet, levels=mcfg.levels)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # the initial weights depend on the seed only
            model = build_model(mcfg, stats)
        steps = {n: 0 for n in mcfg.names}
        opt_states = {}
    if model.config.size != size or model.config.channels != channels:
        raise WSGMError(
            f"data {run.data} has fields {channels}x{size[0]}x{size[1]} but the model in "
            f"{run_dir} was trained on {model.config.channels}x{model.config.size[0]}x"
            f"{model.config.size[1]}"
        )
    names = model.config.names
    selected = resolve_scales(cfg.scales, names, model.config.kind)
    ema_state = ck.ema if resumed else None
    emas = {
        n: EMA(model.nets[n], _sub(ema_state, n) if ema_state is not None else None) for n in names
    }
    if main:
        _write_json_atomic(run_dir / "run_config.json", run.to_dict())

    device = accel.device
    model.to(device)
    for e in emas.values():
        e.shadow = {k: v.to(device) for k, v in e.shadow.items()}
    fields_dev = fields.to(device)
    stats_dev = model.stats.to(device=device)
    model.stats = stats_dev
    periodic = cfg.augment == "periodic" or (cfg.augment == "auto" and is_periodic(data.meta))

    bundle = _Bundle({n: model.nets[n] for n in selected}, model.sde, model.config.prediction)
    opts = {}
    for n in selected:
        opt = torch.optim.AdamW(
            model.nets[n].parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        if n in opt_states:
            opt.load_state_dict(opt_states[n])
        opts[n] = opt
    prepared = accel.prepare(bundle, *opts.values())
    wrapped, opts = prepared[0], dict(zip(selected, prepared[1:], strict=True))
    rank, world = accel.process_index, accel.num_processes
    if cfg.batch_size % world:
        raise WSGMError(
            f"train.batch_size={cfg.batch_size} is the global batch and must be divisible by "
            f"the number of processes ({world})"
        )
    local_batch = cfg.batch_size // world
    net_index = {n: i for i, n in enumerate(names)}

    stop_flag = {"stop": False}
    old_handler: Any = None

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if stop_flag["stop"]:
            raise KeyboardInterrupt
        stop_flag["stop"] = True

    try:
        old_handler = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread
        old_handler = None

    def checkpoint(event: str) -> None:
        accel.wait_for_everyone()
        if main:
            ema_all = {f"{n}.{k}": v for n in names for k, v in emas[n].shadow.items()}
            for n in selected:
                opt_states[n] = opts[n].state_dict()
            save_checkpoint(
                run_dir,
                model,
                ema=ema_all,
                optimizers=opt_states,
                steps=steps,
                run_config=run.to_dict(),
            )
            log({"event": event, "steps": dict(steps), "time": time.time()})
        accel.wait_for_everyone()

    def diverged(message: str) -> TrainingDiverged:
        log({"event": "diverged", "message": message, "steps": dict(steps), "time": time.time()})
        return TrainingDiverged(message)

    active = [n for n in selected if steps[n] < cfg.steps]
    log(
        {
            "event": "resume" if resumed else "start",
            "steps": dict(steps),
            "target": cfg.steps,
            "networks": list(selected),
            "processes": world,
            "device": str(device),
            "time": time.time(),
        }
    )
    start_min = min((steps[n] for n in selected), default=cfg.steps)
    bar = tqdm(
        total=cfg.steps,
        initial=min(start_min, cfg.steps),
        disable=not (main and cfg.progress),
        desc="train",
        dynamic_ncols=True,
    )
    last: dict[str, float] = {}
    interrupted = False
    t_last, s_last = time.perf_counter(), start_min
    try:
        while active:
            inputs: dict[str, tuple[Tensor, Tensor, Tensor | None]] = {}
            targets: dict[str, Tensor] = {}
            for n in active:
                # The global batch (indices, augmentation, times, noise) is drawn identically
                # on every process from (seed, network, step); process r takes slice r.
                g = torch.Generator(device=device).manual_seed(
                    step_seed(cfg.seed, net_index[n], steps[n], 0)
                )
                idx = torch.randint(
                    fields_dev.shape[0], (cfg.batch_size,), generator=g, device=device
                )
                x0 = fields_dev[idx]
                if periodic:
                    x0 = augment_periodic(x0, g)
                target, cond = model.training_pairs(x0, (n,))[n]
                x_t, t, eps = noisy_batch(
                    target, sde=model.sde, schedule=cfg.t_schedule, t_min=cfg.t_min, generator=g
                )
                mine = slice(rank * local_batch, (rank + 1) * local_batch)
                inputs[n] = (x_t[mine], t[mine], None if cond is None else cond[mine])
                targets[n] = eps[mine]
            with accel.autocast():
                out = wrapped(inputs)
            losses = {n: torch.mean((out[n].float() - targets[n].float()) ** 2) for n in active}
            # One all-reduce carries the losses and the stop request of every process.
            requested = bool(should_stop and should_stop(steps))
            flag = torch.tensor([float(requested or stop_flag["stop"])], device=device)
            summary = accel.reduce(
                torch.cat([torch.stack(list(losses.values())).detach(), flag]), "mean"
            )
            values = summary.tolist()
            loss_vals = dict(zip(active, values[:-1], strict=True))
            for n, v in loss_vals.items():
                if not math.isfinite(v) or v > cfg.max_loss:
                    raise diverged(
                        f"loss of network {n!r} is {v} at step {steps[n] + 1} (limit "
                        f"train.max_loss={cfg.max_loss}); stopped; the last good checkpoint is "
                        f"kept in {run_dir / 'model'}"
                    )
            if values[-1] > 0:  # Ctrl-C (on any process): stop before this step
                interrupted = True
                break
            accel.backward(sum(losses.values()))
            grad_norms: dict[str, float] = {}
            accel.unscale_gradients()  # once for all optimizers (fp16 loss scaling)
            for n in active:
                gn = torch.nn.utils.clip_grad_norm_(model.nets[n].parameters(), cfg.grad_clip)
                grad_norms[n] = float(gn)
                if not math.isfinite(grad_norms[n]):
                    raise diverged(
                        f"gradient of network {n!r} is {grad_norms[n]} at step {steps[n] + 1}; "
                        f"stopped; the last good checkpoint is kept in {run_dir / 'model'}"
                    )
                lr = cfg.lr * min(1.0, (steps[n] + 1) / max(cfg.warmup_steps, 1))
                for group in opts[n].param_groups:
                    group["lr"] = lr
                opts[n].step()
                opts[n].zero_grad(set_to_none=True)
                emas[n].update(model.nets[n], steps[n], cfg.ema_decay)
                steps[n] += 1
            last.update(loss_vals)
            done = min(steps[n] for n in active)
            bar.update(done - bar.n)
            bar.set_postfix(loss=f"{sum(loss_vals.values()) / len(loss_vals):.4f}")
            if done % cfg.log_every == 0:
                now = time.perf_counter()
                rate = (done - s_last) / max(now - t_last, 1e-9)
                t_last, s_last = now, done
                log(
                    {
                        "step": done,
                        "time": time.time(),
                        "steps_per_s": rate,
                        **{f"loss/{n}": v for n, v in loss_vals.items()},
                        **{f"grad_norm/{n}": v for n, v in grad_norms.items()},
                        "lr": cfg.lr * min(1.0, done / max(cfg.warmup_steps, 1)),
                    }
                )
            active = [n for n in active if steps[n] < cfg.steps]
            if active and done % cfg.checkpoint_every == 0:
                checkpoint("checkpoint")
        checkpoint("stop" if interrupted else "done")
    finally:
        bar.close()
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
    if interrupted and main:
        print(f"stopped at steps {steps}; the same command resumes", flush=True)
    return TrainResult(steps=dict(steps), interrupted=interrupted, last_loss=last)


def _sub(state: dict[str, Tensor], name: str) -> dict[str, Tensor]:
    prefix = name + "."
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    from .data.io import atomic_write

    atomic_write(
        path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    )
