"""Exact error measures of `wsgm theory` (docs/design.md §3.8): the generated spectra, the
spectrum error and worst shell computed with the metrics' shells, checked against the
Gaussian twin's Monte Carlo; and the search for N_needed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsgm.errors import WSGMError
from wsgm.experiments.gaussian_twin import twin_noise, twin_spectrum_errors
from wsgm.gaussian import theory
from wsgm.gaussian.cross_spectra import lowpass_spectrum
from wsgm.gaussian.scaling import CaseBook, search_steps
from wsgm.gaussian.spectra import power_spectrum
from wsgm.gaussian.spectrum_exact import Shells, wsgm_generated_lowpasses, wsgm_generated_spectrum
from wsgm.metrics.distances import spectrum_error
from wsgm.metrics.spectrum import radial_average, radial_shells


def _book(size: int, levels: int, wavelet: str = "haar") -> CaseBook:
    return CaseBook(
        size,
        levels=levels,
        eta=2.0,
        xi=0.0,
        wavelet=wavelet,
        T=5.0,
        ref_size=64,
        shell_index=radial_shells,
    )


@pytest.mark.parametrize("shape", [(8, 8), (16, 16), (12, 20), (33, 33)])
def test_shells_are_the_metrics_shells(shape: tuple[int, int]) -> None:
    x = np.random.default_rng(0).random(shape)
    np.testing.assert_array_equal(Shells(radial_shells, shape).means(x), radial_average(x)[1])


@pytest.mark.parametrize("wavelet", ["haar", "db4"])
@pytest.mark.parametrize(("size", "levels"), [(8, 1), (16, 2), (32, 3)])
def test_exact_moments_generate_the_data_spectrum(wavelet: str, size: int, levels: int) -> None:
    # g = 1, v = λ is the exact sampler: the recursion must give back P mode by mode
    probs = theory.wavelet_problems(size, levels, xi=0.2, wavelet=wavelet)
    moments = [(np.ones_like(p.variances), p.variances) for p in probs]
    got = wsgm_generated_spectrum(probs, moments, wavelet)
    np.testing.assert_allclose(got, power_spectrum(size, xi=0.2), rtol=1e-10)
    # and every coarser low-pass it passes through is the data's low-pass spectrum
    lows = wsgm_generated_lowpasses(probs, moments, wavelet)
    assert len(lows) == levels + 1
    for j, low in zip(range(levels, -1, -1), lows, strict=True):
        want = lowpass_spectrum(power_spectrum(size, xi=0.2), wavelet, j)
        np.testing.assert_allclose(low, want, rtol=1e-10)


def test_spectrum_error_of_a_scaled_field_is_log_c2() -> None:
    # the measures' convention (§7.4): a field multiplied by c is at |log c²|
    book = _book(16, 2)
    case = book.case("sgm:pixel")
    v = 1.21 * case.reps  # every variance × 1.21 = (1.1)²
    got = case.measures([(np.ones_like(v), v)])
    assert got["spectrum"] == pytest.approx(2 * math.log(1.1), rel=1e-12)
    assert got["worst_shell"] == pytest.approx(2 * math.log(1.1), rel=1e-12)


def test_sgm_spectrum_error_is_the_metric_on_exact_spectra() -> None:
    # the same number as wsgm.metrics.distances.spectrum_error on fields whose power
    # spectrum is exactly P and v (one deterministic field each: |F x|² = L² P)
    size, steps = 16, 8
    book = _book(size, 2)
    ev = book.evaluator("sgm:pixel", "euler", "quadratic")
    case = book.case("sgm:pixel")
    _, v = theory.sampler_moments(case.c, np.asarray(ev.grid.times(steps, size)), sampler="euler")

    def field(spec: np.ndarray) -> np.ndarray:
        return np.fft.ifft2(np.sqrt(spec) * size).real[None]

    # a real field with a prescribed |F x|² needs P(k) = P(−k), true for these spectra
    expected = spectrum_error(field(v), field(case.c))
    assert ev(steps)["spectrum"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sampler", "grid", "steps"), [("euler", "quadratic", [4, 16]), ("dpm2m", "logsnr", [4, 6])]
)
def test_twin_monte_carlo_matches_the_closed_form_spectrum_error(
    sampler: str, grid: str, steps: list[int]
) -> None:
    """The Gaussian twin (experiments.gaussian_twin: the real samplers, exact scores, the SGM
    at unit pixel variance, the WSGM through wsgm_sample) measures the spectrum error by
    Monte Carlo; the closed form must agree within the twin's noise, and a wrong variant
    (the SGM at λ_max = 1, or N + 1 steps) must not."""
    size, levels, n = 16, 2, 4096
    p = power_spectrum(size)
    book = _book(size, levels)
    noise = twin_noise(p, n=n)
    twin = twin_spectrum_errors(
        p, steps, sampler=sampler, grid=grid, levels=levels, wavelet="haar", n=n
    )
    for i, N in enumerate(steps):
        for model, key in (("sgm", "sgm:pixel"), ("wsgm", "wsgm")):
            got = twin[model][1][i]
            exact = book.evaluator(key, sampler, grid)(N)["spectrum"]
            assert abs(got - exact) <= 2 * noise + 0.01 * exact, (model, N, got, exact, noise)
        wrong = book.evaluator("sgm:lambda-max", sampler, grid)(N)["spectrum"]
        assert abs(twin["sgm"][1][i] - wrong) > 10 * noise
    wrong = book.evaluator("wsgm", sampler, grid)(steps[0] + 1)["spectrum"]
    assert abs(twin["wsgm"][1][0] - wrong) > 5 * noise


# --------------------------------------------------------------------------------------
# N_needed
# --------------------------------------------------------------------------------------
def test_search_finds_the_crossing_of_power_laws() -> None:
    rng = np.random.default_rng(1)
    evaluations = []
    for _ in range(500):
        target, power = int(rng.integers(1, 1 << 20)), float(rng.uniform(0.3, 3.0))
        count = [0]

        def f(n: int, target: int = target, power: float = power, count: list = count) -> float:
            count[0] += 1
            return 0.05 * ((target - 0.5) / (n - 0.5)) ** power

        guess = int(rng.choice([1, target, max(1, int(target * rng.uniform(0.2, 5)))]))
        lo = int(rng.choice([0, min(target - 1, int(rng.integers(0, 65)))]))
        assert search_steps(f, 0.05, n_max=1 << 20, guess=guess, lo=lo) == target
        evaluations.append(count[0])
    assert max(evaluations) <= 20 and np.mean(evaluations) < 10
    assert search_steps(lambda n: 1.0 / n, 1e-3, n_max=100) is None
    assert search_steps(lambda n: 0.0, 1.0, n_max=100, guess=50) == 1


def test_steps_needed_is_where_the_measure_stays_below() -> None:
    # The WSGM's spectrum error on the quadratic grid dips below 0.05 at N = 5 by a
    # cancellation, then rises above it again: N_needed is where it stays below.
    ev = _book(16, 2).evaluator("wsgm", "euler", "quadratic")
    values = {n: ev(n)["spectrum"] for n in range(1, 401)}
    assert values[5] <= 0.05 < values[6]
    n = ev.steps_needed("spectrum", 0.05, n_max=1 << 20)
    assert n is not None and values[n - 1] > 0.05
    assert all(values[k] <= 0.05 for k in range(n, 401))


def test_never_when_the_limit_is_above_epsilon() -> None:
    # λ_max = 1 at L = 32: the logsnr grid's last evaluation at t = 2e-3 cannot resolve the
    # smallest variances (≈ 2/L² ≈ 2e-3), whatever N
    ev = _book(32, 3).evaluator("sgm:lambda-max", "dpm2m", "logsnr")
    assert ev.limit()["kl"] > 0.05
    assert ev.steps_needed("kl", 0.05, n_max=1 << 20) is None
    assert ev(4096)["kl"] == pytest.approx(ev.limit()["kl"], rel=1e-3)


@pytest.mark.slow
def test_n_needed_agrees_with_a_brute_force_scan() -> None:
    """Every setting at L = 16: the reported N is the smallest N from which on the measure
    stays ≤ ε, over a scan of all N ≤ 1024 (so the search's assumption that the measures
    decrease above N = 64 holds here)."""
    from wsgm.gaussian.scaling import DEFAULT_SETTINGS, MEASURES

    eps = {"kl": 0.05, "spectrum": 0.05, "worst_shell": 0.1}
    book = _book(16, 2)
    for sampler, grid in DEFAULT_SETTINGS:
        for key in ("sgm:lambda-max", "sgm:pixel", "wsgm"):
            ev = book.evaluator(key, sampler, grid)
            for m in MEASURES:
                n = ev.steps_needed(m, eps[m], n_max=1 << 20)
                if n is None or n > 1024:
                    continue
                above = [k for k in range(1, 1025) if ev(k)[m] > eps[m]]
                assert n == (max(above) + 1 if above else 1), (sampler, grid, key, m)


@pytest.mark.parametrize(("sampler", "grid"), [("euler", "quadratic"), ("dpm2m", "logsnr")])
def test_per_scale_counts_closed_form_matches_monte_carlo(sampler: str, grid: str) -> None:
    """Evaluator.at_counts (a WSGM with a different step count per network, coarsest first)
    against the real WSGM sampler with those grids and exact scores; equal counts are N."""
    import torch

    from wsgm.experiments.gaussian_twin import _error, _radial
    from wsgm.gaussian.scores import exact_wsgm
    from wsgm.grids import make_grid
    from wsgm.models.normalization import NormalizationStats
    from wsgm.models.wsgm import wsgm_sample
    from wsgm.samplers import get_sampler

    size, levels, n = 16, 2, 4096
    p = power_spectrum(size)
    ev = _book(size, levels).evaluator("wsgm", sampler, grid)
    assert ev.at_counts([6, 6, 6]) == ev(6)
    counts = [9, 2, 5]  # coarsest, scale 1 (finest), scale 2
    exact = ev.at_counts(counts)["spectrum"]
    assert abs(exact - ev(6)["spectrum"]) > 0.01  # the counts matter
    ex = exact_wsgm(p, levels, wavelet="haar")
    g = torch.Generator().manual_seed(0)
    x = wsgm_sample(
        ex.coarse_score_fn, ex.cond_score_fns,
        NormalizationStats.from_tensors(ex.stats_tensors()), shape=(n, 1, size, size),
        wavelet="haar", sampler=get_sampler(sampler),
        grids=[make_grid(grid, c, T=5.0) for c in counts], generator=g, dtype=torch.float64,
    )  # fmt: skip
    got = _error(x, _radial(p))
    assert abs(got - exact) <= 2 * twin_noise(p, n=n) + 0.01 * exact, (got, exact)
    with pytest.raises(WSGMError, match="need 3 positive step counts"):
        ev.at_counts([4, 4])
