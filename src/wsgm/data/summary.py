"""What a data file holds: observables, the reference curves its source predicts, a figure.

Used by ``wsgm data inspect``. :func:`observables` computes, on any batch of fields, the
pixel mean and variance, ⟨|m|⟩, ⟨m²⟩, the susceptibility, the Binder cumulant U₄ and the
radial power spectrum (:mod:`wsgm.metrics.physics`, :mod:`wsgm.metrics.spectrum`).
:func:`reference_for` returns what the theory says for the file's source, where it is
known exactly:

- Gaussian fields (``wsgm data gaussian``): the power spectrum P(η, ξ) of
  :func:`wsgm.gaussian.spectra.power_spectrum` averaged over the same radial shells, a
  N(0, mean P) marginal and a N(0, P₀/V) magnetization (:mod:`wsgm.data.gaussian`);
- φ⁴ at λ = 0 (the free field): the lattice propagator 1/(2 − 2β Σ_μ cos k_μ), with the
  Gaussian marginal and magnetization laws it implies;
- φ⁴ at λ > 0: the critical slope P(k) ∝ k^−(2−η), η = 1/4, drawn as a guide through the
  data at mid k (the 2-d Ising class; U₄* ≈ 0.6107 at the critical point).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WSGMError
from ..fileio import atomic_write
from ..metrics.physics import binder_cumulant
from ..metrics.spectrum import radial_average, radial_power_spectrum
from .io import FieldData, data_kind

__all__ = ["Reference", "observables", "reference_for", "describe", "plot_summary"]

ISING_U4 = 0.6107  # Salas & Sokal (2000), the 2-d Ising universality class
ISING_ETA = 0.25


@dataclass
class Reference:
    """Curves a data set should follow, where its source makes them known."""

    label: str
    spectrum: tuple[np.ndarray, np.ndarray] | None = None  # (k, P(k)) on radial shells
    marginal_variance: float | None = None  # values ~ N(0, this)
    magnetization_variance: float | None = None  # m ~ N(0, this)
    slope: float | None = None  # a power-law guide P ∝ k^slope
    notes: list[str] = field(default_factory=list)


def _finite_samples(fields: np.ndarray, chunk: int = 512) -> np.ndarray:
    """(n, C, *spatial) without the samples that hold NaN/Inf (no copy when there are none)."""
    arr = np.asarray(fields)
    if arr.ndim == 3:
        arr = arr[:, None]
    keep = np.concatenate(
        [
            np.isfinite(arr[s : s + chunk].reshape(len(arr[s : s + chunk]), -1)).all(axis=1)
            for s in range(0, len(arr), chunk)
        ]
        or [np.ones(0, bool)]
    )
    return arr if keep.all() else arr[keep]


def _magnetization(x: np.ndarray) -> np.ndarray:
    """m per sample as :func:`wsgm.metrics.physics.magnetization`, without a float64 copy."""
    return x.reshape(len(x), -1).mean(axis=1, dtype=np.float64)


def observables(fields: np.ndarray, *, chunk: int = 512) -> dict[str, Any]:
    """Summary statistics of a batch (n, C, H, W) or (n, H, W), JSON-ready.

    Samples holding NaN/Inf are left out and counted in ``nonfinite_samples``. Large
    batches are processed ``chunk`` samples at a time (the spectrum is linear in the
    samples), so memory stays near the size of the data.
    """
    x = _finite_samples(fields)
    n_all = len(np.asarray(fields))
    if len(x) == 0:
        raise WSGMError(f"all {n_all} samples contain NaN or Inf; nothing to measure")
    m = _magnetization(x)
    k = power = None
    total = mean = m2_sum = 0.0  # running count, mean and Σ(x − mean)² (Chan et al. merge)
    for start in range(0, len(x), chunk):
        part = x[start : start + chunk]
        k, p = radial_power_spectrum(part)
        power = p * len(part) if power is None else power + p * len(part)
        c = part.astype(np.float64)
        c_mean, c_m2, c_n = float(c.mean()), float(((c - c.mean()) ** 2).sum()), c.size
        delta = c_mean - mean
        m2_sum += c_m2 + delta**2 * total * c_n / (total + c_n)
        mean += delta * c_n / (total + c_n)
        total += c_n
    assert k is not None and power is not None
    try:
        # U₄ depends on m only; a batch of 1-site fields whose value is m has the same U₄.
        u4: float | None = binder_cumulant(m[:, None, None])
    except WSGMError:  # every m is zero: U₄ is undefined, not an error of the file
        u4 = None
    sites = int(x.shape[-1] * x.shape[-2])  # V of physics.susceptibility: sites, not channels
    return {
        "n": int(len(x)),
        "nonfinite_samples": int(n_all - len(x)),
        "mean": mean,
        "variance": m2_sum / total,
        "min": float(x.min()),
        "max": float(x.max()),
        "mean_abs_m": float(np.abs(m).mean()),
        "mean_m2": float((m**2).mean()),
        # χ = V (⟨m²⟩ − ⟨|m|⟩²) as wsgm.metrics.physics.susceptibility
        "susceptibility": float(sites * ((m**2).mean() - np.abs(m).mean() ** 2)),
        "binder_u4": u4,
        "radial_power_spectrum": {"k": k.tolist(), "power": (power / len(x)).tolist()},
    }


def _gaussian_reference(label: str, p2d: np.ndarray, notes: list[str]) -> Reference:
    return Reference(
        label, radial_average(p2d), float(p2d.mean()), float(p2d.flat[0]) / p2d.size, notes=notes
    )


def reference_for(meta: dict[str, Any], spatial: tuple[int, ...]) -> Reference | None:
    """The exact (or guide) curves for a file's ``meta``, or None when none is known."""
    if len(spatial) != 2 or spatial[0] != spatial[1]:
        return None
    size = spatial[0]
    source = meta.get("source")
    if source == "gaussian" and "eta" in meta:
        from ..gaussian.spectra import power_spectrum

        eta, xi = float(meta["eta"]), float(meta.get("xi", 0.0))
        p2d = power_spectrum(size, eta=eta, xi=xi)
        return _gaussian_reference(
            f"theory: η={eta:g}, ξ={xi:g}",
            p2d,
            [f"Gaussian field, exact spectrum P(η={eta:g}, ξ={xi:g})"],
        )
    if source == "phi4":
        params = meta.get("params", {})
        beta, lam = params.get("beta"), params.get("lam")
        if lam == 0 and beta is not None:
            from .phi4 import free_field_propagator

            p2d = free_field_propagator(size, float(beta))
            return _gaussian_reference(
                f"free field β={beta:g}", p2d, ["λ = 0: free field, exact lattice propagator"]
            )
        return Reference(
            "k^-(2-η), η=1/4",
            slope=-(2 - ISING_ETA),
            notes=[f"at the critical point U₄ ≈ {ISING_U4} (2-d Ising class) and P(k) ∝ k^-7/4"],
        )
    return None


def describe(
    data: FieldData,
    path: str | os.PathLike[str],
    obs: dict[str, Any],
    labels: np.ndarray | None = None,
) -> str:
    """A few lines saying what the file holds (shape, meta, value statistics)."""
    f = data.fields
    size_mb = f.nbytes / 2**20
    lines = [
        f"{path}: {f.shape[0]} fields of {' x '.join(map(str, f.shape[1:]))} "
        f"(n, C, *spatial), {f.dtype}, {size_mb:.1f} MiB"
    ]
    for key, value in sorted(data.meta.items()):
        text = repr(value) if not isinstance(value, dict | list) else _short(value)
        lines.append(f"  {key}: {text}")
    if labels is not None:
        classes, counts = np.unique(labels, return_counts=True)
        lines.append(
            f"  labels: {len(labels)} in {len(classes)} classes "
            f"(counts {dict(zip(classes.tolist(), counts.tolist(), strict=True))})"
        )
    lines.append(
        f"values: mean {obs['mean']:.4g}, variance {obs['variance']:.4g}, "
        f"min {obs['min']:.4g}, max {obs['max']:.4g}"
    )
    kind = data_kind(data.meta)
    lines.append(f"kind: {kind or 'not stated (a bare array: give --kind image|field to train)'}")
    if kind != "image":  # the field mean's law is physics for fields, not for images
        u4 = "undefined" if obs["binder_u4"] is None else f"{obs['binder_u4']:.4f}"
        lines.append(
            f"magnetization: <|m|> {obs['mean_abs_m']:.4g}, <m^2> {obs['mean_m2']:.4g}, "
            f"chi {obs['susceptibility']:.4g}, Binder U4 {u4}"
        )
    if obs["nonfinite_samples"]:
        lines.append(f"WARNING: {obs['nonfinite_samples']} samples hold NaN/Inf (left out)")
    return "\n".join(lines)


def _short(value: Any, limit: int = 100) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plot_summary(
    data: FieldData,
    out: str | os.PathLike[str],
    *,
    obs: dict[str, Any] | None = None,
    reference: Reference | None = None,
    examples: int = 6,
) -> Path:
    """Write a PNG: example fields on top; radial spectrum, value and m histograms below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = _finite_samples(data.fields)
    obs = obs or observables(x)
    if x.ndim != 4:
        raise WSGMError(f"a figure needs 2-d fields, got fields of shape {data.fields.shape}")
    fig = Figure(figsize=(12, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 2 * 3)
    shown = min(examples, 6, len(x))
    is_image = data.meta.get("value_range") == [-1.0, 1.0]
    for i in range(shown):
        ax = fig.add_subplot(grid[0, i] if shown > 3 else grid[0, 2 * i : 2 * i + 2])
        _show_field(ax, x[i], is_image)
    k = np.asarray(obs["radial_power_spectrum"]["k"])
    p = np.asarray(obs["radial_power_spectrum"]["power"])
    ax = fig.add_subplot(grid[1, 0:2])
    ax.loglog(k, p, "o-", ms=3, label="data")
    if reference is not None and reference.spectrum is not None:
        ax.loglog(*reference.spectrum, "k--", label=reference.label)
    if reference is not None and reference.slope is not None and len(k) > 2:
        mid = len(k) // 3
        ax.loglog(k, p[mid] * (k / k[mid]) ** reference.slope, "k:", label=reference.label)
    ax.set(xlabel="|k| (grid units)", ylabel="P(k)", title="radial power spectrum")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, 2:4])
    values = x.reshape(-1)
    if values.size > 2_000_000:  # a histogram of 2M values is as smooth as one of all
        values = values[:: values.size // 2_000_000 + 1]
    ax.hist(values, bins=100, density=True, alpha=0.6, label="data")
    var = None if reference is None else reference.marginal_variance
    _gauss_curve(ax, values, var, "N(0, mean P)")
    if is_image:  # saturated pixels (e.g. a black background) would flatten the rest
        ax.set_yscale("log")
    ax.set(xlabel="value", ylabel="density", title="marginal distribution")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, 4:6])
    m = _magnetization(x)
    ax.hist(m, bins=min(60, max(10, len(m) // 20)), density=True, alpha=0.6, label="data")
    var = None if reference is None else reference.magnetization_variance
    _gauss_curve(ax, m, var, "N(0, P₀/V)")
    u4 = "U₄ undefined" if obs["binder_u4"] is None else f"U₄ = {obs['binder_u4']:.3f}"
    ax.set(xlabel="m (field mean)", ylabel="density", title=f"magnetization, {u4}")
    ax.legend(fontsize=8)
    fig.suptitle(
        f"{Path(str(data.meta.get('path', ''))).name or data.meta.get('source', '')}"
        f"  n={len(x)}, shape {tuple(x.shape[1:])}",
        fontsize=10,
    )
    return atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=90))


def _show_field(ax: Any, field_: np.ndarray, is_image: bool) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if field_.shape[0] == 3 and is_image:
        ax.imshow(np.clip((field_.transpose(1, 2, 0) + 1) / 2, 0, 1))
        return
    img = field_[0]
    if is_image:
        ax.imshow(img, cmap="gray", vmin=-1, vmax=1)
    else:
        top = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-top, vmax=top)


def _gauss_curve(ax: Any, sample: np.ndarray, var: float | None, label: str) -> None:
    if var is None or not var > 0:
        return
    t = np.linspace(float(sample.min()), float(sample.max()), 300)
    ax.plot(t, np.exp(-(t**2) / (2 * var)) / math.sqrt(2 * math.pi * var), "k--", label=label)
