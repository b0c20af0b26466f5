"""The exact-twin skip (wsgm.models.twin_skip, docs/design.md §6.7): oracles are the mixture's
closed-form log-density (autograd), exact draws of a known mixture, the dense pixel-basis
conditional Gaussian of the detail twins, and the training loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dense_gaussian import dense_circulant_cov
from wsgm import wavelets
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


def _config(
    skip: str, prediction: str = "v", kind: str = "wsgm", *, levels: int = LEVELS,
    details: bool = False, wavelet: str = "haar",
) -> ModelConfig:  # fmt: skip
    sets = [f"model.skip={skip}", f"model.prediction={prediction}", f"model.kind={kind}",
            "unet.base_channels=8", f"model.wavelet={wavelet}",
            f"model.skip_details={str(details).lower()}"]  # fmt: skip
    if kind == "wsgm":
        sets.append(f"model.levels={levels}")
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


def _dense_detail_twin(spec: np.ndarray, wavelet: str, j: int) -> tuple[torch.Tensor, ...]:
    """Gain and Schur complement of the details x̄_j given x_j for N(0, C), C circulant with
    spectrum ``spec``, built in the pixel basis through the real transform (no Fourier
    algebra): x̄ | x_j ~ N(G x_j, S)."""
    size = spec.shape[0]
    n = size * size
    cov = dense_circulant_cov(spec)
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 1, size, size)
    low, details = wavelets.wavedec(basis, wavelet, j)
    w_l, w_d = low.reshape(n, -1).T, details[0].reshape(n, -1).T
    c_ll, c_dl, c_dd = w_l @ cov @ w_l.T, w_d @ cov @ w_l.T, w_d @ cov @ w_d.T
    gain = c_dl @ torch.linalg.inv(c_ll)
    return gain, c_dd - gain @ c_dl.T


@pytest.mark.parametrize("prediction", ["v", "eps"])
@pytest.mark.parametrize("wavelet", ["haar", "db4"])
@pytest.mark.parametrize("batch_t", [False, True])
def test_untrained_detail_networks_score_the_conditional_twin(
    prediction: str, wavelet: str, batch_t: bool
) -> None:
    # With skip_details a fresh WSGM's detail network of scale j IS the Gaussian twin's
    # conditional score in the model's own coordinates (its data-estimated detail and
    # low-pass stds, not the twin's): −(α² S_x + σ² I)^{-1}(y − α G_x cond), with the dense
    # conditional law of the twin's spectrum pushed through the normalization.
    levels = 2
    x = _mixture_fields(256)
    cfg = _config("mixture", prediction, levels=levels, details=True, wavelet=wavelet)
    model = build_model(cfg, stats_for_model(x, cfg)).double()
    st = model.stats
    assert st.skip_field_spectrum is not None
    spec = st.skip_field_spectrum.double().numpy()
    ts = torch.tensor([0.01, 0.1, 0.5, 1.0, 3.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(4)
    for j in range(1, levels + 1):
        h = SIZE >> j
        y = torch.randn(5, 3, h, h, generator=g, dtype=torch.float64)
        cond = torch.randn(5, 1, h, h, generator=g, dtype=torch.float64)
        gain, schur = _dense_detail_twin(spec, wavelet, j)
        sd = st.detail_std[j - 1, 0].double().repeat_interleave(h * h)
        mean = (cond.reshape(5, -1) * float(st.low_std[j, 0])) @ gain.T / sd
        cov = schur / sd[:, None] / sd[None, :]
        want = []
        for i, t in enumerate(ts.tolist()):
            a, s2 = np.exp(-t), -np.expm1(-2 * t)
            prec = torch.linalg.inv(a * a * cov + s2 * torch.eye(len(sd), dtype=torch.float64))
            want.append(-prec @ (y[i].reshape(-1) - a * mean[i]))
        with torch.no_grad():
            if batch_t:
                got = model.score_fn(f"scale{j}")(y, ts, cond)
            else:  # one time for the whole batch, as the samplers call it
                got = torch.cat([model.score_fn(f"scale{j}")(y[i : i + 1], ts[i], cond[i : i + 1])
                                 for i in range(5)])  # fmt: skip
        torch.testing.assert_close(got.reshape(5, -1), torch.stack(want), rtol=1e-6, atol=1e-8)


def test_detail_twins_are_the_same_for_both_laws() -> None:
    # The mixture's details given the low-pass are one Gaussian, that of the total spectrum
    # (wsgm.gaussian.mixture), so "gaussian" and "mixture" give the detail networks one twin.
    x = _mixture_fields(256)
    got = []
    for law in ("gaussian", "mixture"):
        cfg = _config(law, details=True)
        model = build_model(cfg, stats_for_model(x, cfg))
        y = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(5))
        cond = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(6))
        with torch.no_grad():
            got.append(model.eps_fn("scale1")(y, torch.tensor([0.2, 1.0]), cond))
    torch.testing.assert_close(got[0], got[1])
    assert not torch.equal(got[0], torch.zeros_like(got[0]))


def test_detail_skip_model_starts_near_the_bayes_loss() -> None:
    # As for the coarse network: on the twin's own law (the mixture, whose details given the
    # low-pass are exactly the Gaussian twin's) the untrained detail network with the skip is
    # the Bayes denoiser, below the plain parametrization's loss on the same noise. The gap is
    # small here: this massive field's finest details are nearly white given the low-pass,
    # where the plain v skip (σ_t x) is already close to the Bayes denoiser.
    x = _mixture_fields(2048)
    out = {}
    for details in (False, True):
        cfg = _config("mixture", "v", details=details)
        model = build_model(cfg, stats_for_model(x, cfg))
        loss = DSMLoss(model.sde, "quadratic", 1e-3, "eps")
        target, cond = model.training_pairs(x)["scale1"]
        batch = loss.draw(target, torch.Generator().manual_seed(3))
        with torch.no_grad():
            out[details] = float(loss(model.eps_fn("scale1"), batch, cond))
    assert out[True] < 0.97 * out[False], out  # measured 0.268 against 0.284


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
        "model.kind=wsgm", "model.skip=mixture", "model.skip_details=true",
        "model.wavelet=haar", "train.steps=2",
        "train.batch_size=8", "unet.base_channels=8", "train.progress=false",
    ])  # fmt: skip
    train(run, tmp_path / "run")
    model = load_trained(tmp_path / "run")
    st = model.stats
    assert model.config.skip == "mixture" and model.config.skip_details
    assert st.skip_spectrum is not None and st.skip_field_spectrum is not None
    y = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(model.score_fn("coarse")(y, torch.tensor(0.3), None)).all()
    d = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    assert torch.isfinite(model.score_fn("scale1")(d, torch.tensor(0.3), y)).all()
    bare = NormalizationStats(st.low_mean, st.low_std, st.detail_mean, st.detail_std)
    with pytest.raises(WSGMError, match="statistics hold no twin"):
        build_model(model.config, bare).score_fn("coarse")
    # statistics saved before the detail twins existed: the coarse twin only
    old = NormalizationStats(st.low_mean, st.low_std, st.detail_mean, st.detail_std,
                             st.skip_spectrum, st.skip_mean)  # fmt: skip
    build_model(model.config, old).score_fn("coarse")
    with pytest.raises(WSGMError, match="no field spectrum .* retrain the model"):
        build_model(model.config, old).score_fn("scale1")


def test_bad_skips_get_one_clear_error() -> None:
    with pytest.raises(WSGMError, match="model.skip must be one of none, gaussian, mixture, got"):
        apply_overrides(RunConfig(), ["model.skip=x"])
    run = apply_overrides(RunConfig(), ["model.skip=mixture"])
    with pytest.raises(WSGMError, match="needs one-channel data .* got 3 channels"):
        model_config_for(run, channels=3, size=(16, 16), kind="image", periodic=False)
    with pytest.raises(WSGMError, match="unknown skip 'wiener'"):
        ModelConfig.from_dict({**_config("none").to_dict(), "skip": "wiener"})
    with pytest.raises(WSGMError, match="model.skip_details must be true or false"):
        apply_overrides(RunConfig(), ["model.skip_details=maybe"])
    for kind in ("wsgm", "sgm"):
        with pytest.raises(WSGMError, match="skip_details = true needs a twin"):
            _config("none", kind=kind, details=True)


def test_old_model_configs_read_as_no_skip() -> None:
    d = _config("none").to_dict()
    del d["skip"], d["skip_details"]
    cfg = ModelConfig.from_dict(d)
    assert cfg.skip == "none" and not cfg.skip_details


def test_fingerprint_of_a_zero_dimensional_tensor() -> None:
    # the twin's mean is a 0-d tensor in the statistics the sampling job fingerprints
    a = tensor_fingerprint({"m": torch.tensor(0.5)})
    assert a != tensor_fingerprint({"m": torch.tensor(0.25)})
    assert a == tensor_fingerprint({"m": torch.tensor(0.5)})
