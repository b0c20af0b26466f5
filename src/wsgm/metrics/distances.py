"""Distances between two sets of fields (e.g. data and model samples), with noise floors.

Each distance takes two batches ``(n, C, H, W)`` or ``(n, H, W)`` (the two sets may have
different n) and returns a float that is 0 for identical sets:

- :func:`spectrum_error`: root-mean-square over radial shells (and channels) of
  log(P_a(k) / P_b(k)), the radially averaged power spectra of
  :func:`wsgm.metrics.spectrum.radial_power_spectrum` (k = 0 excluded). A log ratio is a
  relative error (log(1 + ε) ≈ ε), and a field multiplied by c gives exactly |log c²|.
- :func:`histogram_w1`: Wasserstein-1 distance between the marginal value distributions
  (all pixels pooled, per channel, averaged over channels), exact:
  W1 = ∫ |F_a(x) − F_b(x)| dx for the empirical CDFs.
- :func:`histogram_kl`: KL(a ‖ b) of histograms on common bins, with additive smoothing.
- :func:`magnetization_w1`: Wasserstein-1 between the distributions of the field means m.
- :func:`two_point_error`: root-mean-square over the shells r = 0 .. L/2 (and channels) of
  (G_a(r) − G_b(r)) / G_b(0), with G(r) = ⟨φ_x φ_{x+r}⟩ the two-point function in real space
  (:func:`wsgm.metrics.physics.two_point_correlation`): the error a physicist reads off a
  G(r) plot, in units of the second set's variance; a field multiplied by c gives
  |c² − 1| times the RMS of G(r)/G(0). The spectrum error weighs the same information
  per Fourier shell, where the many short wavelengths count as much as the few long ones;
  here the long-range tail, which carries ⟨m²⟩, counts at every r.

A finite sample has a non-zero distance even from its own law; :func:`noise_floor` measures
it as the distance between two independent random halves of the reference set
(docs/design.md §7.4; :func:`wsgm.metrics.halves.two_halves`). A model is as good as the
data allow when its distance to the data is near that floor (the halves are half as large,
so the floor is, if anything, high).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import WSGMError
from .halves import two_halves
from .physics import magnetization, two_point_correlation
from .spectrum import radial_power_spectrum

__all__ = [
    "DISTANCES",
    "spectrum_error",
    "histogram_w1",
    "histogram_kl",
    "magnetization_w1",
    "two_point_error",
    "wasserstein_1d",
    "noise_floor",
]

Distance = Callable[[np.ndarray, np.ndarray], float]


def _as_nchw(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4:
        raise WSGMError(f"{name} must have shape (n, H, W) or (n, C, H, W), got {arr.shape}")
    if arr.shape[0] == 0:
        raise WSGMError(f"{name} is empty (n = 0)")
    return arr


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a4, b4 = _as_nchw(a, "first set"), _as_nchw(b, "second set")
    if a4.shape[1:] != b4.shape[1:]:
        raise WSGMError(
            f"the two sets must hold fields of the same shape (C, H, W), got {a4.shape[1:]} "
            f"and {b4.shape[1:]}"
        )
    return a4, b4


def wasserstein_1d(u: np.ndarray, v: np.ndarray) -> float:
    """Exact W1 between the empirical distributions of two 1-d samples (any sizes).

    W1 = ∫ |F_u − F_v| dx; both CDFs are step functions, constant between consecutive
    points of the merged sorted sample, so the integral is a finite sum.
    """
    u = np.sort(np.asarray(u, dtype=np.float64).ravel())
    v = np.sort(np.asarray(v, dtype=np.float64).ravel())
    if u.size == 0 or v.size == 0:
        raise WSGMError("cannot compute a Wasserstein distance with an empty sample")
    if u.size == v.size:
        return float(np.abs(u - v).mean())  # quantile coupling: the sorted samples pair up
    grid = np.sort(np.concatenate([u, v]))
    widths = np.diff(grid)
    cdf_u = np.searchsorted(u, grid[:-1], side="right") / u.size
    cdf_v = np.searchsorted(v, grid[:-1], side="right") / v.size
    return float(np.sum(np.abs(cdf_u - cdf_v) * widths))


def spectrum_error(a: np.ndarray, b: np.ndarray) -> float:
    """RMS over radial shells and channels of log(P_a / P_b) (0 for equal spectra)."""
    a4, b4 = _pair(a, b)
    tiny = np.finfo(np.float64).tiny  # a field with no power in a shell: a huge, finite error
    errors = []
    for c in range(a4.shape[1]):
        _, pa = radial_power_spectrum(a4[:, c])
        _, pb = radial_power_spectrum(b4[:, c])
        errors.append(np.log(np.maximum(pa, tiny)) - np.log(np.maximum(pb, tiny)))
    return float(np.sqrt(np.mean(np.square(errors))))


def histogram_w1(a: np.ndarray, b: np.ndarray) -> float:
    """W1 between the marginal distributions of pixel values, per channel, averaged."""
    a4, b4 = _pair(a, b)
    return float(np.mean([wasserstein_1d(a4[:, c], b4[:, c]) for c in range(a4.shape[1])]))


def histogram_kl(a: np.ndarray, b: np.ndarray, *, bins: int = 100, smoothing: float = 0.5) -> float:
    """KL(p_a ‖ p_b) of the value histograms (nats), per channel, averaged.

    Both histograms use the same ``bins`` equal bins spanning the values of both sets;
    every bin count gets ``smoothing`` added (0.5: the Krichevsky–Trofimov estimator) so
    that a bin empty in b gives a large but finite KL.
    """
    if not (isinstance(bins, int) and bins >= 1):
        raise WSGMError(f"bins must be a positive integer, got {bins!r}")
    if not (np.isfinite(smoothing) and smoothing > 0):
        raise WSGMError(f"smoothing must be a positive number, got {smoothing!r}")
    a4, b4 = _pair(a, b)
    kls = []
    for c in range(a4.shape[1]):
        u, v = a4[:, c].ravel(), b4[:, c].ravel()
        lo, hi = float(min(u.min(), v.min())), float(max(u.max(), v.max()))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise WSGMError("fields contain NaN or Inf; cannot build histograms")
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        p = np.histogram(u, edges)[0] + smoothing
        q = np.histogram(v, edges)[0] + smoothing
        p, q = p / p.sum(), q / q.sum()
        kls.append(float(np.sum(p * np.log(p / q))))
    return float(np.mean(kls))


def magnetization_w1(a: np.ndarray, b: np.ndarray) -> float:
    """W1 between the distributions of m, the mean of each field over sites and channels."""
    a4, b4 = _pair(a, b)
    return wasserstein_1d(magnetization(a4), magnetization(b4))


def two_point_error(a: np.ndarray, b: np.ndarray) -> float:
    """RMS over the shells r = 0 .. L/2 and channels of (G_a(r) − G_b(r)) / G_b(0).

    G is the full (not connected) two-point function: the batch mean of a ±-symmetric law
    such as φ⁴'s is sign-balance noise, and subtracting its square would make G depend on it.
    """
    a4, b4 = _pair(a, b)
    errors = []
    for c in range(a4.shape[1]):
        _, ga = two_point_correlation(a4[:, c])
        _, gb = two_point_correlation(b4[:, c])
        if not gb[0] > 0:
            raise WSGMError(f"the second set has no variance in channel {c} (G(0) = {gb[0]})")
        errors.append((ga - gb) / gb[0])
    return float(np.sqrt(np.mean(np.square(errors))))


DISTANCES: dict[str, Distance] = {
    "spectrum": spectrum_error,
    "histogram_w1": histogram_w1,
    "histogram_kl": histogram_kl,
    "magnetization_w1": magnetization_w1,
    "two_point": two_point_error,
}


def noise_floor(
    metric: Distance | str,
    reference: np.ndarray,
    *,
    generator: np.random.Generator,
    repeats: int = 1,
) -> float:
    """The distance between two independent random halves of ``reference``.

    ``metric`` is one of the functions above or its name in :data:`DISTANCES`; with
    ``repeats`` > 1 the halves are redrawn and the distances averaged.
    """
    if isinstance(metric, str):
        if metric not in DISTANCES:
            raise WSGMError(f"unknown distance {metric!r}; choose from {', '.join(DISTANCES)}")
        metric = DISTANCES[metric]
    ref = _as_nchw(reference, "reference")
    if len(ref) < 2:
        raise WSGMError(f"a noise floor needs at least 2 reference fields, got {len(ref)}")
    if repeats < 1:
        raise WSGMError(f"repeats must be a positive integer, got {repeats!r}")
    values = []
    for _ in range(repeats):
        a, b, _ = two_halves(ref, None, generator, min_size=1)
        values.append(metric(a, b))
    return float(np.mean(values))
