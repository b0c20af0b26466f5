"""The mixture twin of a data set and its exact-score step sweep (docs/design.md §3.9).

The Gaussian twin (§3.6, :mod:`wsgm.experiments.gaussian_twin`) shares the data's two-point
function but has a Gaussian magnetization m; critical φ⁴ has a bimodal one. The *mixture
twin* p = ½ N(+μ𝟙, C) + ½ N(−μ𝟙, C) (:mod:`wsgm.gaussian.mixture`) keeps the two-point
function and adds the bimodality, with exact scores at every noise level and every WSGM scale.

**Fit** (:func:`fit_mixture`). With m the field means about the global mean φ̄ and P_tot the
data's spectrum (:func:`wsgm.experiments.gaussian_twin.data_spectrum`, P_tot(0) = d ⟨m²⟩):
the mixture's m is ½ N(±μ, v), v = P_C(0)/d, so ⟨m²⟩ = μ² + v and ⟨m⁴⟩ = μ⁴ + 6μ²v + 3v²,
hence ⟨m⁴⟩ − 3⟨m²⟩² = −2μ⁴:

    μ⁴ = (3⟨m²⟩² − ⟨m⁴⟩)/2 = (3/2) U₄ ⟨m²⟩²,   P_C = P_tot − μ² d δ_{ω,0}

(U₄ the Binder cumulant; μ = 0 when U₄ ≤ 0). So the mixture has exactly the data's two-point
function (k = 0 included) and its ⟨m²⟩, ⟨m⁴⟩ and U₄. Why moments and not the peak of the |m|
histogram: a symmetric mixture needs μ² < ⟨m²⟩ (else P_C(0) ≤ 0), and at criticality the |m|
distribution is skewed towards 0, so its peak lies above √⟨m²⟩ (32×32 φ⁴: peak ≈ 0.67 >
√⟨m²⟩ ≈ 0.60): no mixture with that μ has the data's two-point function. The moment fit has no
bin or bandwidth to choose. The peak is recorded (``abs_m_peak``) for comparison.

**Sweep** (:func:`mixture_twin_sweep`). Both twins (``"mixture"`` and ``"gaussian"``, the
latter the mixture with μ = 0 and P_C = P_tot) are sampled with their exact scores through the
real :func:`wsgm.models.sgm.sgm_sample` and :func:`wsgm.models.wsgm.wsgm_sample`
(:func:`sample_exact`) with the sampler and grid of a :class:`wsgm.sampling.SamplingSpec`, N
steps (per scale), n samples, the generator re-seeded with the spec's seed for every N and both
laws (paired draws). Metrics: the spectrum error against the law's exact radial spectrum (the
same for both twins), and magnetization and marginal-histogram W1 against n exact draws A of
the law; their Monte Carlo noise floors are the same metrics of n further exact draws B (§7.4).
Both twins and the samplers with their exact (odd) scores are exactly symmetric under x → −x,
so the share of fields with m > 0 is Binomial(n, ½) at every N: it carries no discretization
error, but for a bimodal m it dominates the plain magnetization W1 (a share off by δ costs ≈
2μδ; at n = 2048 one standard deviation of δ is 0.011). ``abs_magnetization_w1`` and
``abs_histogram_w1`` are the W1 of |m| and of |φ|: equal to the plain W1 of the ±-symmetrized
sets (each set joined with its negation), they keep all of the symmetric law and drop that
noise. Since the mixture changes the law in the zero mode only, and its scores differ from the
Gaussian twin's by a constant field (§3.9), paired samples of the two twins differ by a
constant per field: their spectrum errors agree to rounding, and only m and the pixel histogram
tell them apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import WSGMError
from ..gaussian.mixture import component_spectrum, exact_mixture, moment_mean, sample_mixture
from ..gaussian.scores import ExactWSGM
from ..metrics.distances import histogram_w1, magnetization_w1, wasserstein_1d
from ..metrics.physics import binder_cumulant, magnetization
from ..models.normalization import NormalizationStats
from ..models.sgm import sgm_sample
from ..models.wsgm import wsgm_sample
from ..sampling.spec import SamplingSpec, derive_seed
from ..sde import OU
from .gaussian_twin import _error, _radial, data_spectrum

__all__ = [
    "MixtureFit",
    "fit_mixture",
    "sample_exact",
    "mixture_twin_sweep",
    "LAWS",
    "MODELS",
    "METRICS",
]

LAWS = ("mixture", "gaussian")
MODELS = ("sgm", "wsgm")
D = torch.float64
METRICS = (
    "spectrum",
    "magnetization_w1",
    "abs_magnetization_w1",
    "histogram_w1",
    "abs_histogram_w1",
)


def _metrics(x: torch.Tensor, ref: np.ndarray, exact_radial: np.ndarray) -> dict[str, float]:
    """The sweep's metrics of samples ``x`` (n, 1, H, W) or (n, H, W) against exact draws
    ``ref`` (n, H, W) and the exact radial spectrum (see the module docstring)."""
    a = x.reshape(x.shape[0], *x.shape[-2:]).cpu().numpy()
    return {
        "spectrum": _error(x, exact_radial),
        "magnetization_w1": magnetization_w1(a, ref),
        "abs_magnetization_w1": wasserstein_1d(
            np.abs(magnetization(a)), np.abs(magnetization(ref))
        ),
        "histogram_w1": histogram_w1(a, ref),
        "abs_histogram_w1": wasserstein_1d(np.abs(a), np.abs(ref)),
    }


@dataclass(frozen=True)
class MixtureFit:
    """The mixture twin of a one-channel data set: component spectrum ``spectrum`` = P_C
    (H, W), mean ``mean`` = μ, the data's spectrum ``total`` = P_tot (the Gaussian twin's),
    and the moments of the data's m behind μ (see the module docstring)."""

    spectrum: np.ndarray
    mean: float
    total: np.ndarray
    m2: float
    m4: float
    binder: float
    abs_m_peak: float

    def summary(self) -> dict[str, float]:
        """The scalars, for a JSON record: μ, ⟨m²⟩, ⟨m⁴⟩, U₄, the |m| histogram peak, the
        component's zero-mode variance of m (P_C(0)/d) and the pixel variance (mean P_tot)."""
        return {
            "mean": self.mean,
            "m2": self.m2,
            "m4": self.m4,
            "binder": self.binder,
            "abs_m_peak": self.abs_m_peak,
            "component_m_var": float(self.spectrum[0, 0] / self.spectrum.size),
            "pixel_var": float(self.total.mean()),
        }


def fit_mixture(fields: np.ndarray, *, mean: float | None = None) -> MixtureFit:
    """The mixture twin of one-channel ``fields`` (n, [1,] H, W): μ by the moments of m
    (or the given ``mean``), P_C = P_tot − μ² d δ_{ω,0} (docs/design.md §3.9)."""
    x = np.asarray(fields, dtype=np.float64)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or x.shape[0] < 2 or 0 in x.shape:
        raise WSGMError(
            f"the mixture twin needs one-channel fields (n >= 2, [1,] H, W), got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise WSGMError("the fields contain NaN or Inf; the mixture twin needs finite fields")
    m = x.mean(axis=(1, 2)) - x.mean()
    m2, m4 = float(np.mean(m**2)), float(np.mean(m**4))
    binder = 1.0 - m4 / (3.0 * m2 * m2) if m2 > 0 else 0.0
    mu = moment_mean(m2, m4) if mean is None else float(mean)
    counts, edges = np.histogram(np.abs(m), bins="auto")
    peak = float(0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1]))
    total = data_spectrum(x)
    return MixtureFit(component_spectrum(total, mu), mu, total, m2, m4, binder, peak)


def twin_law(fit: MixtureFit, law: str) -> tuple[np.ndarray, float]:
    """(component spectrum, mean) of twin ``law``: the mixture, or the Gaussian twin (μ = 0)."""
    if law == "mixture":
        return fit.spectrum, fit.mean
    if law == "gaussian":
        return fit.total, 0.0
    raise WSGMError(f"unknown twin {law!r}; choose from {', '.join(LAWS)}")


def sample_exact(
    ex: ExactWSGM,
    shape: tuple[int, int, int, int],
    *,
    sampler: str | Callable[..., torch.Tensor],
    grid: torch.Tensor,
    generator: torch.Generator,
    wavelet: str,
    sde: OU | None = None,
    device: torch.device | str | None = None,
    coarse_sampler: str | None = None,
) -> torch.Tensor:
    """float64 samples ``shape`` of the exact model ``ex`` through the real samplers:
    :func:`wsgm.models.sgm.sgm_sample` when it has no levels (the SGM of
    :func:`wsgm.gaussian.mixture.exact_mixture`), else :func:`wsgm.models.wsgm.wsgm_sample`
    (the coarsest network with ``coarse_sampler`` if given)."""
    stats = NormalizationStats.from_tensors(ex.stats_tensors())
    kw: dict[str, Any] = {"sampler": sampler, "generator": generator, "device": device, "sde": sde}
    if not ex.cond_score_fns:
        return sgm_sample(ex.coarse_score_fn, stats, shape=shape, grid=grid, dtype=D, **kw)
    fns = ex.cond_score_fns
    return wsgm_sample(
        ex.coarse_score_fn, fns, stats, shape=shape, wavelet=wavelet, grids=grid, dtype=D,
        coarse_sampler=coarse_sampler, **kw,
    )  # fmt: skip


def mixture_twin_sweep(
    fit: MixtureFit,
    steps: Sequence[int],
    spec: SamplingSpec,
    *,
    levels: int,
    wavelet: str,
    T: float = 5.0,
    n: int = 2048,
    laws: Sequence[str] = LAWS,
    device: torch.device | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Metrics of n exact-score samples of each twin in ``laws`` drawn with ``spec``'s sampler,
    grid and seed by the SGM and the WSGM (``levels`` levels of ``wavelet``) at every N of
    ``steps`` (per scale), and their noise floors (see the module docstring). Returns
    ``{"steps", "floors": {law: {metric}}, "errors": {law: {model: {metric: [per N]}}},
    "binder": {law: {model: [per N]}}, "binder_exact": {law}, "seconds": {law: {model: [per
    N]}}}``."""
    dev = torch.device(device or "cpu")
    sde, seed = OU(T), spec.seed
    xs = [int(v) for v in steps]
    h, w = fit.spectrum.shape
    exact_radial = _radial(fit.total)  # both twins' two-point function, k = 0 excluded
    out: dict[str, Any] = {"steps": xs, "floors": {}, "errors": {}, "binder": {}}
    out["binder_exact"], out["seconds"] = {}, {}
    for law in laws:
        p_c, mu = twin_law(fit, law)
        ref = {
            key: sample_mixture(
                p_c,
                mu,
                n,
                generator=torch.Generator(dev).manual_seed(derive_seed(seed, k)),
                device=dev,
            )
            for k, key in ((1, "A"), (2, "B"))
        }
        a_np, b_np = ref["A"].cpu().numpy(), ref["B"].cpu().numpy()
        out["floors"][law] = _metrics(ref["B"], a_np, exact_radial)
        out["binder_exact"][law] = binder_cumulant(np.concatenate([a_np, b_np]))
        exact = {
            m: exact_mixture(p_c, mu, lv, wavelet=wavelet)
            for m, lv in (("sgm", 0), ("wsgm", levels))
        }
        out["errors"][law] = {m: {k: [] for k in METRICS} for m in MODELS}
        out["binder"][law] = {m: [] for m in MODELS}
        out["seconds"][law] = {m: [] for m in MODELS}
        for N in xs:
            ts = spec.grid_of(N, T=T)
            for model in MODELS:
                g = torch.Generator(device=dev).manual_seed(seed)
                t0 = time.perf_counter()
                x = sample_exact(
                    exact[model],
                    (n, 1, h, w),
                    sampler=spec.sampler,
                    grid=ts,
                    generator=g,
                    wavelet=wavelet,
                    sde=sde,
                    device=dev,
                )
                out["seconds"][law][model].append(time.perf_counter() - t0)
                errs = out["errors"][law][model]
                for key, value in _metrics(x, a_np, exact_radial).items():
                    errs[key].append(value)
                out["binder"][law][model].append(binder_cumulant(x[:, 0].cpu().numpy()))
                if progress is not None:
                    progress(
                        f"{law} {model} N={N}: "
                        + ", ".join(f"{k} {v[-1]:.4f}" for k, v in errs.items())
                        + f" ({out['seconds'][law][model][-1]:.1f} s)"
                    )
    return out
