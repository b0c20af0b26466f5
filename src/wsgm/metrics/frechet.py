"""The Fréchet distance between the Gaussians fitted to two sets of feature vectors.

For features f(x) of two sets, fit N(μ_a, Σ_a) and N(μ_b, Σ_b) (sample mean, unbiased
sample covariance) and return the squared 2-Wasserstein (Fréchet) distance between them
(Dowson & Landau 1982; Heusel et al. 2017, eq. 6, "FID"):

    d² = ‖μ_a − μ_b‖² + Tr Σ_a + Tr Σ_b − 2 Tr (Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}.

The last trace is computed from a symmetric eigen-decomposition: with Σ_a = U Λ Uᵀ,
M = Λ^{1/2} Uᵀ Σ_b U Λ^{1/2} is symmetric positive semi-definite and Tr M^{1/2} = Σ √eig(M).
This is exact for singular covariances (fewer samples than feature dimensions, dead ReLU
units), where ``scipy.linalg.sqrtm`` of the non-symmetric Σ_a Σ_b returns complex noise.
Everything runs in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import WSGMError

__all__ = ["GaussianStats", "gaussian_stats", "frechet_distance", "frechet_distance_stats"]


@dataclass(frozen=True)
class GaussianStats:
    """Mean ``(d,)`` and covariance ``(d, d)`` of a set of features, and how many there were."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def gaussian_stats(features: np.ndarray, *, name: str = "features") -> GaussianStats:
    """Sample mean and unbiased (n − 1) covariance of ``features`` of shape ``(n, d)``."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise WSGMError(f"{name} must have shape (n, d), got {f.shape}")
    if f.shape[0] < 2:
        raise WSGMError(f"{name}: a covariance needs at least 2 samples, got {f.shape[0]}")
    if not np.all(np.isfinite(f)):
        raise WSGMError(f"{name} contain NaN or Inf; cannot fit a Gaussian")
    return GaussianStats(f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], -1), len(f))


def _psd_sqrt_factor(cov: np.ndarray) -> np.ndarray:
    """S with S Sᵀ = cov for a symmetric PSD matrix (S = U Λ^{1/2}; negative round-off → 0)."""
    sym = 0.5 * (cov + cov.T)
    vals, vecs = np.linalg.eigh(sym)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def frechet_distance_stats(a: GaussianStats, b: GaussianStats) -> float:
    """d² between N(a.mean, a.cov) and N(b.mean, b.cov) (module doc; ≥ 0 up to round-off)."""
    if a.mean.shape != b.mean.shape:
        raise WSGMError(
            f"the two feature sets must have the same dimension, got {a.mean.shape[0]} and "
            f"{b.mean.shape[0]}"
        )
    s = _psd_sqrt_factor(a.cov)
    # Sᵀ Σ_b S has the same non-zero eigenvalues as Σ_a^{1/2} Σ_b Σ_a^{1/2}.
    m = s.T @ b.cov @ s
    eig = np.linalg.eigvalsh(0.5 * (m + m.T))
    cross = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    diff = a.mean - b.mean
    d2 = float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * cross)
    return max(d2, 0.0)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """d² between the Gaussians fitted to two feature sets ``(n_a, d)`` and ``(n_b, d)``."""
    return frechet_distance_stats(
        gaussian_stats(features_a, name="first feature set"),
        gaussian_stats(features_b, name="second feature set"),
    )
