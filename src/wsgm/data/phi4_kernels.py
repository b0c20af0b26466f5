"""Numba kernels of the φ⁴ Markov chain: local Metropolis sweeps and embedded-Ising Wolff clusters.

The action (per configuration, periodic L×L lattice, each bond counted once) is

    S(φ) = Σ_x [ −β Σ_μ φ_x φ_{x+μ} + φ_x² + λ (φ_x² − 1)² ],

see :mod:`wsgm.data.phi4` for the physics. Every chain owns its random stream (xoshiro256**,
a 4-word uint64 state per chain, seeded from numpy's ``SeedSequence``), so a chain's
trajectory does not depend on how chains are spread over threads: the output is a
function of the seeds alone, and the state can be saved and resumed exactly.

One "sweep" is one checkerboard Metropolis pass over all sites followed by ``n_cluster``
Wolff clusters on the signs of φ (Brower & Tamayo, PRL 62, 1087 (1989)): neighbours of the
same sign are bonded with probability 1 − exp(−2β |φ_x| |φ_y|) and the cluster's signs
are flipped. The flip φ → −φ on a cluster leaves every site term unchanged and is exactly
the Wolff move of the Ising model with couplings J_xy = β|φ_x||φ_y|, so it satisfies
detailed balance for S; it decorrelates the long-wavelength sign structure that local
updates cannot move at criticality.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["seed_states", "run_chains", "N_OBS"]

N_OBS = 3
"""Per-sweep observables recorded by :func:`run_chains`: m (site mean), b (bond sum per
site, Σ_{x,μ} φ_x φ_{x+μ} / V) and s (site-term sum per site, Σ_x [φ² + λ(φ²−1)²] / V).
The action per site is −β b + s; b is the observable conjugate to β (for reweighting)."""

_U64_1 = np.uint64(1)


def seed_states(seq: np.random.SeedSequence, chains: int) -> np.ndarray:
    """Independent xoshiro256** states, shape (chains, 4) uint64, one per spawned child seed."""
    states = np.empty((chains, 4), dtype=np.uint64)
    for c, child in enumerate(seq.spawn(chains)):
        words = child.generate_state(4, np.uint64)
        if not words.any():  # the all-zero state is the one fixed point of xoshiro
            words[0] = _U64_1
        states[c] = words
    return states


@njit(inline="always", cache=True)
def _rotl(x, k):  # type: ignore[no-untyped-def]
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(inline="always", cache=True)
def _next_u64(s):  # type: ignore[no-untyped-def]
    # xoshiro256** (Blackman & Vigna 2018), all arithmetic in uint64 so numba never
    # promotes to float.
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(inline="always", cache=True)
def _uniform(s):  # type: ignore[no-untyped-def]
    """A double in [0, 1) from the top 53 bits."""
    return np.float64(_next_u64(s) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _metropolis_sweep(phi, beta, lam, delta, s):  # type: ignore[no-untyped-def]
    """One checkerboard Metropolis pass; returns the number of accepted proposals.

    Sites of one colour have all their neighbours in the other colour, so the order inside
    a colour does not matter (the pass equals a parallel update of the sublattice).
    """
    L = phi.shape[0]
    acc = 0
    for colour in range(2):
        for i in range(L):
            ip = i + 1 if i + 1 < L else 0
            im = i - 1 if i > 0 else L - 1
            for j in range((i + colour) & 1, L, 2):
                jp = j + 1 if j + 1 < L else 0
                jm = j - 1 if j > 0 else L - 1
                nb = phi[ip, j] + phi[im, j] + phi[i, jp] + phi[i, jm]
                old = phi[i, j]
                new = old + delta * (2.0 * _uniform(s) - 1.0)
                o2 = old * old
                n2 = new * new
                ds = (
                    -beta * (new - old) * nb
                    + (n2 - o2)
                    + lam * ((n2 - 1.0) * (n2 - 1.0) - (o2 - 1.0) * (o2 - 1.0))
                )
                if ds <= 0.0 or _uniform(s) < np.exp(-ds):
                    phi[i, j] = new
                    acc += 1
    return acc


@njit(cache=True)
def _wolff_cluster(phi, beta, s, stack):  # type: ignore[no-untyped-def]
    """Grow and flip one Wolff cluster of the embedded Ising signs; returns its size.

    A site is flipped when it joins, so sites already in the cluster have the opposite sign
    of the seed and are never bonded again (no visited mask needed).
    """
    L = phi.shape[0]
    V = L * L
    site = int(_uniform(s) * V)
    if site >= V:
        site = V - 1
    i0 = site // L
    j0 = site - i0 * L
    positive = phi[i0, j0] > 0.0
    phi[i0, j0] = -phi[i0, j0]
    stack[0] = site
    top = 1
    size = 1
    two_beta = 2.0 * beta
    while top > 0:
        top -= 1
        x = stack[top]
        i = x // L
        j = x - i * L
        ax = abs(phi[i, j])
        for k in range(4):
            if k == 0:
                ni, nj = (i + 1 if i + 1 < L else 0), j
            elif k == 1:
                ni, nj = (i - 1 if i > 0 else L - 1), j
            elif k == 2:
                ni, nj = i, (j + 1 if j + 1 < L else 0)
            else:
                ni, nj = i, (j - 1 if j > 0 else L - 1)
            y = phi[ni, nj]
            if (y > 0.0) == positive and y != 0.0:
                if _uniform(s) < 1.0 - np.exp(-two_beta * ax * abs(y)):
                    phi[ni, nj] = -y
                    stack[top] = ni * L + nj
                    top += 1
                    size += 1
    return size


@njit(cache=True)
def _measure(phi, lam, row):  # type: ignore[no-untyped-def]
    L = phi.shape[0]
    m = 0.0
    b = 0.0
    loc = 0.0
    for i in range(L):
        ip = i + 1 if i + 1 < L else 0
        for j in range(L):
            jp = j + 1 if j + 1 < L else 0
            p = phi[i, j]
            p2 = p * p
            m += p
            b += p * (phi[ip, j] + phi[i, jp])
            loc += p2 + lam * (p2 - 1.0) * (p2 - 1.0)
    V = L * L
    row[0] = m / V
    row[1] = b / V
    row[2] = loc / V


@njit(parallel=True, cache=True)
def run_chains(phi, rng, beta, lam, delta, n_cluster, n_sweeps, spacing, out, obs, stats):  # type: ignore[no-untyped-def]
    """Advance every chain by ``n_sweeps`` sweeps, in parallel over chains.

    phi (C, L, L) float64 and rng (C, 4) uint64 are updated in place. ``delta`` (C,) is the
    Metropolis step, ``n_cluster`` (C,) the Wolff clusters per sweep. After sweep t
    (1-based) with t % spacing == 0 the configuration is copied to out[c, t // spacing − 1]
    (out: (C, n_sweeps // spacing, L, L) float32; spacing ≤ 0 copies nothing). obs
    (C, n_sweeps, N_OBS) receives the per-sweep observables; stats (C, 2) int64 receives the
    accepted Metropolis proposals and the total flipped cluster sites.
    """
    C = phi.shape[0]
    L = phi.shape[1]
    for c in prange(C):
        stack = np.empty(L * L, dtype=np.int64)
        acc = 0
        flipped = 0
        chain = phi[c]
        state = rng[c]
        for t in range(n_sweeps):
            acc += _metropolis_sweep(chain, beta, lam, delta[c], state)
            for _ in range(n_cluster[c]):
                flipped += _wolff_cluster(chain, beta, state, stack)
            _measure(chain, lam, obs[c, t])
            if spacing > 0 and (t + 1) % spacing == 0:
                k = (t + 1) // spacing - 1
                for i in range(L):
                    for j in range(L):
                        out[c, k, i, j] = np.float32(chain[i, j])
        stats[c, 0] = acc
        stats[c, 1] = flipped
