"""Train a WSGM on 32x32 critical phi^4 and measure its samples against the data's noise floor.

Target (issue "Learning"): on 2 CPU cores in under 30 minutes, samples drawn with N = 16
steps per scale whose spectrum error (:func:`wsgm.metrics.distances.spectrum_error`) is
within 3x the data noise floor (the error between two independent halves of a reference set).

Steps: (1) sample training and reference configurations with our MCMC
(:func:`wsgm.data.phi4.sample_phi4`, independent seeds), (2) ``wsgm.training.train`` with
``configs/phi4_32.toml`` (resumes if ``--run-dir`` holds a checkpoint), (3) draw samples
with the EMA weights, (4) print and write (``--out``) the distances and their floors.

    python benchmarks/train_phi4.py --threads 2 --run-dir runs/phi4_32 --out phi4.json

Measured (2 cores, 2026-11-28, v-prediction, DPM-Solver++(2M) on the logsnr grid): 7.3 min
of training, spectrum error 0.0412 = 2.09x the floor 0.0197 at N = 16 (2.36x at N = 8;
Euler-Maruyama on the quadratic grid at N = 16: 7.84x).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from wsgm.data.io import load_fields, save_fields
from wsgm.fileio import atomic_write
from wsgm.grids import make_grid, power
from wsgm.metrics.distances import histogram_w1, magnetization_w1, noise_floor, spectrum_error
from wsgm.models import load_model
from wsgm.training.config import apply_overrides, load_toml
from wsgm.training.loop import train


def phi4_file(path: Path, n: int, seed: int, workers: int) -> np.ndarray:
    if path.exists():
        return load_fields(path).fields
    from wsgm.data.phi4 import sample_phi4

    fields, meta = sample_phi4(n, size=32, seed=seed, workers=workers, progress=False)
    save_fields(path, fields, meta)
    return load_fields(path).fields


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run-dir", default="runs/phi4_32")
    p.add_argument(
        "--config", default=str(Path(__file__).parent.parent / "configs" / "phi4_32.toml")
    )
    p.add_argument("--n-train", type=int, default=4096)
    p.add_argument("--n-ref", type=int, default=2048, help="reference configurations (and samples)")
    p.add_argument("--steps", type=int, help="training steps (default: the config's)")
    p.add_argument("--sample-steps", type=int, default=16, help="sampler steps N per scale")
    p.add_argument("--sampler", default="dpm2m", help="sampler (default dpm2m)")
    p.add_argument("--grid", default="logsnr", help="time grid (default logsnr)")
    p.add_argument("--coarse-steps", type=int, help="steps for the coarsest scale (default N)")
    p.add_argument(
        "--grid-rho", type=float, help="power grid t_k = T (1 - k/N)^rho instead of --grid"
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    run_dir = Path(a.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    data_path = run_dir / "phi4_train.npz"
    phi4_file(data_path, a.n_train, seed=1, workers=a.threads)
    ref = phi4_file(run_dir / "phi4_ref.npz", a.n_ref, seed=2, workers=a.threads)
    t_data = time.perf_counter() - t0

    cfg = load_toml(a.config)
    sets = [f"data={json.dumps(str(data_path))}", *a.overrides]
    if a.steps:
        sets.append(f"train.steps={a.steps}")
    apply_overrides(cfg, sets)
    t0 = time.perf_counter()
    result_steps = train(cfg, run_dir).steps
    t_train = time.perf_counter() - t0

    model = load_model(run_dir)

    def one(n: int) -> torch.Tensor:
        if a.grid_rho:
            return power(n, T=model.sde.T, rho=a.grid_rho)
        return make_grid(a.grid, n, T=model.sde.T)

    grids: torch.Tensor | list[torch.Tensor] = one(a.sample_steps)
    if a.coarse_steps:  # grids indexed by scale: 0 = coarsest, j = details of scale j
        grids = [one(a.coarse_steps)] + [one(a.sample_steps)] * model.config.levels
    t0 = time.perf_counter()
    parts = []
    g = torch.Generator().manual_seed(0)
    for start in range(0, a.n_ref, 256):
        parts.append(
            model.sample(min(256, a.n_ref - start), sampler=a.sampler, grids=grids, generator=g)
        )
    samples = torch.cat(parts).numpy()
    t_sample = time.perf_counter() - t0
    save_fields(run_dir / "samples.npz", samples, {"source": "benchmarks/train_phi4.py"})

    rng = np.random.default_rng(0)
    result: dict[str, object] = {
        "n_train": a.n_train,
        "n_ref": a.n_ref,
        "steps": cfg.train.steps,
        "sample_steps_per_scale": a.sample_steps,
        "grid_rho": a.grid_rho,
        "coarse_steps": a.coarse_steps or a.sample_steps,
        "train_steps_per_network": result_steps,
        "sampler": a.sampler,
        "grid": a.grid,
        "threads": a.threads,
        "seconds_data": t_data,
        "seconds_train": t_train,
        "seconds_sample": t_sample,
    }
    print(f"data {t_data:.0f} s, training {t_train:.0f} s, sampling {t_sample:.0f} s")
    for name, fn in (
        ("spectrum_error", spectrum_error),
        ("histogram_w1", histogram_w1),
        ("magnetization_w1", magnetization_w1),
    ):
        value = fn(samples, ref)
        floor = noise_floor(fn, ref, generator=rng, repeats=5)
        result[name], result[f"{name}_floor"] = value, floor
        print(f"{name:>17}: model {value:.4f}  floor {floor:.4f}  ratio {value / floor:.2f}")
    ratio = float(result["spectrum_error"]) / float(result["spectrum_error_floor"])  # type: ignore[arg-type]
    result["spectrum_ratio"] = ratio
    print(f"spectrum error / noise floor = {ratio:.2f} (target <= 3)")
    if a.out:
        atomic_write(
            Path(a.out), lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
        )


if __name__ == "__main__":
    main()
