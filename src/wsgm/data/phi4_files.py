"""φ⁴ data files: resumable writing, shards for array jobs, and merging shards.

A run of ``wsgm data phi4 --out FILE`` keeps its finished configurations and the chains'
states (with their random-generator states) in ``FILE.partial.npz``, written atomically
every ``checkpoint_seconds``; running the same command again continues from there and the
final file is identical to that of an uninterrupted run. ``--shard K/N`` makes the K-th of
N disjoint parts with independent seeds; :func:`merge_phi4` joins them after checking that
they belong together. The sampler itself is :mod:`wsgm.data.phi4`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WSGMError
from ..fileio import atomic_write, check_partial_key, partial_path, partial_writer, read_partial
from . import phi4_kernels as K
from .io import FieldData, load_fields, save_fields
from .phi4 import (
    DEFAULT_BETA_C,
    DEFAULT_LAM,
    ChainState,
    MCMCConfig,
    Phi4Params,
    _check_int,
    _interleave,
    _progress_bar,
    _set_threads,
    base_meta,
    default_workers,
    finish_meta,
    init_chains,
    measure_spacing,
    parse_shard,
    produce,
    seed_sequence,
    shard_count,
    thermalize,
)

__all__ = ["write_phi4", "merge_phi4", "partial_path"]


_STATE_NAMES = tuple(f.name for f in fields(ChainState))  # the names of ChainState.arrays()
_PARTIAL_WHAT = "`wsgm data phi4` command"


def _write_partial(
    path: Path,
    key: dict[str, Any],
    pilot: dict[str, Any],
    state: ChainState,
    done: np.ndarray,
    obs: np.ndarray,
) -> None:
    contents = {"pilot": pilot, "done": done, "obs": obs, **state.arrays()}
    atomic_write(path, partial_writer(key, contents))


def _read_partial(
    path: Path,
) -> tuple[dict[str, Any], dict[str, Any], ChainState, np.ndarray, np.ndarray]:
    key, saved = read_partial(
        path, None, names=("pilot", "done", "obs", *_STATE_NAMES), what=_PARTIAL_WHAT
    )
    state = ChainState.from_arrays(saved)
    return key, saved["pilot"], state, np.asarray(saved["done"]), np.asarray(saved["obs"])


def write_phi4(
    path: str | os.PathLike[str],
    n: int,
    *,
    size: int,
    beta: float = DEFAULT_BETA_C,
    lam: float = DEFAULT_LAM,
    seed: int = 0,
    workers: int | None = None,
    chains: int | None = None,
    shard: tuple[int, int] = (1, 1),
    config: MCMCConfig | None = None,
    progress: bool = True,
    checkpoint_seconds: float = 30.0,
    overwrite: bool = False,
) -> Path:
    """Sample shard K/N of ``n`` configurations into ``path`` (``save_fields`` format), resumably.

    While running, ``FILE.partial.npz`` holds the finished configurations and the chains'
    exact states (fields, RNG words, tuning); it is rewritten atomically every
    ``checkpoint_seconds``. Rerunning the same call continues from it, and the final file is
    identical to an uninterrupted run. ``chains=None`` takes the chain count of an existing
    partial file, else ``workers``.
    """
    params = Phi4Params(size=size, beta=beta, lam=lam)
    config = config or MCMCConfig()
    n = _check_int("n", n, minimum=1)
    seed = _check_int("seed", seed, minimum=0)
    shard = parse_shard(f"{shard[0]}/{shard[1]}")
    count = shard_count(n, shard)
    if count == 0:
        raise WSGMError(
            f"n={n} is smaller than the number of shards {shard[1]}: shard "
            f"{shard[0]}/{shard[1]} would be empty"
        )
    workers = default_workers() if workers is None else _check_int("workers", workers, minimum=1)
    out = Path(path)
    if out.exists() and not overwrite:
        raise WSGMError(f"{out} already exists; choose another --out or pass --overwrite")
    part = partial_path(out)
    saved = _read_partial(part) if part.exists() else None
    if chains is None:
        chains = int(saved[2].chains) if saved is not None else workers
    chains = _check_int("chains", chains, minimum=1)
    key = json.loads(
        json.dumps(
            base_meta(params, config, n=n, seed=seed, chains=chains, shard=shard), sort_keys=True
        )
    )
    _set_threads(workers)
    if saved is not None:
        old_key, pilot, state, done, obs = saved
        check_partial_key(part, old_key, key, what=_PARTIAL_WHAT)
    else:
        state = init_chains(params, chains, seed_sequence(seed, shard))
        thermalize(state, params, config)
        pilot = measure_spacing(state, params, config)
        done = np.empty((chains, 0, size, size), dtype=np.float32)
        obs = np.empty((chains, 0, K.N_OBS))
        _write_partial(part, key, pilot, state, done, obs)
    per_chain = -(-count // chains)
    bar = _progress_bar(count, min(count, done.shape[0] * done.shape[1]), progress)
    last = time.monotonic()

    def on_chunk(d: np.ndarray, o: np.ndarray) -> None:
        nonlocal last
        if bar is not None:
            bar.n = min(count, d.shape[0] * d.shape[1])
            bar.refresh()
        if time.monotonic() - last >= checkpoint_seconds and d.shape[1] < per_chain:
            _write_partial(part, key, pilot, state, d, o)
            last = time.monotonic()

    try:
        done, obs = produce(
            state,
            params,
            per_chain=per_chain,
            spacing=pilot["spacing"],
            done=done,
            obs_done=obs,
            on_chunk=on_chunk,
        )
    finally:
        if bar is not None:
            bar.close()
    meta = {**key, "n_shard": count}
    meta.update(finish_meta(pilot, obs, params, config, per_chain))
    save_fields(out, _interleave(done, count), meta)
    part.unlink(missing_ok=True)
    return out


_IDENTITY = ("source", "generator", "action", "params", "size", "n", "seed", "chains", "config")


def merge_phi4(
    parts: list[str | os.PathLike[str]], out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Join the shard files of one run (same action, parameters, size, seed, N) into ``out``.

    Refuses parts of different runs, duplicated shards and incomplete sets (naming the
    missing shards). Output order: shard 1, 2, ..., N.
    """
    if not parts:
        raise WSGMError("merge needs at least one part file")
    out = Path(out)
    if out.exists() and not overwrite:
        raise WSGMError(f"{out} already exists; choose another --out or pass --overwrite")
    loaded = [(Path(p), load_fields(p)) for p in parts]
    first_path, first = loaded[0]
    by_k: dict[int, tuple[Path, FieldData]] = {}
    total = None
    for p, data in loaded:
        if data.meta.get("source") != "phi4" or "shard" not in data.meta:
            raise WSGMError(f"{p} is not a shard written by `wsgm data phi4`")
        for name in _IDENTITY:
            if data.meta.get(name) != first.meta.get(name):
                raise WSGMError(
                    f"{p} and {first_path} do not belong together: they differ in "
                    f"{name} ({data.meta.get(name)!r} vs {first.meta.get(name)!r})"
                )
        k, total_k = parse_shard(data.meta["shard"])
        if total is not None and total_k != total:
            raise WSGMError(f"{p} is a shard of {total_k} parts, {first_path} of {total}")
        total = total_k
        if k in by_k:
            raise WSGMError(f"shard {k}/{total} given twice: {by_k[k][0]} and {p}")
        by_k[k] = (p, data)
    assert total is not None
    missing = [f"{k}/{total}" for k in range(1, total + 1) if k not in by_k]
    if missing:
        raise WSGMError(f"missing shard(s) {', '.join(missing)} of this run")
    ordered = [by_k[k][1] for k in range(1, total + 1)]
    fields = np.concatenate([d.fields for d in ordered])
    if first.meta.get("n") is not None and fields.shape[0] != first.meta["n"]:
        raise WSGMError(
            f"the parts hold {fields.shape[0]} configurations, but the run was "
            f"for n={first.meta['n']}: a part file is truncated or was edited"
        )
    meta = {name: first.meta[name] for name in _IDENTITY if name in first.meta}
    meta.update(
        {
            "hopping": first.meta.get("hopping"),
            "shard": f"merged 1..{total}/{total}",
            "parts": [
                {
                    "shard": d.meta["shard"],
                    "n_shard": d.meta.get("n_shard"),
                    "sweeps": d.meta.get("sweeps"),
                    "tau_int": d.meta.get("tau_int"),
                }
                for d in ordered
            ],
        }
    )
    return save_fields(out, fields, meta)
