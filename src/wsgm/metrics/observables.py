"""The observables a physicist checks first, with standard errors, and two ensembles compared.

On a batch of lattice fields (n, L, L) or (n, C, L, L), with m the site mean of a sample
(:func:`wsgm.metrics.physics.magnetization`) and V the number of sites:

- ⟨φ²⟩ = ⟨V⁻¹ Σ_x φ_x²⟩, the local second moment;
- ⟨|m|⟩, the mean absolute magnetization;
- U₄ = 1 − ⟨m⁴⟩ / (3⟨m²⟩²), the Binder cumulant;
- χ = V (⟨m²⟩ − ⟨|m|⟩²), the finite-volume susceptibility.

Standard errors are from the **blocked jackknife** (Efron 1982; for Monte Carlo data e.g.
Berg, *Markov Chain Monte Carlo Simulations*, §2.7): the batch is cut, in its stored order,
into B contiguous blocks; each observable is recomputed with one block left out, and
SE² = (B − 1)/B · Σ_b (O_(b) − Ō)². For independent samples (a generative model's) any B
gives the usual error; for a Markov chain stored in chain order, blocks much longer than its
autocorrelation time make the error honest. The same estimator serves the two nonlinear
observables (U₄, χ), which have no closed-form error.

:func:`compare` puts two ensembles side by side: the difference, its standard error
√(SE_a² + SE_b²) (the two batches are independent) and z = difference / that error.
"Within 2 SE" means |z| ≤ 2 in that convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import WSGMError

__all__ = [
    "OBSERVABLES",
    "Estimate",
    "Comparison",
    "field_observables",
    "compare",
    "comparison_lines",
]

OBSERVABLES: tuple[str, ...] = ("phi2", "abs_m", "binder_u4", "chi")
LABELS: dict[str, str] = {
    "phi2": "<phi^2>",
    "abs_m": "<|m|>",
    "binder_u4": "U4",
    "chi": "chi",
}


@dataclass(frozen=True)
class Estimate:
    """An observable's value on the whole batch and its blocked-jackknife standard error."""

    value: float
    se: float


@dataclass(frozen=True)
class Comparison:
    """Ensemble ``a`` against ensemble ``b`` for one observable (z = (a − b) / SE of a − b)."""

    name: str
    a: Estimate
    b: Estimate

    @property
    def difference(self) -> float:
        return self.a.value - self.b.value

    @property
    def se(self) -> float:
        return math.hypot(self.a.se, self.b.se)

    @property
    def z(self) -> float:
        if self.se == 0.0:
            return 0.0 if self.difference == 0.0 else math.copysign(math.inf, self.difference)
        return self.difference / self.se

    def within(self, k: float = 2.0) -> bool:
        """|a − b| ≤ k · √(SE_a² + SE_b²)."""
        return abs(self.z) <= k


def _per_sample(fields: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(site mean of φ², m) per sample, and V; float64 accumulation without a full copy."""
    arr = np.asarray(fields)
    if arr.ndim not in (3, 4):
        raise WSGMError(f"fields must have shape (n, L, L) or (n, C, L, L), got shape {arr.shape}")
    n = arr.shape[0]
    if n < 2:
        raise WSGMError(f"observables with errors need at least 2 samples, got n = {n}")
    flat = arr.reshape(n, -1)
    if not np.isfinite(flat).all():
        bad = int((~np.isfinite(flat).all(axis=1)).sum())
        raise WSGMError(f"{bad} of {n} samples hold NaN or Inf; observables are undefined")
    phi2 = np.einsum("ij,ij->i", flat, flat, dtype=np.float64) / flat.shape[1]
    m = flat.mean(axis=1, dtype=np.float64)
    return phi2, m, int(arr.shape[-1] * arr.shape[-2])


def _from_moments(moments: np.ndarray, sites: int) -> np.ndarray:
    """(..., 5) means of (φ², |m|, m², m⁴, 1) -> (..., 4) observables in OBSERVABLES order."""
    phi2, am, m2, m4 = (moments[..., i] for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        u4 = 1.0 - m4 / (3.0 * m2 * m2)
    return np.stack([phi2, am, u4, sites * (m2 - am * am)], axis=-1)


def field_observables(fields: np.ndarray, *, blocks: int = 64) -> dict[str, Estimate]:
    """⟨φ²⟩, ⟨|m|⟩, U₄ and χ of a batch, each with its blocked-jackknife standard error.

    ``blocks`` is B, capped at the number of samples (each block then holds one sample:
    the plain delete-one jackknife). Raises if a sample holds NaN/Inf or if every m is 0
    (U₄ undefined).
    """
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 2:
        raise WSGMError(f"blocks must be an integer >= 2, got {blocks!r}")
    phi2, m, sites = _per_sample(fields)
    n = len(m)
    per = np.stack([phi2, np.abs(m), m * m, m**4], axis=1)
    if float(per[:, 2].max()) == 0.0:
        raise WSGMError("the Binder cumulant is undefined: every sample has zero magnetization")
    b = min(blocks, n)
    edges = np.linspace(0, n, b + 1).round().astype(int)
    sums = np.stack([per[s:e].sum(axis=0) for s, e in zip(edges[:-1], edges[1:], strict=True)])
    counts = np.diff(edges).astype(np.float64)
    full = _from_moments(per.sum(axis=0) / n, sites)
    left_out = (sums.sum(axis=0) - sums) / (n - counts)[:, None]
    jack = _from_moments(left_out, sites)
    se = np.sqrt((b - 1) / b * ((jack - jack.mean(axis=0)) ** 2).sum(axis=0))
    return {name: Estimate(float(full[i]), float(se[i])) for i, name in enumerate(OBSERVABLES)}


def compare(a: dict[str, Estimate], b: dict[str, Estimate]) -> list[Comparison]:
    """One :class:`Comparison` per observable both hold, in OBSERVABLES order."""
    return [Comparison(name, a[name], b[name]) for name in OBSERVABLES if name in a and name in b]


def comparison_lines(rows: list[Comparison], *, a: str, b: str, k: float = 2.0) -> list[str]:
    """A plain-text table: each observable for ``a`` and ``b`` ± SE, difference, z, verdict."""
    lines = [
        f"{'observable':<10} {a:>20} {b:>20} {'difference':>11} {'z':>7}  within {k:g} SE",
    ]
    for r in rows:
        lines.append(
            f"{LABELS[r.name]:<10} {r.a.value:>11.5g} ± {r.a.se:<6.2g} "
            f"{r.b.value:>11.5g} ± {r.b.se:<6.2g} {r.difference:>+11.4g} {r.z:>+7.2f}  "
            f"{'yes' if r.within(k) else 'NO'}"
        )
    lines.append(
        f"(SE: blocked jackknife; z = difference / sqrt(SE_{a}^2 + SE_{b}^2); "
        f"within {k:g} SE means |z| <= {k:g})"
    )
    return lines
