"""Orthogonal periodized discrete wavelet transforms in torch (1D, 2D, any ``ndim``).

Definition (one level, one axis of size ``N``, ``N`` even). With the PyWavelets taps
``h = dec_lo`` and ``g = dec_hi`` of length ``L`` and the shift ``s = L // 2``::

    low[i]    = sum_k h[k] * x[(2 i + s - k) mod N]        i = 0 .. N/2 - 1
    detail[i] = sum_k g[k] * x[(2 i + s - k) mod N]

That is the N x N circulant-by-two matrix built from the taps, "folded" modulo ``N``: when
the filter is longer than the signal (``L > N``, e.g. db4 on 4 samples) the taps whose
indices agree modulo ``N`` add up. For an orthogonal wavelet this matrix is orthogonal at
every even ``N`` down to 2, so each level halves the size exactly, preserves energy
(Parseval) and is inverted by its adjoint. It is what
``pywt.dwt(x, w, mode="periodization")`` computes; we checked (PyWavelets 1.8) that pywt
agrees with the folded definition above at all sizes, including those below the filter
length, and ``tests/test_wavelets.py`` checks both. Orthonormality holds to the accuracy of
the stored taps: ~1e-16 for haar/db/coif, but only ~5e-13 (sym4) to ~1e-11 (sym20) for the
symlets, whose taps PyWavelets stores to about 12 digits.

The d-dimensional transform is separable: one level applies the 1D transform along each of
the last ``ndim`` axes. The ``2**ndim`` bands are numbered ``b = sum_a f_a 2**a`` where
``f_a`` is 0 (low) or 1 (high) along spatial axis ``a`` (``a = 0`` is the first of the
last ``ndim`` axes). Band 0 is the low-pass; the others, in order, are the details. In 2D the
detail order is pywt's ``(cH, cV, cD)``: high along axis 0 (cH), high along axis 1 (cV),
high along both (cD).

Implementation: per axis, a circular shift plus a wrap-around copy of ``L' - 2`` samples, then
``conv1d`` with stride 2 and the two (folded, reversed) filters as two output channels; the
inverse is the adjoint, ``conv_transpose1d`` followed by folding the wrap-around back. Pure
torch ops: differentiable, any float dtype, any device, no scatter/atomic adds of our own.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pywt
import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import WSGMError

__all__ = [
    "ALLOWED_FAMILIES",
    "orthogonal_filters",
    "check_levels",
    "max_levels",
    "dwt",
    "idwt",
    "wavedec",
    "waverec",
]

#: PyWavelets short family names whose filters are exactly orthogonal. ``dmey`` is flagged
#: orthogonal by pywt but its taps are an FIR approximation (orthonormality error ~2e-3), so
#: the transform would not preserve energy; it is rejected.
ALLOWED_FAMILIES: tuple[str, ...] = ("haar", "db", "sym", "coif")


def _family_range(family: str) -> str:
    names = pywt.wavelist(family)
    if family == "haar":
        return "haar"
    orders = sorted(int(n[len(family) :]) for n in names)
    return f"{family}N (N={orders[0]}..{orders[-1]})"


@functools.lru_cache(maxsize=1)
def _allowed_text() -> str:
    return ", ".join(_family_range(f) for f in ALLOWED_FAMILIES)


def _bad_wavelet(wavelet: object, why: str) -> WSGMError:
    return WSGMError(
        f"wavelet {wavelet!r} {why}; allowed are the orthogonal PyWavelets wavelets "
        f"{_allowed_text()}, e.g. 'haar', 'db4', 'sym8', 'coif2'"
    )


@functools.lru_cache(maxsize=64)
def _filters_cached(wavelet: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        w = pywt.Wavelet(wavelet)
    except ValueError:
        raise _bad_wavelet(wavelet, "is not a discrete PyWavelets wavelet") from None
    if w.short_family_name not in ALLOWED_FAMILIES or not w.orthogonal:
        raise _bad_wavelet(wavelet, f"({w.family_name}) is not an exactly orthogonal wavelet")
    lo = np.array(w.dec_lo, dtype=np.float64)
    hi = np.array(w.dec_hi, dtype=np.float64)
    lo.flags.writeable = False
    hi.flags.writeable = False
    return lo, hi


def orthogonal_filters(wavelet: str) -> tuple[np.ndarray, np.ndarray]:
    """``(dec_lo, dec_hi)`` of an orthogonal PyWavelets wavelet as read-only float64 arrays.

    Raises :class:`WSGMError` for anything but haar, dbN, symN, coifN.
    """
    if not isinstance(wavelet, str):
        raise _bad_wavelet(wavelet, "is not a wavelet name (a string)")
    return _filters_cached(wavelet)


def max_levels(size: int) -> int:
    """The largest ``J`` with ``size`` divisible by ``2**J`` (levels a size allows)."""
    if size < 1:
        return 0
    return (size & -size).bit_length() - 1


def check_levels(shape: Sequence[int], levels: int, *, wavelet_ndim: int = 2) -> None:
    """Check that ``levels`` periodized levels fit the last ``wavelet_ndim`` sizes of ``shape``.

    Each level halves every transformed size exactly, so each of them must be divisible by
    ``2**levels``. Raises :class:`WSGMError` naming the bad value and what is allowed.
    """
    if isinstance(wavelet_ndim, bool) or not isinstance(wavelet_ndim, int) or wavelet_ndim < 1:
        raise WSGMError(f"wavelet ndim must be a positive integer, got ndim={wavelet_ndim!r}")
    if isinstance(levels, bool) or not isinstance(levels, int | np.integer) or levels < 0:
        raise WSGMError(
            f"levels must be a non-negative integer (0 = no transform), got levels={levels!r}"
        )
    levels = int(levels)
    shape = tuple(int(n) for n in shape)
    if len(shape) < wavelet_ndim:
        raise WSGMError(
            f"a {wavelet_ndim}-D wavelet transform needs at least {wavelet_ndim} axes, "
            f"got shape {shape}"
        )
    factor = 2**levels
    for n in shape[len(shape) - wavelet_ndim :]:
        if n < 1:
            raise WSGMError(f"size {n} in shape {shape} is empty; sizes must be positive")
        if n % factor == 0:
            continue
        most = max_levels(n)
        if n < factor:
            raise WSGMError(
                f"levels={levels} is too many for size {n} (shape {shape}): each level halves "
                f"the size, so levels={levels} needs sizes that are multiples of "
                f"2**{levels}={factor}; size {n} allows at most levels={most}"
            )
        raise WSGMError(
            f"size {n} (shape {shape}) is not divisible by 2**{levels}={factor}; with "
            f"levels={levels} allowed sizes are multiples of {factor}; size {n} allows at "
            f"most levels={most}"
        )


# ----------------------------------------------------------------------------------------
# Filter banks (cached per wavelet, size, dtype, device)


@functools.lru_cache(maxsize=256)
def _filter_bank(
    wavelet: str, n: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, int]:
    """conv1d weight (2, 1, L') for size ``n`` and the circular shift P of the input.

    The taps are folded modulo ``n`` when longer than ``n``. Forward: with
    ``xp[t] = x[(t - P) mod n]`` (t < n + L' - 2), ``conv1d(xp, weight, stride=2)`` gives
    (low, detail). The weight is created outside inference mode so that it can be saved
    for backward by later autograd-tracked calls.
    """
    lo, hi = _filters_cached(wavelet)
    length = lo.size
    shift = length // 2
    if length > n:
        idx = np.arange(length) % n
        lo_f = np.bincount(idx, weights=lo, minlength=n)
        hi_f = np.bincount(idx, weights=hi, minlength=n)
    else:
        lo_f, hi_f = lo, hi
    lf = lo_f.size
    pad_shift = (lf - 1 - shift) % n
    taps = np.stack([lo_f[::-1], hi_f[::-1]])[:, None, :]
    with torch.inference_mode(False):
        weight = torch.tensor(np.ascontiguousarray(taps), dtype=dtype, device=device)
    return weight, pad_shift


def _check_tensor(x: object, what: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise WSGMError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise WSGMError(f"{what} must have a real floating dtype, got dtype={x.dtype}")
    return x


def _analysis_1d(x: Tensor, wavelet: str) -> Tensor:
    """(M, N) -> (M, 2, N/2): rows (low, detail) along the last axis."""
    n = x.shape[-1]
    weight, p = _filter_bank(wavelet, n, x.dtype, x.device)
    if p:
        x = torch.roll(x, shifts=p, dims=-1)
    wrap = weight.shape[-1] - 2
    if wrap:
        x = torch.cat([x, x[:, :wrap]], dim=-1)
    return F.conv1d(x.unsqueeze(1), weight, stride=2)


def _synthesis_1d(c: Tensor, wavelet: str) -> Tensor:
    """(M, 2, N/2) -> (M, N): the adjoint (= inverse) of :func:`_analysis_1d`."""
    n = 2 * c.shape[-1]
    weight, p = _filter_bank(wavelet, n, c.dtype, c.device)
    y = F.conv_transpose1d(c, weight, stride=2).squeeze(1)  # (M, n + L' - 2), L' <= n
    if y.shape[-1] > n:
        y = F.pad(y, (0, 2 * n - y.shape[-1]))
        y = y[:, :n] + y[:, n:]
    if p:
        y = torch.roll(y, shifts=-p, dims=-1)
    return y


def _analysis_nd(x: Tensor, wavelet: str, ndim: int) -> Tensor:
    """(*B, n_0..n_{d-1}) -> (*B, 2**d, n_0/2..): all bands, band b = sum_a f_a 2**a."""
    lead = x.shape[: x.dim() - ndim]
    y = x.reshape(-1, 1, *x.shape[x.dim() - ndim :])  # (M, C, spatial...)
    for a in reversed(range(ndim)):  # the axis done last is the least significant band bit
        y = y.movedim(2 + a, -1)
        shp = y.shape
        n = shp[-1]
        c = _analysis_1d(y.reshape(-1, n), wavelet)
        y = c.reshape(*shp[:-1], 2, n // 2).movedim(-2, 2).movedim(-1, 3 + a)
        y = y.reshape(y.shape[0], -1, *y.shape[3:])
    return y.reshape(*lead, 2**ndim, *y.shape[2:])


def _synthesis_nd(y: Tensor, wavelet: str, ndim: int) -> Tensor:
    """Inverse of :func:`_analysis_nd`: (*B, 2**d, m_0..) -> (*B, 2 m_0, ..)."""
    lead = y.shape[: y.dim() - ndim - 1]
    y = y.reshape(-1, *y.shape[y.dim() - ndim - 1 :])  # (M, C, spatial...)
    for a in range(ndim):
        y = y.reshape(y.shape[0], -1, 2, *y.shape[2:])  # (M, C, f, spatial...)
        y = y.movedim(3 + a, -1).movedim(2, -2)  # (M, C, others..., f, m_a)
        shp = y.shape
        x = _synthesis_1d(y.reshape(-1, 2, shp[-1]), wavelet)
        y = x.reshape(*shp[:-2], 2 * shp[-1]).movedim(-1, 2 + a)
    return y.reshape(*lead, *y.shape[2:])


# ----------------------------------------------------------------------------------------
# Public transforms


def dwt(x: Tensor, wavelet: str, *, ndim: int = 2) -> tuple[Tensor, Tensor]:
    """One level of the orthonormal periodized DWT on the last ``ndim`` axes.

    Returns ``low`` of shape ``(..., n_0/2, ..)`` and ``details`` of shape
    ``(..., 2**ndim - 1, n_0/2, ..)``; in 2D the detail bands are pywt's (cH, cV, cD).
    """
    x = _check_tensor(x, "input")
    orthogonal_filters(wavelet)
    check_levels(x.shape, 1, wavelet_ndim=ndim)
    y = _analysis_nd(x, wavelet, ndim)
    band = y.dim() - ndim - 1
    return y.select(band, 0), y.narrow(band, 1, 2**ndim - 1)


def _check_pair(low: Tensor, details: Tensor, ndim: int, what: str = "") -> None:
    low = _check_tensor(low, f"low{what}")
    details = _check_tensor(details, f"details{what}")
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 1:
        raise WSGMError(f"wavelet ndim must be a positive integer, got ndim={ndim!r}")
    if low.dim() < ndim:
        raise WSGMError(
            f"a {ndim}-D inverse transform needs low with at least {ndim} axes, "
            f"got shape {tuple(low.shape)}"
        )
    k = low.dim() - ndim
    expected = (*low.shape[:k], 2**ndim - 1, *low.shape[k:])
    if tuple(details.shape) != tuple(expected):
        raise WSGMError(
            f"details{what} has shape {tuple(details.shape)} but low{what} has shape "
            f"{tuple(low.shape)}; for ndim={ndim} details must have shape {tuple(expected)}"
        )
    if details.dtype != low.dtype or details.device != low.device:
        raise WSGMError(
            f"low{what} ({low.dtype}, {low.device}) and details{what} "
            f"({details.dtype}, {details.device}) must have the same dtype and device"
        )


def idwt(low: Tensor, details: Tensor, wavelet: str, *, ndim: int = 2) -> Tensor:
    """Exact inverse (= adjoint) of :func:`dwt`."""
    orthogonal_filters(wavelet)
    _check_pair(low, details, ndim)
    band = low.dim() - ndim
    y = torch.cat([low.unsqueeze(band), details], dim=band)
    return _synthesis_nd(y, wavelet, ndim)


def wavedec(x: Tensor, wavelet: str, levels: int, *, ndim: int = 2) -> tuple[Tensor, list[Tensor]]:
    """``levels`` levels of :func:`dwt`: ``(low_J, [details_J, ..., details_1])``.

    Coarsest first, like ``pywt.wavedec2``; ``levels=0`` returns ``(x, [])``.
    """
    x = _check_tensor(x, "input")
    orthogonal_filters(wavelet)
    check_levels(x.shape, levels, wavelet_ndim=ndim)
    details: list[Tensor] = []
    low = x
    for _ in range(int(levels)):
        low, d = dwt(low, wavelet, ndim=ndim)
        details.append(d)
    details.reverse()
    return low, details


def waverec(low: Tensor, details: Sequence[Tensor], wavelet: str, *, ndim: int = 2) -> Tensor:
    """Inverse of :func:`wavedec`; ``details`` is coarsest first."""
    orthogonal_filters(wavelet)
    low = _check_tensor(low, "low")
    if isinstance(details, Tensor):
        raise WSGMError(
            "details must be a list of tensors, coarsest first (as returned by wavedec), "
            "got a single tensor"
        )
    for j, d in enumerate(details):
        _check_pair(low, d, ndim, what=f" (details[{j}])")
        low = idwt(low, d, wavelet, ndim=ndim)
    return low
