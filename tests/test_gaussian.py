"""Gaussian fields by spectral synthesis: per-mode variances, stationarity, exact covariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from wsgm.data.gaussian import (
    color_noise,
    gaussian_fields,
    gaussian_fields_torch,
    iter_gaussian_fields,
    magnetization_variance,
    pixel_variance,
)
from wsgm.errors import WSGMError
from wsgm.gaussian.spectra import power_spectrum


def _independent_modes(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the complex modes (one of each ±k pair) and of the real modes (k ≡ −k)."""
    k = np.arange(size)
    neg = (-k) % size
    ky, kx = np.meshgrid(k, k, indexing="ij")
    flat = ky * size + kx
    flat_neg = neg[ky] * size + neg[kx]
    real = flat == flat_neg
    complex_half = flat < flat_neg
    return complex_half, real


@pytest.mark.parametrize(
    ("size", "eta", "xi", "use_torch"),
    [(8, 2.0, 0.0, False), (16, 1.0, 0.5, False), (6, 3.0, 0.0, True), (16, 2.0, 0.0, True)],
)
def test_per_mode_variance_is_chi_square(size: int, eta: float, xi: float, use_torch: bool) -> None:
    # E|X_k|² = P_k with the unitary FFT; Σ_i |X_ik|²/P_k is χ²_n for real modes and
    # ½χ²_{2n} for complex ones. All p-values must look uniform (KS) and none be extreme.
    n = 400
    gen: np.random.Generator | torch.Generator
    gen = torch.Generator().manual_seed(1) if use_torch else np.random.default_rng(1)
    x = gaussian_fields(n, size=size, eta=eta, xi=xi, generator=gen)
    assert x.shape == (n, 1, size, size) and x.dtype == np.float32
    f = np.fft.fft2(x[:, 0].astype(np.float64), norm="ortho")
    p = power_spectrum(size, eta=eta, xi=xi)
    s = (np.abs(f) ** 2 / p).sum(axis=0)
    complex_half, real = _independent_modes(size)
    pv = np.concatenate(
        [
            stats.chi2.sf(2 * s[complex_half], 2 * n),
            stats.chi2.sf(s[real], n),
        ]
    )
    pv = np.minimum(pv, 1 - pv) * 2  # two-sided
    assert pv.min() > 1e-4 / len(pv)
    assert stats.kstest(pv, "uniform").pvalue > 1e-3


def test_wrong_spectrum_is_detected() -> None:
    # The same test must reject fields of another spectrum (it is not a test that cannot fail).
    n, size = 400, 8
    x = gaussian_fields(n, size=size, eta=1.5, generator=np.random.default_rng(2))
    f = np.fft.fft2(x[:, 0].astype(np.float64), norm="ortho")
    s = (np.abs(f) ** 2 / power_spectrum(size, eta=2.0)).sum(axis=0)
    complex_half, _ = _independent_modes(size)
    pv = stats.chi2.sf(2 * s[complex_half], 2 * n)
    pv = np.minimum(pv, 1 - pv) * 2
    assert pv.min() < 1e-6


@pytest.mark.parametrize(("eta", "xi"), [(2.0, 0.0), (1.0, 0.3)])
def test_covariance_is_exactly_circulant(eta: float, xi: float) -> None:
    # The synthesis map A (columns = A e_j) satisfies A Aᵀ = F* diag(P) F, whose entries
    # depend only on x − y (mod L): C(r) = (1/N) Σ_k P_k e^{iω·r} = ifft2(P)[r].
    size = 6
    eye = np.eye(size * size).reshape(-1, size, size)
    a = np.asarray(color_noise(eye, eta=eta, xi=xi)).reshape(size * size, -1).T
    cov = a @ a.T
    c = np.fft.ifft2(power_spectrum(size, eta=eta, xi=xi)).real
    idx = np.arange(size)
    dy = (idx[:, None, None, None] - idx[None, None, :, None]) % size
    dx = (idx[None, :, None, None] - idx[None, None, None, :]) % size
    expected = c[dy, dx].reshape(size * size, size * size)
    np.testing.assert_allclose(cov, expected, atol=1e-12)
    assert np.isclose(np.diag(cov).mean(), pixel_variance(size, eta=eta, xi=xi))


def test_empirical_covariance_is_stationary() -> None:
    # Sample covariance of all pixel pairs against the circulant theory, in standard errors.
    size, n = 4, 20000
    x = gaussian_fields(n, size=size, eta=2.0, xi=0.2, generator=np.random.default_rng(3))
    flat = x.reshape(n, -1).astype(np.float64)
    emp = flat.T @ flat / n
    c = np.fft.ifft2(power_spectrum(size, eta=2.0, xi=0.2)).real
    ys, xs = np.divmod(np.arange(size * size), size)
    theory = c[(ys[:, None] - ys[None]) % size, (xs[:, None] - xs[None]) % size]
    se = np.sqrt((np.outer(np.diag(theory), np.diag(theory)) + theory**2) / n)
    assert np.abs((emp - theory) / se).max() < 5.0


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_torch_and_numpy_filters_agree(ndim: int) -> None:
    z = np.random.default_rng(4).standard_normal((3, 1, *([8] * ndim)))
    a = color_noise(z, eta=2.0, xi=0.1, ndim=ndim)
    b = color_noise(torch.from_numpy(z), eta=2.0, xi=0.1, ndim=ndim)
    assert isinstance(b, torch.Tensor)
    np.testing.assert_allclose(np.asarray(a), b.numpy(), atol=1e-12)


def test_magnetization_variance_matches_samples() -> None:
    size, n = 8, 4000
    x = gaussian_fields(n, size=size, eta=2.0, generator=np.random.default_rng(5))
    m = x.mean(axis=(1, 2, 3))
    v = magnetization_variance(size, eta=2.0)
    # Var of a sample variance of n Gaussians: 2v²/(n−1).
    assert abs(m.var() - v) < 5 * v * math.sqrt(2 / (n - 1))


def test_seeded_and_batched_generation_is_reproducible() -> None:
    a = gaussian_fields(10, size=8, generator=np.random.default_rng(7))
    b = gaussian_fields(10, size=8, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    batches = list(
        iter_gaussian_fields(10, size=8, generator=np.random.default_rng(7), batch_size=4)
    )
    assert [len(bt) for bt in batches] == [4, 4, 2]
    t = gaussian_fields_torch(2, size=8, generator=torch.Generator().manual_seed(0))
    assert t.shape == (2, 1, 8, 8) and t.dtype == torch.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size"),
        ({"size": -4}, "size"),
        ({"size": 8, "eta": float("nan")}, "eta"),
        ({"size": 8, "xi": float("nan")}, "xi"),
        ({"size": 8, "xi": -1.0}, "xi"),
        ({"size": 8, "eta": 0.0}, "eta"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(WSGMError, match=match):
        gaussian_fields(2, generator=np.random.default_rng(0), **kwargs)


def test_bad_count() -> None:
    with pytest.raises(WSGMError, match="number of fields"):
        gaussian_fields(-1, size=8, generator=np.random.default_rng(0))
