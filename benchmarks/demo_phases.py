"""Time each phase of ``wsgm demo`` and compare with the estimate it prints first.

    python benchmarks/demo_phases.py                 # runs the demo into a fresh folder
    python benchmarks/demo_phases.py --from runs/demo  # reads a finished demo's timings

Prints one row per phase (data, training sgm, training wsgm, sweep) with the measured
seconds (from the run's ``sweep.json``), the calibrated estimate of
:func:`wsgm.experiments.estimate.estimate` on this machine now, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="src", help="a finished demo folder (default: run one)")
    args = ap.parse_args()
    from wsgm.experiments.estimate import estimate
    from wsgm.experiments.presets import DEMO

    est = estimate(DEMO)
    if args.src:
        out, wall = Path(args.src), None
    else:
        out = Path(tempfile.mkdtemp(prefix="wsgm-demo-")) / "demo"
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "wsgm.cli", "demo", "--out", str(out), "--no-progress"]
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t0
    timings = json.loads((out / "sweep.json").read_text())["timings"]
    print("| phase | measured (s) | estimate (s) | measured / estimate |")
    print("|---|---:|---:|---:|")
    for phase in ("data", "training sgm", "training wsgm", "sweep"):
        got, want = float(timings.get(phase, float("nan"))), est[phase]
        print(f"| {phase} | {got:.0f} | {want:.0f} | {got / want:.2f} |")
    total = sum(float(v) for v in timings.values())
    print(f"| total | {total:.0f} | {est['total']:.0f} | {total / est['total']:.2f} |")
    if wall is not None:
        print(f"wall time of `wsgm demo` (start-up and report included): {wall:.0f} s")


if __name__ == "__main__":
    main()
