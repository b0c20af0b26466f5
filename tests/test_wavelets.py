"""Tests of the orthogonal periodized wavelet transform (wsgm.wavelets)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgm.errors import WSGMError
from wsgm.wavelets import (
    check_levels,
    dwt,
    idwt,
    max_levels,
    orthogonal_filters,
    wavedec,
    waverec,
)

WAVELETS = ["haar", "db2", "db4", "sym4", "coif2"]
LONG = ["db10", "sym8", "coif5"]  # filters of length 20, 16, 30: longer than small sizes
POW2 = [1, 2, 4, 8, 16, 32, 64, 128, 256]
RNG = np.random.default_rng(0)

# Orthonormality holds to the accuracy of pywt's stored taps (~5e-13 for sym4, ~1e-11 for
# sym20); 1e-10 (relative) covers every allowed wavelet in float64.
RTOL64 = 1e-10


def _pywt_wavedec2(x: np.ndarray, w: str, level: int) -> list:
    with warnings.catch_warnings():  # "level too high: boundary effects" (harmless here)
        warnings.simplefilter("ignore", UserWarning)
        return pywt.wavedec2(x, w, mode="periodization", level=level, axes=(-2, -1))


def _pywt_wavedec(x: np.ndarray, w: str, level: int) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pywt.wavedec(x, w, mode="periodization", level=level, axis=-1)


def _exact_matrix(w: str, n: int) -> np.ndarray:
    """The exact one-level periodized analysis matrix (n x n), rows = (low; detail).

    low[i] = sum_k h[k] x[(2i + L/2 - k) mod n], taps folded modulo n when L > n.
    """
    lo, hi = orthogonal_filters(w)
    s = lo.size // 2
    m = np.zeros((n, n))
    for i in range(n // 2):
        for k in range(lo.size):
            m[i, (2 * i + s - k) % n] += lo[k]
            m[n // 2 + i, (2 * i + s - k) % n] += hi[k]
    return m


def _ours_matrix(w: str, n: int) -> np.ndarray:
    lo, de = dwt(torch.eye(n, dtype=torch.float64), w, ndim=1)
    return torch.cat([lo, de[:, 0]], dim=-1).numpy().T


# ----------------------------------------------------------------------------------------
# Agreement with PyWavelets and with the exact definition


@pytest.mark.parametrize("w", WAVELETS)
@pytest.mark.parametrize(
    "shape", [(n, n) for n in POW2] + [(24, 48), (48, 24), (2, 64), (64, 8), (12, 20), (96, 32)]
)
def test_wavedec2_matches_pywt(w: str, shape: tuple[int, int]) -> None:
    x = RNG.standard_normal((2, *shape))
    xt = torch.from_numpy(x)
    for level in range(min(max_levels(n) for n in shape) + 1):
        ref = _pywt_wavedec2(x, w, level)
        low, details = wavedec(xt, w, level)
        assert len(details) == level
        np.testing.assert_allclose(low.numpy(), ref[0], rtol=0, atol=1e-12)
        for d, r in zip(details, ref[1:], strict=True):
            np.testing.assert_allclose(d.numpy(), np.stack(r, axis=1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("w", WAVELETS + LONG)
@pytest.mark.parametrize("n", POW2 + [12, 24, 48, 96, 40])
def test_wavedec1d_matches_pywt(w: str, n: int) -> None:
    x = RNG.standard_normal((3, n))
    xt = torch.from_numpy(x)
    for level in range(max_levels(n) + 1):
        ref = _pywt_wavedec(x, w, level)
        low, details = wavedec(xt, w, level, ndim=1)
        np.testing.assert_allclose(low.numpy(), ref[0], rtol=0, atol=1e-12)
        for d, r in zip(details, ref[1:], strict=True):
            assert d.shape == (3, 1, r.shape[-1])
            np.testing.assert_allclose(d[:, 0].numpy(), r, rtol=0, atol=1e-12)


@pytest.mark.parametrize("w", WAVELETS + LONG)
@pytest.mark.parametrize("n", [2, 4, 6, 8, 10, 12, 16, 20, 32, 64])
def test_matches_exact_circulant_definition(w: str, n: int) -> None:
    """Sizes below the filter length fold the taps modulo n; the matrix stays orthogonal.

    Finding (PyWavelets 1.8): pywt's periodization agrees with this exact definition at every
    even size, including sizes below the filter length, so pywt is a valid reference there.
    """
    exact = _exact_matrix(w, n)
    np.testing.assert_allclose(_ours_matrix(w, n), exact, rtol=0, atol=1e-13)
    np.testing.assert_allclose(exact @ exact.T, np.eye(n), rtol=0, atol=RTOL64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = np.array([np.concatenate(pywt.dwt(e, w, mode="periodization")) for e in np.eye(n)])
    np.testing.assert_allclose(ref.T, exact, rtol=0, atol=1e-13)


def test_3d_matches_pywt_dwtn() -> None:
    x = RNG.standard_normal((2, 4, 8, 16))
    low, details = dwt(torch.from_numpy(x), "db2", ndim=3)
    assert low.shape == (2, 2, 4, 8) and details.shape == (2, 7, 2, 4, 8)
    ref = pywt.dwtn(x, "db2", mode="periodization", axes=(-3, -2, -1))
    bands = torch.cat([low.unsqueeze(1), details], dim=1).numpy()
    for b in range(8):  # band b = sum_a f_a 2**a, f_a = 1 for a detail along spatial axis a
        key = "".join("ad"[(b >> a) & 1] for a in range(3))
        np.testing.assert_allclose(bands[:, b], ref[key], rtol=0, atol=1e-12)


def test_band_order_2d_is_cH_cV_cD() -> None:
    x = RNG.standard_normal((8, 16))
    _, details = dwt(torch.from_numpy(x), "db2")
    _, (ch, cv, cd) = pywt.dwt2(x, "db2", mode="periodization")
    for got, ref in zip(details, (ch, cv, cd), strict=True):
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------
# Orthonormality: reconstruction, Parseval, adjointness


@pytest.mark.parametrize("w", WAVELETS + LONG)
@pytest.mark.parametrize(
    ("shape", "ndim"),
    [((4, 64, 32), 2), ((2, 2), 2), ((5, 48), 1), ((2, 8, 4, 16), 3), ((1, 2, 6, 10), 2)],
)
def test_perfect_reconstruction_and_parseval(w: str, shape: tuple[int, ...], ndim: int) -> None:
    x = torch.from_numpy(RNG.standard_normal(shape))
    energy = x.square().sum()
    for level in range(min(max_levels(n) for n in shape[-ndim:]) + 1):
        low, details = wavedec(x, w, level, ndim=ndim)
        coeff_energy = low.square().sum() + sum(d.square().sum() for d in details)
        torch.testing.assert_close(coeff_energy, energy, rtol=RTOL64, atol=0)
        rec = waverec(low, details, w, ndim=ndim)
        assert rec.shape == x.shape and rec.dtype == x.dtype
        torch.testing.assert_close(rec, x, rtol=0, atol=RTOL64)


@pytest.mark.parametrize("w", ["haar", "db4", "coif2", "db10"])
@pytest.mark.parametrize(
    ("shape", "ndim", "levels"), [((3, 16, 8), 2, 3), ((2, 32), 1, 5), ((4, 4), 2, 2)]
)
def test_adjointness(w: str, shape: tuple[int, ...], ndim: int, levels: int) -> None:
    x = torch.from_numpy(RNG.standard_normal(shape))
    # one level: <dwt x, (a, d)> = <x, idwt(a, d)>
    low, det = dwt(x, w, ndim=ndim)
    a, d = torch.randn_like(low), torch.randn_like(det)
    lhs = (low * a).sum() + (det * d).sum()
    torch.testing.assert_close(lhs, (x * idwt(a, d, w, ndim=ndim)).sum(), rtol=1e-12, atol=1e-12)
    # J levels: <wavedec x, c> = <x, waverec c>
    low, dets = wavedec(x, w, levels, ndim=ndim)
    a = torch.randn_like(low)
    ds = [torch.randn_like(t) for t in dets]
    lhs = (low * a).sum() + sum((t * u).sum() for t, u in zip(dets, ds, strict=True))
    rhs = (x * waverec(a, ds, w, ndim=ndim)).sum()
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------
# Shapes, batching, dtypes, autograd


def test_batching_over_leading_dims() -> None:
    x = torch.from_numpy(RNG.standard_normal((2, 3, 16, 8)))
    low, details = wavedec(x, "db2", 2)
    assert low.shape == (2, 3, 4, 2)
    assert [d.shape for d in details] == [(2, 3, 3, 4, 2), (2, 3, 3, 8, 4)]
    for i in range(2):
        for c in range(3):
            lo1, de1 = wavedec(x[i, c], "db2", 2)  # no leading dims at all
            torch.testing.assert_close(low[i, c], lo1, rtol=0, atol=1e-14)
            for d, d1 in zip(details, de1, strict=True):
                torch.testing.assert_close(d[i, c], d1, rtol=0, atol=1e-14)
    # non-contiguous input
    xt = x.transpose(-1, -2)
    torch.testing.assert_close(wavedec(xt, "db2", 2)[0], wavedec(xt.contiguous(), "db2", 2)[0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_other_float_dtypes(dtype: torch.dtype) -> None:
    x64 = torch.from_numpy(RNG.standard_normal((2, 32, 32)))
    x = x64.to(dtype)
    low, details = wavedec(x, "sym4", 3)
    assert low.dtype == dtype and all(d.dtype == dtype for d in details)
    ref_low, _ = wavedec(x.double(), "sym4", 3)
    tol = 1e-5 if dtype == torch.float32 else 5e-2
    torch.testing.assert_close(low.double(), ref_low, rtol=tol, atol=tol)
    rec = waverec(low, details, "sym4")
    assert rec.dtype == dtype
    torch.testing.assert_close(rec.double(), x.double(), rtol=tol, atol=tol)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    x = torch.from_numpy(RNG.standard_normal((4, 64, 64)))
    low, details = wavedec(x.cuda(), "db4", 4)
    ref_low, ref_details = wavedec(x, "db4", 4)
    torch.testing.assert_close(low.cpu(), ref_low, rtol=0, atol=1e-12)
    for d, r in zip(details, ref_details, strict=True):
        torch.testing.assert_close(d.cpu(), r, rtol=0, atol=1e-12)
    torch.testing.assert_close(waverec(low, details, "db4").cpu(), x, rtol=0, atol=1e-10)


def test_gradcheck() -> None:
    x = torch.randn(1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: dwt(t, "db2"), (x,))
    assert torch.autograd.gradcheck(lambda t: wavedec(t, "db4", 2)[1][0], (x,))
    low = torch.randn(1, 2, 2, dtype=torch.float64, requires_grad=True)
    det = torch.randn(1, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, d: idwt(a, d, "coif2"), (low, det))
    y = torch.randn(2, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: wavedec(t, "sym4", 2, ndim=1)[0], (y,))


def test_cached_filters_work_after_inference_mode() -> None:
    """Filters first built under inference_mode must still be usable with autograd."""
    with torch.inference_mode():
        dwt(torch.randn(6, 6), "db3")
    x = torch.randn(6, 6, requires_grad=True)
    low, details = dwt(x, "db3")
    (low.sum() + details.square().sum()).backward()
    assert x.grad is not None and x.grad.shape == (6, 6)


def test_orthogonal_filters() -> None:
    lo, hi = orthogonal_filters("db2")
    assert lo.dtype == np.float64 and hi.dtype == np.float64 and lo.size == 4
    np.testing.assert_array_equal(lo, pywt.Wavelet("db2").dec_lo)
    np.testing.assert_array_equal(hi, pywt.Wavelet("db2").dec_hi)
    with pytest.raises(ValueError):
        lo[0] = 1.0  # read-only: the cached taps cannot be corrupted


# ----------------------------------------------------------------------------------------
# Property test


@settings(max_examples=40, deadline=None)
@given(
    ndim=st.integers(1, 2),
    levels=st.integers(0, 4),
    factors=st.lists(st.integers(1, 3), min_size=2, max_size=2),
    batch=st.lists(st.integers(1, 2), max_size=2),
    w=st.sampled_from(WAVELETS + LONG + ["db1", "sym2", "coif1"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_reconstruct_and_energy(
    ndim: int, levels: int, factors: list[int], batch: list[int], w: str, seed: int
) -> None:
    shape = (*batch, *[f * 2**levels for f in factors[:ndim]])
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    low, details = wavedec(x, w, levels, ndim=ndim)
    assert low.shape == (*batch, *[f for f in factors[:ndim]])
    energy = low.square().sum() + sum(d.square().sum() for d in details)
    torch.testing.assert_close(energy, x.square().sum(), rtol=RTOL64, atol=1e-12)
    torch.testing.assert_close(waverec(low, details, w, ndim=ndim), x, rtol=0, atol=RTOL64)


# ----------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "name", ["bior2.2", "rbio1.3", "dmey", "db99", "foo", "morl", "cmor1.5-1.0"]
)
def test_bad_wavelet_names(name: str) -> None:
    x = torch.randn(8, 8)
    for call in (
        lambda: orthogonal_filters(name),
        lambda: dwt(x, name),
        lambda: wavedec(x, name, 1),
        lambda: idwt(x[:4, :4], torch.zeros(3, 4, 4), name),
    ):
        with pytest.raises(WSGMError, match=repr(name).replace(".", r"\.")) as e:
            call()
        msg = str(e.value)
        assert "haar" in msg and "dbN" in msg and "symN" in msg and "coifN" in msg


def test_non_string_wavelet() -> None:
    with pytest.raises(WSGMError, match="wavelet"):
        orthogonal_filters(pywt.Wavelet("db2"))  # type: ignore[arg-type]


def test_check_levels_messages() -> None:
    check_levels((3, 48, 64), 4)
    check_levels((1, 1), 0)
    with pytest.raises(WSGMError, match=r"size 48 .*2\*\*5=32.*multiples of 32.*levels=4"):
        check_levels((48, 64), 5)
    with pytest.raises(WSGMError, match=r"levels=4 is too many for size 8.*at most levels=3"):
        check_levels((8, 8), 4)
    with pytest.raises(WSGMError, match=r"levels=-1"):
        check_levels((8, 8), -1)
    with pytest.raises(WSGMError, match=r"levels=1\.5"):
        check_levels((8, 8), 1.5)  # type: ignore[arg-type]
    with pytest.raises(WSGMError, match=r"size 6 .*2\*\*2=4"):
        check_levels((6, 16, 4), 2, wavelet_ndim=3)
    check_levels((6, 16, 4), 2, wavelet_ndim=2)  # the leading 6 is a batch axis
    with pytest.raises(WSGMError, match="at least 2 axes"):
        check_levels((8,), 1)
    with pytest.raises(WSGMError, match="ndim=0"):
        check_levels((8,), 1, wavelet_ndim=0)


def test_transform_size_errors() -> None:
    with pytest.raises(WSGMError, match=r"size 5 "):
        dwt(torch.randn(4, 5), "haar")
    with pytest.raises(WSGMError, match=r"size 5 "):
        dwt(torch.randn(5), "haar", ndim=1)
    with pytest.raises(WSGMError, match=r"size 48 .*2\*\*5=32"):
        wavedec(torch.randn(48, 64), "db2", 5)
    with pytest.raises(WSGMError, match=r"levels=7 is too many for size 64"):
        wavedec(torch.randn(64, 64), "db2", 7)
    with pytest.raises(WSGMError, match=r"levels=-2"):
        wavedec(torch.randn(64, 64), "db2", -2)
    with pytest.raises(WSGMError, match=r"size 1 "):
        dwt(torch.randn(2, 1), "haar")
    with pytest.raises(WSGMError, match="floating"):
        dwt(torch.ones(4, 4, dtype=torch.int64), "haar")


def test_inverse_shape_errors() -> None:
    low = torch.randn(2, 4, 4)
    with pytest.raises(WSGMError, match=r"details has shape \(2, 2, 4, 4\).*\(2, 3, 4, 4\)"):
        idwt(low, torch.randn(2, 2, 4, 4), "haar")
    with pytest.raises(WSGMError, match="same dtype"):
        idwt(low, torch.randn(2, 3, 4, 4, dtype=torch.float64), "haar")
    _, details = wavedec(torch.randn(2, 16, 16), "haar", 2)
    with pytest.raises(WSGMError, match=r"details\[0\]"):
        waverec(low, details[::-1], "haar")  # finest first: wrong order
    with pytest.raises(WSGMError, match="list of tensors"):
        waverec(low, details[0], "haar")  # type: ignore[arg-type]
