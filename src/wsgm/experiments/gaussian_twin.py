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

from ..gaussian.scores import exact_wsgm, stationary_score
from ..grids import make_grid
from ..metrics.spectrum import data_spectrum, radial_average
from ..models.normalization import NormalizationStats
from ..models.wsgm import wsgm_sample
from ..samplers import get_sampler
from ..sde import OU

__all__ = ["data_spectrum", "twin_spectrum_errors", "twin_spectrum_errors_exact", "twin_noise"]


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
) -> dict[str, tuple[list[int], list[float]]]:
    """What :func:`twin_spectrum_errors` estimates by Monte Carlo, in closed form
    (docs/design.md §3.7–§3.8): the spectrum error of the Gaussian twin's SGM (at unit pixel
    variance, as trained SGMs see their data) and WSGM with exact scores, per N. Exact: no
    Monte Carlo noise, and seconds instead of minutes."""
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
        ev = Evaluator(case, sampler, GridSpec(grid, T))
        out[label] = (xs, [float(ev(n)["spectrum"]) for n in xs])
    return out
