"""Every sampler in closed form (wsgm.gaussian.moments, docs/design.md §3.7) against the real
sampler functions of wsgm.samplers: exactly (the samplers are linear, so unit inputs read
off their coefficients), by Monte Carlo with the exact scores (SGM: stationary_score; WSGM:
exact_wsgm through the real coarse-to-fine wsgm_sample), and against the N → ∞ limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import wsgm.samplers as samplers_mod
from wsgm import grids
from wsgm.gaussian import theory
from wsgm.gaussian.moments import em_moments, limit_moments, sampler_moments
from wsgm.gaussian.scores import exact_wsgm
from wsgm.gaussian.spectra import power_spectrum
from wsgm.gaussian.spectrum_exact import wsgm_generated_spectrum
from wsgm.models.normalization import NormalizationStats
from wsgm.models.wsgm import wsgm_sample
from wsgm.sde import OU

SAMPLERS = ("euler", "ancestral", "heun", "dpm2m")
# the pairs of the default `wsgm theory` settings, one per sampler
PAIRS = (("euler", "uniform"), ("ancestral", "quadratic"), ("heun", "karras"), ("dpm2m", "logsnr"))


def _score(c: float):
    """Exact score of N(m, c) noised by the OU process, the mean m passed as ``cond``."""

    def score(x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        assert cond is not None
        a = torch.exp(-t)
        return -(x - a * cond) / (a * a * c + 1 - a * a)

    return score


def _read_off(monkeypatch, name: str, c: float, ts: torch.Tensor, denoise_last: bool):
    """(g, v) of the real sampler: its output is g m + b_0 z_0 + Σ_k b_k z_k (linear), so
    m = 1 with no noise gives g, and a batch whose sample i gets z_i = 1 (z_0 the prior draw,
    z_k the k-th noise draw, all others 0) gives b_i; v = Σ b_i²."""
    run = samplers_mod.get_sampler(name)
    n = ts.shape[0] - 1
    monkeypatch.setattr(samplers_mod, "_randn", lambda x, gen: torch.zeros_like(x))
    one = torch.ones(1, dtype=torch.float64)
    g = run(_score(c), 0 * one, ts, cond=one, denoise_last=denoise_last)
    calls = [0]

    def impulse(x: torch.Tensor, gen: object) -> torch.Tensor:
        calls[0] += 1
        z = torch.zeros_like(x)
        z[calls[0]] = 1.0
        return z

    monkeypatch.setattr(samplers_mod, "_randn", impulse)
    x = torch.zeros(n + 1, dtype=torch.float64)
    x[0] = 1.0
    b = run(_score(c), x, ts, cond=torch.zeros_like(x), denoise_last=denoise_last)
    return float(g[0]), float((b**2).sum())


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("grid", ["uniform", "quadratic", "logsnr", "karras", "logsnr-shifted"])
@pytest.mark.parametrize("denoise_last", [True, False])
def test_closed_form_is_the_real_sampler(monkeypatch, name: str, grid: str, denoise_last: bool):
    for n in (1, 2, 7):
        base = grids.make_grid(grid, n, size=128)
        lifted = base.clone()
        lifted[-1] = 0.5 * base[-2]  # a grid that does not end at t = 0
        for ts in (base, lifted):
            for c in (1e-4, 0.3, 1.0, 5.0):
                g0, v0 = _read_off(monkeypatch, name, c, ts, denoise_last)
                g, v = sampler_moments(np.array([c]), ts, sampler=name, denoise_last=denoise_last)
                # heun on karras with c = 1e-4 and N = 2 has |g| ~ 2e4: relative tolerance
                assert g[0] == pytest.approx(g0, rel=1e-9, abs=1e-12), (n, c, ts)
                assert v[0] == pytest.approx(v0, rel=1e-9, abs=1e-12), (n, c, ts)


def test_em_moments_is_the_euler_closed_form() -> None:
    c = np.array([1e-3, 0.1, 2.0])
    ts = grids.make_grid("quadratic", 33)
    for a, b in zip(em_moments(c, ts), sampler_moments(c, ts, sampler="euler"), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("grid", ["quadratic", "logsnr"])
def test_limit_is_the_many_step_limit(name: str, grid: str) -> None:
    c = np.array([2e-3, 0.05, 1.0, 30.0])
    t_last = 0.0 if grid == "quadratic" else float(grids.make_grid(grid, 2)[1])
    g_inf, v_inf = limit_moments(c, sampler=name, T=5.0, t_last=t_last)
    g, v = sampler_moments(c, grids.make_grid(grid, 1 << 17), sampler=name)
    np.testing.assert_allclose(v, v_inf, rtol=2e-3)
    np.testing.assert_allclose(g, g_inf, rtol=2e-3, atol=1e-6)
    # and the exact law is reached up to the prior's error at T when t_last = 0
    if grid == "quadratic":
        np.testing.assert_allclose(v_inf, c, rtol=0.05)


def test_unknown_sampler() -> None:
    from wsgm.errors import WSGMError

    with pytest.raises(WSGMError, match="'rk4'.*euler, ancestral, heun, dpm2m"):
        sampler_moments(np.ones(2), grids.make_grid("uniform", 3), sampler="rk4")


# --------------------------------------------------------------------------------------
# Monte Carlo with the exact scores
# --------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("name", "grid"), PAIRS)
@pytest.mark.parametrize(("size", "steps", "normalize"), [(16, 4, "lambda-max"), (32, 8, "pixel")])
def test_sgm_monte_carlo_matches_every_closed_form(
    name: str, grid: str, size: int, steps: int, normalize: str
) -> None:
    gen = torch.Generator().manual_seed(1234 + size + steps)
    kl, se = theory.monte_carlo_sgm_kl(
        size, steps, n_samples=2000, generator=gen, sampler=name, grid=grid, normalize=normalize
    )
    kw = dict(sampler=name, grid=grid, normalize=normalize)
    exact = theory.sgm_kl_per_pixel(size, steps, **kw)
    assert abs(kl - exact) <= 3 * se, (kl, exact, se)
    assert se < 0.05 * exact  # the check has teeth
    # negative control: one step more is told apart by many standard errors
    assert abs(kl - theory.sgm_kl_per_pixel(size, steps + 1, **kw)) > 10 * se


def _fourier_kl(p: np.ndarray, generated: np.ndarray) -> float:
    r = p / generated
    return float(0.5 * np.mean(r - 1 - np.log(r)))


def _wsgm_closed_spectrum(size: int, levels: int, name: str, grid: str, steps: int) -> np.ndarray:
    probs = theory.wavelet_problems(size, levels)
    ts = grids.make_grid(grid, steps)
    moments = [theory.unique_moments(p.variances, ts, sampler=name) for p in probs]
    return wsgm_generated_spectrum(probs, moments, "haar")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "grid"), PAIRS)
def test_wsgm_monte_carlo_matches_the_generated_spectrum(name: str, grid: str) -> None:
    """The real coarse-to-fine sampler with the exact scores: its per-mode power, through
    the Fourier KL ½ mean(P/P_gen − 1 + log(P_gen/P)) (jackknife over 20 groups), agrees
    with the closed-form generated spectrum (docs/design.md §3.8) within 3 standard errors,
    and tells N + 1 steps apart."""
    size, levels, steps, groups, per = 16, 2, 4, 20, 200
    p = power_spectrum(size)
    ex = exact_wsgm(p, levels, wavelet="haar")
    stats = NormalizationStats.from_tensors(ex.stats_tensors())
    gen = torch.Generator().manual_seed(0)
    power = np.zeros((groups, size, size))
    for k in range(groups):
        x = wsgm_sample(
            ex.coarse_score_fn,
            ex.cond_score_fns,
            stats,
            shape=(per, 1, size, size),
            wavelet="haar",
            sampler=name,
            grids=grids.make_grid(grid, steps),
            generator=gen,
            dtype=torch.float64,
            sde=OU(),
        )
        power[k] = (torch.fft.fft2(x[:, 0]).abs() ** 2).sum(0).numpy() / size**2
    total = power.sum(0)
    full = _fourier_kl(p, total / (groups * per))
    loo = np.array([_fourier_kl(p, (total - w) / ((groups - 1) * per)) for w in power])
    value = groups * full - (groups - 1) * loo.mean()
    se = math.sqrt((groups - 1) / groups * np.sum((loo - loo.mean()) ** 2))
    exact = _fourier_kl(p, _wsgm_closed_spectrum(size, levels, name, grid, steps))
    assert abs(value - exact) <= 3 * se, (value, exact, se)
    assert se < 0.05 * exact
    wrong = _fourier_kl(p, _wsgm_closed_spectrum(size, levels, name, grid, steps + 1))
    assert abs(value - wrong) > 10 * se
