"""Exact-score reference curves for a field sweep: the data's Gaussian twin.

The stationary Gaussian field with the same power spectrum as the training data (its
*Gaussian twin*) has exact scores in closed form (:mod:`wsgm.gaussian.scores`), for the SGM and
for every WSGM scale, with the models' own normalizations (the SGM on the field divided by
its pixel standard deviation, the WSGM on per-band normalized wavelet coefficients).
Sampling the twin with the sweep's sampler and time grid, with no network at all, gives the
spectrum error that the discretization alone causes at each N (docs/design.md §3.6, here measured
by the sweep's own metric instead of the KL). For a Gaussian data set (``wsgm reproduce
gaussian``) the twin is the data law itself; for φ⁴ it shares the two-point function, so its
curves show what a perfect network would reach on the spectrum, and the gap between them and
a trained model's markers is the network's error. The twin says nothing about the other
metrics (histogram, magnetization), which see the non-Gaussian part of the law.

The spectrum error of the twin's samples is taken against the twin's exact radial spectrum
(no reference sampling noise); its own Monte Carlo noise is
:func:`twin_noise` (exact twin samples against the exact spectrum at the same sample count).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..errors import WSGMError
from ..gaussian.cross_spectra import lowpass_spectrum
from ..gaussian.scores import exact_wsgm, stationary_score
from ..grids import make_grid
from ..metrics.spectrum import data_spectrum, radial_average
from ..models.normalization import NormalizationStats
from ..models.wsgm import wsgm_sample
from ..samplers import get_sampler
from ..sampling.spec import SamplingSpec
from ..sde import OU

__all__ = [
    "data_spectrum",
    "twin_spectrum_errors",
    "twin_spectrum_errors_exact",
    "twin_noise",
    "twin_scale_energies",
    "twin_unbiased_t_min",
]


def _radial(spec: np.ndarray) -> np.ndarray:
    """Shell means of a 2-d spectrum, k = 0 excluded, as the spectrum error does."""
    return radial_average(spec)[1]


def _error(samples: torch.Tensor, exact_radial: np.ndarray) -> float:
    x = samples.reshape(samples.shape[0], *samples.shape[-2:]).double()
    spec = (torch.fft.fft2(x).abs() ** 2).mean(dim=0).cpu().numpy() / (x.shape[-1] * x.shape[-2])
    return float(np.sqrt(np.mean(np.log(_radial(spec) / exact_radial) ** 2)))


def _sample_exact(
    spec: np.ndarray, n: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """n exact draws of the twin: white noise coloured by sqrt(P) in Fourier."""
    h, w = spec.shape
    z = torch.randn((n, h, w), generator=generator, dtype=torch.float64, device=device)
    amp = torch.as_tensor(np.sqrt(spec), device=device)
    return torch.fft.ifft2(torch.fft.fft2(z) * amp).real


def twin_noise(
    spectrum: np.ndarray, *, n: int = 2048, seed: int = 0, device: torch.device | str | None = None
) -> float:
    """Spectrum error of n exact twin samples against the exact spectrum: the Monte Carlo
    noise level under the curves of :func:`twin_spectrum_errors` at the same ``n``."""
    dev = torch.device(device or "cpu")
    g = torch.Generator(device=dev).manual_seed(seed)
    return _error(
        _sample_exact(np.asarray(spectrum, np.float64), n, g, dev),
        _radial(np.asarray(spectrum, np.float64)),
    )


def twin_spectrum_errors(
    spectrum: np.ndarray,
    steps: Sequence[int],
    *,
    sampler: str | Callable[..., torch.Tensor],
    grid: str,
    levels: int,
    wavelet: str,
    T: float = 5.0,
    n: int = 2048,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> dict[str, tuple[list[int], list[float]]]:
    """``{"sgm": (steps, errors), "wsgm": (steps, errors)}``: spectrum error of n samples of
    the Gaussian twin of ``spectrum`` (H, W) drawn with exact scores, N steps (per scale for
    the WSGM with ``levels`` levels of ``wavelet``), against the exact radial spectrum."""
    spec = np.asarray(spectrum, dtype=np.float64)
    if spec.ndim != 2 or not np.all(np.isfinite(spec)) or np.any(spec <= 0):
        raise ValueError("the twin needs a finite, positive 2-d power spectrum")
    dev = torch.device(device or "cpu")
    run = get_sampler(sampler) if isinstance(sampler, str) else sampler
    sde = OU(T)
    exact_radial = _radial(spec)
    var = float(spec.mean())  # pixel variance (Parseval): the SGM's normalization
    sgm_score = stationary_score(torch.as_tensor(spec / var, device=dev))
    ex = exact_wsgm(spec, levels, wavelet=wavelet)
    stats = NormalizationStats.from_tensors(ex.stats_tensors())
    xs = [int(v) for v in steps]
    out: dict[str, tuple[list[int], list[float]]] = {"sgm": (xs, []), "wsgm": (xs, [])}
    h, w = spec.shape
    for N in xs:
        ts = make_grid(grid, N, T=T, device=dev)
        g = torch.Generator(device=dev).manual_seed(seed)
        z = torch.randn((n, 1, h, w), generator=g, dtype=torch.float64, device=dev)
        x = run(sgm_score, z, ts, generator=g, sde=sde) * var**0.5
        out["sgm"][1].append(_error(x, exact_radial))
        g = torch.Generator(device=dev).manual_seed(seed)
        x = wsgm_sample(
            ex.coarse_score_fn,
            ex.cond_score_fns,
            stats,
            shape=(n, 1, h, w),
            wavelet=wavelet,
            sampler=run,
            grids=ts,
            generator=g,
            device=dev,
            dtype=torch.float64,
            sde=sde,
        )
        out["wsgm"][1].append(_error(x, exact_radial))
    return out


def twin_spectrum_errors_exact(
    spectrum: np.ndarray,
    steps: Sequence[int],
    *,
    sampler: str,
    grid: str,
    levels: int,
    wavelet: str,
    T: float = 5.0,
    t_min: float | None = None,
) -> dict[str, tuple[list[int], list[float]]]:
    """What :func:`twin_spectrum_errors` estimates by Monte Carlo, in closed form
    (docs/design.md §3.7–§3.8): the spectrum error of the Gaussian twin's SGM (at unit pixel
    variance, as trained SGMs see their data) and WSGM with exact scores, per N, on the
    ``grid`` ending at ``t_min`` (None: its default). Exact: no Monte Carlo noise, and seconds
    instead of minutes."""
    from ..gaussian.scaling import Case, Evaluator, GridSpec, SGMCase, WSGMCase
    from ..metrics.spectrum import radial_shells

    spec = np.asarray(spectrum, dtype=np.float64)
    size = int(spec.shape[-1])
    cases: dict[str, Case] = {
        "sgm": SGMCase(size, eta=2.0, xi=0.0, normalize="pixel", shell_index=radial_shells,
                       spectrum=spec),
        "wsgm": WSGMCase(size, levels=levels, eta=2.0, xi=0.0, wavelet=wavelet,
                         shell_index=radial_shells, spectrum=spec),
    }  # fmt: skip
    xs = [int(n) for n in steps]
    out: dict[str, tuple[list[int], list[float]]] = {}
    for label, case in cases.items():
        ev = Evaluator(case, sampler, GridSpec(grid, T, t_min=t_min))
        out[label] = (xs, [float(ev(n)["spectrum"]) for n in xs])
    return out


def twin_scale_energies(
    spectrum: np.ndarray,
    spec: SamplingSpec,
    *,
    levels: int,
    wavelet: str,
    T: float = 5.0,
) -> dict[str, float]:
    """Generated over true energy per scale of the Gaussian twin of ``spectrum`` (H, W)
    sampled by a WSGM with exact scores and ``spec``'s sampler, grid (``t_min`` included) and
    steps (or steps per scale; the coarse sampler and grid if set), in closed form
    (docs/design.md §3.8, §7.10):
    ``{"total", "lowpass", "scale J", ..., "scale 1"}``. ``total`` is ⟨φ²⟩_generated / ⟨φ²⟩
    (Parseval), the sampler's own bias of the first observable a physicist checks;
    ``lowpass`` the coarsest low-pass x_J, ``scale j`` the details of scale j (orthonormal
    wavelets: the energies add up)."""
    from ..gaussian.moments import sampler_moments
    from ..gaussian.spectrum_exact import wsgm_generated_lowpasses
    from ..gaussian.theory import wavelet_problems

    p = np.asarray(spectrum, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise WSGMError("the twin needs a finite, positive, square 2-d power spectrum")
    size = int(p.shape[0])
    problems = wavelet_problems(size, levels, wavelet=wavelet, spectrum=p)
    grids = spec.grids(T=T, levels=levels, size=size)
    # grids: coarsest, scale 1 .. J; problems: scale 1 .. J, coarsest
    per = grids if isinstance(grids, list) else [grids] * (levels + 1)
    ordered = [*per[1:], per[0]]
    coarse = spec.coarse_sampler or spec.sampler
    moments = [
        sampler_moments(prob.variances, ts, sampler=coarse if prob.coarsest else spec.sampler)
        for prob, ts in zip(problems, ordered, strict=True)
    ]
    made = [float(a.sum()) for a in wsgm_generated_lowpasses(problems, moments, wavelet)]
    true = [float(lowpass_spectrum(p, wavelet, j).sum()) for j in range(levels, -1, -1)]
    out = {"total": made[-1] / true[-1], "lowpass": made[0] / true[0]}
    for k in range(1, levels + 1):  # made[k] is x_{J-k}: scale J-k+1's details added
        j = levels - k + 1
        out[f"scale {j}"] = (made[k] - made[k - 1]) / (true[k] - true[k - 1])
    return out


def twin_unbiased_t_min(
    spectrum: np.ndarray,
    spec: SamplingSpec,
    *,
    levels: int,
    wavelet: str,
    T: float = 5.0,
    bounds: tuple[float, float] = (1e-4, 0.1),
    rtol: float = 1e-3,
) -> float:
    """The t_min of ``spec``'s grid at which the Gaussian twin of ``spectrum``, sampled with
    exact scores by ``spec``'s sampler and steps, generates exactly the data's ⟨φ²⟩
    (:func:`twin_scale_energies`' ``total`` = 1), by bisection in log t_min within
    ``bounds`` (to a relative ``rtol``). A later t_min leaves more noise for the final
    Tweedie step to shrink away, so ``total`` falls with t_min; a few-step ODE solver
    overshoots it at a small t_min (docs/design.md §7.10). Raises if ``total`` - 1 has one
    sign over ``bounds``, or if ``spec``'s grid takes no t_min."""
    from ..grids import T_MIN_GRIDS

    if spec.grid not in T_MIN_GRIDS or spec.grid_rho is not None:
        raise WSGMError(
            f"the {spec.grid_label} grid takes no t_min; choose one of "
            f"{', '.join(sorted(T_MIN_GRIDS))}"
        )

    def excess(t_min: float) -> float:
        e = twin_scale_energies(spectrum, spec.replace(t_min=t_min), levels=levels,
                                wavelet=wavelet, T=T)  # fmt: skip
        return e["total"] - 1.0

    lo, hi = (float(b) for b in bounds)
    f_lo, f_hi = excess(lo), excess(hi)
    if f_lo * f_hi > 0:
        raise WSGMError(
            f"no t_min in [{lo:g}, {hi:g}] gives the twin's <phi^2> exactly with "
            f"{spec.sampler} on {spec.grid}: generated/true - 1 is {f_lo:+.4f} at {lo:g} and "
            f"{f_hi:+.4f} at {hi:g}"
        )
    while hi / lo > 1.0 + rtol:
        mid = float(np.sqrt(lo * hi))
        f_mid = excess(mid)
        if f_mid * f_lo > 0:
            lo, f_lo = mid, f_mid
        else:
            hi, f_hi = mid, f_mid
    return float(np.sqrt(lo * hi))
