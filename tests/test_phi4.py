"""φ⁴ Monte Carlo: exact limits (free field, decoupled sites), determinism, resume, shards, CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from scipy import integrate

from wsgm.data import phi4, phi4_files
from wsgm.data.io import load_fields, save_fields
from wsgm.data.phi4 import MCMCConfig, Phi4Params, free_field_propagator, sample_phi4
from wsgm.errors import WSGMError
from wsgm.metrics.spectrum import power_spectrum_2d, radial_power_spectrum

FAST = MCMCConfig(thermalize=200, pilot=200)


@pytest.mark.parametrize(("size", "beta"), [(8, 0.3), (12, 0.45)])
def test_free_field_spectrum_matches_lattice_propagator(size: int, beta: float) -> None:
    """λ = 0: every Fourier mode has ⟨|φ̂_k|²⟩/V = 1/(2 − 2β Σ cos k_μ) (z-test per mode)."""
    n, batches = 4000, 20
    fields, meta = sample_phi4(
        n, size=size, beta=beta, lam=0.0, seed=11, workers=1, progress=False, config=FAST
    )
    assert fields.shape == (n, size, size) and fields.dtype == np.float32
    exact = free_field_propagator(size, beta)
    per_batch = np.stack([power_spectrum_2d(b) for b in np.split(fields, batches)])
    mean = per_batch.mean(0)
    err = per_batch.std(0, ddof=1) / np.sqrt(batches)  # batch means absorb autocorrelation
    z = (mean - exact) / err
    assert np.abs(z).max() < 5.0, np.abs(z).max()
    assert 0.6 < np.mean(z**2) < 1.6, np.mean(z**2)
    # A wrong normalization of one term of the action would be a large, uniform bias:
    assert abs(np.mean(mean / exact) - 1) < 0.02


@pytest.mark.parametrize("lam", [0.3, 1.0, 4.0])
def test_decoupled_sites_match_single_site_law(lam: float) -> None:
    """β = 0: sites are independent with density ∝ exp(−φ² − λ(φ² − 1)²)."""
    w = lambda x: np.exp(-x * x - lam * (x * x - 1) ** 2)
    z = integrate.quad(w, -np.inf, np.inf)[0]
    m2 = integrate.quad(lambda x: x * x * w(x), -np.inf, np.inf)[0] / z
    m4 = integrate.quad(lambda x: x**4 * w(x), -np.inf, np.inf)[0] / z
    fields, _ = sample_phi4(
        1000, size=8, beta=0.0, lam=lam, seed=3, workers=1, progress=False, config=FAST
    )
    x = fields.astype(np.float64)
    # 64 000 site values, nearly independent: relative error ~ 1 %.
    assert np.mean(x**2) == pytest.approx(m2, rel=0.03)
    assert np.mean(x**4) == pytest.approx(m4, rel=0.05)
    assert abs(np.mean(x)) < 0.03


def test_critical_point_is_critical() -> None:
    """At the shipped β_c: U₄ near the Ising value and P(k) ∝ k^−(2−η), η = 1/4 (loose)."""
    fields, meta = sample_phi4(600, size=32, seed=5, workers=1, progress=False)
    m = fields.reshape(len(fields), -1).mean(1)
    u4 = 1 - np.mean(m**4) / (3 * np.mean(m**2) ** 2)
    assert 0.5 < u4 < 0.68
    # Log-log slope against the lattice momentum |p̂| = (Σ_μ 4 sin²(k_μ/2))^½ over the modes
    # 2 <= |n| <= L/4; it is -1.66 at L = 32 and tends to -1.75 as L grows (docs/phi4.md).
    # A massless free field would give -2, white noise 0.
    n = np.fft.fftfreq(32) * 32
    radius = np.hypot(n[:, None], n[None, :])
    s2 = 4 * np.sin(np.pi * n / 32) ** 2
    p_hat = np.sqrt(s2[:, None] + s2[None, :])
    sel = (radius >= 2) & (radius <= 8)
    slope = np.polyfit(np.log(p_hat[sel]), np.log(power_spectrum_2d(fields)[sel]), 1)[0]
    assert -1.9 < slope < -1.5, slope
    k, p = radial_power_spectrum(fields)
    assert np.all(np.diff(p[:8]) < 0)
    assert meta["sweeps"]["spacing"] >= 2 * max(
        meta["tau_int"]["pilot_abs_m"], meta["tau_int"]["pilot_energy"]
    )


def test_deterministic_and_seed_dependent() -> None:
    kw = dict(size=8, beta=0.6, seed=4, workers=1, chains=2, progress=False, config=FAST)
    a, meta_a = sample_phi4(7, **kw)  # type: ignore[arg-type]
    b, _ = sample_phi4(7, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a, b)
    c, _ = sample_phi4(7, **{**kw, "seed": 5})  # type: ignore[arg-type]
    assert not np.array_equal(a, c)
    assert meta_a["chains"] == 2 and meta_a["params"] == {"size": 8, "beta": 0.6, "lam": 1.0}


def test_resume_after_interruption_gives_identical_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    kw = dict(
        size=8,
        beta=0.6,
        seed=9,
        workers=1,
        chains=2,
        progress=False,
        config=MCMCConfig(thermalize=100, pilot=100, spacing=3),
        checkpoint_seconds=0.0,
    )
    ref = phi4_files.write_phi4(tmp_path / "ref.npz", 400, **kw)  # type: ignore[arg-type]
    real_write = phi4_files._write_partial
    calls = {"n": 0}

    def dying_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        real_write(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(phi4_files, "_write_partial", dying_write)
    monkeypatch.setattr(phi4_files, "produce", _small_chunks(phi4.produce))
    out = tmp_path / "run.npz"
    with pytest.raises(KeyboardInterrupt):
        phi4_files.write_phi4(out, 400, **kw)  # type: ignore[arg-type]
    assert not out.exists()
    kept = np.load(phi4_files.partial_path(out))["done"]
    assert 0 < kept.shape[1] < 200  # finished configurations survived the kill
    monkeypatch.setattr(phi4_files, "_write_partial", real_write)
    phi4_files.write_phi4(out, 400, **kw)  # type: ignore[arg-type]
    assert not phi4_files.partial_path(out).exists()
    a, b = load_fields(ref), load_fields(out)
    np.testing.assert_array_equal(a.fields, b.fields)
    assert a.meta == b.meta
    with pytest.raises(WSGMError, match="already exists"):
        phi4_files.write_phi4(out, 400, **kw)  # type: ignore[arg-type]


def _small_chunks(produce):  # type: ignore[no-untyped-def]
    def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
        return produce(*args, **{**kwargs, "chunk_sweeps": 30})

    return wrapped


def test_resume_refuses_a_different_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x.npz"
    params = Phi4Params(size=8, beta=0.6)
    state = phi4.init_chains(params, 1, phi4.seed_sequence(0))
    key = phi4.base_meta(params, FAST, n=10, seed=0, chains=1, shard=(1, 1))
    empty = np.empty((1, 0, 8, 8), np.float32)
    phi4_files._write_partial(
        phi4_files.partial_path(out),
        json.loads(json.dumps(key)),
        {"spacing": 2},
        state,
        empty,
        np.empty((1, 0, 3)),
    )
    with pytest.raises(WSGMError, match="seed"):
        phi4_files.write_phi4(
            out, 10, size=8, beta=0.6, seed=1, workers=1, progress=False, config=FAST
        )


def test_shards_are_disjoint_and_merge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    kw = dict(size=8, beta=0.6, seed=2, workers=1, progress=False, config=FAST)
    parts = [
        phi4_files.write_phi4(tmp_path / f"p{k}.npz", 11, shard=(k, 3), **kw)  # type: ignore[arg-type]
        for k in (1, 2, 3)
    ]
    sizes = [load_fields(p).fields.shape[0] for p in parts]
    assert sizes == [4, 4, 3]
    assert not np.array_equal(load_fields(parts[0]).fields[:3], load_fields(parts[2]).fields)
    merged = phi4_files.merge_phi4([parts[2], parts[0], parts[1]], tmp_path / "all.npz")
    data = load_fields(merged)
    assert data.fields.shape == (11, 1, 8, 8) and data.meta["n"] == 11
    np.testing.assert_array_equal(data.fields[:4], load_fields(parts[0]).fields)
    with pytest.raises(WSGMError, match="missing shard.*2/3"):
        phi4_files.merge_phi4([parts[0], parts[2]], tmp_path / "m.npz")
    with pytest.raises(WSGMError, match="given twice"):
        phi4_files.merge_phi4([parts[0], parts[0], parts[1], parts[2]], tmp_path / "m.npz")
    other = phi4_files.write_phi4(tmp_path / "o.npz", 11, shard=(2, 3), **{**kw, "seed": 3})  # type: ignore[arg-type]
    with pytest.raises(WSGMError, match="seed"):
        phi4_files.merge_phi4([parts[0], other, parts[2]], tmp_path / "m.npz")
    plain = save_fields(tmp_path / "plain.npz", np.zeros((2, 8, 8)), {"source": "gaussian"})
    with pytest.raises(WSGMError, match="not a shard"):
        phi4_files.merge_phi4([plain], tmp_path / "m.npz")


def _cli(argv: list[str]) -> int:
    from wsgm.commands import data_phi4

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    data_phi4.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_writes_a_data_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "f.npz"
    assert (
        _cli(
            [
                "phi4",
                "--size",
                "8",
                "--n",
                "5",
                "--out",
                str(out),
                "--workers",
                "1",
                "--thermalize",
                "100",
                "--pilot",
                "100",
                "--no-progress",
            ]
        )
        == 0
    )
    data = load_fields(out)
    assert data.fields.shape == (5, 1, 8, 8)
    meta = data.meta
    assert meta["params"]["beta"] == phi4.DEFAULT_BETA_C and meta["params"]["lam"] == 1.0
    assert {"action", "sweeps", "tau_int", "seed", "wsgm_version", "shard"} <= set(meta)
    assert _cli(["merge", str(out), "--out", str(tmp_path / "m.npz")]) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "size"),
        ({"size": -8}, "size"),
        ({"size": 7}, "even"),
        ({"size": 2}, "even"),
        ({"beta": float("nan")}, "beta"),
        ({"lam": float("inf")}, "lam"),
        ({"beta": -0.1}, "beta"),
        ({"lam": -1.0}, "lam"),
        ({"lam": 0.0, "beta": 0.5}, "normalizable"),
        ({"n": 0}, "n must"),
        ({"n": -3}, "n must"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_parameters(kwargs: dict, match: str) -> None:
    args = {"n": 2, "size": 8, "workers": 1, "progress": False, "config": FAST, **kwargs}
    n = args.pop("n")
    with pytest.raises(WSGMError, match=match):
        sample_phi4(n, **args)


@pytest.mark.parametrize("text", ["3/2", "0/4", "a/b", "1", "1/2/3", "-1/2", ""])
def test_bad_shard_spec(text: str) -> None:
    with pytest.raises(WSGMError, match="shard must be K/N"):
        phi4.parse_shard(text)


def test_more_shards_than_configurations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(WSGMError, match="empty"):
        phi4_files.write_phi4(
            tmp_path / "x.npz", 2, size=8, shard=(3, 4), workers=1, progress=False
        )


def test_parameter_mappings() -> None:
    p = Phi4Params(size=8, beta=0.68, lam=1.0)
    assert p.hopping() == {"kappa": 0.34, "lambda": 1.0}
    mf = p.mass_form()
    # Rebuild the action in the (m², g) form from ψ = φ / a and compare on a random field.
    a = np.sqrt(2 / p.beta)
    phi = np.random.default_rng(0).normal(size=(8, 8))
    psi = phi / a
    s_ours = (
        sum(-p.beta * phi * np.roll(phi, -1, ax) for ax in (0, 1))
        + phi**2
        + p.lam * (phi**2 - 1) ** 2
    )
    s_flow = (
        sum((np.roll(psi, -1, ax) - psi) ** 2 for ax in (0, 1))
        + mf["m2"] * psi**2
        + mf["g"] * psi**4
    )
    assert s_ours.sum() == pytest.approx(s_flow.sum() + p.lam * phi.size, rel=1e-10)


def test_result_depends_on_chains_not_on_threads() -> None:
    kw = dict(size=8, beta=0.6, seed=4, chains=2, progress=False, config=FAST)
    a, _ = sample_phi4(6, workers=1, **kw)  # type: ignore[arg-type]
    b, _ = sample_phi4(6, workers=2, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a, b)


def _local_and_cluster_means(clusters: bool) -> tuple[np.ndarray, np.ndarray]:
    params = Phi4Params(size=8, beta=0.6)
    state = phi4.init_chains(params, 1, phi4.seed_sequence(1))
    phi4.thermalize(state, params, MCMCConfig(thermalize=500, clusters=clusters))
    _, obs, _ = phi4.advance(state, params, 200_000)
    series = np.stack([obs[0, :, 0] ** 2, obs[0, :, 1]], axis=1)  # m², bond sum per site
    batch = series.reshape(50, -1, 2).mean(1)
    return batch.mean(0), batch.std(0, ddof=1) / np.sqrt(50)


def test_cluster_updates_keep_the_equilibrium_law() -> None:
    """Metropolis + Wolff and Metropolis alone sample the same law (⟨m²⟩, ⟨bond sum⟩).

    Near the small-L critical region the local chain still mixes at L = 8, so it is the
    oracle for the cluster move; a wrong bond probability (e.g. 1 − exp(−β φφ)) shifts
    ⟨m²⟩ by a factor ~8 here.
    """
    mean_c, err_c = _local_and_cluster_means(True)
    mean_l, err_l = _local_and_cluster_means(False)
    z = (mean_c - mean_l) / np.hypot(err_c, err_l)
    assert np.all(np.abs(z) < 4.0), z
