"""The mixture twin: exact scores of a symmetric two-component Gaussian mixture with a
stationary covariance, for the SGM and for every WSGM scale (docs/design.md §3.9).

The law, on an H×W periodic grid with d = H·W pixels, 𝟙 the constant field of ones:

    p = ½ N(+μ𝟙, C) + ½ N(−μ𝟙, C),   C = F* diag(P_C) F   (stationary, §3.1).

Its two-point function is C + μ² 𝟙𝟙ᵀ: the spectrum P_C plus μ² d at ω = 0 only
(:func:`total_spectrum`), because F𝟙 = √d δ_{ω,0} for the unitary DFT F.

**Score at every noise level** (§2.1). The OU-noised law is ½ N(±α_t μ𝟙, Σ_t),
Σ_t = α_t² C + σ_t² I, again diagonal in Fourier with D_t(ω) = α_t² P_C(ω) + σ_t². Its score is
the posterior-weighted sum of the two Gaussian scores,

    s_t(y) = −Σ_t⁻¹ y + (w₊ − w₋) α_t μ Σ_t⁻¹ 𝟙 = −F⁻¹[F y / D_t] + tanh(r) α_t μ / D_t(0) · 𝟙,

    r = ½ (ℓ₊ − ℓ₋) = α_t μ 𝟙ᵀ y / D_t(0) = α_t μ d m(y) / D_t(0),

with ℓ± the two Gaussian log-densities and m(y) the field mean. 𝟙 is an eigenvector of Σ_t, so
the posterior weight depends on the zero mode only; w₊ − w₋ = tanh(r) is the two-term
logsumexp written in its saturating, overflow-free form. μ = 0 gives back the stationary
Gaussian score of :mod:`wsgm.gaussian.scores` exactly (the same function).

**WSGM conditionals: one Gaussian, not a mixture.** For an orthonormal periodized DWT (§4.1)
the constant field maps to a constant low-pass (×2 per 2-d level) and zero details
(Σ_k g_k = 0; checked numerically in :func:`constant_lowpass`). Write x_{j−1} = ±μ_{j−1}𝟙 + ξ,
ξ ~ N(0, C_{j−1}) stationary. The details x̄_j = D ξ and the non-zero frequencies of the
low-pass x_j are functions of the non-zero Fourier modes of ξ, which are independent of its
zero mode and have the same law under both components; the zero mode of x_j holds
±μ_j + (zero mode of ξ) and nothing else. Hence x̄_j given x_j depends on x_j only through its
non-zero frequencies, with the same law under both components:

    p(x̄_j | x_j) = w₊(x_j) N(A x_j, S) + w₋(x_j) N(A x_j, S) = N(A x_j, S),

a single Gaussian. In the cross-spectra of §3.3 this is S_bl(0) = 0 (H_b(0) = 0 and the
low-pass response vanishes at the aliases of 0), so the gain A kills 𝟙 and both components'
conditional means A(x_j ∓ μ_j𝟙) coincide; the Schur complement S never depended on the mean.
A and S are those of the Gaussian twin with the total spectrum (P_C and P_tot differ only at
ω = 0, which A and S do not see). The mixture lives entirely in the coarsest low-pass x_J, a
two-component mixture ½ N(±μ_J 𝟙, C_J), μ_J = 2^J μ, C_J the low-pass spectrum of C at scale J.

Normalization (§4.3, §6.2): every band is divided by its pixel std under the mixture, so the
low-pass stds include the ±μ spread (s_j² = mean P_{C,j} + μ_j², read off P_tot); all means are
0 by the ± symmetry. The scores and statistics come as :class:`wsgm.gaussian.scores.ExactWSGM`
(levels = 0 is the SGM: the field divided by s_0), so ``wsgm_sample`` / ``sgm_sample`` run them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import WSGMError
from ..samplers import ScoreFn
from ..wavelets import check_levels, wavedec
from .cross_spectra import lowpass_spectrum
from .scores import ExactWSGM, exact_wsgm, stationary_score

__all__ = [
    "check_mixture",
    "moment_mean",
    "total_spectrum",
    "component_spectrum",
    "constant_lowpass",
    "mixture_score",
    "mixture_log_density",
    "exact_mixture",
    "sample_mixture",
]


def check_mixture(spectrum: object, mean: object) -> tuple[np.ndarray, float]:
    """(P_C as float64 (H, W), μ as float), or a :class:`WSGMError` naming the bad value: the
    spectrum must be a finite, positive 2-d array, μ a finite number ≥ 0."""
    try:
        spec = np.asarray(spectrum, dtype=np.float64)
    except (TypeError, ValueError):
        raise WSGMError(
            f"the mixture spectrum must be a 2-d array of numbers, got {spectrum!r}"
        ) from None
    if spec.ndim != 2 or 0 in spec.shape:
        raise WSGMError(
            f"the mixture spectrum must be a non-empty 2-d array, got shape {spec.shape}"
        )
    if not np.all(np.isfinite(spec)) or np.any(spec <= 0):
        bad = np.argwhere(~(np.isfinite(spec) & (spec > 0)))[0]
        raise WSGMError(
            "the mixture spectrum must be finite and positive (a covariance's eigenvalues), got "
            f"{spec[tuple(bad)]!r} at frequency {tuple(int(i) for i in bad)}"
        )
    try:
        mu = float(mean)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise WSGMError(f"the mixture mean μ must be a number, got {mean!r}") from None
    if not (np.isfinite(mu) and mu >= 0):
        raise WSGMError(f"the mixture mean μ must be finite and >= 0, got {mean!r}")
    return spec, mu


def moment_mean(m2: float, m4: float) -> float:
    """μ of the mixture from the moments of the (centred) field mean m (docs/design.md §3.9):
    m = ±μ + g with g Gaussian gives ⟨m²⟩ = μ² + v, ⟨m⁴⟩ = μ⁴ + 6μ²v + 3v², so
    μ⁴ = (3⟨m²⟩² − ⟨m⁴⟩)/2; 0 when the data are not bimodal (⟨m⁴⟩ ≥ 3⟨m²⟩²)."""
    return max(0.0, 0.5 * (3.0 * m2 * m2 - m4)) ** 0.25


def total_spectrum(spectrum: np.ndarray, mean: float) -> np.ndarray:
    """The mixture's two-point spectrum P_tot = P_C + μ² d δ_{ω,0} (docs/design.md §3.9)."""
    spec, mu = check_mixture(spectrum, mean)
    out = spec.copy()
    out[0, 0] += mu * mu * spec.size
    return out


def component_spectrum(total: np.ndarray, mean: float) -> np.ndarray:
    """P_C = P_tot − μ² d δ_{ω,0}: the component spectrum whose mixture has the two-point
    spectrum ``total``; a :class:`WSGMError` when μ² d ≥ P_tot(0) (then no covariance fits)."""
    spec, mu = check_mixture(total, mean)
    out = spec.copy()
    out[0, 0] -= mu * mu * spec.size
    if not out[0, 0] > 0:
        raise WSGMError(
            f"mixture mean μ = {mu:.6g} too large for this two-point function: μ² must stay below "
            f"the variance of the field mean P(0)/d = {spec[0, 0] / spec.size:.6g}"
        )
    return out


def constant_lowpass(shape: tuple[int, int], levels: int, wavelet: str) -> float:
    """The value of x_J for the constant field 𝟙 (2^J for the orthonormal 2-d DWT), after
    checking that all its details vanish, so that the mixture's mean lives in x_J only."""
    one = torch.ones((1, 1, *shape), dtype=torch.float64)
    low, details = wavedec(one, wavelet, levels)
    leak = max((float(d.abs().max()) for d in details), default=0.0)
    spread = float(low.max() - low.min())
    if leak > 1e-9 or spread > 1e-9:  # not reached for the orthogonal wavelets of §4.1
        raise WSGMError(f"wavelet {wavelet!r} does not map constants to constants ({leak:.2g})")
    return float(low.mean())


def _check_field(x: Tensor, spectrum: Tensor) -> None:
    if not isinstance(x, Tensor) or x.ndim < 2 or tuple(x.shape[-2:]) != tuple(spectrum.shape):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise WSGMError(
            f"mixture score: x must end with the spectrum's grid {tuple(spectrum.shape)}, got {got}"
        )


def mixture_score(spectrum: Tensor, mean: float) -> ScoreFn:
    """Score of the OU-noised ½ N(±mean 𝟙, diag_F(spectrum)) on the last two axes
    (docs/design.md §3.9): the stationary score plus tanh(r) α μ / D_t(0) on every pixel.
    ``mean`` = 0 returns :func:`wsgm.gaussian.scores.stationary_score` itself."""
    if spectrum.ndim != 2:
        raise WSGMError(f"the mixture spectrum must be 2-d, got shape {tuple(spectrum.shape)}")
    gauss = stationary_score(spectrum)
    if mean == 0:
        return gauss
    size = spectrum.numel()

    def score(x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        _check_field(x, spectrum)
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        p0 = spectrum[0, 0].to(device=x.device, dtype=x.dtype)
        a = torch.exp(-t) * mean  # component mean per pixel at time t
        d0 = torch.exp(-2.0 * t) * p0 - torch.expm1(-2.0 * t)  # D_t(0) = α² P_C(0) + σ²
        r = a * size * x.mean(dim=(-2, -1), keepdim=True) / d0
        return gauss(x, t, cond) + torch.tanh(r) * (a / d0)

    return score


def mixture_log_density(x: Tensor, t: Tensor | float, spectrum: Tensor, mean: float) -> Tensor:
    """log p_t(x) of the OU-noised mixture, one value per field (leading axes), in Fourier:
    log ½ Σ± N(x; ±α μ 𝟙, Σ_t) with Σ_t diagonal in the unitary DFT (docs/design.md §3.9)."""
    _check_field(x, spectrum)
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    p = spectrum.to(device=x.device, dtype=x.dtype)
    d = p.numel()
    alpha = torch.exp(-t)
    den = alpha**2 * p - torch.expm1(-2.0 * t)
    xh = torch.fft.fft2(x, norm="ortho")
    common = -0.5 * (xh.abs() ** 2 / den).sum(dim=(-2, -1)) - 0.5 * torch.log(
        2 * torch.pi * den
    ).sum(dim=(-2, -1))
    # The means differ from 0 in the zero mode only: ±α μ √d there.
    shift = alpha * mean * d**0.5
    y0 = xh[..., 0, 0].real
    lp = torch.stack([-0.5 * ((y0 - s) ** 2 - y0**2) / den[0, 0] for s in (shift, -shift)])
    return common + torch.logsumexp(lp, dim=0) - np.log(2.0)


def exact_mixture(spectrum: np.ndarray, mean: float, levels: int, *, wavelet: str) -> ExactWSGM:
    """Exact scores and normalization statistics of the mixture with component spectrum
    ``spectrum`` = P_C (H, W) and mean μ (docs/design.md §3.9).

    ``levels`` ≥ 1: the WSGM: the coarse score is the mixture ½ N(±μ_J/s_J 𝟙, C_J/s_J²), the
    conditional scores those of :func:`wsgm.gaussian.scores.exact_wsgm` of P_tot (a single
    Gaussian, see the module docstring), the statistics those of P_tot (stds with the ±μ
    spread, means 0). ``levels`` = 0: the SGM: the score of x/s_0, s_0² = mean P_tot, in
    ``coarse_score_fn``, statistics with no detail rows. μ = 0 gives the Gaussian twin exactly.
    """
    spec, mu = check_mixture(spectrum, mean)
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 0:
        raise WSGMError(f"levels must be an integer >= 0, got {levels!r}")
    check_levels(spec.shape, levels)
    total = total_spectrum(spec, mu)
    if levels == 0:
        var = total.mean()
        score = mixture_score(torch.as_tensor(spec / var), mu / np.sqrt(var))
        return ExactWSGM(score, [], np.asarray([np.sqrt(var)]), np.zeros((0, 3)))
    gauss = exact_wsgm(total, levels, wavelet=wavelet)
    low_c = lowpass_spectrum(spec, wavelet, levels)  # at scale J, as exact_wsgm iterates
    low_tot = lowpass_spectrum(total, wavelet, levels)
    var = low_tot.mean()  # s_J² = mean P_{C,J} + μ_J² (the J-scale field's pixel variance)
    mu_j = mu * constant_lowpass((spec.shape[0], spec.shape[1]), levels, wavelet)
    coarse = mixture_score(torch.as_tensor(low_c / var), mu_j / np.sqrt(var))
    return ExactWSGM(coarse, gauss.cond_score_fns, gauss.low_std, gauss.detail_std)


def sample_mixture(
    spectrum: np.ndarray,
    mean: float,
    n: int,
    *,
    generator: torch.Generator,
    device: torch.device | str | None = None,
) -> Tensor:
    """``n`` exact draws (n, H, W) float64: a fair sign s = ±1 per field, then s μ 𝟙 plus white
    noise coloured by √P_C in Fourier (μ = 0: the stationary Gaussian field, §5.2)."""
    spec, mu = check_mixture(spectrum, mean)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise WSGMError(f"the number of mixture samples must be a positive integer, got {n!r}")
    dev = torch.device(device or "cpu")
    sign = torch.randint(0, 2, (n, 1, 1), generator=generator, device=dev).double() * 2 - 1
    z = torch.randn((n, *spec.shape), generator=generator, dtype=torch.float64, device=dev)
    amp = torch.as_tensor(np.sqrt(spec), device=dev)
    return torch.fft.ifft2(torch.fft.fft2(z) * amp).real + sign * mu
