"""The exact-twin skip (wsgm.models.twin_skip, docs/design.md §6.7): oracles are the mixture's
closed-form log-density (autograd), exact draws of a known mixture, and the training loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from wsgm.data.io import save_fields
from wsgm.errors import WSGMError
from wsgm.experiments.runs import load_trained
from wsgm.gaussian.cross_spectra import cross_spectrum
from wsgm.gaussian.mixture import mixture_log_density, sample_mixture
from wsgm.losses import DSMLoss
from wsgm.models.config import ModelConfig
from wsgm.models.io import build_model
from wsgm.models.normalization import NormalizationStats
from wsgm.models.twin_skip import stats_for_model
from wsgm.sampling.job import tensor_fingerprint
from wsgm.training.config import RunConfig, apply_overrides
from wsgm.training.defaults import model_config_for
from wsgm.training.loop import train

SIZE, LEVELS, MU = 16, 1, 0.6


def _spectrum(size: int = SIZE) -> np.ndarray:
    k = np.fft.fftfreq(size) * size
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    return 1.0 / (0.3 + k2 / 4.0)  # a massive field: finite P(0), correlated


def _mixture_fields(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return sample_mixture(_spectrum(), MU, n, generator=g).float()[:, None]


def _config(skip: str, prediction: str = "v", kind: str = "wsgm") -> ModelConfig:
    sets = [f"model.skip={skip}", f"model.prediction={prediction}", f"model.kind={kind}",
            "unet.base_channels=8", "model.wavelet=haar"]  # fmt: skip
    if kind == "wsgm":
        sets.append(f"model.levels={LEVELS}")
    run = apply_overrides(RunConfig(), sets)
    return model_config_for(run, channels=1, size=(SIZE, SIZE), kind="field", periodic=True)


def test_fitted_twin_is_the_law_that_made_the_data() -> None:
    # Exact draws of ½ N(±μ𝟙, C): the fitted low-pass twin (un-normalized with the model's
    # std) must give back the component spectrum of x_1 and the mean 2μ (haar: 𝟙 -> 2·𝟙).
    x = _mixture_fields(6000)
    cfg = _config("mixture")
    st = stats_for_model(x, cfg)
    s = float(st.low_std[LEVELS, 0])
    assert st.skip_spectrum is not None and st.skip_mean is not None
    exact = cross_spectrum(_spectrum(), "haar")[..., 0, 0].real
    got = st.skip_spectrum.double().numpy() * s**2
    rel = np.abs(got / exact - 1)
    assert np.median(rel) < 0.06 and rel.max() < 0.3, (np.median(rel), rel.max())
    assert float(st.skip_mean) * s == pytest.approx(2 * MU, rel=0.05)
    gauss = stats_for_model(x, _config("gaussian"))
    assert float(gauss.skip_mean) == 0.0  # the Gaussian twin: one component, mean 0
    # ... whose zero mode carries the ±μ spread instead
    assert float(gauss.skip_spectrum[0, 0]) > 2 * float(st.skip_spectrum[0, 0])


@pytest.mark.parametrize("prediction", ["v", "eps"])
@pytest.mark.parametrize("kind", ["wsgm", "sgm"])
@pytest.mark.parametrize("batch_t", [False, True])
def test_untrained_model_scores_the_twin_exactly(prediction: str, kind: str, batch_t: bool) -> None:
    # The network's output layer starts at zero, so a fresh model with the skip IS the twin:
    # its score must be the gradient of the twin's closed-form log-density (in the model's
    # normalized coordinates), at one time for the batch (sampling) or one per field (training).
    x = _mixture_fields(512)
    cfg = _config("mixture", prediction, kind)
    model = build_model(cfg, stats_for_model(x, cfg))
    name = cfg.names[0]
    st = model.stats
    h = SIZE >> cfg.levels
    y = torch.randn(5, 1, h, h, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ts = torch.tensor([0.01, 0.1, 0.5, 1.0, 3.0], dtype=torch.float64)
    t = ts if batch_t else ts[2]
    y.requires_grad_(True)
    tt = ts if batch_t else ts[2].expand(5)
    logp = torch.stack(
        [
            mixture_log_density(y[i, 0], tt[i], st.skip_spectrum.double(), float(st.skip_mean))
            for i in range(5)
        ]
    )
    (grad,) = torch.autograd.grad(logp.sum(), y)
    model = model.double()
    with torch.no_grad():
        got = model.score_fn(name)(y.detach(), t, None)
    torch.testing.assert_close(got, grad, rtol=1e-6, atol=1e-8)
    # the detail networks keep the plain parametrization (no twin there)
    if kind == "wsgm":
        assert model._skip("scale1") is None


def test_skip_model_starts_near_the_bayes_loss() -> None:
    # On data from the twin's own law the untrained skip model is the Bayes denoiser: its DSM
    # loss is below the plain model's on the same noise, and no network can go lower.
    x = _mixture_fields(2048)
    out = {}
    for skip in ("none", "mixture"):
        cfg = _config(skip, "v", "sgm")
        model = build_model(cfg, stats_for_model(x, cfg))
        loss = DSMLoss(model.sde, "quadratic", 1e-3, "eps")
        target = model.training_pairs(x)["net"][0]
        batch = loss.draw(target, torch.Generator().manual_seed(3))
        with torch.no_grad():
            out[skip] = float(loss(model.eps_fn("net"), batch))
    assert out["mixture"] < 0.75 * out["none"], out  # measured 0.177 against 0.282


def test_trained_skip_model_saves_and_reloads_its_twin(tmp_path: Path) -> None:
    x = _mixture_fields(64)
    path = tmp_path / "d.npz"
    save_fields(path, x[:, 0].numpy(), {"source": "test", "kind": "field"})
    run = apply_overrides(RunConfig(data=str(path)), [
        "model.kind=wsgm", "model.skip=mixture", "model.wavelet=haar", "train.steps=2",
        "train.batch_size=8", "unet.base_channels=8", "train.progress=false",
    ])  # fmt: skip
    train(run, tmp_path / "run")
    model = load_trained(tmp_path / "run")
    st = model.stats
    assert model.config.skip == "mixture" and st.skip_spectrum is not None
    y = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(model.score_fn("coarse")(y, torch.tensor(0.3), None)).all()
    bare = NormalizationStats(st.low_mean, st.low_std, st.detail_mean, st.detail_std)
    with pytest.raises(WSGMError, match="statistics hold no twin"):
        build_model(model.config, bare).score_fn("coarse")


def test_bad_skips_get_one_clear_error() -> None:
    with pytest.raises(WSGMError, match="model.skip must be one of none, gaussian, mixture, got"):
        apply_overrides(RunConfig(), ["model.skip=x"])
    run = apply_overrides(RunConfig(), ["model.skip=mixture"])
    with pytest.raises(WSGMError, match="needs one-channel data .* got 3 channels"):
        model_config_for(run, channels=3, size=(16, 16), kind="image", periodic=False)
    with pytest.raises(WSGMError, match="unknown skip 'wiener'"):
        ModelConfig.from_dict({**_config("none").to_dict(), "skip": "wiener"})


def test_old_model_configs_read_as_no_skip() -> None:
    d = _config("none").to_dict()
    del d["skip"]
    assert ModelConfig.from_dict(d).skip == "none"


def test_fingerprint_of_a_zero_dimensional_tensor() -> None:
    # the twin's mean is a 0-d tensor in the statistics the sampling job fingerprints
    a = tensor_fingerprint({"m": torch.tensor(0.5)})
    assert a != tensor_fingerprint({"m": torch.tensor(0.25)})
    assert a == tensor_fingerprint({"m": torch.tensor(0.5)})
