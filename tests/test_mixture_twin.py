"""The mixture twin (docs/design.md §3.9): exact scores of ½ N(±μ𝟙, C) against autograd of
dense pixel-basis log-densities, the WSGM conditionals (a single Gaussian), sampling by the
real samplers, μ = 0 = the Gaussian twin, the data fit, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dense_gaussian import dense_circulant_cov
from wsgm import wavelets
from wsgm.errors import WSGMError
from wsgm.experiments.gaussian_twin import _error, _radial, data_spectrum, twin_noise
from wsgm.experiments.mixture_twin import fit_mixture, mixture_twin_sweep, sample_exact
from wsgm.gaussian.mixture import (
    component_spectrum,
    exact_mixture,
    mixture_log_density,
    mixture_score,
    sample_mixture,
    total_spectrum,
)
from wsgm.gaussian.scores import exact_wsgm, stationary_score
from wsgm.grids import make_grid
from wsgm.sampling.spec import SamplingSpec

D = torch.float64
TIMES = [0.0, 1e-4, 0.05, 0.7, 3.0, 5.0]


def _spectrum(size: int, seed: int = 0, zero: float = 0.4) -> np.ndarray:
    """A positive spectrum with P(k) = P(−k) (a real stationary field), anisotropic, red."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.3, 1.5, (size, size))
    r = 0.5 * (r + np.roll(np.flip(r, (0, 1)), 1, (0, 1)))
    k = np.fft.fftfreq(size) * size
    red = 1.0 / (1.0 + np.hypot(k[:, None], k[None, :]))
    p = r * red
    p[0, 0] = zero
    return p


def _noised_mixture_logpdf(
    y: torch.Tensor, t: float, means: list[torch.Tensor], cov: torch.Tensor, weights=None
) -> torch.Tensor:
    """log Σ_i w_i N(y; α m_i, α² cov + σ² I), y (B, n) dense; w_i = ½ by default."""
    a, s2 = math.exp(-t), -math.expm1(-2 * t)
    big = a * a * cov + s2 * torch.eye(cov.shape[0], dtype=D)
    comps = []
    for i, m in enumerate(means):
        w = weights[i] if weights is not None else torch.tensor(0.5, dtype=D)
        dist = torch.distributions.MultivariateNormal(a * m, big)
        comps.append(dist.log_prob(y) + torch.log(w))
    return torch.logsumexp(torch.stack(comps), dim=0)


def _autograd_score(logpdf, y: torch.Tensor) -> torch.Tensor:
    y = y.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(logpdf(y).sum(), y)
    return grad


def _matrix(fn, size: int) -> torch.Tensor:
    """The matrix of a linear map of (size, size) fields, columns = images of the pixels."""
    eye = torch.eye(size * size, dtype=D).reshape(-1, 1, size, size)
    return fn(eye).reshape(size * size, -1).T


def _noised(x: torch.Tensor, t: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return math.exp(-t) * x + math.sqrt(-math.expm1(-2 * t)) * torch.randn(
        x.shape, generator=g, dtype=D
    )


def _assert_close(got: torch.Tensor, want: torch.Tensor, rtol: float = 1e-9) -> None:
    err = float((got - want).abs().max())
    assert err <= rtol * float(want.abs().max()) + 1e-12, (err, float(want.abs().max()))


# --- the score in the pixel basis ---------------------------------------------------------


@pytest.mark.parametrize("t", TIMES)
def test_score_and_log_density_match_dense_autograd(t: float) -> None:
    size, mu = 8, 0.35
    spec = _spectrum(size)
    cov = dense_circulant_cov(spec)
    ones = torch.ones(size * size, dtype=D)
    x = sample_mixture(spec, mu, 6, generator=torch.Generator().manual_seed(1))
    x[-1] -= x[-1].mean()  # a field between the modes: posterior weights near ½
    y = _noised(x, t, seed=2)

    def dense(v: torch.Tensor) -> torch.Tensor:
        return _noised_mixture_logpdf(v.reshape(len(v), -1), t, [mu * ones, -mu * ones], cov)

    want = _autograd_score(dense, y)
    tt = torch.tensor(t, dtype=D)
    got = mixture_score(torch.as_tensor(spec), mu)(y, tt, None)
    _assert_close(got, want)
    _assert_close(mixture_log_density(y, tt, torch.as_tensor(spec), mu), dense(y), 1e-12)
    # the closed-form log-density's own gradient is the score too
    grad = _autograd_score(lambda v: mixture_log_density(v, tt, torch.as_tensor(spec), mu), y)
    _assert_close(grad, want)


def test_score_saturates_without_overflow() -> None:
    """Far from 0 the posterior weight is 0 or 1 (tanh saturates): no NaN, the score of the
    nearer component."""
    spec = _spectrum(8)
    y = torch.full((2, 8, 8), 50.0, dtype=D)
    y[1] *= -1
    got = mixture_score(torch.as_tensor(spec), 3.0)(y, torch.tensor(1e-3, dtype=D), None)
    near = stationary_score(torch.as_tensor(spec))
    a = math.exp(-1e-3) * 3.0
    want = near(y - torch.tensor([a, -a], dtype=D)[:, None, None], torch.tensor(1e-3, dtype=D))
    assert torch.isfinite(got).all()
    _assert_close(got, want, 1e-12)


# --- the WSGM: coarse, conditionals, statistics --------------------------------------------


def _component_law(spec: np.ndarray, mu: float, fn) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (of the + component) and covariance of fn(x) for x ~ N(μ𝟙, C), fn linear."""
    size = spec.shape[0]
    m = _matrix(fn, size)
    return m @ (mu * torch.ones(size * size, dtype=D)), m @ dense_circulant_cov(spec) @ m.T


@pytest.mark.parametrize(("levels", "wavelet"), [(0, "db4"), (1, "haar"), (2, "db4")])
@pytest.mark.parametrize("t", [0.0, 1e-3, 0.3, 5.0])
def test_coarse_score_matches_dense_autograd(levels: int, wavelet: str, t: float) -> None:
    """The score of the normalized coarsest low-pass x_J / s_J (the SGM's x / s_0 for J = 0):
    a two-component mixture, against autograd of its dense density."""
    size, mu = 16, 0.3
    spec = _spectrum(size, seed=3, zero=0.5)
    ex = exact_mixture(spec, mu, levels, wavelet=wavelet)
    s_j = float(ex.low_std[levels])
    mean, cov = _component_law(spec, mu, lambda v: wavelets.wavedec(v, wavelet, levels)[0] / s_j)
    h = size >> levels
    x = sample_mixture(spec, mu, 5, generator=torch.Generator().manual_seed(4))
    xj = wavelets.wavedec(x[:, None], wavelet, levels)[0] / s_j
    y = _noised(xj, t, seed=5)
    want = _autograd_score(
        lambda v: _noised_mixture_logpdf(v.reshape(5, -1), t, [mean, -mean], cov), y
    )
    got = ex.coarse_score_fn(y, torch.tensor(t, dtype=D), None)
    assert got.shape == (5, 1, h, h)
    _assert_close(got, want)


@pytest.mark.parametrize(("levels", "wavelet"), [(1, "haar"), (2, "db4"), (2, "sym3")])
def test_statistics_are_the_mixtures(levels: int, wavelet: str) -> None:
    """low_std² = pixel variance of x_j under the mixture (with the ±μ spread), detail stds
    per band, means 0: what compute_stats would measure on infinitely many draws."""
    size, mu = 16, 0.6
    spec = _spectrum(size, seed=6, zero=0.5)
    ex = exact_mixture(spec, mu, levels, wavelet=wavelet)
    st = ex.stats_tensors()
    assert not st["low_mean"].any() and not st["detail_mean"].any()
    for j in range(levels + 1):
        mean, cov = _component_law(spec, mu, lambda v, j=j: wavelets.wavedec(v, wavelet, j)[0])
        var = (cov.diagonal().sum() + mean @ mean) / len(mean)
        assert abs(float(st["low_std"][j, 0]) ** 2 - float(var)) < 1e-9 * float(var)
    for j in range(1, levels + 1):
        mean, cov = _component_law(spec, mu, lambda v, j=j: wavelets.wavedec(v, wavelet, j)[1][0])
        assert float(mean.abs().max()) < 1e-10 * mu  # the mean lives in the low-pass only (§4.1)
        var = cov.diagonal().reshape(3, -1).mean(dim=1)
        torch.testing.assert_close(st["detail_std"][j - 1, 0] ** 2, var, rtol=1e-9, atol=0)


def _conditional_parts(spec, mu, wavelet, j, x_low):
    """Per component ±: the dense law of the details x̄_j given x_j = x_low (B, h·h):
    weights (2, B), means (2, B, 3·h·h), covariances (2, 3·h·h, 3·h·h)."""
    mean, cov = _component_law(
        spec,
        mu,
        lambda v: torch.cat(
            [
                wavelets.wavedec(v, wavelet, j)[0].flatten(1),
                wavelets.wavedec(v, wavelet, j)[1][0].flatten(1),
            ],
            dim=1,
        ),
    )
    n_low = x_low.shape[1]
    c_ll, c_dl, c_dd = cov[:n_low, :n_low], cov[n_low:, :n_low], cov[n_low:, n_low:]
    gain = c_dl @ torch.linalg.inv(c_ll)
    schur = c_dd - gain @ c_dl.T
    weights, means = [], []
    for sign in (1.0, -1.0):
        m_l, m_d = sign * mean[:n_low], sign * mean[n_low:]
        weights.append(torch.distributions.MultivariateNormal(m_l, c_ll).log_prob(x_low))
        means.append(m_d + (x_low - m_l) @ gain.T)
    w = torch.softmax(torch.stack(weights), dim=0)
    return w, torch.stack(means), torch.stack([schur, schur])


@pytest.mark.parametrize(("levels", "wavelet"), [(1, "haar"), (2, "db4")])
@pytest.mark.parametrize("t", [0.0, 1e-3, 0.3, 5.0])
def test_conditional_scores_match_dense_autograd(levels: int, wavelet: str, t: float) -> None:
    """Score of the normalized details given the normalized low-pass at every scale, against
    autograd of the dense conditional density Σ± w±(x_j) N(α m±, α² S + σ² I), which is
    built as a mixture (no use of the single-Gaussian result)."""
    size, mu = 16, 0.4
    spec = _spectrum(size, seed=7, zero=0.3)
    ex = exact_mixture(spec, mu, levels, wavelet=wavelet)
    x = sample_mixture(spec, mu, 4, generator=torch.Generator().manual_seed(8))[:, None]
    for j in range(1, levels + 1):
        low, details = wavelets.wavedec(x, wavelet, j)
        s_low = float(ex.low_std[j])
        std = torch.as_tensor(ex.detail_std[j - 1], dtype=D)
        cond = low / s_low
        w, means, covs = _conditional_parts(spec, mu, wavelet, j, low.flatten(1))
        scale = std.repeat_interleave(low.shape[-1] ** 2)  # per flattened detail coefficient
        yt = _noised(details[0][:, 0] / std[None, :, None, None], t, seed=9 + j)

        def dense(v, w=w, means=means, covs=covs, scale=scale):
            flat = v.reshape(len(v), -1)
            return _noised_mixture_logpdf(
                flat,
                t,
                [means[0] / scale, means[1] / scale],
                covs[0] / scale[:, None] / scale[None, :],
                weights=w,
            )

        want = _autograd_score(dense, yt)
        got = ex.cond_score_fns[j - 1](yt, torch.tensor(t, dtype=D), cond)
        _assert_close(got, want, 1e-8)


@pytest.mark.parametrize("wavelet", ["haar", "db4", "coif1"])
def test_detail_conditional_is_one_gaussian(wavelet: str) -> None:
    """Given the low-pass, both components give the same conditional mean of the details (and
    the same covariance by construction): the weights do not matter, the law is one Gaussian
    even where the weights are ½ / ½ (a low-pass with mean 0) or 0 / 1."""
    size, mu = 16, 0.5
    spec = _spectrum(size, seed=10)
    x = sample_mixture(spec, mu, 3, generator=torch.Generator().manual_seed(11))
    x[0] -= x[0].mean()
    for j in (1, 2):
        low = wavelets.wavedec(x[:, None], wavelet, j)[0].flatten(1)
        w, means, _ = _conditional_parts(spec, mu, wavelet, j, low)
        assert float(w.min()) < 1e-6 and abs(float(w[0, 0]) - 0.5) < 1e-9
        _assert_close(means[0], means[1], 1e-10)


# --- μ = 0 and the Gaussian twin -----------------------------------------------------------


@pytest.mark.parametrize("levels", [0, 1, 2])
def test_mu_zero_is_the_gaussian_twin_exactly(levels: int) -> None:
    spec = _spectrum(16, seed=12)
    mix = exact_mixture(spec, 0.0, levels, wavelet="db4")
    g = torch.Generator().manual_seed(13)
    if levels == 0:
        gauss_coarse = stationary_score(torch.as_tensor(spec / spec.mean()))
        assert np.array_equal(mix.low_std, [np.sqrt(spec.mean())])
        gauss_cond = []
    else:
        gauss = exact_wsgm(spec, levels, wavelet="db4")
        for key, value in gauss.stats_tensors().items():
            assert torch.equal(mix.stats_tensors()[key], value), key
        gauss_coarse, gauss_cond = gauss.coarse_score_fn, gauss.cond_score_fns
    h = 16 >> levels
    for t in TIMES:
        tt = torch.tensor(t, dtype=D)
        y = torch.randn((3, 1, h, h), generator=g, dtype=D)
        assert torch.equal(mix.coarse_score_fn(y, tt, None), gauss_coarse(y, tt, None))
        for j, fn in enumerate(gauss_cond, start=1):
            hj = 16 >> j
            d = torch.randn((3, 3, hj, hj), generator=g, dtype=D)
            c = torch.randn((3, 1, hj, hj), generator=g, dtype=D)
            assert torch.equal(mix.cond_score_fns[j - 1](d, tt, c), fn(d, tt, c))


def _sample(ex, sampler: str, grid: torch.Tensor, n: int, size: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = sample_exact(ex, (n, 1, size, size), sampler=sampler, grid=grid, generator=g, wavelet="db4")
    return x[:, 0]


@pytest.mark.parametrize("levels", [0, 2])
@pytest.mark.parametrize(("sampler", "grid"), [("euler", "quadratic"), ("dpm2m", "logsnr")])
def test_paired_samples_differ_from_the_twins_by_a_constant(
    levels: int, sampler: str, grid: str
) -> None:
    """With the same noise, mixture-twin and Gaussian-twin samples (same two-point function)
    differ by a constant per field: the scores differ by a constant field, the WSGM
    conditionals not at all (docs/design.md §3.9)."""
    size, mu = 16, 0.5
    total = _spectrum(size, seed=14, zero=0.5 + mu * mu * size * size)
    spec = component_spectrum(total, mu)
    ts = make_grid(grid, 8)
    a = _sample(exact_mixture(spec, mu, levels, wavelet="db4"), sampler, ts, 32, size, 15)
    b = _sample(exact_mixture(total, 0.0, levels, wavelet="db4"), sampler, ts, 32, size, 15)
    diff = a - b
    assert float((diff - diff.mean(dim=(1, 2), keepdim=True)).abs().max()) < 1e-10
    assert float(diff.abs().max()) > 0.1  # the zero modes do differ


# --- sampling reproduces the law ---------------------------------------------------------


def _abs_m_mean(mu: float, v: float) -> float:
    """E|m| for m ~ ½ N(±μ, v)."""
    s = math.sqrt(v)
    phi = math.exp(-0.5 * (mu / s) ** 2) / math.sqrt(2 * math.pi)
    return mu * math.erf(mu / (s * math.sqrt(2))) + 2 * s * phi


@pytest.mark.slow
@pytest.mark.parametrize("levels", [0, 2])
@pytest.mark.parametrize(
    ("sampler", "grid", "steps"), [("euler", "quadratic", 256), ("dpm2m", "logsnr", 64)]
)
def test_exact_sampling_reproduces_the_law(
    levels: int, sampler: str, grid: str, steps: int
) -> None:
    """Many steps of the real samplers with the exact scores: m bimodal with peaks at ±μ
    (E|m| and the spread within Monte Carlo error), half the fields positive, the spectrum
    within its Monte Carlo noise."""
    size, mu, n = 16, 0.5, 2048
    spec = _spectrum(size, seed=16, zero=0.02 * size * size)  # m's component std 0.14
    v = spec[0, 0] / spec.size
    x = _sample(
        exact_mixture(spec, mu, levels, wavelet="db4"), sampler, make_grid(grid, steps), n, size, 17
    )
    m = x.mean(dim=(1, 2)).numpy()
    se_abs = math.sqrt(v / n)
    assert abs(np.abs(m).mean() - _abs_m_mean(mu, v)) < 4 * se_abs
    assert abs((m > 0).mean() - 0.5) < 4 * math.sqrt(0.25 / n)
    assert abs(np.abs(m).std() - math.sqrt(v)) < 4 * math.sqrt(v / (2 * n)) + 0.01 * math.sqrt(v)
    dens, edges = np.histogram(m, bins=np.linspace(-1.0, 1.0, 21), density=True)
    centre = dens[9:11].mean()
    peaks = [dens[np.argmin(np.abs(0.5 * (edges[:-1] + edges[1:]) - s * mu))] for s in (1, -1)]
    assert min(peaks) > 10 * max(centre, 1e-3)  # bimodal, the peaks at ±μ
    noise = twin_noise(total_spectrum(spec, mu), n=n)
    assert _error(x, _radial(total_spectrum(spec, mu))) < 3 * noise


# --- the data side -------------------------------------------------------------------------


def test_fit_recovers_a_known_mixture() -> None:
    size, mu = 8, 0.6
    spec = _spectrum(size, seed=18, zero=0.02 * size * size)
    x = sample_mixture(spec, mu, 20000, generator=torch.Generator().manual_seed(19)).numpy()
    fit = fit_mixture(x)
    assert abs(fit.mean - mu) < 0.01
    assert np.array_equal(fit.total, data_spectrum(x))  # the data's two-point function ...
    np.testing.assert_allclose(total_spectrum(fit.spectrum, fit.mean), fit.total, rtol=1e-12)
    assert np.median(np.abs(fit.spectrum / spec - 1)) < 0.03  # ... and the component's
    assert (
        abs(fit.binder - (1 - (mu**4 + 6 * mu**2 * 0.02 + 3 * 0.02**2) / (3 * (mu**2 + 0.02) ** 2)))
        < 0.01
    )
    s = fit.summary()
    assert abs(s["component_m_var"] - 0.02) < 0.003 and abs(s["abs_m_peak"] - mu) < 0.05
    assert fit_mixture(x, mean=0.0).mean == 0.0
    assert np.array_equal(fit_mixture(x, mean=0.0).spectrum, fit.total)


def test_fit_of_gaussian_fields_has_small_mu() -> None:
    spec = _spectrum(8, seed=20)
    x = sample_mixture(spec, 0.0, 20000, generator=torch.Generator().manual_seed(21)).numpy()
    fit = fit_mixture(x)
    assert abs(fit.binder) < 0.03
    assert fit.mean**2 < 0.25 * fit.m2


def test_sweep_small() -> None:
    size, mu = 16, 0.5
    spec = _spectrum(size, seed=22, zero=0.02 * size * size)
    x = sample_mixture(spec, mu, 512, generator=torch.Generator().manual_seed(23)).numpy()
    fit = fit_mixture(x)
    spec = SamplingSpec(sampler="euler", grid="quadratic")
    out = mixture_twin_sweep(fit, [4, 64], spec, levels=2, wavelet="db4", n=256)
    assert out["steps"] == [4, 64]
    for law in ("mixture", "gaussian"):
        assert set(out["floors"][law]) == set(out["errors"][law]["sgm"])
        for model in ("sgm", "wsgm"):
            errs = out["errors"][law][model]
            assert errs["spectrum"][1] < errs["spectrum"][0]
            assert errs["abs_magnetization_w1"][1] < errs["abs_magnetization_w1"][0]
            # paired draws: the twins' spectrum errors agree (they differ in the zero mode)
            other = out["errors"]["gaussian"][model]["spectrum"]
            np.testing.assert_allclose(errs["spectrum"], other, rtol=1e-9)
    assert abs(out["binder_exact"]["mixture"] - fit.binder) < 0.05


# --- bad input ---------------------------------------------------------------------------


def test_bad_input_is_a_clear_wsgm_error() -> None:
    good = _spectrum(8)
    neg = good.copy()
    neg[2, 3] = -1.0
    with pytest.raises(WSGMError, match=r"finite and positive.*\(2, 3\)"):
        exact_mixture(neg, 0.3, 1, wavelet="haar")
    with pytest.raises(WSGMError, match="2-d"):
        exact_mixture(np.ones(8), 0.3, 0, wavelet="haar")
    with pytest.raises(WSGMError, match="mean μ must be finite and >= 0"):
        exact_mixture(good, float("nan"), 1, wavelet="haar")
    with pytest.raises(WSGMError, match="mean μ must be finite and >= 0"):
        sample_mixture(good, -1.0, 4, generator=torch.Generator())
    with pytest.raises(WSGMError, match="too large"):
        component_spectrum(good, 1.0)
    with pytest.raises(WSGMError, match="levels"):
        exact_mixture(_spectrum(12), 0.3, 3, wavelet="haar")
    with pytest.raises(WSGMError, match="levels must be an integer"):
        exact_mixture(good, 0.3, -1, wavelet="haar")
    with pytest.raises(WSGMError, match="positive integer"):
        sample_mixture(good, 0.3, 0, generator=torch.Generator())
    score = mixture_score(torch.as_tensor(good), 0.3)
    with pytest.raises(WSGMError, match=r"grid \(8, 8\)"):
        score(torch.zeros(2, 1, 16, 16, dtype=D), torch.tensor(0.1, dtype=D), None)
    with pytest.raises(WSGMError, match="one-channel fields"):
        fit_mixture(np.zeros((4, 2, 8, 8)))
    with pytest.raises(WSGMError, match="NaN or Inf"):
        fit_mixture(np.full((4, 8, 8), np.nan))
    fit = fit_mixture(sample_mixture(good, 0.3, 64, generator=torch.Generator()).numpy())
    with pytest.raises(WSGMError, match="unknown twin"):
        mixture_twin_sweep(fit, [2], SamplingSpec(), levels=1, wavelet="haar", laws=("ising",))
    with pytest.raises(WSGMError, match="too large"):
        fit_mixture(sample_mixture(good, 0.3, 64, generator=torch.Generator()).numpy(), mean=5.0)


def test_reference_draws_are_the_law() -> None:
    """sample_mixture: signs fair, the component spectrum about each mode."""
    spec = _spectrum(8, seed=24, zero=0.5)
    x = sample_mixture(spec, 0.7, 40000, generator=torch.Generator().manual_seed(25))
    m = x.mean(dim=(1, 2))
    assert abs(float((m > 0).double().mean()) - 0.5) < 0.01
    centred = x - torch.sign(m)[:, None, None] * 0.7
    est = data_spectrum(centred.numpy() + 0.0)
    assert np.median(np.abs(est / spec - 1)) < 0.03
