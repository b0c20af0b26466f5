"""Per-scale normalization statistics of the wavelet coefficients (Guth et al. 2022, §3).

For J levels and C channels, from the training data (orthonormal periodized DWT of
:mod:`wsgm.wavelets`, ``x_0`` = the data, ``(x_j, xbar_j) = dwt(x_{j-1})``):

- ``low_mean``, ``low_std``: shape (J + 1, C); row j is the per-channel mean / std of the
  low-pass x_j (pooled over samples and pixels), j = 0 .. J. Row 0 normalizes the SGM's
  data, row J the WSGM coarsest target, rows 1..J the conditioning inputs.
- ``detail_mean``, ``detail_std``: shape (J, C, 3); row j - 1 is scale j, per channel and
  per detail band (pywt order cH, cV, cD).

A normalized detail tensor has the bands and channels flattened as ``(B, 3C, h, w)``: the
reshape of ``(B, C, 3, h, w)``, so channel c, band b sits at index ``3 c + b``.
Pooling over pixels assumes stationarity, which holds for periodic fields and is the usual
per-channel normalization for images.

Optionally (``model.skip``, :mod:`wsgm.models.twin_skip`) the statistics also hold the twin of
the unconditional network's field: ``skip_spectrum`` (h, w) and ``skip_mean`` (0-d), in the
normalized coordinates above, and ``skip_field_spectrum`` (H, W), the data's power spectrum
in data units, from which the detail networks' twins follow; None otherwise (and the last
None for models saved before the detail twins existed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .. import wavelets

__all__ = ["NormalizationStats", "compute_stats", "STD_FLOOR"]

# A constant channel has std 0; dividing by this floor keeps it finite (and zero).
STD_FLOOR = 1e-6


@dataclass(frozen=True)
class NormalizationStats:
    """Mean/std of the low-passes and detail bands of every scale (see module docstring)."""

    low_mean: Tensor
    low_std: Tensor
    detail_mean: Tensor
    detail_std: Tensor
    skip_spectrum: Tensor | None = None
    skip_mean: Tensor | None = None
    skip_field_spectrum: Tensor | None = None

    @property
    def levels(self) -> int:
        return int(self.detail_mean.shape[0])

    @property
    def channels(self) -> int:
        return int(self.low_mean.shape[1])

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> NormalizationStats:
        return NormalizationStats.from_tensors(
            {k: t.to(device=device, dtype=dtype) for k, t in self.tensors().items()}
        )

    def tensors(self) -> dict[str, Tensor]:
        """The tensors by name (the keys of ``stats.safetensors``): the four statistics, and
        the twin skip's when present."""
        out = {
            "low_mean": self.low_mean,
            "low_std": self.low_std,
            "detail_mean": self.detail_mean,
            "detail_std": self.detail_std,
        }
        if self.skip_spectrum is not None and self.skip_mean is not None:
            out["skip_spectrum"], out["skip_mean"] = self.skip_spectrum, self.skip_mean
        if self.skip_field_spectrum is not None:
            out["skip_field_spectrum"] = self.skip_field_spectrum
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, Tensor]) -> NormalizationStats:
        return cls(
            tensors["low_mean"],
            tensors["low_std"],
            tensors["detail_mean"],
            tensors["detail_std"],
            tensors.get("skip_spectrum"),
            tensors.get("skip_mean"),
            tensors.get("skip_field_spectrum"),
        )

    # --- low-passes: (B, C, h, w) <-> normalized (B, C, h, w) -------------------------------
    def normalize_low(self, x: Tensor, j: int) -> Tensor:
        m, s = self._low(j, x)
        return (x - m) / s

    def unnormalize_low(self, x: Tensor, j: int) -> Tensor:
        m, s = self._low(j, x)
        return x * s + m

    # --- details: (B, C, 3, h, w) <-> normalized (B, 3C, h, w) -----------------------------
    def normalize_details(self, d: Tensor, j: int) -> Tensor:
        m, s = self._detail(j, d)
        out = (d - m) / s
        return out.reshape(out.shape[0], -1, *out.shape[-2:])

    def unnormalize_details(self, dn: Tensor, j: int) -> Tensor:
        c = self.channels
        d = dn.reshape(dn.shape[0], c, -1, *dn.shape[-2:])
        m, s = self._detail(j, d)
        return d * s + m

    def _low(self, j: int, x: Tensor) -> tuple[Tensor, Tensor]:
        if not 0 <= j <= self.levels:
            raise ValueError(f"low-pass scale j={j} out of range 0..{self.levels}")
        m = self.low_mean[j].to(x)[:, None, None]
        s = self.low_std[j].to(x)[:, None, None]
        return m, s

    def _detail(self, j: int, x: Tensor) -> tuple[Tensor, Tensor]:
        if not 1 <= j <= self.levels:
            raise ValueError(f"detail scale j={j} out of range 1..{self.levels}")
        m = self.detail_mean[j - 1].to(x)[:, :, None, None]
        s = self.detail_std[j - 1].to(x)[:, :, None, None]
        return m, s


@torch.no_grad()
def compute_stats(
    fields: Tensor, *, wavelet: str, levels: int, batch_size: int = 512
) -> NormalizationStats:
    """Statistics of ``fields`` (n, C, H, W), accumulated in float64 over batches."""
    wavelets.check_levels(fields.shape, levels)
    n, c = int(fields.shape[0]), int(fields.shape[1])
    z = torch.zeros
    low_s1, low_s2, low_cnt = (
        z(levels + 1, c, dtype=torch.float64),
        z(levels + 1, c, dtype=torch.float64),
        z(levels + 1, dtype=torch.float64),
    )
    det_s1, det_s2, det_cnt = (
        z(levels, c, 3, dtype=torch.float64),
        z(levels, c, 3, dtype=torch.float64),
        z(levels, dtype=torch.float64),
    )
    for start in range(0, n, batch_size):
        x = fields[start : start + batch_size].to(torch.float64)
        for j in range(levels + 1):
            if j > 0:
                x, d = wavelets.dwt(x, wavelet)
                det_s1[j - 1] += d.sum(dim=(0, 3, 4)).cpu()
                det_s2[j - 1] += (d * d).sum(dim=(0, 3, 4)).cpu()
                det_cnt[j - 1] += d.shape[0] * d.shape[3] * d.shape[4]
            low_s1[j] += x.sum(dim=(0, 2, 3)).cpu()
            low_s2[j] += (x * x).sum(dim=(0, 2, 3)).cpu()
            low_cnt[j] += x.shape[0] * x.shape[2] * x.shape[3]

    def mean_std(s1: Tensor, s2: Tensor, cnt: Tensor) -> tuple[Tensor, Tensor]:
        cnt = cnt.reshape(-1, *([1] * (s1.ndim - 1)))
        mean = s1 / cnt
        var = (s2 / cnt - mean**2).clamp_min(0.0)
        return mean.float(), var.sqrt().clamp_min(STD_FLOOR).float()

    lm, ls = mean_std(low_s1, low_s2, low_cnt)
    if levels:
        dm, ds = mean_std(det_s1, det_s2, det_cnt)
    else:
        dm, ds = z(0, c, 3), torch.ones(0, c, 3)
    return NormalizationStats(lm, ls, dm, ds)
