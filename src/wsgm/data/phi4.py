r"""2-d φ⁴ scalar fields by Markov chain Monte Carlo, by default at the critical point.

Action (periodic L×L lattice, μ over the two positive directions, each bond once)::

    S(φ) = Σ_x [ −β Σ_μ φ_x φ_{x+μ} + φ_x² + λ (φ_x² − 1)² ].

Using Σ_x Σ_μ φ_x φ_{x+μ} = 2 Σ_x φ_x² − ½ Σ_{x,μ} (φ_{x+μ} − φ_x)², this is

    S = (β/2) Σ (∇φ)² + (1 − 2β − 2λ) Σ φ² + λ Σ φ⁴ + λV,

so for the default λ = 1, S = (β/2) Σ(∇φ)² + Σ [φ⁴ − (1 + 2β) φ²] + const (the form of
Marchand, Ozawa, Biroli & Mallat's φ⁴ studies, critical near β ≈ 0.68).

Other parameterizations of the same theory:

- hopping form (Lüscher & Weisz; Montvay & Münster), S = Σ_x [−2κ Σ_μ φ_x φ_{x+μ} + φ_x²
  + λ̃(φ_x² − 1)²]: identical with κ = β/2, λ̃ = λ.
- (m², g) form of the lattice normalizing-flow literature (e.g. Albergo, Kanwar &
  Shanahan, PRD 100, 034515 (2019)), S = Σ_x [Σ_μ (ψ_{x+μ} − ψ_x)² + m² ψ² + g ψ⁴]: with
  φ = a ψ, a² = 2/β, m² = 2(1 − 2β − 2λ)/β and g = 4λ/β² (λ = 1, β = 0.68: m² ≈ −6.94,
  g ≈ 8.65).
- λ = 0 is the Gaussian free field, normalizable for 0 ≤ β < ½, with the exact propagator
  ⟨|φ̂_k|²⟩/V = 1 / (2 − 2β (cos k₁ + cos k₂)) (:func:`free_field_propagator`).

Algorithm (kernels in :mod:`wsgm.data.phi4_kernels`): one sweep = a checkerboard Metropolis
pass plus Wolff clusters on the signs of φ (Brower–Tamayo embedding). During
thermalization the Metropolis step is tuned to ~50 % acceptance and the number of clusters
per sweep so that about V sites are flipped per sweep; both are then frozen. A pilot run
measures the integrated autocorrelation times of |m| and of the action per site, and the
output is spaced by ``spacing = ⌈2 max(τ_|m|, τ_E)(1 + 2σ)⌉`` sweeps (σ: the relative
statistical error of the pilot estimate, so the spacing stays ≥ 2 τ_int). The τ_int of
the production series are measured again and stored in the metadata.

Several chains run in parallel threads (numba ``prange``), each with its own random stream
derived from the seed with numpy's ``SeedSequence``; the result depends on (seed, chains,
shard) only. Configuration i of the output comes from chain i mod C.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import WSGMError
from . import phi4_kernels as K

__all__ = [
    "DEFAULT_BETA_C",
    "DEFAULT_BETA_C_ERR",
    "DEFAULT_LAM",
    "ACTION",
    "Phi4Params",
    "MCMCConfig",
    "ChainState",
    "free_field_propagator",
    "seed_sequence",
    "init_chains",
    "thermalize",
    "advance",
    "action_per_site",
    "measure_spacing",
    "sample_phi4",
    "parse_shard",
    "shard_count",
    "default_workers",
]

DEFAULT_LAM = 1.0
DEFAULT_BETA_C = 0.6803
"""Critical β for λ = 1: the L = 32/64 Binder-cumulant crossing is 0.68031 ± 0.00006 (16/32:
0.67963 ± 0.00012), ``benchmarks/phi4_binder.py``, docs/phi4.md."""
DEFAULT_BETA_C_ERR = 0.0002
"""Error of :data:`DEFAULT_BETA_C`: statistics ⊕ the finite-size drift of the crossing
(+0.0007 from 16/32 to 32/64, so ≈ +0.0001 still to come if it shrinks like L⁻³)."""
ACTION = "S = sum_x [ -beta sum_mu phi_x phi_(x+mu) + phi_x^2 + lam (phi_x^2 - 1)^2 ]"
_TUNE_BLOCK = 50  # sweeps between two adjustments of the Metropolis step and cluster count


def _check_real(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise WSGMError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(float(value)):
        raise WSGMError(f"{name} must be finite, got {name}={value!r}")
    return float(value)


def _check_int(name: str, value: int, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise WSGMError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise WSGMError(f"{name} must be >= {minimum}, got {name}={value}")
    return int(value)


@dataclass(frozen=True)
class Phi4Params:
    """Lattice size L and couplings (β, λ) of the action in the module docstring."""

    size: int
    beta: float = DEFAULT_BETA_C
    lam: float = DEFAULT_LAM

    def __post_init__(self) -> None:
        size = _check_int("size", self.size, minimum=-(2**62))
        if size < 4 or size % 2:
            raise WSGMError(
                f"size must be an even integer >= 4 (the checkerboard sweep needs two "
                f"sublattices on the periodic lattice), got size={size}"
            )
        beta = _check_real("beta", self.beta)
        lam = _check_real("lam", self.lam)
        if beta < 0:
            raise WSGMError(f"beta must be >= 0 (ferromagnetic coupling), got beta={beta}")
        if lam < 0:
            raise WSGMError(f"lam must be >= 0 (a bounded-below action), got lam={lam}")
        if lam == 0 and beta >= 0.5:
            raise WSGMError(
                f"with lam=0 the action is Gaussian and normalizable only for beta < 0.5, "
                f"got beta={beta}"
            )

    @property
    def volume(self) -> int:
        return self.size * self.size

    def hopping(self) -> dict[str, float]:
        """The same action in the hopping form: κ = β/2, λ̃ = λ."""
        return {"kappa": self.beta / 2, "lambda": self.lam}

    def mass_form(self) -> dict[str, float]:
        """(m², g) of S = Σ[Σ_μ(ψ_{x+μ} − ψ_x)² + m²ψ² + gψ⁴] with φ = ψ·√(2/β); needs β > 0."""
        if self.beta == 0:
            raise WSGMError("the (m^2, g) form needs beta > 0")
        return {
            "m2": 2 * (1 - 2 * self.beta - 2 * self.lam) / self.beta,
            "g": 4 * self.lam / self.beta**2,
        }


@dataclass(frozen=True)
class MCMCConfig:
    """Chain schedule (in sweeps). ``spacing=None``: from the pilot run, see
    :func:`measure_spacing`."""

    thermalize: int = 1000
    pilot: int = 5000
    spacing: int | None = None
    clusters: bool = True
    target_acceptance: float = 0.5

    def __post_init__(self) -> None:
        _check_int("thermalize", self.thermalize, minimum=0)
        _check_int("pilot", self.pilot, minimum=20)
        if self.spacing is not None:
            _check_int("spacing", self.spacing, minimum=1)
        t = _check_real("target_acceptance", self.target_acceptance)
        if not 0 < t < 1:
            raise WSGMError(f"target_acceptance must be in (0, 1), got {t}")


@dataclass
class ChainState:
    """Everything needed to continue C chains exactly: fields, RNG words, frozen tuning."""

    phi: np.ndarray  # (C, L, L) float64
    rng: np.ndarray  # (C, 4) uint64
    delta: np.ndarray  # (C,) float64, Metropolis step
    n_cluster: np.ndarray  # (C,) int64, Wolff clusters per sweep

    @property
    def chains(self) -> int:
        return int(self.phi.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {"phi": self.phi, "rng": self.rng, "delta": self.delta, "n_cluster": self.n_cluster}

    @classmethod
    def from_arrays(cls, arrays: Any) -> ChainState:
        return cls(
            phi=np.array(arrays["phi"], dtype=np.float64),
            rng=np.array(arrays["rng"], dtype=np.uint64),
            delta=np.array(arrays["delta"], dtype=np.float64),
            n_cluster=np.array(arrays["n_cluster"], dtype=np.int64),
        )


def free_field_propagator(size: int, beta: float) -> np.ndarray:
    """Exact ⟨|φ̂_k|²⟩/V at λ = 0: 1 / (2 − 2β(cos k₁ + cos k₂)), numpy FFT ordering."""
    Phi4Params(size=size, beta=beta, lam=0.0)
    k = 2 * np.pi * np.fft.fftfreq(size)
    return 1.0 / (2.0 - 2.0 * beta * (np.cos(k)[:, None] + np.cos(k)[None, :]))


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _set_threads(workers: int) -> None:
    import numba

    limit = int(getattr(numba.config, "NUMBA_NUM_THREADS", workers))
    numba.set_num_threads(max(1, min(workers, limit)))


def seed_sequence(seed: int, shard: tuple[int, int] = (1, 1)) -> np.random.SeedSequence:
    """The seed of shard K of N: the K-th of N children spawned from ``seed`` (1-based)."""
    seed = _check_int("seed", seed, minimum=0)
    k, n = shard
    return np.random.SeedSequence(seed).spawn(n)[k - 1]


def init_chains(params: Phi4Params, chains: int, seq: np.random.SeedSequence) -> ChainState:
    """C chains with a hot (Gaussian) start and independent random streams."""
    chains = _check_int("chains", chains, minimum=1)
    init_seq, stream_seq = seq.spawn(2)
    rng = np.random.default_rng(init_seq)
    return ChainState(
        phi=rng.normal(size=(chains, params.size, params.size)),
        rng=K.seed_states(stream_seq, chains),
        delta=np.full(chains, 1.5),
        n_cluster=np.ones(chains, dtype=np.int64),
    )


def advance(
    state: ChainState, params: Phi4Params, sweeps: int, *, spacing: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``sweeps`` sweeps of every chain in place.

    Returns (configurations (C, sweeps // spacing, L, L) float32, every ``spacing``-th sweep;
    observables (C, sweeps, 3) = (m, bond sum / V, site terms / V) after every sweep;
    stats (C, 2) = accepted Metropolis proposals, flipped cluster sites).
    """
    C, L = state.chains, params.size
    n_out = sweeps // spacing if spacing > 0 else 0
    out = np.empty((C, n_out, L, L), dtype=np.float32)
    obs = np.empty((C, sweeps, K.N_OBS), dtype=np.float64)
    stats = np.zeros((C, 2), dtype=np.int64)
    K.run_chains(
        state.phi,
        state.rng,
        float(params.beta),
        float(params.lam),
        state.delta,
        state.n_cluster,
        int(sweeps),
        int(spacing),
        out,
        obs,
        stats,
    )
    return out, obs, stats


def action_per_site(obs: np.ndarray, beta: float) -> np.ndarray:
    """S/V from the recorded observables: −β b + s."""
    return -beta * obs[..., 1] + obs[..., 2]


def thermalize(state: ChainState, params: Phi4Params, config: MCMCConfig) -> dict[str, Any]:
    """Equilibrate in place; tune the Metropolis step and cluster count in the first half.

    The step is rescaled towards the target acceptance after every block of sweeps, and the
    number of clusters per sweep set to V / (mean cluster size) so that a sweep flips about
    as many sites by clusters as the Metropolis pass visits. Tuning then stops, so that the
    second half and everything after run a fixed, detailed-balance kernel.
    """
    V = params.volume
    if not config.clusters:
        state.n_cluster[:] = 0
    tune_sweeps = config.thermalize // 2
    done = 0
    while done < config.thermalize:
        block = min(_TUNE_BLOCK, config.thermalize - done)
        _, _, stats = advance(state, params, block)
        if done < tune_sweeps:
            acc = stats[:, 0] / (block * V)
            state.delta *= np.clip(acc / config.target_acceptance, 0.7, 1.4)
            np.clip(state.delta, 1e-3, 20.0, out=state.delta)
            if config.clusters:
                mean_size = stats[:, 1] / np.maximum(block * state.n_cluster, 1)
                want = np.rint(V / np.maximum(mean_size, 1.0))
                state.n_cluster[:] = np.clip(want, 1, V).astype(np.int64)
        done += block
    return {"thermalize": config.thermalize}


def measure_spacing(state: ChainState, params: Phi4Params, config: MCMCConfig) -> dict[str, Any]:
    """Pilot run: τ_int of |m| and of S/V (averaged over chains) and the output spacing.

    The pilot estimate τ̂ has a relative error σ ≈ √(2(2W + 1)/T) (Madras & Sokal, with the
    window W ≈ 6τ̂ and T the pilot sweeps of all chains), so the spacing is
    ⌈2 τ̂ (1 + 2σ)⌉: at least 2 τ_int unless τ̂ is two standard deviations low.
    """
    from ..metrics.physics import integrated_autocorrelation_time as tau_int

    _, obs, stats = advance(state, params, config.pilot)
    tau_m = tau_int(np.abs(obs[..., 0]))
    tau_e = tau_int(action_per_site(obs, params.beta))
    tau = max(tau_m, tau_e)
    rel_err = math.sqrt(2 * (12 * tau + 1) / (config.pilot * state.chains))
    spacing = config.spacing or max(1, math.ceil(2 * tau * (1 + 2 * rel_err)))
    return {
        "pilot": config.pilot,
        "pilot_tau_abs_m": tau_m,
        "pilot_tau_energy": tau_e,
        "spacing": int(spacing),
        "acceptance": float(stats[:, 0].sum() / (config.pilot * params.volume * state.chains)),
        "cluster_sites_per_sweep": float(stats[:, 1].sum() / (config.pilot * state.chains)),
    }


def _interleave(samples: np.ndarray, n: int) -> np.ndarray:
    """(C, K, L, L) -> (n, L, L): output i is sample i // C of chain i % C."""
    C, Kc = samples.shape[:2]
    return samples.transpose(1, 0, 2, 3).reshape(C * Kc, *samples.shape[2:])[:n]


def produce(
    state: ChainState,
    params: Phi4Params,
    *,
    per_chain: int,
    spacing: int,
    done: np.ndarray,
    obs_done: np.ndarray,
    on_chunk: Callable[[np.ndarray, np.ndarray], None] | None = None,
    chunk_sweeps: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """Continue production until every chain holds ``per_chain`` configurations.

    ``done`` (C, k, L, L) and ``obs_done`` (C, k·spacing, 3) are what earlier calls made;
    chunking does not change the result (every chain's stream just continues).
    ``on_chunk(done, obs_done)`` is called after each chunk (progress, checkpoints).
    """
    C, have = done.shape[0], done.shape[1]
    # Preallocated so that a long run never re-copies what it already made.
    fields = np.empty((C, max(per_chain, have), *done.shape[2:]), dtype=np.float32)
    series = np.empty((C, max(per_chain, have) * spacing, obs_done.shape[2]))
    fields[:, :have] = done
    series[:, : obs_done.shape[1]] = obs_done
    chunk = max(1, chunk_sweeps // spacing)
    while have < per_chain:
        k = min(chunk, per_chain - have)
        out, obs, _ = advance(state, params, k * spacing, spacing=spacing)
        fields[:, have : have + k] = out
        series[:, have * spacing : (have + k) * spacing] = obs
        have += k
        if on_chunk is not None:
            on_chunk(fields[:, :have], series[:, : have * spacing])
    return fields[:, :have], series[:, : have * spacing]


def production_taus(obs: np.ndarray, beta: float) -> dict[str, float]:
    """τ_int (in sweeps) of |m| and S/V over the production series of all chains."""
    from ..metrics.physics import integrated_autocorrelation_time as tau_int

    if obs.shape[1] < 2:
        return {}
    return {
        "abs_m": tau_int(np.abs(obs[..., 0])),
        "energy": tau_int(action_per_site(obs, beta)),
    }


def base_meta(
    params: Phi4Params,
    config: MCMCConfig,
    *,
    n: int,
    seed: int,
    chains: int,
    shard: tuple[int, int],
) -> dict[str, Any]:
    """The metadata that identifies a run (used to match resumed runs and shards)."""
    return {
        "source": "phi4",
        "generator": "wsgm.data.phi4/1",
        "action": ACTION,
        "params": asdict(params),
        "hopping": params.hopping(),
        "size": params.size,
        "n": n,
        "seed": seed,
        "chains": chains,
        "shard": f"{shard[0]}/{shard[1]}",
        "config": asdict(config),
    }


def sample_phi4(
    n: int,
    *,
    size: int,
    beta: float = DEFAULT_BETA_C,
    lam: float = DEFAULT_LAM,
    seed: int = 0,
    workers: int | None = None,
    chains: int | None = None,
    progress: bool = True,
    config: MCMCConfig | None = None,
    shard: tuple[int, int] = (1, 1),
) -> tuple[np.ndarray, dict[str, Any]]:
    """Sample ``n`` equilibrium φ⁴ configurations, spaced by ≥ 2 τ_int sweeps.

    Returns (fields (n, L, L) float32, meta). ``workers`` threads (default: all cores) run
    ``chains`` chains (default: ``workers``); the output is a deterministic function of
    (seed, chains, shard). See :func:`wsgm.data.phi4_files.write_phi4` for a resumable file.
    """
    params = Phi4Params(size=size, beta=beta, lam=lam)
    config = config or MCMCConfig()
    n = _check_int("n", n, minimum=1)
    workers = default_workers() if workers is None else _check_int("workers", workers, minimum=1)
    chains = workers if chains is None else _check_int("chains", chains, minimum=1)
    shard = parse_shard(f"{shard[0]}/{shard[1]}")
    _set_threads(workers)
    state = init_chains(params, chains, seed_sequence(seed, shard))
    thermalize(state, params, config)
    pilot = measure_spacing(state, params, config)
    per_chain = -(-n // chains)
    bar = _progress_bar(n, 0, progress)

    def tick(done: np.ndarray, obs: np.ndarray) -> None:
        if bar is not None:
            bar.n = min(n, done.shape[0] * done.shape[1])
            bar.refresh()

    empty = np.empty((chains, 0, size, size), dtype=np.float32)
    done, obs = produce(
        state,
        params,
        per_chain=per_chain,
        spacing=pilot["spacing"],
        done=empty,
        obs_done=np.empty((chains, 0, K.N_OBS)),
        on_chunk=tick,
    )
    if bar is not None:
        bar.close()
    meta = base_meta(params, config, n=n, seed=seed, chains=chains, shard=shard)
    meta.update(finish_meta(pilot, obs, params, config, per_chain))
    return _interleave(done, n), meta


def finish_meta(
    pilot: dict[str, Any],
    obs: np.ndarray,
    params: Phi4Params,
    config: MCMCConfig,
    per_chain: int,
) -> dict[str, Any]:
    """Schedule and measured autocorrelation times for the metadata."""
    taus = production_taus(obs, params.beta)
    spacing = pilot["spacing"]
    warn = bool(taus) and 2 * max(taus.values()) > spacing
    return {
        "sweeps": {
            "thermalize": config.thermalize,
            "pilot": pilot["pilot"],
            "spacing": spacing,
            "production_per_chain": per_chain * spacing,
        },
        "tau_int": {
            **taus,
            "pilot_abs_m": pilot["pilot_tau_abs_m"],
            "pilot_energy": pilot["pilot_tau_energy"],
        },
        "spacing_below_2tau": warn,
        "acceptance": pilot["acceptance"],
        "cluster_sites_per_sweep": pilot["cluster_sites_per_sweep"],
    }


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="cfg", desc="phi4", leave=True)


# ---------------------------------------------------------------- files: shards, resume, merge


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N."""
    parts = str(text).split("/")
    try:
        k, n = (int(p) for p in parts)
    except ValueError:
        k = n = 0
    if len(parts) != 2 or not 1 <= k <= n:
        raise WSGMError(f"shard must be K/N with integers 1 <= K <= N (e.g. 2/8), got {text!r}")
    return k, n


def shard_count(n: int, shard: tuple[int, int]) -> int:
    """How many of ``n`` configurations shard K of N makes (the first n mod N get one more)."""
    k, parts = shard
    return n // parts + (1 if k - 1 < n % parts else 0)
