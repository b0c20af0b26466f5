"""SGM/WSGM models: normalization statistics (PyWavelets oracle), the coarse-to-fine plumbing
with exact Gaussian scores, save/load round trips, super-resolution."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import pywt
import torch

from wsgm import wavelets
from wsgm.errors import WSGMError
from wsgm.grids import make_grid
from wsgm.models import (
    SGM,
    WSGM,
    ModelConfig,
    NormalizationStats,
    build_model,
    compute_stats,
    load_model,
    save_model,
    wsgm_refine,
    wsgm_sample,
)
from wsgm.nn import UNetConfig


def _fields(n: int, size: int, channels: int = 1, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, channels, size, size))
    x = (
        x + 0.8 * np.roll(x, 1, axis=-1) + 0.5 * np.roll(x, 1, axis=-2) + 0.3
    )  # correlated, mean != 0
    return torch.from_numpy(x.astype(np.float32))


@pytest.mark.parametrize("wavelet", ["haar", "db2"])
@pytest.mark.parametrize("channels", [1, 2])
def test_stats_match_pywavelets(wavelet: str, channels: int) -> None:
    x = _fields(40, 16, channels)
    st = compute_stats(x, wavelet=wavelet, levels=2, batch_size=16)
    coeffs = pywt.wavedec2(
        x.double().numpy(), wavelet, level=2, mode="periodization", axes=(-2, -1)
    )
    # pywt: [cA2, (cH2, cV2, cD2), (cH1, cV1, cD1)]
    for j, bands in ((2, coeffs[1]), (1, coeffs[2])):
        for b, band in enumerate(bands):
            np.testing.assert_allclose(
                st.detail_mean[j - 1, :, b], band.mean(axis=(0, 2, 3)), atol=1e-5
            )
            np.testing.assert_allclose(
                st.detail_std[j - 1, :, b], band.std(axis=(0, 2, 3)), rtol=1e-4
            )
    np.testing.assert_allclose(st.low_mean[2], coeffs[0].mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(st.low_std[2], coeffs[0].std(axis=(0, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(st.low_mean[0], x.double().numpy().mean(axis=(0, 2, 3)), rtol=1e-5)


def _wsgm_config(
    levels: int = 2, size: int = 16, channels: int = 1, wavelet: str = "haar"
) -> ModelConfig:
    u = dict(base_channels=8, channel_mults=(1, 2), groups=4)
    unets = {"coarse": UNetConfig(in_channels=channels, out_channels=channels, **u)}  # type: ignore[arg-type]
    for j in range(1, levels + 1):
        unets[f"scale{j}"] = UNetConfig(
            in_channels=3 * channels,
            out_channels=3 * channels,
            cond_channels=channels,
            **u,  # type: ignore[arg-type]
        )
    return ModelConfig(
        kind="wsgm",
        channels=channels,
        size=(size, size),
        unets=unets,
        wavelet=wavelet,
        levels=levels,
    )


@pytest.mark.parametrize("channels", [1, 3])
def test_training_pairs_invert_to_data(channels: int) -> None:
    x = _fields(8, 16, channels)
    model = build_model(
        _wsgm_config(channels=channels, wavelet="db2"), compute_stats(x, wavelet="db2", levels=2)
    )
    assert isinstance(model, WSGM)
    pairs = model.training_pairs(x)
    st = model.stats
    low = st.unnormalize_low(pairs["coarse"][0], 2)
    for j in (2, 1):
        target, cond = pairs[f"scale{j}"]
        assert target.shape == (8, 3 * channels, 16 >> j, 16 >> j)
        torch.testing.assert_close(st.unnormalize_low(cond, j), low, atol=1e-4, rtol=1e-4)
        low = wavelets.idwt(low, st.unnormalize_details(target, j), "db2")
    torch.testing.assert_close(low, x, atol=1e-4, rtol=1e-4)
    # normalized targets are centred and unit variance on the training data
    for j in (1, 2):
        t = pairs[f"scale{j}"][0]
        assert abs(float(t.mean())) < 1e-4 and abs(float(t.std()) - 1) < 0.02


def _white_stats(
    levels: int, channels: int, mean: float, scale_std: list[float]
) -> NormalizationStats:
    """Stats of independent wavelet coefficients: details std scale_std[j-1], low N(m 2^J, s_J)."""
    lm = torch.tensor([[mean * 2.0**j] * channels for j in range(levels + 1)])
    ls = torch.tensor([[1.0] * channels] + [[scale_std[-1]] * channels] * levels)
    dm = torch.zeros(levels, channels, 3)
    ds = torch.tensor(scale_std[:levels]).reshape(levels, 1, 1).expand(levels, channels, 3).clone()
    return NormalizationStats(lm, ls, dm, ds)


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_wsgm_sample_with_exact_scores(sampler: str) -> None:
    # Target: independent Gaussian wavelet coefficients, detail std s_j at scale j, coarsest
    # low-pass N(m 2^J, s_J^2). Every normalized variable is N(0, 1) independent of its
    # conditioning, so the exact score is -x at all t; the samples' wavelet coefficients must
    # come back with the stats' means and stds (this checks the un-normalization and idwt).
    levels, stds, mean = 2, [0.5, 2.0], 1.5
    stats = _white_stats(levels, 1, mean, stds)
    exact = lambda x, t, cond: -x  # noqa: E731
    g = torch.Generator().manual_seed(0)
    # Quadratic grid: the final Tweedie step at t = T/N^2 shrinks the std by only ~0.3 %.
    # (The ancestral step under-disperses at finite N even with exact scores, so it is not used.)
    grid = make_grid("quadratic", 40 if sampler != "euler" else 100)
    x = wsgm_sample(
        exact,
        [exact, exact],
        stats,
        shape=(4000, 1, 8, 8),
        wavelet="db2",
        sampler=sampler,
        grids=grid,
        generator=g,
    )
    low, details = wavelets.wavedec(x.double(), "db2", levels)
    tol = 0.05 if sampler != "euler" else 0.08
    assert abs(float(low.mean()) - mean * 4) < tol * 2
    assert abs(float(low.std()) - stds[-1]) < tol * stds[-1]
    for j, d in zip((2, 1), details, strict=True):
        assert abs(float(d.std()) - stds[j - 1]) < tol * stds[j - 1]
        assert abs(float(d.mean())) < tol * stds[j - 1]


def test_per_scale_grids_and_bad_grid_count() -> None:
    stats = _white_stats(2, 1, 0.0, [1.0, 1.0])
    exact = lambda x, t, cond: -x  # noqa: E731
    grids = [make_grid("uniform", n) for n in (3, 4, 5)]
    x = wsgm_sample(
        exact,
        [exact, exact],
        stats,
        shape=(2, 1, 8, 8),
        wavelet="haar",
        sampler="ancestral",
        grids=grids,
        generator=torch.Generator().manual_seed(0),
    )
    assert x.shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="grid"):
        wsgm_sample(
            exact,
            [exact, exact],
            stats,
            shape=(2, 1, 8, 8),
            wavelet="haar",
            sampler="ancestral",
            grids=grids[:2],
        )


def test_refine_keeps_the_given_low_pass() -> None:
    # Super-resolution only adds details: the dwt of its output gives back the input exactly.
    x = _fields(6, 16)
    model = build_model(_wsgm_config(wavelet="db2"), compute_stats(x, wavelet="db2", levels=2))
    _perturb(model)
    low2, _ = wavelets.wavedec(x, "db2", 2)
    out = model.upsample(
        low2, grids=make_grid("quadratic", 4), generator=torch.Generator().manual_seed(0)
    )  # type: ignore[operator]
    assert out.shape == (6, 1, 16, 16)
    back, _ = wavelets.wavedec(out, "db2", 2)
    torch.testing.assert_close(back, low2, atol=1e-4, rtol=1e-4)
    low1, _ = wavelets.wavedec(x, "db2", 1)
    out1 = wsgm_refine(
        low1,
        model.cond_score_fns(),
        model.stats,
        level=1,
        wavelet="db2",
        sampler="heun",  # type: ignore[operator]
        grids=make_grid("uniform", 3),
    )
    assert out1.shape == (6, 1, 16, 16)
    with pytest.raises(ValueError, match="allowed sizes"):
        model.upsample(x[..., :6, :6], grids=make_grid("uniform", 3))  # type: ignore[operator]


def _perturb(model: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("kind", ["sgm", "wsgm"])
def test_save_load_round_trip_is_bit_identical(kind: str, tmp_path: object) -> None:
    x = _fields(16, 8)
    if kind == "sgm":
        cfg = ModelConfig(
            kind="sgm",
            channels=1,
            size=(8, 8),
            unets={"net": UNetConfig(base_channels=8, channel_mults=(1, 2), groups=4)},
        )
        model = build_model(cfg, compute_stats(x, wavelet="haar", levels=0))
        assert isinstance(model, SGM)
    else:
        model = build_model(
            _wsgm_config(levels=1, size=8), compute_stats(x, wavelet="haar", levels=1)
        )
    _perturb(model)
    path = tmp_path / "m"  # type: ignore[operator]
    save_model(model, path)
    loaded = load_model(path, weights="raw")
    grid = make_grid("quadratic", 5)
    a = model.sample(3, grids=grid, generator=torch.Generator().manual_seed(7))
    b = loaded.sample(3, grids=grid, generator=torch.Generator().manual_seed(7))
    assert torch.isfinite(a).all() and torch.equal(a, b)
    save_model(model, path)  # overwriting keeps a complete directory
    assert torch.equal(
        load_model(path, weights="raw").sample(
            3, grids=grid, generator=torch.Generator().manual_seed(7)
        ),
        a,
    )


def test_model_config_errors(tmp_path: object) -> None:
    cfg = _wsgm_config(levels=1, size=8)
    d = cfg.to_dict()
    assert ModelConfig.from_dict(d) == cfg
    with pytest.raises(WSGMError, match="unknown keys"):
        ModelConfig.from_dict({**d, "colour": 3})
    with pytest.raises(WSGMError, match="expected"):
        ModelConfig(kind="wsgm", channels=1, size=(8, 8), unets=cfg.unets, levels=2)
    with pytest.raises(WSGMError, match="does not exist"):
        load_model(tmp_path / "nothing")  # type: ignore[operator]


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_untrained_networks_and_the_prediction(prediction: str) -> None:
    # The output convolution starts at zero: an untrained eps-network's score is 0, an
    # untrained v-network's is -x, the exact score of the N(0, I) law the normalized data
    # are scaled to; the v-network's output follows the input's scale (GroupNorm alone
    # would not: that is what made probability-flow samplers drift).
    x = _fields(16, 8)
    cfg = dataclasses.replace(_wsgm_config(levels=1, size=8), prediction=prediction)
    model = build_model(cfg, compute_stats(x, wavelet="haar", levels=1))
    z = torch.randn(4, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    score = model.score_fn("coarse")(z, torch.tensor(0.8), None)
    assert torch.allclose(score, torch.zeros_like(z) if prediction == "eps" else -z, atol=1e-6)
