"""Observables and spectra against closed forms and brute-force computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsgm.errors import WSGMError
from wsgm.metrics import physics as ph
from wsgm.metrics.spectrum import power_spectrum_2d, radial_power_spectrum


@pytest.mark.parametrize("shape", [(5, 8, 8), (4, 3, 8, 6)])
def test_magnetization_is_the_site_mean(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).normal(size=shape)
    m = ph.magnetization(x)
    assert m.shape == (shape[0],)
    np.testing.assert_allclose(m, [s.mean() for s in x])


def test_binder_limits() -> None:
    rng = np.random.default_rng(1)
    two_valued = np.sign(rng.normal(size=(1000, 1, 1))) * np.ones((1, 4, 4))
    assert ph.binder_cumulant(two_valued) == pytest.approx(2 / 3, abs=1e-12)
    gaussian = rng.normal(size=(200_000, 2, 2))  # m Gaussian: <m^4> = 3<m^2>^2, U4 = 0
    assert abs(ph.binder_cumulant(gaussian)) < 0.01


def test_susceptibility_of_white_noise() -> None:
    # m ~ N(0, 1/V): V(<m^2> - <|m|>^2) = 1 - 2/pi.
    x = np.random.default_rng(2).normal(size=(40_000, 4, 4))
    assert ph.susceptibility(x) == pytest.approx(1 - 2 / math.pi, rel=0.03)
    assert ph.susceptibility(np.ones((10, 4, 4))) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(("beta", "lam"), [(0.68, 1.0), (0.3, 0.0), (1.0, 2.5)])
def test_energy_matches_site_by_site_sum(beta: float, lam: float) -> None:
    x = np.random.default_rng(3).normal(size=(3, 6, 4))
    expected = []
    for f in x:
        H, W = f.shape
        s = 0.0
        for i in range(H):
            for j in range(W):
                p = f[i, j]
                s += -beta * p * (f[(i + 1) % H, j] + f[i, (j + 1) % W])
                s += p * p + lam * (p * p - 1) ** 2
        expected.append(s / (H * W))
    np.testing.assert_allclose(ph.energy(x, beta=beta, lam=lam), expected, rtol=1e-12)


def test_magnetization_histogram_is_a_density() -> None:
    x = np.random.default_rng(4).normal(size=(500, 4, 4))
    dens, edges = ph.magnetization_histogram(x, bins=20)
    assert dens.shape == (20,) and edges.shape == (21,)
    assert float((dens * np.diff(edges)).sum()) == pytest.approx(1.0)


def test_two_point_correlation_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 8, 8))
    x = x + 0.7 * np.roll(x, 1, axis=-1)  # correlated along one axis
    r, g = ph.two_point_correlation(x)
    assert list(r) == [0, 1, 2, 3, 4]
    sums = np.zeros(20)
    counts = np.zeros(20)
    for dy in range(8):
        for dx in range(8):
            d = round(math.hypot(min(dy, 8 - dy), min(dx, 8 - dx)))
            sums[d] += np.mean(x * np.roll(x, (-dy, -dx), axis=(-2, -1)))
            counts[d] += 1
    np.testing.assert_allclose(g, sums[:5] / counts[:5], rtol=1e-10)


def test_power_spectrum_parseval_and_plane_wave() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(7, 2, 8, 16))
    p = power_spectrum_2d(x)
    assert p.shape == (8, 16)
    assert p.mean() == pytest.approx(np.mean(x**2), rel=1e-12)  # Parseval
    L = 16
    wave = np.cos(2 * np.pi * 3 * np.arange(L) / L)[None, None, :] * np.ones((1, L, 1))
    pw = power_spectrum_2d(wave)
    assert pw[0, 3] == pytest.approx(L * L / 4) and pw[0, -3] == pytest.approx(L * L / 4)
    assert np.sum(pw) == pytest.approx(L * L / 2)
    k, radial = radial_power_spectrum(wave)
    assert k[0] == 1 and radial[k == 3][0] > 0
    assert np.allclose(radial[k != 3], 0.0, atol=1e-20)


def test_radial_spectrum_of_white_noise_is_flat() -> None:
    x = np.random.default_rng(7).normal(size=(400, 16, 16))
    k, p = radial_power_spectrum(x)
    assert k[0] == 1 and k[-1] == 11  # round(sqrt(2) * 8)
    np.testing.assert_allclose(p, 1.0, rtol=0.12)
    k0, _ = radial_power_spectrum(x, include_zero=True)
    assert k0[0] == 0


@pytest.mark.parametrize("a", [0.0, 0.5, 0.8])
def test_tau_int_of_ar1(a: float) -> None:
    # AR(1) x_t = a x_{t-1} + e_t: rho(t) = a^t, tau_int = (1 + a) / (2 (1 - a)).
    rng = np.random.default_rng(8)
    e = rng.normal(size=(4, 50_000))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / math.sqrt(1 - a * a)
    for t in range(1, e.shape[1]):
        x[:, t] = a * x[:, t - 1] + e[:, t]
    expected = (1 + a) / (2 * (1 - a))
    assert ph.integrated_autocorrelation_time(x) == pytest.approx(expected, rel=0.08)
    assert ph.integrated_autocorrelation_time(x[0]) == pytest.approx(expected, rel=0.12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ph.magnetization(np.zeros((0, 4, 4))),
        lambda: ph.binder_cumulant(np.zeros(4)),
        lambda: ph.binder_cumulant(np.zeros((3, 4, 4))),
        lambda: ph.integrated_autocorrelation_time(np.array([1.0])),
        lambda: ph.integrated_autocorrelation_time(np.array([1.0, np.nan, 2.0])),
        lambda: power_spectrum_2d(np.zeros((4, 4))),
    ],
)
def test_bad_input_raises_wsgm_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WSGMError):
        call()
