"""Speed and decorrelation of the φ⁴ sampler at the shipped critical point.

For L ∈ {32, 64, 128} at β_c (λ = 1), one chain on one thread: sweeps per second and τ_int
(in sweeps) of |m| and of the action per site, with and without the embedded-Ising Wolff
clusters. Then the wall time of ``sample_phi4(10_000, size=L)`` on all cores: measured for
32 and 64; for 128 extrapolated from 2,000 (``--full`` measures it). Finally the critical
law of the spectrum, P(k) ∝ k^−(2−η) with η = 1/4, from those sets.

    PYTHONPATH=src python benchmarks/phi4_mcmc.py            # ~5 min on 2 cores
    PYTHONPATH=src python benchmarks/phi4_mcmc.py --quick    # shorter runs
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from wsgm.data import phi4 as P
from wsgm.metrics.physics import integrated_autocorrelation_time
from wsgm.metrics.spectrum import power_spectrum_2d

SIZES = (32, 64, 128)


def chain_stats(L: int, clusters: bool, sweeps: int, seed: int) -> dict[str, float]:
    import numba

    numba.set_num_threads(1)
    params = P.Phi4Params(size=L)
    config = P.MCMCConfig(thermalize=2000 if clusters else 5000, clusters=clusters)
    state = P.init_chains(params, 1, P.seed_sequence(seed))
    P.thermalize(state, params, config)
    t0 = time.perf_counter()
    _, obs, _ = P.advance(state, params, sweeps)
    dt = time.perf_counter() - t0
    tau_m = integrated_autocorrelation_time(np.abs(obs[..., 0]))
    tau_e = integrated_autocorrelation_time(P.action_per_site(obs, params.beta))
    return {
        "rate": sweeps / dt,
        "tau_m": tau_m,
        "tau_e": tau_e,
        "sweeps": sweeps,
        "clusters": float(state.n_cluster[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--full", action="store_true", help="also make 10,000 at L=128")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    workers = args.workers or P.default_workers()
    print(f"beta_c = {P.DEFAULT_BETA_C} ± {P.DEFAULT_BETA_C_ERR}, lam = 1, one chain per row")
    print("| L   | updates        | sweeps/s | tau_int |m| | tau_int E | clusters/sweep |")
    print("|-----|----------------|----------|------------|-----------|----------------|")
    rows = {}
    for L in SIZES:
        for clusters in (True, False):
            sweeps = int(scale * (40_000 if clusters else 200_000) * (32 / L) ** 2)
            sweeps = max(sweeps, 20_000 if clusters else 50_000)
            s = chain_stats(L, clusters, sweeps, seed=L)
            rows[(L, clusters)] = s
            name = "Metropolis+Wolff" if clusters else "Metropolis only"
            short = " (series < 50 tau: lower bound)" if sweeps < 50 * s["tau_m"] else ""
            print(
                f"| {L:3d} | {name:14s} | {s['rate']:8.0f} | {s['tau_m']:10.2f} | "
                f"{s['tau_e']:9.2f} | {s['clusters']:14.0f} |{short}",
                flush=True,
            )

    print(f"\n10,000 independent configurations, {workers} worker(s), spacing >= 2 tau_int:")
    sets = {}
    for L, n in ((32, 10_000), (64, 10_000), (128, 10_000 if args.full else 2_000)):
        n = n if not args.quick else n // 5
        t0 = time.perf_counter()
        fields, meta = P.sample_phi4(n, size=L, workers=workers, progress=False, seed=1)
        wall = time.perf_counter() - t0
        sets[L] = fields
        sw, tau, chains = meta["sweeps"], meta["tau_int"], meta["chains"]
        fixed = sw["thermalize"] + sw["pilot"]
        per_chain = -(-10_000 // chains) * sw["spacing"] + fixed
        made = sw["production_per_chain"] + fixed
        est = wall * per_chain / made
        how = "measured" if n == 10_000 else f"extrapolated from {n} made in {wall:.0f} s"
        print(
            f"  L={L:3d}: {est:6.1f} s ({how}); spacing {sw['spacing']} sweeps, production "
            f"tau_int |m| {tau['abs_m']:.2f}, E {tau['energy']:.2f}; {chains} chains, "
            f"thermalize {sw['thermalize']} + pilot {sw['pilot']} sweeps",
            flush=True,
        )
    spectrum_report(sets)


def _p_hat(L: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.fft.fftfreq(L) * L
    s2 = 4 * np.sin(np.pi * n / L) ** 2
    return np.hypot(n[:, None], n[None, :]), np.sqrt(s2[:, None] + s2[None, :])


def spectrum_report(sets: dict[int, np.ndarray], batches: int = 10) -> None:
    """P(k) ∝ k^−(2−η): slope against lattice momentum, and finite-size scaling P_L(n) ∝ L^(2−η)."""
    print("\ncritical spectrum, expected 2 - eta = 1.75")
    print("  slope of log P against log |p_hat| (all modes with 2 <= |n| <= L/4):")
    low = {}
    for L, f in sets.items():
        radius, p_hat = _p_hat(L)
        sel = (radius >= 2) & (radius <= L / 4)
        per = np.stack([power_spectrum_2d(b) for b in np.array_split(f, batches)])
        slopes = [np.polyfit(np.log(p_hat[sel]), np.log(q[sel]), 1)[0] for q in per]
        print(f"    L={L:3d}: {np.mean(slopes):.3f} ± {np.std(slopes, ddof=1) / batches**0.5:.3f}")
        # P at n = 0 (V<m^2>) and n = 1 (the four axis modes), per batch.
        low[L] = np.stack(
            [per[:, 0, 0], (per[:, 0, 1] + per[:, 1, 0] + per[:, 0, -1] + per[:, -1, 0]) / 4],
            axis=1,
        )
    sizes = sorted(low)
    print(
        "  finite-size scaling, exponent of L in P_L(n) (log-log fit over L = "
        f"{', '.join(map(str, sizes))}):"
    )
    for j, name in enumerate(("n=0 (V<m^2>)", "n=1")):
        means = np.array([low[L][:, j].mean() for L in sizes])
        errs = np.array([low[L][:, j].std(ddof=1) / batches**0.5 for L in sizes])
        slope = np.polyfit(np.log(sizes), np.log(means), 1, w=means / errs)[0]
        # Error by propagating the per-L errors through the (linear) fit.
        x = np.log(sizes) - np.mean(np.log(sizes))
        err = np.sqrt(np.sum((x / np.sum(x * x)) ** 2 * (errs / means) ** 2))
        print(f"    {name:13s}: {slope:.3f} ± {err:.3f}")


if __name__ == "__main__":
    main()
