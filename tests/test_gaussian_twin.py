"""The Gaussian twin's exact-score spectrum errors against the closed-form Euler–Maruyama
moments of :mod:`wsgm.gaussian.theory` and against exact draws."""

from __future__ import annotations

import numpy as np
import pytest

from wsgm.data.gaussian import gaussian_fields
from wsgm.experiments.gaussian_twin import data_spectrum, twin_noise, twin_spectrum_errors
from wsgm.gaussian.spectra import power_spectrum
from wsgm.gaussian.theory import em_moments
from wsgm.grids import make_grid
from wsgm.metrics.spectrum import radial_average


def _radial(spec: np.ndarray) -> np.ndarray:
    return radial_average(spec)[1]


@pytest.mark.parametrize(("grid", "steps"), [("quadratic", 4), ("quadratic", 16), ("uniform", 8)])
def test_sgm_twin_matches_em_moments(grid: str, steps: int) -> None:
    """Exact scores keep the SGM Gaussian: per mode its variance is var * v from the
    closed-form recursion, so the sampled spectrum error must match the one of v."""
    p = power_spectrum(16, eta=2.0, xi=0.0)
    var = p.mean()
    _, v = em_moments(p / var, make_grid(grid, steps))
    expected = np.sqrt(np.mean(np.log(_radial(v * var) / _radial(p)) ** 2))
    got = twin_spectrum_errors(
        p, [steps], sampler="euler", grid=grid, levels=1, wavelet="haar", n=8192
    )["sgm"][1][0]
    noise = twin_noise(p, n=8192)
    assert abs(got - expected) < 2 * noise + 0.01 * expected


def test_twin_errors_fall_to_the_noise_with_many_steps() -> None:
    p = power_spectrum(16, eta=2.0, xi=0.0)
    out = twin_spectrum_errors(
        p, [2, 256], sampler="euler", grid="quadratic", levels=2, wavelet="db2", n=2048
    )
    noise = twin_noise(p, n=2048)
    for label in ("sgm", "wsgm"):
        few, many = out[label][1]
        assert few > 5 * noise
        assert many < 3 * noise
    # the point of the wavelet factorization: fewer steps for the same error
    assert out["wsgm"][1][0] < out["sgm"][1][0]


def test_data_spectrum_of_gaussian_fields() -> None:
    p = power_spectrum(16, eta=2.0, xi=0.5)
    x = gaussian_fields(4000, size=16, eta=2.0, xi=0.5, generator=np.random.default_rng(0))
    est = data_spectrum(x)
    assert est.shape == (16, 16)
    assert np.median(np.abs(est / (p * x.var() / p.mean()) - 1)) < 0.05


def test_bad_spectrum() -> None:
    with pytest.raises(ValueError, match="positive 2-d power spectrum"):
        twin_spectrum_errors(
            np.zeros((8, 8)), [2], sampler="euler", grid="uniform", levels=1, wavelet="haar"
        )


@pytest.mark.parametrize(("sampler", "grid"), [("euler", "quadratic"), ("dpm2m", "logsnr")])
def test_closed_form_twin_equals_the_sampled_twin(sampler: str, grid: str) -> None:
    """The reports' closed-form twin curves (any measured spectrum, not only the η family)
    agree with the real samplers run with exact scores, within the Monte Carlo noise."""
    from wsgm.experiments.gaussian_twin import twin_spectrum_errors_exact

    fields = gaussian_fields(512, size=16, eta=1.75, xi=0.0, generator=np.random.default_rng(0))
    spec = data_spectrum(fields)  # a measured, not a model, spectrum
    steps = [4, 16]
    exact = twin_spectrum_errors_exact(
        spec, steps, sampler=sampler, grid=grid, levels=2, wavelet="haar"
    )
    sampled = twin_spectrum_errors(
        spec, steps, sampler=sampler, grid=grid, levels=2, wavelet="haar", n=4096
    )
    noise = twin_noise(spec, n=4096)
    for model in ("sgm", "wsgm"):
        for e, s in zip(exact[model][1], sampled[model][1], strict=True):
            assert abs(e - s) < 2.5 * noise + 0.02 * e, (model, e, s, noise)
