"""CPU threads shared between the wsgm jobs of one machine (docs/design.md §8.3).

Two PyTorch processes that each run one thread per core on the same cores do not share
them, they fight: measured on 2 cores, two trainings that each used 2 threads ran 3.8x
slower than one alone (together 0.53x the throughput of one; ``benchmarks/concurrency.py``).
So every wsgm job registers itself in a per-user folder, and a job whose thread count was
not given takes its share of the cores it may use: ``cores // running wsgm jobs`` (at least
1), re-read while it runs (:func:`rebalance`), so a second job started later makes the
first one step back and a job that ends gives its cores back.

The thread count, first match wins: ``--threads N`` of a command, the environment variable
``WSGM_THREADS``, the fair share above — never more than the threads torch has when the
command starts (its default: one per core, or ``OMP_NUM_THREADS``; or what a program that
embeds wsgm chose). Jobs register in ``$WSGM_JOBS_DIR`` (default: a per-user folder in
the temporary directory).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from .errors import WSGMError
from .fileio import pid_alive

__all__ = [
    "ENV",
    "usable_cores",
    "running_jobs",
    "configure_threads",
    "rebalance",
    "job_slot",
    "threads_for_command",
]

ENV = "WSGM_THREADS"
JOBS_DIR_ENV = "WSGM_JOBS_DIR"
_REFRESH = 5.0  # seconds between looks at the other jobs

# "auto": the count is this job's fair share (configure_threads chose it), so rebalance may
# change it; a count the user fixed, or one never configured here (a library user's own
# torch.set_num_threads), is left alone.
_state: dict[str, float | bool] = {"auto": False, "last": 0.0, "cap": 0.0}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers restrict)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _registry() -> Path:
    custom = os.environ.get(JOBS_DIR_ENV)
    d = Path(custom) if custom else Path(tempfile.gettempdir()) / f"wsgm-jobs-{os.getuid()}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def running_jobs() -> int:
    """How many wsgm jobs of this user run now (stale entries of dead jobs are removed)."""
    count = 0
    for entry in _registry().glob("*"):
        if entry.name.isdigit() and pid_alive(int(entry.name)):
            count += 1
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
    return max(count, 1)


def _requested(threads: int | None) -> int | None:
    if threads is not None:
        if threads < 1:
            raise WSGMError(f"--threads must be a positive integer, got {threads}")
        return threads
    env = os.environ.get(ENV)
    if env:
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value < 1:
            raise WSGMError(f"{ENV} must be a positive integer, got {env!r}")
        return value
    return None


def _fair_share() -> int:
    share = max(1, usable_cores() // running_jobs())
    return min(share, int(_state["cap"])) if _state["cap"] else share


def configure_threads(threads: int | None = None) -> int:
    """Set torch's CPU threads: ``threads``, else ``$WSGM_THREADS``, else the fair share of
    the usable cores among the running wsgm jobs. Returns the count set."""
    fixed = _requested(threads)
    _state["cap"] = torch.get_num_threads()  # the ceiling of the fair share
    _state["auto"] = fixed is None
    n = fixed if fixed is not None else _fair_share()
    torch.set_num_threads(n)
    _state["last"] = time.monotonic()
    return n


def rebalance() -> None:
    """Re-take the fair share if :func:`configure_threads` chose it (cheap: looks every few
    seconds). Called by the long loops (training steps, sampling batches, sweep points)."""
    if not _state["auto"]:
        return
    now = time.monotonic()
    if now - float(_state["last"]) < _REFRESH:
        return
    _state["last"] = now
    n = _fair_share()
    if n != torch.get_num_threads():
        torch.set_num_threads(n)


@contextlib.contextmanager
def threads_for_command(threads: int | None) -> Iterator[int]:
    """:func:`configure_threads` for the duration of a command; afterwards the previous
    torch thread count is back and :func:`rebalance` leaves it alone (a program that runs
    several commands in one process, tests included, sees no change outliving a command)."""
    before = torch.get_num_threads()
    try:
        yield configure_threads(threads)
    finally:
        _state["auto"] = False
        torch.set_num_threads(before)


@contextlib.contextmanager
def job_slot() -> Iterator[Path | None]:
    """Register this process as a running wsgm job for the duration of the block."""
    entry = _registry() / str(os.getpid())
    try:
        entry.touch()
    except OSError:  # a read-only temp folder: run unregistered
        yield None
        return
    try:
        yield entry
    finally:
        with contextlib.suppress(OSError):
            entry.unlink()
