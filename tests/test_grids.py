"""The EDM/Karras grid and the resolution-shifted log-SNR grid (docs/design.md §2.4), and
make_grid's registry."""

from __future__ import annotations

import math

import pytest
import torch

from wsgm import grids
from wsgm.sde import OU


def _monotone(ts: torch.Tensor) -> bool:
    return bool(torch.all(ts[1:] < ts[:-1]))


@pytest.mark.parametrize("n", [1, 2, 3, 16, 257])
def test_karras_grid(n: int) -> None:
    ts = grids.karras(n, T=5.0)
    grids.check_grid(ts)
    assert ts.shape == (n + 1,) and _monotone(ts)
    assert float(ts[0]) == 5.0 and float(ts[-1]) == 0.0
    if n > 1:
        assert float(ts[-2]) == grids.KARRAS_T_MIN
        # equally spaced in sigma^(1/rho), sigma = sqrt(e^{2t} - 1), rho = 7
        s = torch.sqrt(torch.expm1(2 * ts[:-1])) ** (1 / 7)
        steps = s[1:] - s[:-1]
        assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-9, atol=0)
    # EDM's sigma_min = 0.002
    assert math.sqrt(math.expm1(2 * grids.KARRAS_T_MIN)) == pytest.approx(0.002, rel=1e-12)


def test_karras_options() -> None:
    ts = grids.karras(8, T=3.0, t_min=1e-3, rho=3.0, t_end=1e-4)
    assert float(ts[0]) == 3.0 and float(ts[-2]) == 1e-3 and float(ts[-1]) == 1e-4
    assert _monotone(ts)
    for bad in ({"rho": 0.0}, {"t_min": 6.0}, {"t_min": -1.0}):
        with pytest.raises(ValueError):
            grids.karras(4, **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 2, 16, 100])
@pytest.mark.parametrize("size", [8, 64, 512])
def test_shifted_log_snr_grid(n: int, size: int) -> None:
    ts = grids.log_snr_shifted(n, size=size, ref_size=64)
    grids.check_grid(ts)
    assert ts.shape == (n + 1,) and _monotone(ts)
    assert float(ts[0]) == 5.0 and float(ts[-1]) == 0.0
    if n > 2:
        lam = OU.log_snr(ts[:-1])
        steps = lam[1:] - lam[:-1]  # equal steps in lambda
        assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-8)
        # log SNR = 2 lambda is shifted by 2 log(ref/L) at the last score evaluation
        base = OU.log_snr(torch.tensor(2e-3, dtype=torch.float64))
        assert float(2 * lam[-1]) == pytest.approx(float(2 * base) + 2 * math.log(64 / size))


@pytest.mark.parametrize("n", [1, 2, 7, 64])
def test_no_shift_at_the_reference_size_is_log_snr(n: int) -> None:
    assert torch.equal(grids.log_snr_shifted(n, size=64), grids.log_snr(n))
    assert torch.equal(grids.log_snr_shifted(n, size=32, ref_size=32), grids.log_snr(n))
    assert torch.equal(grids.make_grid("logsnr-shifted", n, size=64), grids.make_grid("logsnr", n))


def test_shift_direction() -> None:
    # larger images: noisier last evaluation, about t_min (L/L_ref)^2 while small
    big = grids.log_snr_shifted(16, size=128)
    small = grids.log_snr_shifted(16, size=32)
    base = grids.log_snr(16)
    assert float(big[-2]) == pytest.approx(2e-3 * 4, rel=0.02)
    assert float(small[-2]) < float(base[-2]) < float(big[-2])
    assert bool(torch.all(big[1:-1] > base[1:-1]))  # lower SNR at every step after T


def test_shifted_grid_errors() -> None:
    with pytest.raises(ValueError, match="needs the image size"):
        grids.make_grid("logsnr-shifted", 4)
    with pytest.raises(ValueError, match="too large"):
        grids.log_snr_shifted(4, size=64 * 4096)
    with pytest.raises(ValueError, match="image size"):
        grids.log_snr_shifted(4, size=0)


def test_registry_and_old_calls() -> None:
    assert {"uniform", "quadratic", "log", "logsnr", "karras", "logsnr-shifted"} == set(grids.GRIDS)
    for name in ("uniform", "quadratic", "log", "logsnr", "karras"):
        a = grids.make_grid(name, 9, T=4.0)
        b = grids.make_grid(name, 9, T=4.0, size=256)  # size is ignored by these
        assert torch.equal(a, b) and float(a[0]) == 4.0
    assert torch.equal(grids.make_grid("uniform", 5), grids.uniform(5))
    with pytest.raises(ValueError, match="unknown time grid 'cosine'"):
        grids.make_grid("cosine", 4)


@pytest.mark.parametrize("name", sorted(grids.T_MIN_GRIDS))
def test_make_grid_t_min(name: str) -> None:
    ts = grids.make_grid(name, 8, t_min=0.02, size=64)
    assert float(ts[-2]) == pytest.approx(0.02, rel=1e-12) and float(ts[-1]) == 0.0
    assert bool(torch.all(ts[1:] < ts[:-1]))
    default = grids.make_grid(name, 8, size=64)
    assert not torch.equal(ts, default)
    with pytest.raises(ValueError, match="t_min must satisfy"):
        grids.make_grid(name, 8, t_min=5.0, size=64)


@pytest.mark.parametrize("name", ["uniform", "quadratic"])
def test_power_grids_take_no_t_min(name: str) -> None:
    with pytest.raises(ValueError, match=f"time grid '{name}' refines down to t = 0 and takes no"):
        grids.make_grid(name, 8, t_min=0.01)
