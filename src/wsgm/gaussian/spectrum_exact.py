"""The expected power spectrum of what SGM and WSGM generate with exact scores, and the
spectrum error of docs/design.md §7.4 computed from it exactly (docs/design.md §3.8).

**SGM.** With the exact score the sampler acts mode by mode: mode ω of the output has
variance v(c(ω)) (:mod:`wsgm.gaussian.moments`), times the normalization's scale.

**WSGM.** Coarse to fine. The coarsest low-pass is an SGM on its spectrum divided by its
pixel variance. At a scale j, per half-grid frequency k', the normalized details are
generated as x̃ = G m̃ + n with G = U diag(g) U^*, Cov(n) = U diag(v) U^* (U, λ the
eigen-decomposition of the conditional covariance C̃, g, v the sampler's moments at λ) and
m̃ = diag(1/std) gain ŷ_l the conditional mean computed from the *generated* low-pass. The
un-normalized details are ŷ_b = q ŷ_l + std ⊙ n, q = diag(std) G diag(1/std) gain, so the
generated 4×4 cross-spectrum of (low-pass, details) at k' is

    S = [[S_l, S_l q^*], [q S_l, q q^* S_l + diag(std) Cov(n) diag(std)]],

S_l the generated low-pass power at k'. The inverse DWT gives X̂(k) = Σ_c H_c(k)^* Ŷ_c(k')
(k' = k mod M/2, H the responses of :func:`wsgm.gaussian.cross_spectra.filter_responses`),
hence the power of the next finer low-pass P(k) = ¼ H(k)^* S(k') H(k). Every map is
diagonal in frequency, so these diagonal powers are exact even though the generated field
need not be stationary (the aliased frequencies can correlate); the spectrum error only
sees the diagonal (mean |FFT|² over samples).

**Shells.** The spectrum error is defined by :mod:`wsgm.metrics` (layer 4, above this
package), so its shell definition is passed in: ``shell_index(shape)`` is
:func:`wsgm.metrics.spectrum.radial_shells` (integer shells round(|k|)), and
:class:`Shells` takes the mean per non-empty shell, k = 0 excluded, as
:func:`wsgm.metrics.spectrum.radial_average` does (a test checks they agree bitwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .cross_spectra import filter_responses
from .theory import WaveletProblem

__all__ = [
    "ShellIndex",
    "Shells",
    "spectrum_measures",
    "LevelSynthesis",
    "wsgm_generated_spectrum",
    "wsgm_generated_lowpasses",
]

ShellIndex = Callable[[tuple[int, int]], np.ndarray]
_TINY = np.finfo(np.float64).tiny  # as wsgm.metrics.distances.spectrum_error


class Shells:
    """Means over the radial shells of ``shell_index(shape)``, k = 0 excluded."""

    def __init__(self, shell_index: ShellIndex, shape: tuple[int, int]) -> None:
        self.index = np.asarray(shell_index(shape)).ravel()
        self.counts = np.bincount(self.index)
        keep = np.nonzero(self.counts)[0]
        self.keep = keep[keep > 0]

    def means(self, values: np.ndarray) -> np.ndarray:
        sums = np.bincount(self.index, weights=np.asarray(values).ravel())
        return sums[self.keep] / self.counts[self.keep]


def spectrum_measures(true_means: np.ndarray, generated_means: np.ndarray) -> tuple[float, float]:
    """(spectrum error, worst shell): the RMS and the largest |log| over the radial shells of
    log(P_generated / P_true), from the shell means."""
    log_ratio = np.log(np.maximum(generated_means, _TINY)) - np.log(np.maximum(true_means, _TINY))
    return float(np.sqrt(np.mean(log_ratio**2))), float(np.max(np.abs(log_ratio)))


class LevelSynthesis:
    """What one scale's inverse DWT needs, precomputed once: for each alias block a of the
    M grid, with h = H(k) and Y_k = Σ_b conj(h_b) std_b U_bk,

        P(k) = ¼ (|conj(h_0) + Σ_k Y_k w_k g_k|² S_l(k') + Σ_k |Y_k|² v_k),

    w = U^* (gain/std): the generated details' mean term and noise term of the module doc.
    """

    def __init__(self, prob: WaveletProblem, wavelet: str) -> None:
        if prob.eigvecs is None or prob.gain is None:
            raise ValueError("the WSGM spectrum needs the eigenvectors and gains of each scale")
        u, std = prob.eigvecs, prob.band_std
        half = u.shape[0]
        h = filter_responses(wavelet, 2 * half)
        w = np.einsum("ijbk,ijb->ijk", u.conj(), prob.gain / std)
        self.half = half
        self.h0: list[np.ndarray] = []
        self.yw: list[np.ndarray] = []
        self.y2: list[np.ndarray] = []
        for a1 in (0, half):
            for a2 in (0, half):
                hs = h[:, a1 : a1 + half, a2 : a2 + half]
                y = np.einsum("bij,b,ijbk->ijk", hs[1:].conj(), std, u)
                self.h0.append(hs[0].conj())
                self.yw.append(y * w)
                self.y2.append(np.abs(y) ** 2)

    def power(self, low: np.ndarray, g: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Power (M, M) of the next finer low-pass from the generated low-pass power ``low``
        (M/2, M/2) and the sampler's moments (M/2, M/2, 3) at this scale's eigenvalues."""
        half = self.half
        out = np.empty((2 * half, 2 * half))
        blocks = [(a1, a2) for a1 in (0, half) for a2 in (0, half)]
        for (a1, a2), h0, yw, y2 in zip(blocks, self.h0, self.yw, self.y2, strict=True):
            amp = h0 + np.einsum("ijk,ijk->ij", yw, g)
            noise = np.einsum("ijk,ijk->ij", y2, v)
            out[a1 : a1 + half, a2 : a2 + half] = 0.25 * (np.abs(amp) ** 2 * low + noise)
        return out


def wsgm_generated_lowpasses(
    problems: Sequence[WaveletProblem],
    moments: Sequence[tuple[np.ndarray, np.ndarray]],
    wavelet: str,
    synthesis: Sequence[LevelSynthesis] | None = None,
) -> list[np.ndarray]:
    """Power per mode of every low-pass the WSGM generates, coarsest first: x_J (M_J, M_J),
    x_{J-1}, ..., x_0 the output (L, L). Arguments as :func:`wsgm_generated_spectrum`. With
    an orthonormal wavelet the details of scale j carry sum(P_{j-1}) - sum(P_j) of the
    energy (Parseval per level), which is how a per-scale energy budget is read off."""
    *scales, coarsest = problems
    if synthesis is None:
        synthesis = [LevelSynthesis(p, wavelet) for p in scales]
    _, v0 = moments[-1]
    low = coarsest.band_std[0] ** 2 * np.asarray(v0)  # generated coarsest low-pass power
    out = [low]
    for syn, (g, v) in zip(reversed(synthesis), reversed(moments[:-1]), strict=True):
        low = syn.power(low, g, v)
        out.append(low)
    return out


def wsgm_generated_spectrum(
    problems: Sequence[WaveletProblem],
    moments: Sequence[tuple[np.ndarray, np.ndarray]],
    wavelet: str,
    synthesis: Sequence[LevelSynthesis] | None = None,
) -> np.ndarray:
    """Power per mode (L, L) of the WSGM's output, from :func:`wavelet_problems`' problems
    (scales 1..J, then the coarsest) and the sampler's (g, v) at each problem's variances;
    ``synthesis`` (one :class:`LevelSynthesis` per scale, finest first) saves rebuilding them.
    """
    return wsgm_generated_lowpasses(problems, moments, wavelet, synthesis)[-1]
