"""OU process formulas, time grids and the samplers, against closed-form Gaussians."""

from __future__ import annotations

import math

import pytest
import torch

from wsgm import grids
from wsgm.samplers import ancestral, dpm_solver_2m, euler_maruyama, get_sampler, heun
from wsgm.sde import OU, broadcast_time

SAMPLERS = [euler_maruyama, ancestral, heun, dpm_solver_2m]


def gaussian_score(var: torch.Tensor, mean: torch.Tensor | float = 0.0):
    """Exact score of X_t when X_0 ~ N(mean, diag(var)) (any shape, broadcast)."""

    def score(x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        m = mean if cond is None else cond
        a = torch.exp(-t)
        return -(x - a * m) / (a * a * var + 1 - a * a)

    return score


def test_marginal_moments() -> None:
    sde = OU()
    t = torch.tensor(0.7, dtype=torch.float64)
    x0 = torch.full((200_000,), 2.0, dtype=torch.float64)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    xt = sde.perturb(x0, t, noise)
    assert xt.mean().item() == pytest.approx(2 * math.exp(-0.7), abs=5e-3)
    assert xt.var().item() == pytest.approx(1 - math.exp(-1.4), rel=1e-2)


def test_score_eps_round_trip_and_tweedie() -> None:
    sde = OU()
    t = torch.tensor([0.1, 1.0, 3.0], dtype=torch.float64)
    eps = torch.randn(3, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(sde.eps_from_score(sde.score_from_eps(eps, t), t), eps)
    # Tweedie on a point mass at x0 recovers x0 exactly.
    x0 = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    xt = sde.perturb(x0, t, eps)
    score = -(xt - broadcast_time(torch.exp(-t), xt) * x0) / broadcast_time(sde.sigma2(t), xt)
    assert torch.allclose(sde.denoise(xt, score, t), x0)


def test_posterior_is_bayes_rule() -> None:
    # q(x_s | x_t, x_0) from the product of the two Gaussian transitions, by brute force.
    sde = OU()
    t, s = torch.tensor(1.3, dtype=torch.float64), torch.tensor(0.4, dtype=torch.float64)
    x0, xt = torch.tensor(0.8, dtype=torch.float64), torch.tensor(-0.3, dtype=torch.float64)
    mean, std = sde.posterior(xt, x0, t, s)
    a_s, a_ts = math.exp(-0.4), math.exp(-0.9)
    prior_m, prior_v = a_s * 0.8, 1 - a_s**2  # x_s | x_0
    like_v = 1 - a_ts**2  # x_t | x_s ~ N(a_ts x_s, like_v)
    post_v = 1 / (1 / prior_v + a_ts**2 / like_v)
    post_m = post_v * (prior_m / prior_v + a_ts * -0.3 / like_v)
    assert mean.item() == pytest.approx(post_m, rel=1e-12)
    assert std.item() ** 2 == pytest.approx(post_v, rel=1e-12)


def test_ou_rejects_bad_horizon() -> None:
    with pytest.raises(ValueError, match="T="):
        OU(T=-1.0)


@pytest.mark.parametrize("name", ["uniform", "quadratic", "log", "logsnr"])
@pytest.mark.parametrize("n", [1, 2, 17])
def test_grids_decreasing(name: str, n: int) -> None:
    g = grids.make_grid(name, n, T=5.0)
    assert g.shape == (n + 1,)
    assert g[0].item() == pytest.approx(5.0) and g[-1].item() == 0.0
    assert bool(torch.all(g[1:] < g[:-1]))


def test_quadratic_grid_formula() -> None:
    g = grids.quadratic(4, T=5.0)
    assert torch.allclose(
        g, torch.tensor([5.0, 5 * 9 / 16, 5 * 4 / 16, 5 / 16, 0.0], dtype=g.dtype)
    )


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_grid_bad_steps(n) -> None:
    with pytest.raises(ValueError, match="steps"):
        grids.uniform(n)


def test_grid_bad_name() -> None:
    with pytest.raises(ValueError, match="allowed"):
        grids.make_grid("cosine", 4)


def test_sampler_bad_name_and_bad_grid() -> None:
    with pytest.raises(ValueError, match="allowed"):
        get_sampler("ddim")
    with pytest.raises(ValueError, match="decreasing"):
        euler_maruyama(gaussian_score(torch.tensor(1.0)), torch.zeros(3), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_samplers_converge_to_gaussian_target(sampler) -> None:
    # Target N(m, c) per coordinate, c spanning two decades; many fine steps -> exact law.
    c = torch.tensor([0.05, 0.3, 1.0, 2.0], dtype=torch.float64)
    m = torch.tensor([0.5, -1.0, 0.0, 2.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40_000, 4, generator=gen, dtype=torch.float64)
    # The ancestral step is first order with a larger constant: it needs finer grids.
    n = 1600 if sampler is ancestral else 400
    out = sampler(gaussian_score(c, m), x, grids.make_grid("quadratic", n), generator=gen)
    assert torch.allclose(out.mean(0), m, atol=0.02)
    assert torch.allclose(out.var(0), c, rtol=0.04)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_conditioning_is_passed_through(sampler) -> None:
    # cond is the target mean: outputs follow it.
    gen = torch.Generator().manual_seed(0)
    cond = torch.linspace(-3, 3, 7, dtype=torch.float64)
    x = torch.randn(7, generator=gen, dtype=torch.float64)
    out = sampler(
        gaussian_score(torch.tensor(1e-4, dtype=torch.float64)),
        x,
        grids.make_grid("quadratic", 200),
        generator=gen,
        cond=cond,
    )
    assert torch.allclose(out, cond, atol=0.05)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_deterministic_given_generator_and_keeps_dtype(sampler, dtype) -> None:
    score = gaussian_score(torch.tensor(0.5))
    runs = []
    for _ in range(2):
        gen = torch.Generator().manual_seed(7)
        x = torch.randn(5, 1, 4, 4, generator=gen, dtype=dtype)
        runs.append(sampler(score, x, grids.uniform(10), generator=gen))
    assert runs[0].dtype == dtype and runs[0].shape == (5, 1, 4, 4)
    assert torch.equal(runs[0], runs[1])


def test_euler_last_step_is_tweedie() -> None:
    # With one step from T, Euler returns E[X_0 | X_T] exactly.
    c = torch.tensor(2.0, dtype=torch.float64)
    x = torch.tensor([1.5], dtype=torch.float64)
    out = euler_maruyama(gaussian_score(c), x, grids.uniform(1))
    a = math.exp(-5.0)
    assert out.item() == pytest.approx(a * 2.0 / (a * a * 2.0 + 1 - a * a) * 1.5, rel=1e-12)


def test_heun_second_order() -> None:
    # Probability-flow map of a Gaussian is a scaling, x_s = x_T sqrt(var_s / var_T); on a
    # grid ending at s > 0 (no final Tweedie) Heun's error falls ~4x per doubling.
    c, s_end = 0.2, 0.05
    x = torch.tensor([1.0], dtype=torch.float64)

    def var(t: float) -> float:
        return math.exp(-2 * t) * c + 1 - math.exp(-2 * t)

    exact = math.sqrt(var(s_end) / var(5.0))
    errs = [
        abs(
            heun(
                gaussian_score(torch.tensor(c, dtype=torch.float64)),
                x,
                grids.uniform(n, t_end=s_end),
                denoise_last=False,
            ).item()
            - exact
        )
        for n in (20, 40, 80)
    ]
    assert 3.3 < errs[0] / errs[1] < 4.7 and 3.3 < errs[1] / errs[2] < 4.7


def test_dpm_solver_2m_second_order_in_one_evaluation_per_step() -> None:
    # Same exact probability-flow map as above, on its natural grid (equal steps in
    # lambda, ending at s_end): errors fall ~4x per doubling with N (not 2N - 1) score
    # evaluations, and are below Heun's at equal N.
    c, s_end = 0.2, 0.05
    x = torch.tensor([1.0], dtype=torch.float64)
    calls = []
    score = gaussian_score(torch.tensor(c, dtype=torch.float64))

    def counted(x, t, cond=None):
        calls.append(1)
        return score(x, t, cond)

    exact = math.sqrt((math.exp(-2 * s_end) * c + 1 - math.exp(-2 * s_end)) / 1.0)
    exact /= math.sqrt(math.exp(-10) * c + 1 - math.exp(-10))
    errs = []
    for n in (40, 80, 160):
        calls.clear()
        grid = grids.log_snr(n + 1, t_min=s_end)[:-1]
        out = dpm_solver_2m(counted, x, grid, denoise_last=False)
        assert len(calls) == n
        errs.append(abs(out.item() - exact))
    assert 3.3 < errs[0] / errs[1] < 4.7 and 3.3 < errs[1] / errs[2] < 4.7
    heun_40 = heun(score, x, grids.log_snr(41, t_min=s_end)[:-1], denoise_last=False)
    assert errs[0] < 0.5 * abs(heun_40.item() - exact)


def test_log_snr_grid_is_uniform_in_lambda() -> None:
    ts = grids.log_snr(9, T=5.0, t_min=1e-3)
    assert ts[0].item() == 5.0 and ts[-2].item() == 1e-3 and ts[-1].item() == 0.0
    lam = torch.log(OU.alpha(ts[:-1])) - torch.log(OU.sigma(ts[:-1]))
    steps = lam[1:] - lam[:-1]
    assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-9)
    with pytest.raises(ValueError, match="t_min"):
        grids.log_snr(4, t_min=6.0)


def test_v_prediction_round_trip() -> None:
    # v = alpha eps - sigma x0 and x_t = alpha x0 + sigma eps give back eps exactly; v = 0 is
    # the exact noise prediction for N(0, I) data (eps = sigma x_t).
    sde = OU()
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    t = torch.tensor([0.01, 0.7, 4.0], dtype=torch.float64)
    tb = broadcast_time(t, x0)
    v = sde.alpha(tb) * eps - sde.sigma(tb) * x0
    x_t = sde.perturb(x0, t, eps)
    assert torch.allclose(sde.eps_from_v(v, x_t, t), eps, atol=1e-12)
    zero = sde.eps_from_v(torch.zeros_like(x_t), x_t, t)
    assert torch.allclose(sde.score_from_eps(zero, t), -x_t, atol=1e-12)
