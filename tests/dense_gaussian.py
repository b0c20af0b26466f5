"""Dense pixel-basis oracles shared by the tests of the exact-score twins."""

from __future__ import annotations

import numpy as np
import torch


def dense_circulant_cov(spec: np.ndarray) -> torch.Tensor:
    """The pixel covariance C = F* diag(P) F of a stationary periodic field with power
    spectrum ``spec`` (L, L), row-major flattened to (L², L²), float64."""
    size = spec.shape[0]
    c = np.fft.ifft2(spec).real
    i = np.arange(size)
    dy = (i[:, None] - i[None, :]) % size
    return torch.tensor(c[dy[:, None, :, None], dy[None, :, None, :]].reshape(size**2, size**2))
