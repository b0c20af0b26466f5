"""Where a training step's time goes: the preset's networks against the same loop with
networks too small to cost anything, so the difference is arithmetic and the rest is the
per-step overhead (Python, kernel launches, host syncs, the optimizer and EMA loops).

On one H200 (2026-12-04) the phi4 preset trained at 42 ms/step (SGM, L = 16) to 111 ms/step
(WSGM, L = 32), only 2.5-4x faster than 2 CPU cores: this script says how much of a step is
overhead on the machine it runs on.

    python benchmarks/train_step_overhead.py --sizes 16,32 --steps 60 --threads 2

Prints one row per (size, model, network width): ms per step (median over the logged
intervals after the first), and the overhead share = ms of the smallest network / ms of the
preset's. Uses the real training loop (``wsgm.training.loop.train``) on Gaussian fields
(the step's cost does not depend on the data).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from wsgm.data.io import save_fields
from wsgm.experiments.presets import preset_for
from wsgm.training.loop import train

TINY = {"channels": 4, "batch": 2}


def ms_per_step(size: int, kind: str, *, channels: int, batch: int, steps: int, cpu: bool) -> float:
    """Median ms per optimizer step of the phi4 preset's run (``kind``, width ``channels``,
    batch ``batch``) over ``steps`` steps, logged every 10 steps, the first interval dropped."""
    preset = preset_for("phi4").replace(size=size, base_channels=channels, train_batch=batch)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "fields.npz"
        rng = np.random.default_rng(0)
        fields = rng.standard_normal((256, size, size)).astype(np.float32)
        save_fields(data, fields, {"kind": "field", "periodic": True})
        run = preset.run_config(kind, str(data), cpu=cpu, progress=False)  # WSGM: down to 8x8
        run.train.steps, run.train.log_every = steps, 10
        run.train.checkpoint_every = 10 * steps  # no checkpoint inside the timed steps
        run.train.warmup_steps = 1
        train(run, Path(tmp) / "run")
        records = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").open()]
    rates = [r["steps_per_s"] for r in records if "steps_per_s" in r][1:]
    return 1000.0 / statistics.median(rates)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="16,32", help="field sizes L (8 x a power of two)")
    p.add_argument("--kinds", default="sgm,wsgm")
    p.add_argument("--steps", type=int, default=60, help="optimizer steps per measurement")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cpu", action="store_true", help="run on the CPU even with a GPU")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    preset = preset_for("phi4")
    dev = "cpu" if args.cpu or not torch.cuda.is_available() else torch.cuda.get_device_name()
    print(f"device: {dev}; phi4 preset width {preset.base_channels}, batch {preset.train_batch}")
    print("| L | model | ms/step, preset | ms/step, width 4 batch 2 | overhead share |")
    print("|---:|---|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            opts = {"steps": args.steps, "cpu": args.cpu}
            full = ms_per_step(
                size, kind, channels=preset.base_channels, batch=preset.train_batch, **opts
            )
            tiny = ms_per_step(size, kind, channels=TINY["channels"], batch=TINY["batch"], **opts)
            print(f"| {size} | {kind} | {full:.1f} | {tiny:.1f} | {tiny / full:.0%} |", flush=True)


if __name__ == "__main__":
    main()
