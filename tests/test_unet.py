"""UNet: shapes at every size down to 1x1, circular shift equivariance, zero-initialized output."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from wsgm.nn import UNet, UNetConfig


def _randomize(net: torch.nn.Module, seed: int = 0) -> None:
    """Overwrite every parameter (the zero-initialized ones too) with seeded noise."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g))


def _small(**kw: object) -> UNetConfig:
    base = dict(base_channels=8, channel_mults=(1, 2, 2), groups=4, num_heads=2)
    base.update(kw)
    return UNetConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("cond_channels", [0, 2])
@pytest.mark.parametrize("padding", ["circular", "zeros"])
def test_shapes_any_size(size: int, cond_channels: int, padding: str) -> None:
    cfg = _small(
        in_channels=3,
        out_channels=3,
        cond_channels=cond_channels,
        padding_mode=padding,
        attention_levels=(1,),
        mid_attention=True,
    )
    net = UNet(cfg)
    _randomize(net)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, size, size, generator=g)
    cond = torch.randn(2, cond_channels, size, size, generator=g) if cond_channels else None
    out = net(x, torch.tensor([0.01, 3.0]), cond)
    assert out.shape == (2, 3, size, size)
    assert torch.isfinite(out).all()


def test_zero_initialized_output() -> None:
    torch.manual_seed(0)
    net = UNet(_small(in_channels=2, out_channels=2, cond_channels=1))
    x = torch.randn(3, 2, 8, 8)
    out = net(x, torch.full((3,), 0.5), torch.randn(3, 1, 8, 8))
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("shift", [(4, 0), (0, 8), (12, 4)])
@pytest.mark.parametrize("attention", [False, True])
def test_circular_shift_equivariance(shift: tuple[int, int], attention: bool) -> None:
    # Two down-samplings: shifts by multiples of 4 commute with the network exactly.
    cfg = _small(
        cond_channels=1, attention_levels=(1,) if attention else (), mid_attention=attention
    )
    net = UNet(cfg)
    _randomize(net, seed=3)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 1, 16, 16, generator=g)
    c = torch.randn(2, 1, 16, 16, generator=g)
    t = torch.tensor([0.1, 1.0])
    out = net(x, t, c)
    rolled = net(torch.roll(x, shift, dims=(2, 3)), t, torch.roll(c, shift, dims=(2, 3)))
    assert out.abs().mean() > 1e-2  # not trivially zero
    torch.testing.assert_close(rolled, torch.roll(out, shift, dims=(2, 3)), atol=1e-5, rtol=1e-5)


def test_zero_padding_is_not_shift_equivariant() -> None:
    # The control of the test above: the same check fails with zero padding.
    net = UNet(_small(padding_mode="zeros"))
    _randomize(net, seed=3)
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([0.5])
    out, rolled = net(x, t), net(torch.roll(x, (4, 4), dims=(2, 3)), t)
    assert (rolled - torch.roll(out, (4, 4), dims=(2, 3))).abs().max() > 1e-3


def test_time_changes_output_and_scalar_time_broadcasts() -> None:
    net = UNet(_small())
    _randomize(net, seed=4)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    a, b = net(x, torch.tensor(0.01)), net(x, torch.tensor(2.0))
    assert (a - b).abs().max() > 1e-3
    torch.testing.assert_close(a, net(x, torch.full((2,), 0.01)))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding_mode="mirror"),
        dict(channel_mults=()),
        dict(attention_levels=(5,)),
        dict(in_channels=0),
    ],
)
def test_bad_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _small(**kwargs)


def test_bad_input_shapes() -> None:
    net = UNet(_small(cond_channels=1))
    with pytest.raises(ValueError, match="cond"):
        net(torch.zeros(1, 1, 8, 8), torch.ones(1))
    with pytest.raises(ValueError, match="expects x"):
        net(torch.zeros(1, 2, 8, 8), torch.ones(1), torch.zeros(1, 1, 8, 8))


def test_mean_head_alone_carries_the_dc_mode() -> None:
    # Target: each sample's spatial mean (the DC part of eps). Training ONLY the head (the
    # convolutional path frozen at its zero output) must fit it: the head sees the input's
    # per-channel means, which GroupNorm hides from the convolutional features.
    torch.manual_seed(0)
    net = UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=16, mean_head=True))
    assert net.mean_head is not None
    opt = torch.optim.Adam(net.mean_head.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    first = None
    for _ in range(200):
        m = torch.randn(32, 1, 1, 1, generator=gen)
        x = m + 0.5 * torch.randn(32, 1, 8, 8, generator=gen)
        loss = ((net(x, torch.full((32,), 0.5)) - m) ** 2).mean()
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.02 < 0.5 < first


def test_mean_head_starts_at_zero_and_keeps_circular_equivariance() -> None:
    cfg = UNetConfig(in_channels=2, out_channels=2, base_channels=16, mean_head=True)
    net = UNet(cfg)
    x = torch.randn(3, 2, 8, 8)
    t = torch.full((3,), 0.3)
    assert torch.equal(net(x, t), torch.zeros_like(x))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    y = net(x, t)
    shifted = net(torch.roll(x, (4, 4), (-2, -1)), t)
    assert torch.allclose(torch.roll(y, (4, 4), (-2, -1)), shifted, atol=1e-5)


@pytest.mark.parametrize("size", [8, 16])
def test_mean_head_unit_dc_feeds_the_zero_mode_in_orthonormal_units(size: int) -> None:
    cfg = UNetConfig(in_channels=3, out_channels=3, cond_channels=1, base_channels=16,
                     mean_head=True, mean_head_unit_dc=True)  # fmt: skip
    net = UNet(cfg)
    assert net.mean_head is not None
    seen: list[Tensor] = []
    net.mean_head[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    x, c = torch.randn(4, 3, size, size), torch.randn(4, 1, size, size)
    net(x, torch.full((4,), 0.3), c)
    dc = torch.fft.fft2(torch.cat([x, c], 1), norm="ortho")[..., 0, 0].real
    assert torch.allclose(seen[0][:, :4], dc, atol=1e-5)


def test_mean_head_unit_dc_lets_the_head_read_a_band_mean() -> None:
    # A white 16x16 band: its mean is one N(0, 1) mode in orthonormal units, 1/16 of that as
    # a raw mean. Target (the exact denoiser of such a mode, shape only): 0.7 x its DC
    # coefficient, spread over the grid as a constant. Training only the head for 100 steps,
    # the unit-scale input fits it; from the raw mean, 16 times smaller, the head is still far
    # off (it gets there much later on this noiseless target; in training, with noisy
    # gradients and 1/256 of the loss, it did not: docs/design.md §6.6).
    def fit(unit_dc: bool) -> float:
        torch.manual_seed(0)
        net = UNet(UNetConfig(in_channels=1, out_channels=1, base_channels=16, mean_head=True,
                              mean_head_unit_dc=unit_dc))  # fmt: skip
        assert net.mean_head is not None
        opt = torch.optim.Adam(net.mean_head.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(0)
        for _ in range(100):
            x = torch.randn(64, 1, 16, 16, generator=gen)
            target = 0.7 * x.mean((-2, -1), keepdim=True) * 16
            loss = ((net(x, torch.full((64,), 0.5)) - target) ** 2).mean() / 0.49
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss.detach())

    assert fit(True) < 0.05 < 0.5 < fit(False)


def test_mean_head_unit_dc_needs_the_head() -> None:
    with pytest.raises(ValueError, match="mean_head_unit_dc needs mean_head"):
        UNetConfig(in_channels=1, out_channels=1, mean_head_unit_dc=True)
