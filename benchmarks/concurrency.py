"""Two wsgm jobs on one machine: do they keep the throughput of one job alone?

Runs the same small ``wsgm train`` (a 16x16 WSGM on Gaussian fields, ``--train-steps``
optimizer steps) once alone, then twice at the same time, each in its own process and run
directory, under two thread policies:

- ``fair share`` (the default, :mod:`wsgm.cpu`): no ``--threads``, no ``WSGM_THREADS``;
  each job takes its share of the usable cores among the running wsgm jobs;
- ``2 threads each``: ``--threads 2`` for both (what every job did before: one thread per
  core each, so two jobs on 2 cores fight for them).

Throughput of a pair = 2 x steps / the slower job's wall time; the table gives it relative
to one job alone (the goal: >= 0.9). Wall times include start-up (~5 s). Prints a table;
``--out F.json`` writes the numbers. Run it on an otherwise idle machine.

    python benchmarks/concurrency.py --steps 120 --out concurrency.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _train(data: Path, run: Path, steps: int, threads: int | None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "wsgm.cli", "train", "--data", str(data), "--run-dir", str(run)]
    cmd += ["--train-steps", str(steps), "--train-batch", "32", "--no-progress", "--seed", "0"]
    cmd += ["--set", "unet.base_channels=16", "--set", f"train.checkpoint_every={steps}"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k not in ("WSGM_THREADS", "OMP_NUM_THREADS")}
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _wall(procs: list[subprocess.Popen[str]]) -> list[float]:
    t0 = time.perf_counter()
    out = [0.0] * len(procs)
    pending = set(range(len(procs)))
    while pending:
        for i in list(pending):
            if procs[i].poll() is not None:
                out[i] = time.perf_counter() - t0
                pending.discard(i)
                if procs[i].returncode != 0:
                    raise SystemExit(f"wsgm train failed: {procs[i].stderr.read()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.05)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=120, help="optimizer steps per job")
    ap.add_argument("--out", help="write the numbers as JSON here")
    args = ap.parse_args()
    from wsgm.cpu import usable_cores

    root = Path(tempfile.mkdtemp(prefix="wsgm-concurrency-"))
    data = root / "g.npz"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgm.cli",
            "data",
            "gaussian",
            "--size",
            "16",
            "--n",
            "512",
            "--out",
            str(data),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    rows = []
    for policy, threads in (("fair share (default)", None), ("2 threads each", 2)):
        alone = _wall([_train(data, root / f"a-{threads}", args.steps, threads)])[0]
        pair = _wall([_train(data, root / f"p{i}-{threads}", args.steps, threads) for i in (0, 1)])
        ratio = (2 * args.steps / max(pair)) / (args.steps / alone)
        rows.append({"policy": policy, "alone_s": alone, "pair_s": pair, "throughput": ratio})
    print(f"{usable_cores()} usable cores, {args.steps} optimizer steps per job (16x16 WSGM)")
    print("| policy | one job alone (s) | two jobs at once (s each) | pair throughput / one |")
    print("|---|---:|---:|---:|")
    for r in rows:
        pair = " / ".join(f"{t:.1f}" for t in r["pair_s"])
        print(f"| {r['policy']} | {r['alone_s']:.1f} | {pair} | {r['throughput']:.2f} |")
    if args.out:
        Path(args.out).write_text(
            json.dumps({"cores": usable_cores(), "steps": args.steps, "rows": rows}, indent=2)
            + "\n"
        )


if __name__ == "__main__":
    main()
