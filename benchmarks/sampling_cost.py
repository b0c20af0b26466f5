"""Wall time per sample of SGM and WSGM at a fixed number of steps per scale (Guth et al. 2022, §3).

Both models use the default UNets of ``wsgm train`` with the same width (``--width``); the
WSGM has J levels down to an 8x8 coarsest grid. Random-init networks are timed (the cost of
a network does not depend on its weights). The WSGM's detail bands of scale j live on
(L/2^j)^2 grids, so at equal N its cost is linear in the number of pixels and about 1/3 of
the SGM's (docs/design.md §1.3). Prints a table; ``--out FILE`` writes the JSON
``{sizes, sgm_seconds, wsgm_seconds, slope_wsgm, ratio, ...}``.

    OMP_NUM_THREADS=1 python benchmarks/sampling_cost.py --out sampling_cost.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from wsgm.fileio import atomic_write
from wsgm.grids import make_grid
from wsgm.models import build_model, compute_stats
from wsgm.training.config import RunConfig, apply_overrides
from wsgm.training.defaults import model_config_for


def time_per_sample(
    kind: str, size: int, *, steps: int, batch: int, width: int, repeats: int
) -> float:
    run = apply_overrides(RunConfig(), [f"model.kind={kind}", f"unet.base_channels={width}"])
    cfg = model_config_for(run, channels=1, size=(size, size), kind="field", periodic=True)
    stats = compute_stats(torch.randn(4, 1, size, size), wavelet=cfg.wavelet, levels=cfg.levels)
    torch.manual_seed(0)
    model = build_model(cfg, stats).eval()
    grid = make_grid("uniform", steps)
    model.sample(batch, sampler="euler", grids=make_grid("uniform", 2))  # warm-up
    best = float("inf")
    for r in range(repeats):
        g = torch.Generator().manual_seed(r)
        t0 = time.perf_counter()
        model.sample(batch, sampler="euler", grids=grid, generator=g)
        best = min(best, time.perf_counter() - t0)
    return best / batch


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="16,32,64,128")
    p.add_argument("--steps", type=int, default=16, help="sampler steps N per scale")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--width", type=int, default=32, help="UNet base channels (both models)")
    p.add_argument("--repeats", type=int, default=2, help="best of this many timed runs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sizes = [int(s) for s in a.sizes.split(",")]
    sgm, wsgm = [], []
    print(f"{'L':>5} {'SGM s/sample':>13} {'WSGM s/sample':>14} {'WSGM/SGM':>9}")
    for L in sizes:
        kw = dict(steps=a.steps, batch=a.batch, width=a.width, repeats=a.repeats)
        s, w = time_per_sample("sgm", L, **kw), time_per_sample("wsgm", L, **kw)  # type: ignore[arg-type]
        sgm.append(s)
        wsgm.append(w)
        print(f"{L:>5} {s:>13.4f} {w:>14.4f} {w / s:>9.3f}", flush=True)
    pixels = np.array(sizes, dtype=float) ** 2
    slope = float(np.polyfit(np.log(pixels), np.log(wsgm), 1)[0])
    slope_sgm = float(np.polyfit(np.log(pixels), np.log(sgm), 1)[0])
    ratio = wsgm[-1] / sgm[-1]
    print(f"log-log slope vs pixels: WSGM {slope:.3f} (target <= 1.15), SGM {slope_sgm:.3f}")
    print(f"WSGM/SGM time at L={sizes[-1]}: {ratio:.3f} (target <= 0.6)")
    if a.out:
        result = {
            "sizes": sizes,
            "sgm_seconds": sgm,
            "wsgm_seconds": wsgm,
            "slope_wsgm": slope,
            "slope_sgm": slope_sgm,
            "ratio": ratio,
            "steps": a.steps,
            "batch": a.batch,
            "width": a.width,
            "threads": a.threads,
            "sampler": "euler",
        }
        atomic_write(
            Path(a.out), lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
        )
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
