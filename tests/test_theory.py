"""Exact Gaussian theory: oracles (explicit covariance matrices, a plain-loop recursion,
Monte Carlo with the real samplers) and the paper's scaling claims."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from wsgm import grids
from wsgm.cli import main
from wsgm.errors import WSGMError
from wsgm.gaussian import theory
from wsgm.gaussian.cross_spectra import cross_spectrum
from wsgm.gaussian.spectra import power_spectrum
from wsgm.wavelets import dwt


def _em_loop(c: float, ts: np.ndarray, denoise_last: bool) -> tuple[float, float]:
    g, v = 0.0, 1.0
    n = len(ts) - 1
    for k in range(n):
        t = ts[k]
        den = math.exp(-2 * t) * c + 1 - math.exp(-2 * t)
        if k == n - 1 and denoise_last:
            p = math.exp(-t) * c / den
            return p * g + (1 - math.exp(-2 * t)) / den, p * p * v
        d = t - ts[k + 1]
        a = 1 + d * (1 - 2 / den)
        g = a * g + 2 * d * math.exp(-t) / den
        v = a * a * v + 2 * d
    return g, v


@pytest.mark.parametrize("denoise_last", [True, False])
@pytest.mark.parametrize("grid", ["uniform", "quadratic", "log"])
def test_em_moments_match_plain_loop(grid: str, denoise_last: bool) -> None:
    c = np.array([1e-4, 0.03, 0.5, 1.0, 3.0])
    ts = grids.make_grid(grid, 37).numpy()
    g, v = theory.em_moments(c, ts, denoise_last=denoise_last)
    for i, ci in enumerate(c):
        g0, v0 = _em_loop(float(ci), ts, denoise_last)
        assert g[i] == pytest.approx(g0, rel=1e-12)
        assert v[i] == pytest.approx(v0, rel=1e-12)


def test_kl_converges_at_first_order() -> None:
    # Weak order 1 in the step: the KL (quadratic in the moment errors) falls like 1/N².
    a, b = theory.sgm_kl_per_pixel(16, 4096), theory.sgm_kl_per_pixel(16, 8192)
    assert 0.2 < b / a < 0.3
    assert theory.wsgm_kl_per_pixel(16, 4096) < 1e-5


def _dwt_matrix(size: int, wavelet: str) -> np.ndarray:
    basis = torch.eye(size * size, dtype=torch.float64).reshape(-1, size, size)
    low, det = dwt(basis, wavelet)
    return torch.cat([low[:, None], det], 1).reshape(size * size, -1).T.numpy()


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4"])
@pytest.mark.parametrize("size", [2, 4, 8])
def test_cross_spectrum_matches_explicit_covariance(wavelet: str, size: int) -> None:
    rng = np.random.default_rng(0)
    spec = power_spectrum(size, eta=2.0, xi=0.3) * (1 + 0.1 * rng.random((size, size)))
    spec = 0.5 * (spec + np.roll(np.flip(spec), 1, axis=(0, 1)))  # real field: P(k) = P(-k)
    f = np.fft.fft2(np.eye(size * size).reshape(-1, size, size)).reshape(size * size, -1)
    cov = (f.conj().T @ np.diag(spec.ravel()) @ f).real / size**2
    w = _dwt_matrix(size, wavelet)
    y = w @ cov @ w.T  # covariance of the 4 channels on the half grid
    h = size // 2
    s_y = cross_spectrum(spec, wavelet)
    for c in range(4):
        for d in range(4):
            block = y[c * h * h : (c + 1) * h * h, d * h * h : (d + 1) * h * h]
            r = block[0].reshape(h, h)  # R_cd(tau) = Cov(y_c[0], y_d[tau])
            expected = np.fft.ifft2(r) * h * h  # sum_tau R(tau) e^{+i k tau}
            np.testing.assert_allclose(s_y[..., c, d], expected, atol=1e-12)


@pytest.mark.parametrize("wavelet", ["haar", "db4"])
def test_wsgm_problems_are_well_conditioned_at_every_size(wavelet: str) -> None:
    kappas = [theory.wsgm_condition_number(L, wavelet=wavelet) for L in (16, 32, 64, 128)]
    assert max(kappas) < 30
    assert kappas[-1] / kappas[0] < 1.5
    sgm = [theory.sgm_condition_number(L) for L in (16, 32, 64, 128)]
    assert theory.fit_exponent([16, 32, 64, 128], sgm) == pytest.approx(2.0, abs=1e-9)


@pytest.mark.parametrize("wavelet", ["haar", "db4"])
def test_scaling_exponents(wavelet: str) -> None:
    sizes = [16, 32, 64, 128]
    n_sgm = [theory.steps_needed(lambda n, L=L: theory.sgm_kl_per_pixel(L, n), 0.05) for L in sizes]
    n_wsgm = [
        theory.steps_needed(lambda n, L=L: theory.wsgm_kl_per_pixel(L, n, wavelet=wavelet), 0.05)
        for L in sizes
    ]
    assert 1.7 <= theory.fit_exponent(sizes, n_sgm) <= 2.3
    assert abs(theory.fit_exponent(sizes, n_wsgm)) <= 0.25
    assert n_sgm[-1] / n_wsgm[-1] >= 100


def test_steps_needed_is_the_smallest() -> None:
    f = lambda n: theory.sgm_kl_per_pixel(16, n)
    n = theory.steps_needed(f, 0.05)
    assert f(n) <= 0.05 < f(n - 1)


@pytest.mark.slow
@pytest.mark.parametrize("size,steps", [(16, 8), (16, 64), (32, 8), (32, 64)])
def test_monte_carlo_euler_maruyama_matches_closed_form(size: int, steps: int) -> None:
    gen = torch.Generator().manual_seed(1234 + size + steps)
    kl, se = theory.monte_carlo_sgm_kl(size, steps, n_samples=2000, generator=gen)
    exact = theory.sgm_kl_per_pixel(size, steps)
    assert abs(kl - exact) <= 3 * se, (kl, exact, se)
    assert se < 0.02 * exact  # the check has teeth: the error bar is small


def test_monte_carlo_detects_a_wrong_sampler() -> None:
    # The same estimator applied to the sampler without the final Tweedie step disagrees
    # with the closed form of the default sampler by many standard errors.
    gen = torch.Generator().manual_seed(0)
    kl, se = theory.monte_carlo_sgm_kl(16, 8, n_samples=1000, generator=gen, denoise_last=False)
    assert abs(kl - theory.sgm_kl_per_pixel(16, 8)) > 10 * se
    assert abs(kl - theory.sgm_kl_per_pixel(16, 8, denoise_last=False)) < 4 * se


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"eta": 0.0}, "eta"),
        ({"eta": -1.0}, "eta"),
        ({"xi": float("nan")}, "xi"),
        ({"steps": [0]}, "steps"),
        ({"wavelet": "bior2.2"}, "bior2.2"),
        ({"sizes": [24]}, "24"),
        ({"coarsest": 3}, "coarsest"),
        ({"epsilon": -1.0}, "epsilon"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    from wsgm.gaussian.report import compute

    base = dict(
        sizes=[16],
        steps=[4],
        eta=2.0,
        xi=0.0,
        epsilon=0.05,
        wavelet="haar",
        coarsest=4,
        grid="uniform",
        T=5.0,
    )
    base.update(kwargs)
    with pytest.raises(WSGMError, match=match):
        compute(**base)


def test_levels_too_large() -> None:
    with pytest.raises(WSGMError, match="level"):
        theory.wavelet_problems(16, 5)


def test_cli_writes_json_and_plots(tmp_path, capsys) -> None:
    rc = main(["theory", "--sizes", "8,16,32", "--sweep-steps", "4,16,64", "--out", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "theory.json").read_text())
    for key in (
        "eta",
        "xi",
        "epsilon",
        "wavelet",
        "sizes",
        "steps",
        "sgm",
        "wsgm",
        "exponent",
        "seconds",
    ):
        assert key in res
    assert set(res["sgm"]["16"]) >= {"kappa", "kl_per_pixel", "n_needed"}
    assert len(res["wsgm"]["32"]["kl_per_pixel"]) == 3
    assert (tmp_path / "theory_kl.png").stat().st_size > 1000
    assert "Fitted exponent" in capsys.readouterr().out


def test_cli_bad_input_is_one_line(capsys) -> None:
    assert main(["theory", "--eta", "-2"]) == 2
    err = capsys.readouterr().err
    assert "eta" in err and "Traceback" not in err
