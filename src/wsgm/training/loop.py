"""The training loop: denoising score matching of every network of an SGM/WSGM on accelerate.

``train(run, run_dir)`` trains the selected networks (``train.scales``; default all) until
each has made ``train.steps`` optimizer steps. Every step trains all of them on their own
batches: network n at its step k draws its batch, times and noise from a generator seeded
by (seed, n, k), so its training does not depend on which other networks are trained
alongside, and a resumed run reproduces an uninterrupted one exactly. Each network has its
own AdamW (linear warm-up), gradient clipping and EMA (:mod:`wsgm.training.ema`). The loss
is :class:`wsgm.losses.DSMLoss` (docs/design.md §2.3), evaluated inside the module that DDP
wraps, like EDM's ``loss_fn(net=..., images=...)``.

The loop is five pieces: :func:`_setup` (data, model, resume, optimizers, accelerate),
:func:`_draw` (one network's global batch and noise), :func:`_step` (one optimizer step of
every active network, left on the device), :func:`_settle` (the steps since the last one
read back and checked, once per ``train.log_every`` steps and before every checkpoint) and
:func:`train` (the outer loop: steps, logging, checkpoints, stop). Reading the losses back
only there keeps a GPU busy: a host sync per step (or per network) made small models wait
on the launch latency of every step.

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
:class:`TrainingDiverged` error naming the step, found when the loop next reads the losses
back (at most ``train.log_every`` steps later, always before a checkpoint); the last good
checkpoint is kept.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch import Tensor, nn

from ..cpu import rebalance
from ..errors import WSGMError
from ..fileio import exclusive_lock, write_json_atomic
from ..losses import DSMLoss, NoisyBatch
from ..models.base import ScoreModel
from ..models.io import build_model
from ..models.twin_skip import stats_for_model
from .batches import augment_periodic, step_seed
from .checkpoint import (
    has_checkpoint,
    load_checkpoint,
    restore_previous_if_damaged,
    save_checkpoint,
)
from .config import RunConfig, TrainSection, config_diff, flatten
from .data import TrainingData, read_training_data, write_record
from .defaults import model_config_for
from .device import use_cpu
from .ema import EMA
from .summary import startup_summary

__all__ = ["train", "TrainResult", "TrainingDiverged", "resolve_scales", "LOCK"]

LOCK = "lock"
"""The run directory's lock file (held by the training process, released on any exit)."""


class TrainingDiverged(WSGMError):
    """The loss or a gradient became NaN/Inf or exploded."""


@dataclass
class TrainResult:
    steps: dict[str, int]
    interrupted: bool
    last_loss: dict[str, float]


# What one network trains on in one step: its slice of the noised global batch, its
# conditioning (the low-pass, for WSGM detail networks) or None.
NetBatch = tuple[NoisyBatch, Tensor | None]


class _Bundle(nn.Module):
    """The trained networks as one module whose forward is their losses, so DDP wraps (and
    syncs) them together and the loss is computed where DDP expects the forward."""

    def __init__(self, model: ScoreModel, names: tuple[str, ...], loss: DSMLoss):
        super().__init__()
        self.nets = nn.ModuleDict({n: model.nets[n] for n in names})
        self.eps = {n: model.eps_fn(n) for n in names}
        self.loss = loss

    def forward(self, batches: dict[str, NetBatch]) -> dict[str, Tensor]:
        """The DSM loss of every network on its batch."""
        return {name: self.loss(self.eps[name], b, cond) for name, (b, cond) in batches.items()}


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


def _prepare_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WSGMError(f"cannot create run directory {run_dir}: {exc}") from exc
    if not os.access(run_dir, os.W_OK):
        raise WSGMError(f"run directory {run_dir} is not writable")


class _Log:
    """Append JSON lines to ``metrics.jsonl`` (main process only); records of a step also go
    to accelerate's trackers (TensorBoard), when there are any."""

    def __init__(self, path: Path, enabled: bool, tracker: Any = None) -> None:
        self.path, self.enabled, self.tracker = path, enabled, tracker

    def __call__(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(record, sort_keys=True) + "\n")
        if self.tracker is not None and "step" in record:
            numbers = {k: v for k, v in record.items() if isinstance(v, float) and k != "time"}
            self.tracker.log(numbers, step=int(record["step"]))


@dataclass
class _Session:
    """Everything the loop needs, resolved once by :func:`_setup`."""

    run: RunConfig
    run_dir: Path
    accel: Any
    log: _Log
    model: ScoreModel
    data: TrainingData
    fields: Tensor  # the training data, on the device
    periodic: bool
    selected: tuple[str, ...]
    net_index: dict[str, int]
    emas: dict[str, EMA]
    opts: dict[str, Any]
    wrapped: nn.Module
    loss: DSMLoss
    steps: dict[str, int]
    opt_states: dict[str, dict[str, Any]]
    resumed: bool
    local_batch: int
    last_loss: dict[str, float] = field(default_factory=dict)

    @property
    def cfg(self) -> TrainSection:
        return self.run.train

    @property
    def main(self) -> bool:
        return bool(self.accel.is_main_process)


def _setup(run: RunConfig, run_dir: Path, stack: contextlib.ExitStack) -> _Session:
    """Read the data, build or resume the model, set up accelerate, optimizers and EMAs.

    The main process holds the run directory's lock (``RUN/lock``) from here until
    ``stack`` closes: one writer per run directory."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    run.validate()
    cfg = run.train
    # Metrics also go to TensorBoard (RUN/tensorboard) when it is installed; JSONL always.
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    accel = Accelerator(
        cpu=use_cpu(cfg.cpu),
        mixed_precision=cfg.mixed_precision,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        log_with="tensorboard" if tensorboard else None,
        project_dir=str(run_dir),
    )
    main = accel.is_main_process
    _prepare_run_dir(run_dir)
    if main:
        stack.enter_context(exclusive_lock(run_dir / LOCK, what=f"run directory {run_dir}"))
    if tensorboard:
        accel.init_trackers("tensorboard")
        stack.callback(accel.end_training)
    log = _Log(run_dir / "metrics.jsonl", main, accel if tensorboard else None)
    if main:  # a damaged latest checkpoint is replaced by the previous one (and kept aside)
        restored = restore_previous_if_damaged(run_dir)
        if restored:
            print(f"warning: {restored}", file=sys.stderr, flush=True)
            log({"event": "restored_previous", "message": restored, "time": time.time()})
    accel.wait_for_everyone()

    resumed = has_checkpoint(run_dir)
    ema_state: dict[str, Tensor] | None = None
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
    data = read_training_data(
        run.data, kind=run.kind, run_dir=run_dir, model=ck.model_config if resumed else None
    )
    fields = torch.from_numpy(data.fields)
    channels, size = int(fields.shape[1]), (int(fields.shape[2]), int(fields.shape[3]))
    if resumed:
        model = build_model(ck.model_config, ck.stats)
        model.nets.load_state_dict(ck.raw)
        steps, opt_states, ema_state = dict(ck.steps), ck.optimizers, ck.ema
    else:
        mcfg = model_config_for(
            run,
            channels=channels,
            size=size,
            kind=data.kind,
            periodic=data.periodic,
            value_range=data.value_range,
        )
        stats = stats_for_model(fields, mcfg)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # the initial weights depend on the seed only
            model = build_model(mcfg, stats)
        steps, opt_states = {n: 0 for n in mcfg.names}, {}
    names = model.config.names
    selected = resolve_scales(cfg.scales, names, model.config.kind)
    emas = {n: EMA(model.nets[n], None if ema_state is None else _sub(ema_state, n)) for n in names}
    if main:
        write_json_atomic(run_dir / "run_config.json", run.to_dict())
        write_record(run_dir, data)

    device = accel.device
    model.to(device)
    for e in emas.values():
        e.shadow = {k: v.to(device) for k, v in e.shadow.items()}
    model.stats = model.stats.to(device=device)
    periodic = cfg.augment == "periodic" or (cfg.augment == "auto" and data.periodic)

    loss = DSMLoss(
        model.sde,
        cfg.t_schedule,
        cfg.t_min,
        cfg.loss_weighting,
        input_perturbation=cfg.input_perturbation,
    )
    bundle = _Bundle(model, selected, loss)
    opts = {}
    for n in selected:
        opt = torch.optim.AdamW(
            model.nets[n].parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        if n in opt_states:
            opt.load_state_dict(opt_states[n])
        opts[n] = opt
    prepared = accel.prepare(bundle, *opts.values())
    world = accel.num_processes
    if cfg.batch_size % world:
        raise WSGMError(
            f"train.batch_size={cfg.batch_size} is the global batch and must be divisible by "
            f"the number of processes ({world})"
        )
    return _Session(
        run=run,
        run_dir=run_dir,
        accel=accel,
        log=log,
        model=model,
        data=data,
        fields=fields.to(device),
        periodic=periodic,
        selected=selected,
        net_index={n: i for i, n in enumerate(names)},
        emas=emas,
        opts=dict(zip(selected, prepared[1:], strict=True)),
        wrapped=prepared[0],
        loss=loss,
        steps=steps,
        opt_states=opt_states,
        resumed=resumed,
        local_batch=cfg.batch_size // world,
    )


def _draw(s: _Session, name: str) -> NetBatch:
    """This process's slice of network ``name``'s global batch at its current step.

    The global batch (indices, augmentation, times, noise) is drawn identically on every
    process from (seed, network, step); process r takes slice r.
    """
    cfg, device = s.cfg, s.fields.device
    g = torch.Generator(device=device).manual_seed(
        step_seed(cfg.seed, s.net_index[name], s.steps[name], 0)
    )
    idx = torch.randint(s.fields.shape[0], (cfg.batch_size,), generator=g, device=device)
    x0 = s.fields[idx]
    if s.periodic:
        x0 = augment_periodic(x0, g)
    target, cond = s.model.training_pairs(x0, (name,))[name]
    noisy = s.loss.draw(target, g)
    rank = s.accel.process_index
    mine = slice(rank * s.local_batch, (rank + 1) * s.local_batch)
    return noisy.part(mine), None if cond is None else cond[mine]


def _diverged(s: _Session, message: str) -> TrainingDiverged:
    s.log({"event": "diverged", "message": message, "steps": dict(s.steps), "time": time.time()})
    return TrainingDiverged(message)


def _lr(cfg: TrainSection, step: int) -> float:
    """Linear warm-up to ``train.lr`` over ``train.warmup_steps`` optimizer steps."""
    return cfg.lr * min(1.0, step / max(cfg.warmup_steps, 1))


@dataclass
class _Done:
    """One optimizer step of the active networks, as left on the device: each network's
    step number and its loss and gradient norm (read by :func:`_settle`)."""

    steps: dict[str, int]
    losses: Tensor
    grad_norms: Tensor


def _stop_agreed(s: _Session, requested: bool) -> bool:
    """Whether to stop before the next step: the request itself in one process (no device
    sync); across processes an all-reduce, so that any process asking stops all of them at
    the same step."""
    if s.accel.num_processes == 1:
        return requested
    flag = torch.tensor([float(requested)], device=s.fields.device)
    return bool(s.accel.reduce(flag, "mean").item() > 0)


def _step(s: _Session, active: list[str]) -> _Done:
    """One optimizer step of every network in ``active``.

    Nothing is read back to the host: the losses and gradient norms stay on the device
    until :func:`_settle`, so on a GPU the host queues the next steps while this one runs.
    """
    cfg, accel = s.cfg, s.accel
    batches = {n: _draw(s, n) for n in active}
    with accel.autocast():
        losses = s.wrapped(batches)
    accel.backward(sum(losses.values()))
    accel.unscale_gradients()  # once for all optimizers (fp16 loss scaling)
    norms = []
    for n in active:
        net = s.model.nets[n]
        norms.append(torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip))
        for group in s.opts[n].param_groups:
            group["lr"] = _lr(cfg, s.steps[n] + 1)
        s.opts[n].step()
        s.opts[n].zero_grad(set_to_none=True)
        s.emas[n].update(net, s.steps[n], cfg.ema_decay)
        s.steps[n] += 1
    return _Done(
        steps={n: s.steps[n] for n in active},
        losses=torch.stack([losses[n] for n in active]).detach().float(),
        grad_norms=torch.stack(norms).detach().float(),
    )


def _settle(s: _Session, done: list[_Done]) -> dict[str, float]:
    """Read back the steps made since the last call (one host sync, losses averaged over
    the processes), check each in order and return the last one's record; ``done`` is
    emptied.

    A non-finite loss or gradient, or a loss above ``train.max_loss``, raises
    :class:`TrainingDiverged` naming the first step where it happened. The loop settles
    before every checkpoint, so weights a bad step touched are never saved.
    """
    if not done:
        return {}
    local = torch.cat([torch.cat([d.losses, d.grad_norms]) for d in done])
    values = s.accel.reduce(local, "mean").tolist()
    record: dict[str, float] = {}
    at = 0
    for d in done:
        names = list(d.steps)
        loss_vals = dict(zip(names, values[at : at + len(names)], strict=True))
        norm_vals = dict(zip(names, values[at + len(names) : at + 2 * len(names)], strict=True))
        at += 2 * len(names)
        for n in names:
            v, g = loss_vals[n], norm_vals[n]
            if not math.isfinite(v) or v > s.cfg.max_loss:
                raise _diverged(
                    s,
                    f"loss of network {n!r} is {v} at step {d.steps[n]} (limit "
                    f"train.max_loss={s.cfg.max_loss}); stopped; the last good checkpoint is "
                    f"kept in {s.run_dir / 'model'}",
                )
            if not math.isfinite(g):
                raise _diverged(
                    s,
                    f"gradient of network {n!r} is {g} at step {d.steps[n]}; stopped; the "
                    f"last good checkpoint is kept in {s.run_dir / 'model'}",
                )
        s.last_loss.update(loss_vals)
        record = {
            **{f"loss/{n}": v for n, v in loss_vals.items()},
            **{f"grad_norm/{n}": v for n, v in norm_vals.items()},
        }
    done.clear()
    return record


def _checkpoint(s: _Session, event: str) -> None:
    s.accel.wait_for_everyone()
    if s.main:
        names = s.model.config.names
        ema_all = {f"{n}.{k}": v for n in names for k, v in s.emas[n].shadow.items()}
        for n in s.selected:
            s.opt_states[n] = s.opts[n].state_dict()
        save_checkpoint(
            s.run_dir,
            s.model,
            ema=ema_all,
            optimizers=s.opt_states,
            steps=s.steps,
            run_config=s.run.to_dict(),
        )
        s.log({"event": event, "steps": dict(s.steps), "time": time.time()})
    s.accel.wait_for_everyone()


class _CtrlC:
    """The first Ctrl-C asks the loop to stop after a final checkpoint; a second one
    interrupts at once. Restores the previous handler on exit."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _CtrlC:
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def train(
    run: RunConfig,
    run_dir: str | os.PathLike[str],
    *,
    should_stop: Callable[[dict[str, int]], bool] | None = None,
) -> TrainResult:
    """Train (or resume) the run in ``run_dir``; see the module docstring.

    ``should_stop(steps)`` is polled before every step (tests use it to simulate Ctrl-C).
    """
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    with contextlib.ExitStack() as stack:
        try:
            s = _setup(run, run_dir, stack)
        except BaseException:
            if created:  # a run that failed to start leaves no empty directory behind
                _remove_if_unused(run_dir)
            raise
        return _loop(s, should_stop)


def _remove_if_unused(run_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (run_dir / LOCK).unlink(missing_ok=True)
        run_dir.rmdir()  # only if nothing else was written


def _loop(s: _Session, should_stop: Callable[[dict[str, int]], bool] | None) -> TrainResult:
    """Step every active network until each reaches ``train.steps`` or a stop is asked."""
    from tqdm import tqdm

    cfg = s.cfg
    if s.main:
        print(
            startup_summary(
                data=s.data,
                model=s.model,
                augment=s.periodic,
                steps=s.steps,
                target=cfg.steps,
                selected=s.selected,
                device=s.fields.device,
                processes=s.accel.num_processes,
                resumed=s.resumed,
            ),
            flush=True,
        )
    active = [n for n in s.selected if s.steps[n] < cfg.steps]
    s.log(
        {
            "event": "resume" if s.resumed else "start",
            "steps": dict(s.steps),
            "target": cfg.steps,
            "networks": list(s.selected),
            "processes": s.accel.num_processes,
            "device": str(s.accel.device),
            "time": time.time(),
        }
    )
    start = min((s.steps[n] for n in s.selected), default=cfg.steps)
    bar = tqdm(
        total=cfg.steps,
        initial=min(start, cfg.steps),
        disable=not (s.main and cfg.progress),
        desc="train",
        dynamic_ncols=True,
    )
    interrupted = False
    pending: list[_Done] = []  # steps made since the last host sync
    record: dict[str, float] = {}
    t_last, s_last = time.perf_counter(), start
    try:
        with _CtrlC() as ctrl_c:
            while active:
                rebalance()  # share the cores with wsgm jobs started or ended meanwhile
                requested = bool(should_stop and should_stop(s.steps)) or ctrl_c.requested
                if _stop_agreed(s, requested):
                    interrupted = True
                    break
                pending.append(_step(s, active))
                done = min(s.steps[n] for n in active)
                bar.update(done - bar.n)
                active = [n for n in active if s.steps[n] < cfg.steps]
                checkpoint = bool(active) and done % cfg.checkpoint_every == 0
                if done % cfg.log_every == 0 or checkpoint:
                    record = _settle(s, pending)  # the only host sync of the loop
                    last = [n for n in s.selected if n in s.last_loss]
                    if last:
                        mean = sum(s.last_loss[n] for n in last) / len(last)
                        bar.set_postfix(loss=f"{mean:.4f}")
                if done % cfg.log_every == 0:
                    now = time.perf_counter()
                    rate = (done - s_last) / max(now - t_last, 1e-9)
                    t_last, s_last = now, done
                    s.log(
                        {"step": done, "time": time.time(), "steps_per_s": rate, **record}
                        | {"lr": _lr(cfg, done)}
                    )
                if checkpoint:
                    _checkpoint(s, "checkpoint")
            _settle(s, pending)
            _checkpoint(s, "stop" if interrupted else "done")
    finally:
        bar.close()
    if interrupted and s.main:
        print(f"stopped at steps {s.steps}; the same command resumes", flush=True)
    return TrainResult(steps=dict(s.steps), interrupted=interrupted, last_loss=dict(s.last_loss))


def _sub(state: dict[str, Tensor], name: str) -> dict[str, Tensor]:
    prefix = name + "."
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
