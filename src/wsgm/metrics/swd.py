"""Sliced Wasserstein distance between Laplacian-pyramid patches of two image sets.

The multi-scale statistical similarity of Karras et al. 2018 (progressive GANs, §5 and
appendix D), reimplemented from its description:

1. Each image is decomposed into a Laplacian pyramid: level 0 is the image minus the
   up-sampled blurred half-size image, the next levels repeat this on the half-size image,
   and the last level is the low-pass residual whose side is ``min_size`` (16 by default,
   as in the paper: 32×32 images give the levels 32 and 16). Blur: the separable binomial
   5-tap kernel [1, 4, 6, 4, 1]/16 with reflected borders.
2. At every level, 7×7 neighbourhoods (all channels) are cut at ``patches`` random
   positions; the positions are drawn once and shared by all images of both sets, so two
   identical sets give exactly the same descriptors and a distance of 0.
3. Descriptors are normalized per channel by the mean and standard deviation over both
   sets (pooled), so the distance is scale-free but still sees a brightness or contrast
   change of one set relative to the other (the paper normalizes each set by its own
   statistics, which hides such changes).
4. The sliced Wasserstein distance: ``projections`` random unit directions (redrawn
   ``repeats`` times; the paper uses 4 × 512, we default to 1 × 512, a quarter of the
   cost; value and noise floor use the same draws), each set's descriptors projected on
   them and sorted, the mean absolute difference of the sorted values (the 1-d W1 of the
   quantile coupling), averaged over directions. With sets of different sizes the sorted
   values are compared at the ``min(n_a, n_b)`` common quantile levels.

The result is reported per level and as the mean over levels (the paper prints values
×10³; we do not rescale).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import WSGMError

__all__ = ["laplacian_pyramid", "swd_per_level", "sliced_wasserstein"]

_PATCH = 7


def _binomial_kernel(channels: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=dtype, device=device) / 16.0
    k2 = torch.outer(k1, k1)
    return k2.expand(channels, 1, 5, 5).contiguous()


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = _binomial_kernel(x.shape[1], x.dtype, x.device)
    mode = "reflect" if min(x.shape[-2:]) > 2 else "replicate"  # reflect needs side > pad
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode=mode), k, groups=x.shape[1])


def _down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[..., ::2, ::2]


def _up(x: torch.Tensor) -> torch.Tensor:
    # zero insertion then the same blur ×4 (the kernel's mass over the kept samples is 1/4)
    b, c, h, w = x.shape
    z = torch.zeros(b, c, 2 * h, 2 * w, dtype=x.dtype, device=x.device)
    z[..., ::2, ::2] = x
    return 4.0 * _blur(z)


def laplacian_pyramid(images: torch.Tensor, *, min_size: int = 16) -> list[torch.Tensor]:
    """Laplacian levels of ``(n, C, S, S)`` images, finest first, ending at side ``min_size``.

    Summing ``_up`` of each coarser level back reconstructs the images exactly.
    """
    levels = []
    x = images
    while x.shape[-1] > min_size and x.shape[-1] % 2 == 0:
        low = _down(x)
        levels.append(x - _up(low))
        x = low
    levels.append(x)
    return levels


def _as_tensor(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim == 3:
        t = t[:, None]
    if t.ndim != 4 or t.shape[0] == 0:
        raise WSGMError(f"{name} must have shape (n, C, H, W) or (n, H, W), got {tuple(t.shape)}")
    return t.double()


def _descriptors(level: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """(n · patches, C · 49) 7×7 neighbourhoods at positions (ys, xs) of every image."""
    n, c = level.shape[:2]
    off = torch.arange(_PATCH, device=level.device)
    rows = (ys[:, None] + off)[:, :, None]  # (P, 7, 1)
    cols = (xs[:, None] + off)[:, None, :]  # (P, 1, 7)
    patches = level[:, :, rows, cols]  # (n, C, P, 7, 7)
    return patches.permute(0, 2, 1, 3, 4).reshape(n * len(ys), c * _PATCH * _PATCH)


def _sort_rows(x: torch.Tensor) -> torch.Tensor:
    # On CPU numpy's vectorized sort is ~30× faster than torch.sort for these long rows
    # (measured: 64 × 128k floats, 0.03 s vs 0.9 s); on accelerators torch.sort is the fast one.
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), axis=-1))
    return torch.sort(x, dim=-1).values


def _sorted_quantiles(proj: torch.Tensor, m: int) -> torch.Tensor:
    """Rows of ``proj`` (K, N) sorted, taken at m evenly spaced quantile levels."""
    s = _sort_rows(proj)
    if s.shape[1] == m:
        return s
    idx = ((torch.arange(m, device=s.device) + 0.5) * (s.shape[1] / m)).long()
    return s[:, idx]


def _swd(
    a: torch.Tensor, b: torch.Tensor, *, projections: int, repeats: int, generator: torch.Generator
) -> float:
    m = min(len(a), len(b))
    # float32 projections: the descriptors are normalized to O(1) values, and sorting
    # float32 is twice as cheap; identical inputs still give exactly 0.
    a32, b32 = a.float(), b.float()
    total = torch.zeros((), dtype=torch.float64, device=a.device)
    chunk = 64  # directions per matmul: bounds memory at (descriptors × chunk)
    for _ in range(repeats):
        dirs = torch.randn(projections, a.shape[1], generator=generator, dtype=torch.float64)
        dirs = (dirs / dirs.norm(dim=1, keepdim=True)).float().to(a.device)
        for start in range(0, projections, chunk):
            d = dirs[start : start + chunk]
            qa, qb = _sorted_quantiles(d @ a32.T, m), _sorted_quantiles(d @ b32.T, m)
            total += (qa - qb).abs().double().mean(dim=1).sum()
    return float(total) / (repeats * projections)


def swd_per_level(
    a: np.ndarray | torch.Tensor,
    b: np.ndarray | torch.Tensor,
    *,
    generator: torch.Generator,
    patches: int = 128,
    projections: int = 512,
    repeats: int = 1,
    min_size: int = 16,
) -> list[float]:
    """SWD between the two sets at each Laplacian level, finest first (module doc).

    ``generator`` (a CPU torch.Generator) draws the patch positions and the directions.
    """
    ta, tb = _as_tensor(a, "first set"), _as_tensor(b, "second set")
    if ta.shape[1:] != tb.shape[1:]:
        raise WSGMError(
            f"the two sets must hold images of the same shape, got {tuple(ta.shape[1:])} and "
            f"{tuple(tb.shape[1:])}"
        )
    for key, value in (
        ("patches", patches),
        ("projections", projections),
        ("repeats", repeats),
        ("min_size", min_size),
    ):
        if not (isinstance(value, int) and value >= 1):
            raise WSGMError(f"{key} must be a positive integer, got {value!r}")
    if min(ta.shape[-2:]) < _PATCH or min_size < _PATCH:
        raise WSGMError(
            f"SWD uses 7×7 patches: images and min_size must be at least 7, got images "
            f"{tuple(ta.shape[-2:])} and min_size {min_size}"
        )
    tb = tb.to(ta.device)
    pyr_a = laplacian_pyramid(ta, min_size=min_size)
    pyr_b = laplacian_pyramid(tb, min_size=min_size)
    out = []
    for la, lb in zip(pyr_a, pyr_b, strict=True):
        h, w = la.shape[-2:]
        ys = torch.randint(0, h - _PATCH + 1, (patches,), generator=generator).to(la.device)
        xs = torch.randint(0, w - _PATCH + 1, (patches,), generator=generator).to(la.device)
        da, db = _descriptors(la, ys, xs), _descriptors(lb, ys, xs)
        c = la.shape[1]
        both = torch.cat([da, db]).reshape(-1, c, _PATCH * _PATCH)
        mean = both.mean(dim=(0, 2))
        std = both.std(dim=(0, 2)).clamp_min(1e-12)  # a constant channel: leave it at 0
        scale = (1.0 / std).repeat_interleave(_PATCH * _PATCH)
        shift = mean.repeat_interleave(_PATCH * _PATCH)
        out.append(
            _swd(
                (da - shift) * scale,
                (db - shift) * scale,
                projections=projections,
                repeats=repeats,
                generator=generator,
            )
        )
    return out


def sliced_wasserstein(
    a: np.ndarray | torch.Tensor,
    b: np.ndarray | torch.Tensor,
    *,
    generator: torch.Generator,
    patches: int = 128,
    projections: int = 512,
    repeats: int = 1,
    min_size: int = 16,
) -> float:
    """Mean over Laplacian levels of :func:`swd_per_level` (0 for identical sets)."""
    levels = swd_per_level(
        a,
        b,
        generator=generator,
        patches=patches,
        projections=projections,
        repeats=repeats,
        min_size=min_size,
    )
    return float(np.mean(levels))
