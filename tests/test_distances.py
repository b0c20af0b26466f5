"""Distances between sets of fields against closed forms and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from wsgm.data.gaussian import gaussian_fields
from wsgm.errors import WSGMError
from wsgm.metrics.distances import (
    DISTANCES,
    histogram_kl,
    histogram_w1,
    magnetization_w1,
    noise_floor,
    spectrum_error,
    two_point_error,
    wasserstein_1d,
)
from wsgm.metrics.physics import two_point_correlation


def _gauss(n: int, seed: int, *, eta: float = 2.0, size: int = 16) -> np.ndarray:
    return gaussian_fields(n, size=size, eta=eta, generator=np.random.default_rng(seed))


@pytest.mark.parametrize(("nu", "nv"), [(50, 50), (37, 101), (1, 9)])
def test_wasserstein_matches_scipy(nu: int, nv: int) -> None:
    rng = np.random.default_rng(nu * nv)
    u, v = rng.standard_normal(nu), rng.exponential(size=nv)
    assert math.isclose(wasserstein_1d(u, v), stats.wasserstein_distance(u, v), rel_tol=1e-10)


_floats = st.floats(-1e3, 1e3, allow_nan=False)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(_floats, min_size=1, max_size=30), st.lists(_floats, min_size=1, max_size=30))
def test_wasserstein_property_matches_scipy(u: list[float], v: list[float]) -> None:
    assert math.isclose(
        wasserstein_1d(np.array(u), np.array(v)),
        stats.wasserstein_distance(u, v),
        rel_tol=1e-9,
        abs_tol=1e-9,
    )


@pytest.mark.parametrize("shift", [-0.7, 0.0, 2.5])
@pytest.mark.parametrize("shape", [(6, 8, 8), (6, 3, 8, 8)])
def test_w1_of_a_shift_is_the_shift(shift: float, shape: tuple) -> None:
    a = np.random.default_rng(0).standard_normal(shape)
    assert math.isclose(histogram_w1(a, a + shift), abs(shift), abs_tol=1e-12)
    assert math.isclose(magnetization_w1(a, a + shift), abs(shift), abs_tol=1e-12)


@pytest.mark.parametrize("c", [0.5, 2.0, 3.0])
def test_w1_of_a_scaling(c: float) -> None:
    # Scaling keeps the order of the samples: the sorted coupling gives |c − 1|·mean|x|.
    a = np.random.default_rng(1).standard_normal((4, 8, 8))
    assert math.isclose(histogram_w1(a, c * a), abs(c - 1) * np.abs(a).mean(), rel_tol=1e-10)


@pytest.mark.parametrize("c", [0.1, 0.5, 2.0, 10.0])
def test_spectrum_error_of_a_scaled_field(c: float) -> None:
    a = _gauss(5, 2).astype(np.float64)  # c·a in float32 would round
    assert spectrum_error(a, a) == 0.0
    assert math.isclose(spectrum_error(c * a, a), abs(math.log(c**2)), rel_tol=1e-9)
    # Only one of two channels scaled: the RMS over channels halves the squared error.
    two = np.concatenate([a, a], axis=1)
    scaled = two.copy()
    scaled[:, 0] *= c
    assert math.isclose(
        spectrum_error(scaled, two), abs(math.log(c**2)) / math.sqrt(2), rel_tol=1e-9
    )


def _two_point_by_shifts(x: np.ndarray) -> np.ndarray:
    """G on shells round(|r|) = 0 .. L/2 from explicit periodic shifts (no FFT)."""
    n, L, _ = x.shape
    sums, counts = np.zeros(L), np.zeros(L)
    for dy in range(L):
        for dx in range(L):
            g = float(np.mean(x * np.roll(x, (-dy, -dx), axis=(1, 2))))
            r = round(math.hypot(min(dy, L - dy), min(dx, L - dx)))
            sums[r] += g
            counts[r] += 1
    return sums[: L // 2 + 1] / counts[: L // 2 + 1]


@pytest.mark.parametrize("size", [6, 8])
def test_two_point_error_matches_explicit_shifts(size: int) -> None:
    a = _gauss(7, 3, size=size, eta=1.75).astype(np.float64)
    b = 1.3 * _gauss(9, 4, size=size, eta=1.0).astype(np.float64) + 0.2
    ga, gb = _two_point_by_shifts(a[:, 0]), _two_point_by_shifts(b[:, 0])
    expected = math.sqrt(float(np.mean(((ga - gb) / gb[0]) ** 2)))
    assert math.isclose(two_point_error(a, b), expected, rel_tol=1e-9)


@pytest.mark.parametrize("c", [0.5, 2.0])
def test_two_point_error_of_a_scaled_field(c: float) -> None:
    a = _gauss(5, 2).astype(np.float64)
    assert two_point_error(a, a) == 0.0
    _, g = two_point_correlation(a[:, 0])
    shape = math.sqrt(float(np.mean((g / g[0]) ** 2)))  # every shell moves by (c² − 1) G(r)
    assert math.isclose(two_point_error(c * a, a), abs(c**2 - 1) * shape, rel_tol=1e-9)
    with pytest.raises(WSGMError, match="no variance in channel 0"):
        two_point_error(a, np.zeros_like(a))


def test_two_point_error_separates_correlations_beyond_the_floor() -> None:
    # the same variance, longer-range correlations: far above the floor of either set
    short = _gauss(400, 5, eta=1.0).astype(np.float64)
    long = _gauss(400, 6, eta=2.0).astype(np.float64)
    long *= np.sqrt(short.var() / long.var())
    floor = noise_floor("two_point", short, generator=np.random.default_rng(0))
    assert two_point_error(long, short) > 5 * floor


def test_spectrum_error_separates_spectra_beyond_the_floor() -> None:
    ref, same, other = _gauss(200, 3), _gauss(200, 4), _gauss(200, 5, eta=1.5)
    floor = noise_floor(spectrum_error, ref, generator=np.random.default_rng(0))
    assert spectrum_error(same, ref) < 3 * floor
    assert spectrum_error(other, ref) > 10 * floor


def test_kl_between_gaussians_is_the_closed_form() -> None:
    # KL(N(μ,1) ‖ N(0,1)) = μ²/2; fine histograms of large samples approach it.
    rng = np.random.default_rng(6)
    mu = 0.5
    a = rng.standard_normal((200, 32, 32)) + mu
    b = rng.standard_normal((200, 32, 32))
    assert histogram_kl(a, a) == 0.0
    assert abs(histogram_kl(a, b, bins=200) - mu**2 / 2) < 0.01


def test_noise_floor_is_the_distance_between_halves() -> None:
    ref = np.random.default_rng(7).standard_normal((11, 4, 4))
    floor = noise_floor("histogram_w1", ref, generator=np.random.default_rng(8))
    perm = np.random.default_rng(8).permutation(11)
    assert floor == histogram_w1(ref[perm[:5]], ref[perm[5:10]])
    assert 0 < floor < histogram_w1(ref, ref + 1.0)
    avg = noise_floor(histogram_w1, ref, generator=np.random.default_rng(8), repeats=3)
    assert avg > 0


@pytest.mark.parametrize("name", sorted(DISTANCES))
def test_every_distance_is_zero_on_identical_sets(name: str) -> None:
    a = _gauss(6, 9, size=8)
    assert DISTANCES[name](a, a) == 0.0


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.ones((2, 4, 4)), np.ones((2, 4, 8)), "same shape"),
        (np.ones((0, 4, 4)), np.ones((2, 4, 4)), "empty"),
        (np.ones((4, 4)), np.ones((4, 4)), "shape"),
    ],
)
def test_bad_inputs(a: np.ndarray, b: np.ndarray, match: str) -> None:
    with pytest.raises(WSGMError, match=match):
        histogram_w1(a, b)


def test_bad_noise_floor_arguments() -> None:
    gen = np.random.default_rng(0)
    with pytest.raises(WSGMError, match="unknown distance"):
        noise_floor("fid", np.ones((4, 2, 2)), generator=gen)
    with pytest.raises(WSGMError, match="at least 2"):
        noise_floor("spectrum", np.ones((1, 2, 2)), generator=gen)
    with pytest.raises(WSGMError, match="bins"):
        histogram_kl(np.ones((2, 2, 2)), np.ones((2, 2, 2)), bins=0)
