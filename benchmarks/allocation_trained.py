"""The cost-aware step allocation with trained networks (issue 12, item 4): a trained WSGM
sampled with N steps at every scale (the paper) and with the same cost spent where steps
are cheap (``--allocate cost``), against the trained SGM of the same size, at equal
pixel-weighted network evaluations and at equal sampling seconds.

Reads a ``wsgm reproduce phi4-scaling`` run (its data, models and Euler/quadratic sweeps of
size L), sweeps the WSGM once more with the cost allocation on the same reference, sample
size, seed and draws, and prints one table per metric plus the equal-cost verdicts:

    python benchmarks/allocation_trained.py --run runs/phi4_scaling --size 32 \\
        --steps 4,8,16,32,64,128 --threads 2 --out docs/results/phi4_scaling/allocation_L32.json

The seconds axis compares only sweeps made on the same device (they are listed).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from wsgm.cpu import threads_for_command
from wsgm.errors import WSGMError
from wsgm.experiments.datasets import make_datasets
from wsgm.experiments.matched_cost import AXES, matched_cost_summary
from wsgm.experiments.presets import preset_for
from wsgm.experiments.runs import load_trained
from wsgm.experiments.sweep import FIELD_METRICS, FieldSuite, sweep_model
from wsgm.fileio import read_json, write_json_atomic
from wsgm.sampling.spec import parse_int_list


def _saved(d: Path, kind: str) -> dict[str, Any]:
    f = d / "sweeps" / f"euler-quadratic-{kind}.json"
    if not f.exists():
        raise WSGMError(f"{f} is missing: run wsgm reproduce phi4-scaling for this size first")
    saved = read_json(f)
    return {**saved["sweep"], "devices": saved.get("devices", [])}


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", default="runs/phi4_scaling", help="a phi4-scaling output folder")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", default="4,8,16,32,64,128", help="N for the cost allocation")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="write the sweeps and verdicts here (.json)")
    args = p.parse_args()
    with threads_for_command(args.threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    d = Path(args.run) / f"L{args.size}"
    result = read_json(Path(args.run) / "scaling.json")
    preset = preset_for("phi4").replace(size=args.size)
    used = result["preset"]
    if (used["n_samples"], used["seed"]) != (preset.n_samples, preset.seed):
        raise WSGMError(f"{args.run} was made with another preset (n_samples, seed) than phi4's")
    sets = make_datasets(d, preset, progress=False)
    ref = sets.reference.fields[: 2 * preset.n_samples]
    saved = {"SGM": _saved(d, "sgm"), "WSGM equal": _saved(d, "wsgm")}
    # the metrics both saved sweeps hold (a sweep made before a metric existed lacks it)
    metrics = [m for m in FIELD_METRICS if all(m in s["metrics"] for s in saved.values())]
    suite = FieldSuite(ref, sample_size=preset.n_samples, metrics=metrics,
                       generator=np.random.default_rng(preset.seed))  # fmt: skip
    wsgm = load_trained(d / "runs" / "wsgm")
    spec = preset.spec.replace(sampler="euler", grid="quadratic", allocation="cost")
    t0 = time.perf_counter()
    cost = sweep_model(wsgm, suite, steps=parse_int_list(args.steps, what="--steps"), spec=spec,
                       repeats=args.repeats, progress=False).to_dict()  # fmt: skip
    took = time.perf_counter() - t0
    cost["devices"] = [str(wsgm.device)]
    models = {**saved, "WSGM cost": cost}
    out: dict[str, Any] = {"size": args.size, "repeats": args.repeats, "sweep_seconds": took,
                           "sweeps": models, "verdicts": {}}  # fmt: skip
    print(f"L = {args.size}, Euler-Maruyama / quadratic, {preset.n_samples} samples per N, "
          f"{args.repeats} draws; cost-allocation sweep {took:.0f} s")  # fmt: skip
    for name, m in models.items():
        print(f"  {name}: swept on {', '.join(m['devices']) or 'an unrecorded device'}")
    for metric in metrics:
        floor = models["SGM"]["noise_floor"][metric]
        print(f"\n{metric} (noise floor {floor:.4g}; mean ± SE; cost = pixel-weighted evals)")
        print("| model | N (per scale) | cost/sample | s/sample | error |")
        print("|---|---|---|---|---|")
        for name, m in models.items():
            for i, n in enumerate(m["steps"]):
                counts = m["step_counts"][i] if "step_counts" in m else [n]
                se = m.get("metrics_se", {}).get(metric, [0.0] * len(m["steps"]))[i]
                print(f"| {name} | {n} {tuple(counts)} | {m['cost_per_sample'][i]:.3g} | "
                      f"{m['seconds_per_sample'][i]:.3g} | {m['metrics'][metric][i]:.4g} "
                      f"± {se:.2g} |")  # fmt: skip
        for name in ("WSGM equal", "WSGM cost"):
            for axis in AXES:
                verdict = matched_cost_summary(models["SGM"], models[name], metric, axis=axis,
                                               name=name)  # fmt: skip
                out["verdicts"].setdefault(metric, {}).setdefault(name, {})[axis] = verdict
                print(f"  {axis}: {verdict}")
    if args.out:
        write_json_atomic(Path(args.out), out)
        print(f"\nwrote {args.out}")
    print(json.dumps(out["verdicts"]["spectrum"], indent=1))


if __name__ == "__main__":
    main()
