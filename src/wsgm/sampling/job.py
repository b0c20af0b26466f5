"""Resumable sampling of many batches to one file: ``OUT.partial.npz`` keeps finished batches.

Batch b is drawn with a generator seeded by (seed, b) only, so which batches were drawn
before a crash, by which process, does not change any sample. :func:`run_batches` writes
the finished batches to ``OUT.partial.npz`` (atomically: temporary file, fsync, rename) at
most every ``save_every`` seconds; a job killed at any point and started again with the
same command skips the batches found there and gives bitwise the array an uninterrupted
job gives. The partial file records the command (its ``key``) and refuses another one.
The caller deletes it (:func:`discard_partial`) once the final output is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..cpu import rebalance
from ..errors import WSGMError
from ..fileio import (
    atomic_write,
    exclusive_lock,
    partial_path,
    partial_writer,
    read_partial,
    remove_dead_temporaries,
)
from ..samplers import Callback
from .spec import derive_seed

__all__ = [
    "batch_seed",
    "partial_path",
    "tensor_fingerprint",
    "run_batches",
    "discard_partial",
]


def batch_seed(seed: int, batch: int) -> int:
    """The seed of batch ``batch``: the one seed rule, :func:`~wsgm.sampling.spec.derive_seed`."""
    return derive_seed(seed, batch)


def tensor_fingerprint(state: dict[str, Tensor]) -> str:
    """SHA-256 of the names, dtypes, shapes and bytes of ``state`` (identifies the weights)."""
    h = hashlib.sha256()
    for k in sorted(state):
        v = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{v.dtype}|{tuple(v.shape)}|".encode())
        h.update(v.reshape(-1).view(torch.uint8).numpy().tobytes() if v.numel() else b"")
    return h.hexdigest()


def _read_partial(path: Path, key: dict[str, Any]) -> dict[int, np.ndarray]:
    _, saved = read_partial(path, key, names=("index", "samples"), what="sampling command")
    index = np.asarray(saved["index"], dtype=np.int64)
    samples = np.asarray(saved["samples"], dtype=np.float32)
    return {int(b): samples[i] for i, b in enumerate(index)}


def _write_partial(path: Path, key: dict[str, Any], done: dict[int, np.ndarray]) -> None:
    index = np.array(sorted(done), dtype=np.int64)
    samples = np.stack([done[int(b)] for b in index]).astype(np.float32, copy=False)
    atomic_write(path, partial_writer(key, {"index": index, "samples": samples}))


def _lock_path(partial: Path) -> Path:
    return partial.parent / f".{partial.name}.lock"


def discard_partial(partial: Path | None) -> None:
    """Remove the partial file of a finished job (if any) and its lock file."""
    if partial is not None:
        partial.unlink(missing_ok=True)
        _lock_path(partial).unlink(missing_ok=True)


def run_batches(
    draw: Callable[[int, torch.Generator, Callback | None], Tensor],
    n: int,
    *,
    batch_size: int,
    seed: int,
    device: torch.device,
    out_shape: tuple[int, ...],
    partial: Path | None = None,
    key: dict[str, Any] | None = None,
    save_every: float = 30.0,
    steps_per_batch: int = 0,
    progress: bool = False,
) -> np.ndarray | None:
    """Draw ceil(n / batch_size) batches, split over processes, resuming from ``partial``.

    ``draw(b, generator, callback)`` returns batch b, (batch_size, *out_shape). Process r draws the
    r-th, (r + P)-th, ... of the batches not yet in ``partial``; process 0 collects them,
    saves ``partial`` whenever ``save_every`` seconds have passed since its last save, and
    returns the (n, *out_shape) float32 array; other processes return None. ``key`` (JSON)
    identifies the command; a partial file with another key is refused.

    ``draw``'s third argument is a sampler callback (:mod:`wsgm.samplers`) or None: with
    ``progress``, process 0 shows a bar with an ETA over the ``steps_per_batch`` sampler
    steps of each of its batches (per batch when ``steps_per_batch`` is 0). The partial
    file is written by one process at a time (:func:`wsgm.fileio.exclusive_lock`).
    """
    if n < 1 or batch_size < 1:
        raise WSGMError(f"--n and --sample-batch must be >= 1, got {n} and {batch_size}")
    import torch.distributed as dist
    from tqdm import tqdm

    on = dist.is_available() and dist.is_initialized()
    rank, world = (dist.get_rank(), dist.get_world_size()) if on else (0, 1)
    key = json.loads(json.dumps({**(key or {}), "n": n, "batch_size": batch_size, "seed": seed}))
    # One process writes the partial file at a time (a second `wsgm sample` is refused).
    lock = (
        exclusive_lock(_lock_path(partial), what=f"partial file {partial}")
        if partial is not None and rank == 0
        else contextlib.nullcontext()
    )
    with lock:
        if partial is not None and rank == 0:
            remove_dead_temporaries(partial)
        n_batches = -(-n // batch_size)
        done: dict[int, np.ndarray] = {}
        if partial is not None and partial.exists():
            done = _read_partial(partial, key)
            if any(b >= n_batches or v.shape != (batch_size, *out_shape) for b, v in done.items()):
                raise WSGMError(
                    f"{partial} holds batches of another shape; delete it to start over"
                )
        if on:
            dist.barrier()  # every process has read the same partial file before process 0 writes
        pending = [b for b in range(n_batches) if b not in done]
        last_save = time.monotonic()
        mine_count = len(pending[rank::world])
        bar = tqdm(
            total=mine_count * max(steps_per_batch, 1),
            desc="sample",
            unit="step" if steps_per_batch else "batch",
            disable=not (progress and rank == 0),
            dynamic_ncols=True,
        )
        tick = (lambda _: bar.update(1)) if progress and rank == 0 and steps_per_batch else None
        for r in range(-(-len(pending) // world)):
            mine = r * world + rank
            b = pending[mine] if mine < len(pending) else -1
            rebalance()
            if b >= 0:
                g = torch.Generator(device=device).manual_seed(batch_seed(seed, b))
                x = draw(b, g, tick).float()
                if not steps_per_batch:
                    bar.update(1)
            else:
                x = torch.zeros(batch_size, *out_shape, device=device)
            if world > 1:
                xs = [torch.zeros_like(x) for _ in range(world)]
                dist.all_gather(xs, x.contiguous())
                first = r * world
                got = [(pending[first + q], xs[q]) for q in range(min(world, len(pending) - first))]
            else:
                got = [(b, x)]
            if rank == 0:
                for bi, xi in got:
                    done[bi] = xi.cpu().numpy()
                if partial is not None and time.monotonic() - last_save >= save_every:
                    _write_partial(partial, key, done)
                    last_save = time.monotonic()
        bar.close()
        if on:
            dist.barrier()  # no process leaves while another is still in a collective
        if rank != 0:
            return None
        out = np.concatenate([done[b] for b in range(n_batches)])[:n]
        return np.ascontiguousarray(out, dtype=np.float32)
