"""A whole step sweep into a folder: ``sweep.json``, ``sweep.csv`` and the figures.

:func:`run_sweep` is what ``wsgm eval`` and every reproduction run: sample every model at
every N, measure against the suite's reference half, write the results and the PNGs
(``error_vs_steps.png``, ``error_vs_time.png``, ``samples_<label>.png``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..models.base import ScoreModel
from ..sampling.spec import DEFAULT, SamplingSpec
from .plots import (
    plot_error_vs_cost,
    plot_error_vs_steps,
    plot_error_vs_time,
    plot_sample_grid,
    plot_spectra,
)
from .results import sweep_dict, write_sweep
from .sweep import DEFAULT_STEPS, MetricSuite, sweep

__all__ = ["run_sweep", "FIGURES"]

FIGURES = {
    "error_vs_steps.png": "Error against the number of sampler steps N; dashed: noise floor "
    "(data vs data), grey band: within 2x of it.",
    "error_vs_time.png": "Error against the measured sampling time per sample.",
    "error_vs_cost.png": "Error against network evaluations per sample weighted by the "
    "pixels each network works on (full-resolution evaluations: an SGM's N).",
}


def run_sweep(
    models: Mapping[str, ScoreModel],
    suite: MetricSuite,
    out_dir: str | os.PathLike[str],
    *,
    steps: Sequence[int] | Mapping[str, Sequence[int]] = DEFAULT_STEPS,
    spec: SamplingSpec = DEFAULT,
    factor: float = 2.0,
    settings: Mapping[str, Any] | None = None,
    title: str = "",
    theory: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]] | None = None,
    cmap: str = "viridis",
    progress: bool = True,
    repeats: int = 1,
    allocations: Sequence[str] = ("equal",),
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Sweep, write ``sweep.json``/``sweep.csv``/PNGs into ``out_dir``; returns (sweep dict,
    [(figure file, caption)]). ``repeats``: sample draws per N (mean ± standard error);
    ``allocations``: the WSGMs' step allocations to sweep (:func:`wsgm.experiments.sweep.sweep`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = sweep(models, suite, steps=steps, spec=spec, progress=progress, repeats=repeats,
                    allocations=allocations)  # fmt: skip
    meta = {
        "sampler": spec.sampler,
        "grid": spec.grid,
        "samples_per_N": suite.sample_size,
        "reference_fields": 2 * suite.sample_size,
        "seed": spec.seed,
        "sampling": spec.to_dict(),
        **(settings or {}),
    }
    data = sweep_dict(results, factor=factor, settings=meta)
    write_sweep(data, out)
    figures = []
    plot_error_vs_steps(data, out / "error_vs_steps.png", title=title, theory=theory)
    plot_error_vs_time(data, out / "error_vs_time.png", title=title)
    plot_error_vs_cost(data, out / "error_vs_cost.png", title=title)
    figures += list(FIGURES.items())
    reference = getattr(suite, "reference_half", None)
    if reference is not None:
        plot_spectra(data, reference, out / "spectra.png", title=title)
        figures.append(
            (
                "spectra.png",
                "Radial power spectra of the samples at every N "
                "against the reference (left) and their log ratio (right); the "
                "spectrum error is the RMS of the right-hand curves.",
            )
        )
    for label, r in results.items():
        rows: list[tuple[str, np.ndarray]] = []
        if reference is not None:
            rows.append(("data", np.asarray(reference[:8])))
        rows += [(f"N={n}", x) for n, x in zip(r.steps, r.samples, strict=True)]
        name = f"samples_{label}.png"
        plot_sample_grid(
            rows,
            out / name,
            title=f"{label.upper()} samples per N (top row: reference data)",
            cmap=cmap,
        )
        figures.append(
            (name, f"{label.upper()} samples for each N (same seeds); top row: reference data.")
        )
    return data, figures
