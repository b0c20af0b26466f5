"""The ``wsgm data`` command group: gaussian, images, inspect (φ⁴ has its own tests)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wsgm.commands import data as data_cmd
from wsgm.data.io import load_fields, load_labels
from wsgm.data.summary import reference_for
from wsgm.errors import WSGMError


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Parse and run like ``wsgm.cli.main`` does: a user error is one line, return code 2."""
    parser = argparse.ArgumentParser(prog="wsgm")
    data_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        rc = int(args.func(args) or 0)
    except (WSGMError, ValueError) as exc:
        print(f"error: {exc}", file=__import__("sys").stderr)
        rc = 2
    out, err = capsys.readouterr()
    return rc, out, err


def test_gaussian_is_seeded_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for out in (a, b):
        rc, _, _ = _run(
            [
                "data",
                "gaussian",
                "--size",
                "8",
                "--n",
                "5",
                "--out",
                str(out),
                "--eta",
                "1.5",
                "--seed",
                "3",
            ],
            capsys,
        )
        assert rc == 0
    da, db = load_fields(a), load_fields(b)
    np.testing.assert_array_equal(da.fields, db.fields)
    assert da.fields.shape == (5, 1, 8, 8)
    assert da.meta["eta"] == 1.5 and da.meta["seed"] == 3 and da.meta["source"] == "gaussian"
    rc, _, err = _run(
        ["data", "gaussian", "--size", "8", "--n", "5", "--out", str(a), "--seed", "4"], capsys
    )
    assert rc == 2 and "--overwrite" in err
    np.testing.assert_array_equal(load_fields(a).fields, db.fields)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--size", "0", "--n", "2"], "--size"),
        (["--size", "8", "--n", "0"], "--n"),
        (["--size", "8", "--n", "2", "--eta", "nan"], "eta"),
        (["--size", "8", "--n", "2", "--xi", "-1"], "xi"),
    ],
)
def test_gaussian_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], match: str
) -> None:
    rc, _, err = _run(["data", "gaussian", "--out", str(tmp_path / "x.npz"), *extra], capsys)
    assert rc == 2 and match in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


def test_images_command_warns_on_corrupt_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(np.full((20, 20, 3), 128, np.uint8)).save(tmp_path / "in" / "ok.png")
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    rc, out, err = _run(
        ["data", "images", str(tmp_path / "in"), "--size", "16", "--out", str(tmp_path / "o.npz")],
        capsys,
    )
    assert rc == 0 and "broken.jpg" in err and "skipped 1" in out
    assert load_fields(tmp_path / "o.npz").fields.shape == (1, 3, 16, 16)
    assert load_labels(tmp_path / "o.npz") is None


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--size", "12"], "power of two"),
        ([], "needs an output size"),
    ],
)
def test_images_command_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], match: str
) -> None:
    (tmp_path / "in").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in" / "a.png")
    rc, _, err = _run(
        ["data", "images", str(tmp_path / "in"), "--out", str(tmp_path / "o.npz"), *argv], capsys
    )
    assert rc == 2 and match in err


def test_inspect_json_matches_the_gaussian_theory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "g.npz"
    assert (
        _run(
            ["data", "gaussian", "--size", "16", "--n", "400", "--out", str(f), "--xi", "0.5"],
            capsys,
        )[0]
        == 0
    )
    rc, out, _ = _run(["data", "inspect", str(f), "--json"], capsys)
    obs = json.loads(out)
    assert rc == 0 and obs["shape"] == [400, 1, 16, 16] and obs["source"] == "gaussian"
    fields = load_fields(f).fields.astype(np.float64)
    assert np.isclose(obs["mean"], fields.mean()) and np.isclose(obs["variance"], fields.var())
    m = fields.mean(axis=(1, 2, 3))
    assert np.isclose(obs["mean_abs_m"], np.abs(m).mean())
    assert np.isclose(obs["binder_u4"], 1 - (m**4).mean() / (3 * (m**2).mean() ** 2))
    ref = reference_for(load_fields(f).meta, (16, 16))
    assert ref is not None and ref.spectrum is not None
    k, p = ref.spectrum
    np.testing.assert_array_equal(k, obs["radial_power_spectrum"]["k"])
    # Each shell averages ≥ 4 modes of 400 fields: its log-power error is a few percent.
    log_ratio = np.log(np.asarray(obs["radial_power_spectrum"]["power"]) / p)
    assert np.sqrt(np.mean(log_ratio**2)) < 0.05
    assert abs(np.log(obs["variance"] / ref.marginal_variance)) < 0.05


def test_inspect_text_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "a.npz", x=np.full((6, 4, 4, 3), 200, np.uint8), y=np.arange(6) % 2)
    assert (
        _run(["data", "images", str(tmp_path / "a.npz"), "--out", str(tmp_path / "i.npz")], capsys)[
            0
        ]
        == 0
    )
    png = tmp_path / "i.png"
    rc, out, _ = _run(["data", "inspect", str(tmp_path / "i.npz"), "--png", str(png)], capsys)
    assert rc == 0 and "6 fields of 3 x 4 x 4" in out and "2 classes" in out
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 500


def test_inspect_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["data", "inspect", str(tmp_path / "none.npz")], capsys)
    assert rc == 2 and "does not exist" in err
    (tmp_path / "t.npz").write_bytes(b"PK\x03\x04 truncated")
    rc, _, err = _run(["data", "inspect", str(tmp_path / "t.npz")], capsys)
    assert rc == 2 and "truncated or corrupt" in err


def test_references_by_source() -> None:
    # φ⁴ at λ = 0 is the free field: its reference is the exact lattice propagator, whose
    # zero mode gives Var(m) = P₀/V = 1/((2 − 4β) V).
    free = reference_for({"source": "phi4", "params": {"beta": 0.2, "lam": 0.0}}, (8, 8))
    assert free is not None and free.spectrum is not None
    assert np.isclose(free.magnetization_variance, 1 / ((2 - 4 * 0.2) * 64))
    k, p = free.spectrum
    # Shell 1 = round(|k|) = 1 holds the 4 axis modes (1, 0) and the 4 diagonal ones (1, 1).
    c = np.cos(2 * np.pi / 8)
    assert k[0] == 1 and np.isclose(p[0], (1 / (2 - 0.4 * (1 + c)) + 1 / (2 - 0.8 * c)) / 2)
    crit = reference_for({"source": "phi4", "params": {"beta": 0.68, "lam": 1.0}}, (8, 8))
    assert crit is not None and crit.slope == -1.75 and crit.spectrum is None
    assert reference_for({"source": "idx"}, (32, 32)) is None
    assert reference_for({"source": "gaussian", "eta": 2.0}, (8, 16)) is None


def test_inspect_reports_nonfinite_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(0).standard_normal((5, 8, 8)).astype(np.float32)
    x[3, 2, 2] = np.nan
    np.savez(tmp_path / "n.npz", fields=x)
    rc, out, _ = _run(["data", "inspect", str(tmp_path / "n.npz"), "--json"], capsys)
    obs = json.loads(out)
    assert rc == 0 and obs["nonfinite_samples"] == 1 and obs["n"] == 4
    keep = np.delete(x, 3, axis=0).astype(np.float64)
    assert np.isclose(obs["variance"], keep.var()) and np.isclose(obs["mean"], keep.mean())


def test_output_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    # `wsgm data inspect F | head -1`: the reader leaves early; no traceback, status 141.
    from wsgm.data.io import save_fields

    f = tmp_path / "f.npz"
    save_fields(f, np.zeros((4, 8, 8), dtype=np.float32), {"source": "test"})
    r, w = os.pipe()
    os.close(r)  # nobody will read
    proc = subprocess.run(
        [sys.executable, "-m", "wsgm.cli", "data", "inspect", str(f)],
        stdout=w,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    os.close(w)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr


def test_inspect_against_compares_observables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    a = np.sign(rng.standard_normal((200, 1, 1))) * 0.5 + rng.standard_normal((200, 8, 8))
    b = a[::-1] * 1.5  # the same magnetization signs, 1.5x the field: <phi^2> is 2.25x
    np.savez(tmp_path / "a.npz", fields=a.astype(np.float32))
    np.savez(tmp_path / "b.npz", fields=b.astype(np.float32))
    rc, out, _ = _run(
        ["data", "inspect", str(tmp_path / "a.npz"), "--against", str(tmp_path / "b.npz")], capsys
    )
    assert rc == 0 and "<phi^2>" in out and "blocked jackknife" in out and "NO" in out
    rc, out, _ = _run(
        [
            "data",
            "inspect",
            str(tmp_path / "a.npz"),
            "--against",
            str(tmp_path / "a.npz"),
            "--json",
            "--blocks",
            "20",
        ],
        capsys,
    )
    rows = {r["name"]: r for r in json.loads(out)["against"]["rows"]}
    assert rc == 0 and set(rows) == {"phi2", "abs_m", "binder_u4", "chi"}
    assert all(r["z"] == 0.0 and r["within_2se"] for r in rows.values())
    rc, _, err = _run(
        ["data", "inspect", str(tmp_path / "a.npz"), "--against", str(tmp_path / "no.npz")],
        capsys,
    )
    assert rc == 2 and "does not exist" in err
