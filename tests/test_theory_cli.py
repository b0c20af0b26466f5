"""`wsgm theory`'s settings tables (docs/design.md §3.7–§3.8): theory.json, the printed
report, and one clear error per bad input."""

from __future__ import annotations

import json

import pytest

from wsgm.cli import main
from wsgm.gaussian.report import compute

SMALL = ["--sizes", "8,16", "--sweep-steps", "4,16"]


def test_settings_in_json_and_report(tmp_path, capsys) -> None:
    pairs = "euler/quadratic,dpm2m/logsnr"
    rc = main(["theory", *SMALL, "--settings", pairs, "--out", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "theory.json").read_text())
    # the existing keys stay
    for key in ("eta", "xi", "epsilon", "sizes", "steps", "sgm", "wsgm", "exponent", "seconds"):
        assert key in res
    assert res["normalization"] == "lambda-max"
    entries = res["settings"]
    assert len(entries) == 2 * 2 * 3  # normalizations × pairs × measures
    combos = {(e["normalize"], e["sampler"], e["grid"], e["measure"]) for e in entries}
    assert len(combos) == 12
    assert {e["normalize"] for e in entries} == {"lambda-max", "pixel"}
    assert {e["measure"] for e in entries} == {"kl", "spectrum", "worst_shell"}
    for e in entries:
        assert e["epsilon"] == {"kl": 0.05, "spectrum": 0.05, "worst_shell": 0.1}[e["measure"]]
        for model in ("sgm", "wsgm"):
            assert set(e[model]) == {"8", "16"}
            assert all(n is None or (isinstance(n, int) and n >= 1) for n in e[model].values())
            assert set(e["exponent"]) == {"sgm", "wsgm"}
    # the KL table's N is the settings' euler/uniform... here via the lambda-max KL entry
    kl = next(
        e
        for e in entries
        if (e["normalize"], e["sampler"], e["measure"]) == ("lambda-max", "euler", "kl")
    )
    assert kl["sgm"]["16"] == 13  # euler on the quadratic grid at λ_max = 1
    # the WSGM does not depend on the SGM's normalization
    for e in entries:
        twin = next(
            f
            for f in entries
            if f is not e
            and (f["sampler"], f["grid"], f["measure"])
            == (
                e["sampler"],
                e["grid"],
                e["measure"],
            )
        )
        assert twin["wsgm"] == e["wsgm"]
    out = capsys.readouterr().out
    assert "normalization lambda-max" in out and "normalization pixel" in out
    assert "Normalization lambda-max" in out  # the KL table says it too
    for m in ("kl", "spectrum", "worst_shell"):
        assert (tmp_path / f"theory_needed_{m}.png").stat().st_size > 1000


def test_one_normalization(tmp_path) -> None:
    rc = main(
        [
            "theory",
            *SMALL,
            "--settings",
            "heun/karras",
            "--normalize",
            "pixel",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "theory.json").read_text())
    assert {e["normalize"] for e in res["settings"]} == {"pixel"}
    assert len(res["settings"]) == 3


def test_shifted_grid_setting(tmp_path) -> None:
    rc = main(["theory", *SMALL, "--settings", "dpm2m/logsnr-shifted", "--out", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "theory.json").read_text())
    assert res["ref_size"] == 64 and "logsnr-shifted" in res["notes"]


def test_without_shells_only_kl() -> None:
    res = compute(
        sizes=[8],
        steps=[4],
        eta=2.0,
        xi=0.0,
        epsilon=0.05,
        wavelet="haar",
        coarsest=4,
        grid="uniform",
        T=5.0,
        settings="euler/uniform",
    )
    assert res["measures"] == ["kl"] and len(res["settings"]) == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--normalize", "unit"], ["'unit'", "lambda-max", "pixel", "both"]),
        (["--grid", "cosine"], ["'cosine'", "karras", "logsnr-shifted"]),
        (["--sampler", "rk4"], ["'rk4'", "euler", "dpm2m"]),
        (["--settings", "rk4/uniform"], ["'rk4'", "heun"]),
        (["--settings", "euler/cosine"], ["'cosine'", "quadratic"]),
        (["--settings", "euler"], ["'euler'", "SAMPLER/GRID"]),
        (["--sizes", "24"], ["24", "coarsest", "allowed"]),
        (["--sizes", "16", "--coarsest", "32"], ["coarsest size 32", "16"]),
        (["--sizes", "16", "--coarsest", "3"], ["coarsest", "3"]),
        (["--T", "0"], ["T=0.0", "positive"]),
        (["--T", "-2"], ["T=-2.0", "positive"]),
        (["--ref-size", "0"], ["0", "L_ref"]),
        (["--n-max", "0"], ["0", "largest N"]),
        (["--epsilon-spectrum", "-1"], ["epsilon_spectrum", "-1"]),
    ],
)
def test_bad_input_is_one_clear_error(capsys, args: list[str], words: list[str]) -> None:
    assert main(["theory", "--sizes", "16", "--sweep-steps", "4", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsgm theory: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def test_shifted_grid_too_large_a_size(capsys) -> None:
    # log-SNR shifted by 2 log(64/L) beyond λ(T): one clear error naming the size
    rc = main(
        [
            "theory",
            "--sizes",
            "16",
            "--sweep-steps",
            "4",
            "--settings",
            "dpm2m/logsnr-shifted",
            "--ref-size",
            "1",
            "--T",
            "0.01",
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "size" in err and "Traceback" not in err


def test_threads_option_leaves_the_numbers_unchanged(tmp_path) -> None:
    # numba's pool follows torch's thread count (--threads); the closed forms do not depend
    # on it, and a bad count is one clear error.
    outs = []
    for threads in ("1", "2"):
        out = tmp_path / threads
        args = ["theory", *SMALL, "--settings", "euler/quadratic", "--threads", threads]
        assert main([*args, "--out", str(out)]) == 0
        outs.append(json.loads((out / "theory.json").read_text())["settings"])
    assert outs[0] == outs[1]
    assert main(["theory", *SMALL, "--threads", "0"]) == 2
