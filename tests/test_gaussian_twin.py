"""The Gaussian twin's exact-score spectrum errors against the closed-form Euler–Maruyama
moments of :mod:`wsgm.gaussian.theory` and against exact draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsgm.data.gaussian import gaussian_fields
from wsgm.experiments.gaussian_twin import data_spectrum, twin_noise, twin_spectrum_errors
from wsgm.gaussian.spectra import power_spectrum
from wsgm.gaussian.theory import em_moments
from wsgm.grids import make_grid
from wsgm.metrics.spectrum import radial_average, scale_energies


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


@pytest.mark.parametrize(
    ("sampler", "grid", "kw"),
    [("dpm2m", "logsnr", {"steps": 4, "t_min": 0.003}), ("euler", "quadratic", {"steps": 6}),
     ("dpm2m", "logsnr", {"steps_per_scale": (12, 3, 4)}),
     ("dpm2m", "logsnr", {"steps_per_scale": (24, 4, 4), "t_min": 0.003,
                          "coarse_sampler": "euler", "coarse_grid": "quadratic"})],
)  # fmt: skip
def test_scale_energies_match_the_real_sampler(sampler: str, grid: str, kw: dict) -> None:
    """The closed-form energy budget per scale equals the real WSGM sampler's, run with the
    twin's exact scores and measured by the real DWT, within the Monte Carlo noise."""
    from wsgm.experiments.gaussian_twin import twin_scale_energies
    from wsgm.experiments.mixture_twin import sample_exact
    from wsgm.gaussian.mixture import exact_mixture
    from wsgm.sampling.spec import SamplingSpec

    fields = gaussian_fields(512, size=16, eta=1.75, xi=0.1, generator=np.random.default_rng(1))
    spec = data_spectrum(fields)
    s = SamplingSpec(sampler=sampler, grid=grid, **kw)
    ratios = twin_scale_energies(spec, s, levels=2, wavelet="db4")
    assert set(ratios) == {"total", "lowpass", "scale 1", "scale 2"}
    assert abs(ratios["total"] - 1) > 0.01  # a few steps: the sampler's bias is visible
    true = scale_energies(fields, wavelet="db4", levels=2)
    x = sample_exact(exact_mixture(spec, 0.0, 2, wavelet="db4"), (8192, 1, 16, 16),
                     sampler=sampler, grid=s.grids(T=5.0, levels=2, size=16),
                     generator=torch.Generator().manual_seed(3), wavelet="db4",
                     coarse_sampler=s.coarse_sampler)  # fmt: skip
    made = scale_energies(x.numpy(), wavelet="db4", levels=2)
    from wsgm.gaussian.cross_spectra import lowpass_spectrum

    # the twin's true energies: its spectrum's (the fields' own energies differ by sampling)
    # (per pixel, as scale_energies gives them)
    exact = {"total": float(spec.mean()),
             "lowpass": float(lowpass_spectrum(spec, "db4", 2).sum()) / spec.size}  # fmt: skip
    exact["scale 2"] = float(lowpass_spectrum(spec, "db4", 1).sum()) / spec.size - exact["lowpass"]
    exact["scale 1"] = exact["total"] - exact["lowpass"] - exact["scale 2"]
    assert exact["total"] == pytest.approx(true["total"], rel=0.01)
    for key, r in ratios.items():
        # 8192 fields of >= 16 modes per band: relative MC error below 1 %
        assert made[key] / exact[key] == pytest.approx(r, abs=0.02), key


def test_unbiased_t_min() -> None:
    from wsgm.errors import WSGMError
    from wsgm.experiments.gaussian_twin import twin_scale_energies, twin_unbiased_t_min
    from wsgm.sampling.spec import SamplingSpec

    fields = gaussian_fields(256, size=16, eta=1.75, xi=0.1, generator=np.random.default_rng(2))
    spec = data_spectrum(fields)
    s = SamplingSpec(sampler="dpm2m", grid="logsnr", steps=12)
    t = twin_unbiased_t_min(spec, s, levels=2, wavelet="db4")
    e = twin_scale_energies(spec, s.replace(t_min=t), levels=2, wavelet="db4")
    assert e["total"] == pytest.approx(1.0, abs=2e-3)
    default = twin_scale_energies(spec, s, levels=2, wavelet="db4")["total"]
    assert default > 1.02 and t > 2e-3  # the default t_min overshoots at 12 ODE steps
    with pytest.raises(WSGMError, match="quadratic grid takes no t_min"):
        twin_unbiased_t_min(spec, SamplingSpec(grid="quadratic"), levels=2, wavelet="db4")
    with pytest.raises(WSGMError, match=r"no t_min in \[0.05, 0.1\] gives"):
        twin_unbiased_t_min(spec, s, levels=2, wavelet="db4", bounds=(0.05, 0.1))
    with pytest.raises(WSGMError, match="finite, positive, square"):
        twin_scale_energies(np.zeros((8, 8)), s, levels=1, wavelet="haar")
