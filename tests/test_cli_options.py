"""The command line's options: help on every flag with its default, one meaning per flag
(old spellings still accepted with a deprecation message), one set of sampling defaults."""

from __future__ import annotations

import argparse
import inspect

import pytest
import torch

from wsgm.cli import build_parser
from wsgm.commands.options import sampling_spec
from wsgm.errors import WSGMError
from wsgm.models.sgm import SGM
from wsgm.models.wsgm import WSGM
from wsgm.sampling.spec import DEFAULT, SamplingSpec


def _subparsers(
    parser: argparse.ArgumentParser, prefix: str = "wsgm"
) -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[f"{prefix} {name}"] = sub
                out.update(_subparsers(sub, f"{prefix} {name}"))
    return out


SUBCOMMANDS = _subparsers(build_parser())


def test_all_subcommands_are_seen() -> None:
    names = set(SUBCOMMANDS)
    for cmd in ("train", "sample", "upsample", "eval", "reproduce", "demo", "theory", "data"):
        assert f"wsgm {cmd}" in names
    assert {"wsgm data gaussian", "wsgm data phi4", "wsgm data images"} <= names


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_flag_has_help_and_shows_its_default(command: str) -> None:
    parser = SUBCOMMANDS[command]
    formatter = parser._get_formatter()
    parser.format_help()  # every help string must format
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help"
        default = action.default
        if default in (None, False, argparse.SUPPRESS, []):
            continue
        shown = formatter._get_help_string(action) % {"default": default}
        assert "default" in shown, f"{command} {action.option_strings[0]}: default not shown"


@pytest.mark.parametrize(
    ("argv", "dest", "value", "new"),
    [
        (["train", "--run-dir", "r", "--steps", "5"], "train_steps", 5, "--train-steps"),
        (["train", "--run-dir", "r", "--batch-size", "4"], "train_batch", 4, "--train-batch"),
        (
            ["sample", "m", "--n", "1", "--out", "o.npz", "--batch-size", "3"],
            "sample_batch",
            3,
            "--sample-batch",
        ),
        (
            ["eval", "m", "--reference", "r.npz", "--out", "o", "--steps", "2,4"],
            "sweep_steps",
            "2,4",
            "--sweep-steps",
        ),
        (
            ["reproduce", "phi4", "--out", "o", "--batch-size", "8"],
            "train_batch",
            8,
            "--train-batch",
        ),
        (
            ["reproduce", "phi4", "--out", "o", "--steps", "2,8"],
            "sweep_steps",
            "2,8",
            "--sweep-steps",
        ),
        (["demo", "--batch-size", "8"], "train_batch", 8, "--train-batch"),
    ],
)
def test_old_spellings_still_work_with_a_deprecation_message(
    argv: list[str], dest: str, value: object, new: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    err = capsys.readouterr().err
    assert "deprecated" in err and new in err


def test_new_spellings_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["train", "--run-dir", "r", "--train-steps", "5"])
    assert args.train_steps == 5 and capsys.readouterr().err == ""


def test_one_set_of_sampling_defaults() -> None:
    parser = build_parser()
    for argv in (
        ["sample", "m", "--n", "1", "--out", "o.npz"],
        ["upsample", "m", "--input", "i.npz", "--out", "o.npz"],
        ["eval", "m", "--reference", "r.npz", "--out", "o"],
    ):
        args = parser.parse_args(argv)
        assert args.sampler == DEFAULT.sampler and args.grid == DEFAULT.grid
        assert args.sample_batch == DEFAULT.batch_size and args.weights == DEFAULT.weights
    for cls in (SGM, WSGM):
        assert inspect.signature(cls.sample).parameters["sampler"].default == DEFAULT.sampler


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"sampler": "rk4"}, "unknown sampler 'rk4'; allowed: euler"),
        ({"grid": "cosine"}, "unknown time grid 'cosine'; allowed: uniform"),
        ({"steps": 0}, "steps must be a positive integer, got 0"),
        ({"batch_size": -1}, "batch_size must be a positive integer, got -1"),
        ({"steps_per_scale": (4, 0)}, r"steps per scale must be positive integers, got \[4, 0\]"),
        ({"grid_rho": 0.0}, "rho must be positive"),
        ({"t_min": 0.0}, "t_min must be a positive time, got 0.0"),
        ({"t_min": float("nan")}, "t_min must be a positive time, got nan"),
        ({"t_min": True}, "t_min must be a positive time, got True"),
        ({"grid": "quadratic", "t_min": 0.01}, "quadratic grid refines down to t = 0 and takes"),
        ({"grid_rho": 2.0, "t_min": 0.01}, r"power grid \(--grid-rho\) refines down to t = 0"),
        ({"coarse_sampler": "rk4"}, "unknown coarse sampler 'rk4'; allowed: euler"),
        ({"coarse_grid": "cosine"}, "unknown coarse time grid 'cosine'; allowed: uniform"),
        ({"coarse_grid": "quadratic", "grid_rho": 2.0}, "either the power grid"),
        ({"weights": "best"}, "unknown weights 'best'"),
    ],
)
def test_sampling_spec_refuses_bad_values(changes: dict[str, object], match: str) -> None:
    with pytest.raises(WSGMError, match=match):
        SamplingSpec(**changes)  # type: ignore[arg-type]


def test_sampling_spec_grids() -> None:
    spec = SamplingSpec(steps=8, steps_per_scale=(4, 2, 3))
    grids = spec.grids(T=5.0, levels=2)
    assert isinstance(grids, list) and [len(g) - 1 for g in grids] == [4, 2, 3]
    with pytest.raises(WSGMError, match="needs 2 positive counts"):
        spec.grids(T=5.0, levels=1)
    with pytest.raises(WSGMError, match="for WSGM models"):
        spec.grids(T=5.0, levels=None)
    assert len(SamplingSpec(steps=8).grids(T=5.0, levels=None)) == 9  # type: ignore[arg-type]
    assert SamplingSpec.from_dict(spec.to_dict()) == spec
    # a grid that depends on the side of the grid: one per scale, each for its own side
    shifted = SamplingSpec(steps=6, grid="logsnr-shifted")
    per_scale = shifted.grids(T=5.0, levels=2, size=32)
    assert isinstance(per_scale, list) and [len(g) for g in per_scale] == [7, 7, 7]
    assert not torch.equal(per_scale[0], per_scale[1])  # 8x8 coarsest vs 16x16 details
    with pytest.raises(WSGMError, match="needs the image size"):
        shifted.grids(T=5.0, levels=None)


@pytest.mark.parametrize("grid", ["log", "logsnr", "karras", "logsnr-shifted"])
def test_sampling_spec_t_min(grid: str) -> None:
    spec = SamplingSpec(steps=6, grid=grid, t_min=0.01)
    ts = spec.grid_of(6, T=5.0, size=32)
    # the last score evaluation is at t_min (shifted by the size for logsnr-shifted), then 0
    assert float(ts[-1]) == 0.0 and float(ts[0]) == pytest.approx(5.0, rel=1e-12)
    base = SamplingSpec(steps=6, grid=grid).grid_of(6, T=5.0, size=32)
    assert float(ts[-2]) > float(base[-2])
    if grid != "logsnr-shifted":
        assert float(ts[-2]) == pytest.approx(0.01, rel=1e-12)
    assert SamplingSpec.from_dict(spec.to_dict()) == spec
    assert spec.grid_label == f"{grid} (t_min 0.01)"
    assert SamplingSpec(grid=grid).grid_label == grid
    assert SamplingSpec.from_dict({"grid": grid}).t_min is None  # specs saved before t_min
    with pytest.raises(WSGMError, match="t_min must be below the horizon T = 5.0, got 6.0"):
        SamplingSpec(grid=grid, t_min=6.0).grid_of(4, T=5.0, size=32)


def test_t_min_flag_reaches_the_spec() -> None:
    parser = build_parser()
    args = parser.parse_args(["sample", "m", "--n", "1", "--out", "o.npz", "--t-min", "0.009"])
    assert sampling_spec(args).t_min == 0.009
    args = parser.parse_args(["sample", "m", "--n", "1", "--out", "o.npz"])
    assert sampling_spec(args).t_min is None
    args = parser.parse_args(["eval", "m", "--reference", "r.npz", "--out", "o", "--t-min", "1e-2"])
    assert sampling_spec(args).t_min == 0.01


def test_sampling_spec_coarse_sampler_and_grid() -> None:
    spec = SamplingSpec(
        steps=6, steps_per_scale=(32, 6, 8), t_min=0.01, coarse_sampler="euler",
        coarse_grid="quadratic",
    )  # fmt: skip
    grids = spec.grids(T=5.0, levels=2, size=32)
    assert isinstance(grids, list) and [len(g) - 1 for g in grids] == [32, 6, 8]
    torch.testing.assert_close(grids[0], SamplingSpec(grid="quadratic").grid_of(32, T=5.0))
    for g, n in zip(grids[1:], (6, 8), strict=True):  # the details: logsnr ending at t_min
        assert float(g[-2]) == pytest.approx(0.01, rel=1e-12) and len(g) == n + 1
    assert spec.samplers() == {"coarse_sampler": "euler"}
    assert SamplingSpec().samplers() == {}
    assert spec.grid_label == "logsnr (t_min 0.01), coarsest quadratic"
    assert SamplingSpec.from_dict(spec.to_dict()) == spec
    # a coarse grid alone splits the grids too; the same N everywhere
    only_grid = SamplingSpec(steps=5, coarse_grid="karras").grids(T=5.0, levels=1, size=16)
    assert isinstance(only_grid, list) and [len(g) for g in only_grid] == [6, 6]
    with pytest.raises(WSGMError, match="a coarse sampler or grid is for WSGM models"):
        SamplingSpec(coarse_sampler="euler").grids(T=5.0, levels=None)
    plain = spec.without_coarse()
    assert plain.coarse_sampler is None and plain.coarse_grid is None and plain.t_min == 0.01
    args = build_parser().parse_args(
        ["sample", "m", "--n", "1", "--out", "o.npz", "--coarse-sampler", "euler",
         "--coarse-grid", "quadratic"]
    )  # fmt: skip
    got = sampling_spec(args)
    assert got.coarse_sampler == "euler" and got.coarse_grid == "quadratic"
    # upsample samples no coarsest network and has no such flag
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["upsample", "m", "--input", "i.npz", "--out", "o.npz", "--coarse-sampler", "euler"]
        )
