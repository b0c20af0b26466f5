"""Steps needed against the image size, exactly, for every sampler, grid, normalization and
error measure (docs/design.md §3.5, §3.7, §3.8).

A *case* is one model on one size: the SGM under a normalization (:class:`SGMCase`) or the
WSGM (:class:`WSGMCase`, the same under both normalizations since each of its problems is
normalized by its own std). An :class:`Evaluator` pairs a case with a sampler and a grid and
returns, for N steps, the three measures of the generated law, exactly:

- ``kl``: KL(data ‖ model) per pixel (§3.2–§3.3);
- ``spectrum``: the spectrum error of §7.4 (RMS over radial shells of the log-ratio of the
  shell-mean powers), from the expected generated spectrum (:mod:`.spectrum_exact`);
- ``worst_shell``: the largest |log-ratio| over the shells.

Values are cached per N, so the three searches of one case share their evaluations.
:meth:`Evaluator.steps_needed` finds the smallest N from which on a measure stays ≤ ε: the
N → ∞ limit first (:func:`wsgm.gaussian.moments.limit_moments`; above ε means no N is
enough), then every N ≤ :data:`SCAN`, then above it :func:`search_steps`: a geometric
bracket from a guess and a log-log secant refinement with bisection safeguards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import WSGMError
from ..grids import DEFAULT_REF_SIZE, GRIDS, SIZED_GRIDS, make_grid
from .moments import check_sampler, limit_moments, sampler_moments
from .spectra import power_spectrum
from .spectrum_exact import (
    LevelSynthesis,
    ShellIndex,
    Shells,
    spectrum_measures,
    wsgm_generated_spectrum,
)
from .theory import gaussian_kl, normalized_spectrum, unique_values, wavelet_problems

__all__ = [
    "MEASURES",
    "SCAN",
    "DEFAULT_SETTINGS",
    "CaseBook",
    "parse_settings",
    "next_guess",
    "REFINING_GRIDS",
    "GridSpec",
    "SGMCase",
    "WSGMCase",
    "Evaluator",
    "search_steps",
    "check_grid_name",
]

MEASURES = ("kl", "spectrum", "worst_shell")
SCAN = 64  # every N up to this is checked by Evaluator.steps_needed
REFINING_GRIDS = frozenset({"uniform", "quadratic"})  # last score time t_{N-1} → 0 as N → ∞


def check_grid_name(name: str) -> str:
    """``name`` if it is a grid of :data:`wsgm.grids.GRIDS`, else a WSGMError."""
    if name not in GRIDS:
        raise WSGMError(f"unknown time grid {name!r}; allowed: {', '.join(GRIDS)}")
    return name


@dataclass(frozen=True)
class GridSpec:
    """A named grid with horizon ``T``; ``ref_size`` is L_ref of ``logsnr-shifted``;
    ``t_min`` the last score-evaluation time of a grid that has one (None: its default)."""

    name: str
    T: float = 5.0
    ref_size: int = DEFAULT_REF_SIZE
    t_min: float | None = None

    def times(self, n: int, size: int) -> np.ndarray:
        """The grid of n steps for a problem on a ``size``×``size`` grid."""
        try:
            ts = make_grid(
                self.name, n, T=self.T, size=size, ref_size=self.ref_size, t_min=self.t_min
            )
        except ValueError as exc:
            raise WSGMError(f"time grid {self.name!r} (T={self.T}, size {size}): {exc}") from exc
        return ts.numpy()

    def t_last(self, size: int) -> float:
        """lim_{N→∞} t_{N−1}, where the samplers' final Tweedie step is taken."""
        return 0.0 if self.name in REFINING_GRIDS else float(self.times(2, size)[1])


class SGMCase:
    """The SGM on an L×L field whose covariance is normalized by ``normalize``."""

    def __init__(
        self,
        size: int,
        *,
        eta: float,
        xi: float,
        normalize: str,
        shell_index: ShellIndex | None,
        spectrum: np.ndarray | None = None,
    ) -> None:
        self.size = size
        self.c = normalized_spectrum(size, eta=eta, xi=xi, normalize=normalize, spectrum=spectrum)
        self.reps, self.counts, self.inverse = unique_values(self.c)
        self.shells = None if shell_index is None else Shells(shell_index, self.c.shape)
        self.true_means = None if self.shells is None else self.shells.means(self.c)

    @property
    def kappa(self) -> float:
        """κ of the covariance (the same under both normalizations)."""
        return float(self.c.max() / self.c.min())

    def directions(self) -> list[tuple[int, np.ndarray]]:
        """(grid size, variances) of each problem: one here."""
        return [(self.size, self.reps)]

    def measures(self, moments: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        _, v = moments[0]
        kl = float(np.sum(self.counts * gaussian_kl(self.reps, v)) / self.c.size)
        if self.shells is None or self.true_means is None:
            return {"kl": kl}
        spec, worst = spectrum_measures(self.true_means, self.shells.means(v[self.inverse]))
        return {"kl": kl, "spectrum": spec, "worst_shell": worst}


class WSGMCase:
    """The WSGM with J levels of ``wavelet`` down to ``coarsest``² pixels (docs §3.3)."""

    def __init__(
        self,
        size: int,
        *,
        levels: int,
        eta: float,
        xi: float,
        wavelet: str,
        shell_index: ShellIndex | None,
        spectrum: np.ndarray | None = None,
    ) -> None:
        self.size = size
        self.wavelet = wavelet
        self.p = power_spectrum(size, eta=eta, xi=xi) if spectrum is None else spectrum
        self.problems = wavelet_problems(
            size, levels, eta=eta, xi=xi, wavelet=wavelet, spectrum=spectrum
        )
        self._unique = [unique_values(p.variances) for p in self.problems]
        self.shells = None if shell_index is None else Shells(shell_index, self.p.shape)
        self.true_means = None if self.shells is None else self.shells.means(self.p)
        self.synthesis = (
            [] if self.shells is None else [LevelSynthesis(p, wavelet) for p in self.problems[:-1]]
        )

    @property
    def kappa(self) -> float:
        """The largest κ over the normalized problems (all scales and the coarsest)."""
        return max(p.kappa for p in self.problems)

    def directions(self) -> list[tuple[int, np.ndarray]]:
        return [(p.size, u[0]) for p, u in zip(self.problems, self._unique, strict=True)]

    def measures(self, moments: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
        full: list[tuple[np.ndarray, np.ndarray]] = []
        kl = 0.0
        for prob, (_, _, inverse), (g, v) in zip(self.problems, self._unique, moments, strict=True):
            shape = prob.variances.shape
            gf, vf = g[inverse].reshape(shape), v[inverse].reshape(shape)
            full.append((gf, vf))
            kl += float(np.sum(gaussian_kl(prob.variances, vf, gf, prob.mean_power)))
        if self.shells is None or self.true_means is None:
            return {"kl": kl / self.size**2}
        generated = wsgm_generated_spectrum(self.problems, full, self.wavelet, self.synthesis)
        spec, worst = spectrum_measures(self.true_means, self.shells.means(generated))
        return {"kl": kl / self.size**2, "spectrum": spec, "worst_shell": worst}


Case = SGMCase | WSGMCase


@dataclass
class Evaluator:
    """The measures of ``case`` sampled by ``sampler`` on ``grid``, cached per N."""

    case: Case
    sampler: str
    grid: GridSpec
    cache: dict[int, dict[str, float]] = field(default_factory=dict)
    _limit: dict[str, float] | None = None

    def __post_init__(self) -> None:
        check_sampler(self.sampler)

    def _moments(
        self,
        fn: Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray]],
        steps: Sequence[int] | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        # Problems sharing a grid (all of them unless the grid depends on the size or the
        # step counts differ) go through the kernel in one call: one parallel loop over all
        # their directions. ``steps[i]``: problem i's step count (else 0 for all).
        dirs = self.case.directions()
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (size, _) in enumerate(dirs):
            key = (size if self.grid.name in SIZED_GRIDS else 0, 0 if steps is None else steps[i])
            groups.setdefault(key, []).append(i)
        out: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(0))] * len(dirs)
        for (_, n), members in groups.items():
            cat = np.concatenate([dirs[i][1] for i in members])
            g, v = fn(cat, dirs[members[0]][0], n)
            stops = np.cumsum([dirs[i][1].size for i in members])[:-1]
            for i, gi, vi in zip(members, np.split(g, stops), np.split(v, stops), strict=True):
                out[i] = (gi, vi)
        return out

    def __call__(self, n: int) -> dict[str, float]:
        if n not in self.cache:
            moments = self._moments(
                lambda c, size, _: sampler_moments(
                    c, self.grid.times(n, size), sampler=self.sampler
                )
            )
            self.cache[n] = self.case.measures(moments)
        return self.cache[n]

    def at_counts(self, counts: Sequence[int]) -> dict[str, float]:
        """The measures of a WSGM sampled with ``counts`` steps per network: the coarsest
        first, then scale 1 (the finest) .. J, as :meth:`wsgm.sampling.spec.SamplingSpec.
        counts` gives them (docs/design.md §7.7)."""
        if not isinstance(self.case, WSGMCase):
            raise WSGMError("step counts per scale are for the WSGM")
        levels = len(self.case.problems) - 1
        if len(counts) != levels + 1 or min(counts) < 1:
            raise WSGMError(f"need {levels + 1} positive step counts, got {list(counts)}")
        # the case's problems are scale 1 .. J, then the coarsest
        per_problem = [int(c) for c in (*counts[1:], counts[0])]
        moments = self._moments(
            lambda c, size, n: sampler_moments(c, self.grid.times(n, size), sampler=self.sampler),
            per_problem,
        )
        return self.case.measures(moments)

    def limit(self) -> dict[str, float]:
        """The measures as N → ∞ (exact reverse dynamics, Tweedie at the grid's t_last)."""
        if self._limit is None:
            moments = self._moments(
                lambda c, size, _: limit_moments(
                    c, sampler=self.sampler, T=self.grid.T, t_last=self.grid.t_last(size)
                )
            )
            self._limit = self.case.measures(moments)
        return self._limit

    def steps_needed(
        self, measure: str, epsilon: float, *, n_max: int, guess: int = 1, scan: int = SCAN
    ) -> int | None:
        """The smallest N from which on ``measure`` stays ≤ ε (None: the N → ∞ limit is
        above ε, or it is not reached by ``n_max``).

        Every N ≤ ``scan`` is checked (the measures are not monotone at small N: errors
        of opposite signs cancel by chance, Heun overshoots on long steps); above it the
        measure is taken to decrease to its limit and :func:`search_steps` finds the
        crossing (docs/design.md §3.8).
        """
        if self.limit()[measure] > epsilon:
            return None
        top = min(scan, n_max)
        if self(top)[measure] <= epsilon:
            n = top
            while n > 1 and self(n - 1)[measure] <= epsilon:
                n -= 1
            return n
        if top >= n_max:
            return None
        return search_steps(
            lambda n: self(n)[measure], epsilon, n_max=n_max, guess=max(guess, top + 1), lo=top
        )


def search_steps(
    f: Callable[[int], float], epsilon: float, *, n_max: int, guess: int = 1, lo: int = 0
) -> int | None:
    """Smallest N ≤ n_max with f(N) ≤ ε for a decreasing f, None if f(n_max) > ε; ``lo``:
    an N known to have f(lo) > ε (the answer is above it).

    Brackets from ``guess`` by geometric steps (factor 1.25, squared each time), then
    refines lo < N ≤ hi by secants of log f against log N (exact for a power law), falling
    back to bisection when a secant step does not halve the bracket. Returns hi once
    hi = lo + 1, so f(N) ≤ ε < f(N − 1) always holds for the returned N > 1.
    """
    if not epsilon > 0:
        raise WSGMError(f"epsilon must be positive, got {epsilon!r}")
    floor = lo
    n = min(max(floor + 1, int(guess)), n_max)
    values: dict[int, float] = {}

    def val(k: int) -> float:
        if k not in values:
            values[k] = float(f(k))
        return values[k]

    factor = 1.25
    if val(n) <= epsilon:
        hi = n
        while True:
            if hi == floor + 1:
                return hi
            lo = max(floor, 1, min(hi - 1, int(hi / factor)))
            if val(lo) > epsilon:
                break
            hi, factor = lo, factor * factor
    else:
        lo = n
        while True:
            if lo >= n_max:
                return None
            hi = min(n_max, max(lo + 1, math.ceil(lo * factor)))
            if val(hi) <= epsilon:
                break
            lo, factor = hi, factor * factor
    width = hi - lo
    secant = True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if secant:
            f_lo, f_hi = val(lo), val(hi)
            if f_hi > 0 and f_lo > f_hi:
                x = math.log(lo) + (math.log(f_lo / epsilon)) * math.log(hi / lo) / math.log(
                    f_lo / f_hi
                )
                mid = min(hi - 1, max(lo + 1, math.ceil(math.exp(x))))
        if val(mid) <= epsilon:
            hi = mid
        else:
            lo = mid
        # a secant step that does not halve the bracket is followed by a bisection
        secant = not secant or (hi - lo) * 2 <= width
        width = hi - lo
    return hi


# --------------------------------------------------------------------------------------
# The settings of ``wsgm theory``: sampler/grid pairs, and the cases of one size
# --------------------------------------------------------------------------------------
DEFAULT_SETTINGS: tuple[tuple[str, str], ...] = (
    ("euler", "uniform"),
    ("euler", "quadratic"),
    ("dpm2m", "logsnr"),
    ("dpm2m", "logsnr-shifted"),
    ("heun", "karras"),
    ("ancestral", "quadratic"),
)


def parse_settings(items: str | list[str] | tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """``"euler/uniform,dpm2m/logsnr"`` (or a list of such strings, or of pairs) → pairs,
    each sampler and grid checked."""
    if isinstance(items, str):
        items = [v for v in items.split(",") if v.strip()]
    out: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, str):
            parts = item.strip().split("/")
            if len(parts) != 2:
                raise WSGMError(f"a setting is SAMPLER/GRID (e.g. euler/uniform), got {item!r}")
            item = (parts[0], parts[1])
        out.append((check_sampler(item[0]), check_grid_name(item[1])))
    if not out:
        raise WSGMError("give at least one SAMPLER/GRID setting")
    return out


class CaseBook:
    """The cases of one size L and their evaluators, built on first use."""

    def __init__(
        self,
        size: int,
        *,
        levels: int,
        eta: float,
        xi: float,
        wavelet: str,
        T: float,
        ref_size: int,
        shell_index: ShellIndex | None,
    ) -> None:
        self.size, self.levels, self.eta, self.xi, self.wavelet = size, levels, eta, xi, wavelet
        self.T, self.ref_size, self.shell_index = T, ref_size, shell_index
        self._cases: dict[str, Case] = {}
        self._evaluators: dict[tuple[str, str, str], Evaluator] = {}

    def case(self, model: str) -> Case:
        """``"wsgm"``, or ``"sgm:<normalization>"``."""
        if model not in self._cases:
            if model == "wsgm":
                self._cases[model] = WSGMCase(
                    self.size,
                    levels=self.levels,
                    eta=self.eta,
                    xi=self.xi,
                    wavelet=self.wavelet,
                    shell_index=self.shell_index,
                )
            else:
                self._cases[model] = SGMCase(
                    self.size,
                    eta=self.eta,
                    xi=self.xi,
                    normalize=model.split(":", 1)[1],
                    shell_index=self.shell_index,
                )
        return self._cases[model]

    def evaluator(self, model: str, sampler: str, grid: str) -> Evaluator:
        key = (model, sampler, grid)
        if key not in self._evaluators:
            spec = GridSpec(grid, T=self.T, ref_size=self.ref_size)
            self._evaluators[key] = Evaluator(self.case(model), sampler, spec)
        return self._evaluators[key]


def next_guess(previous: list[int | None], n_max: int) -> int:
    """A starting N for the next size from the N found at the smaller ones (their ratio)."""
    found = [n for n in previous if n is not None]
    if not found:
        return 1
    if len(found) >= 2 and previous[-1] is not None and previous[-2] is not None:
        ratio = min(8.0, max(0.25, found[-1] / found[-2]))
        return min(n_max, max(1, round(found[-1] * ratio)))
    return min(n_max, found[-1])
