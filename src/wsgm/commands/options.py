"""Options shared by the subcommands: one meaning per flag, help with the defaults shown.

- ``--steps N``: sampler steps per scale (``sample``, ``upsample``);
  ``--sweep-steps 2,4,...``: the list of N of a step sweep (``eval``, ``reproduce``, ``demo``);
  ``--train-steps``: optimizer steps per network (``train``, ``reproduce``, ``demo``).
- ``--sample-batch``: samples drawn per batch; ``--train-batch``: the global training batch.
- Sampling flags fill a :class:`wsgm.sampling.spec.SamplingSpec` (:func:`sampling_spec`).

Old spellings (``--batch-size``; ``--steps`` for optimizer steps or step lists) still work
for one release and print a deprecation message naming the new flag.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import WSGMError
from ..grids import GRIDS
from ..samplers import SAMPLERS
from ..sampling.allocation import ALLOCATIONS
from ..sampling.spec import DEFAULT, WEIGHTS, SamplingSpec, parse_int_list

__all__ = [
    "HelpFormatter",
    "add_deprecated",
    "add_sampling_options",
    "add_set_option",
    "add_threads_option",
    "sampling_spec",
    "steps_list",
]

SAMPLER_HELP = (
    "dpm2m: DPM-Solver++(2M), the most accurate at small N with one network call per step; "
    "euler: Euler-Maruyama, the paper's; ancestral: the exact-OU step; heun: 2nd-order ODE"
)
GRID_HELP = (
    "time grid: logsnr (equal steps in log(alpha/sigma), for dpm2m), quadratic (suits "
    "euler), uniform, log, karras (EDM, rho = 7), logsnr-shifted (log-SNR shifted by "
    "2 log(64/L) for a grid of side L, per scale: 'simple diffusion')"
)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and appends every option's default to its help
    (unless the default is "not given" — None or False — or the help already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or default is None
            or default is False
            or default == argparse.SUPPRESS
            or default == []
            or "%(default)" in text
            or "default:" in text
        ):
            return text
        return f"{text} (default: %(default)s)"


class _Deprecated(argparse.Action):
    """An old spelling: stores into the new flag's destination and says so on stderr."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str, **kw: Any):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(
            f"{parser.prog}: warning: {option_string} is deprecated and will be removed in the "
            f"next release; use {self.new}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def add_deprecated(
    p: argparse.ArgumentParser, old: str, *, new: str, dest: str, type: Any = str
) -> None:
    """Accept ``old`` as a deprecated spelling of the option ``new`` (same ``dest``)."""
    p.add_argument(
        old,
        dest=dest,
        type=type,
        action=_Deprecated,
        new=new,
        default=argparse.SUPPRESS,
        help=f"deprecated spelling of {new}",
    )


def add_threads_option(p: argparse.ArgumentParser) -> None:
    """``--threads N``: torch CPU threads of this command (:mod:`wsgm.cpu`)."""
    p.add_argument(
        "--threads",
        type=int,
        help="CPU threads (default: $WSGM_THREADS, else this job's share of the usable cores "
        "among the running wsgm jobs, re-taken while it runs)",
    )


def add_set_option(p: argparse.ArgumentParser, what: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``: training config overrides."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"{what}, e.g. --set train.lr=1e-3 (an unknown key lists the valid ones)",
    )


def parse_float_list(text: str, *, what: str) -> tuple[float, ...]:
    """``"0.1,1"`` -> (0.1, 1.0): finite numbers, or one clear error naming ``what``."""
    try:
        values = tuple(float(s) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise WSGMError(f"{what} must be comma-separated numbers, got {text!r}") from exc
    if not values or not all(math.isfinite(v) for v in values):
        raise WSGMError(f"{what} must be comma-separated finite numbers, got {text!r}")
    return values


def steps_list(text: str) -> tuple[int, ...]:
    """``--sweep-steps 2,4,8`` -> (2, 4, 8)."""
    return parse_int_list(text, what="--sweep-steps")


def add_sampling_options(
    p: argparse.ArgumentParser,
    *,
    defaults: SamplingSpec | None = DEFAULT,
    per_model: bool = True,
    weights: bool = True,
    old_batch_flag: bool = True,
    coarse: bool = False,
) -> None:
    """The sampling flags. ``defaults`` None: they override a preset (shown as such);
    ``per_model``: ``--steps``, ``--steps-per-scale`` and ``--grid-rho`` (one model's run);
    ``old_batch_flag``: accept the deprecated ``--batch-size`` for ``--sample-batch`` (where
    it meant the sampling batch); ``coarse``: ``--coarse-sampler`` and ``--coarse-grid`` (for
    commands that sample a WSGM's coarsest network)."""
    d = defaults or SamplingSpec()

    def default(value: Any) -> Any:
        return value if defaults is not None else None

    preset = "" if defaults is not None else " (default: the preset's)"
    if per_model:
        p.add_argument(
            "--steps", type=int, default=default(d.steps), help="sampler steps N at every scale"
        )
        p.add_argument(
            "--steps-per-scale",
            metavar="N0,N1,...",
            help="WSGM: J+1 comma-separated step counts instead of --steps: the coarsest "
            "network first, then scale 1 (the finest) .. J",
        )
        p.add_argument(
            "--step-budget",
            type=float,
            metavar="B",
            help="WSGM with --allocate cost: B full-resolution network evaluations per sample "
            "(an SGM step costs 1, a step at scale j 4^-j) instead of the cost of --steps "
            "at every scale",
        )
    if per_model:
        p.add_argument(
            "--allocate",
            choices=ALLOCATIONS,
            default=default(d.allocation),
            help="WSGM: how the steps are spread over the scales: 'equal' (N at every scale, "
            "the paper) or 'cost' (the same total cost, more steps at the cheap coarse scales: "
            "N_j ~ cost_j^(-1/(p+1)) for a sampler of order p)",
        )
    else:
        p.add_argument(
            "--allocate",
            dest="allocations",
            metavar="A1,A2",
            default="equal" if defaults is not None else None,
            help="WSGM: the step allocations to sweep, comma-separated: 'equal' (N at every "
            "scale, the paper), 'cost' (the cost of N equal steps spent where steps are cheap: "
            "N_j ~ cost_j^(-1/(p+1)) for a sampler of order p); each WSGM is swept once per "
            "allocation ('cost' as <label>-cost)" + preset,
        )
    p.add_argument(
        "--sampler",
        choices=tuple(SAMPLERS),
        default=default(d.sampler),
        help=SAMPLER_HELP + preset,
    )
    p.add_argument("--grid", choices=tuple(GRIDS), default=default(d.grid), help=GRID_HELP + preset)
    p.add_argument(
        "--t-min",
        type=float,
        metavar="T",
        help="the last score-evaluation time of the log, logsnr, karras and logsnr-shifted "
        "grids (their defaults: 1e-3, 2e-3, EDM's sigma = 0.002, 2e-3); the final Tweedie "
        "step goes from there to 0" + (preset or " (default: the grid's)"),
    )
    if coarse:
        p.add_argument(
            "--coarse-sampler",
            choices=tuple(SAMPLERS),
            help="WSGM: sample the coarsest network with this sampler instead of --sampler "
            "(its steps: the first of --steps-per-scale, else --steps); e.g. euler, whose "
            "noise corrects the learned score's errors where an ODE carries them",
        )
        p.add_argument(
            "--coarse-grid",
            choices=tuple(GRIDS),
            help="WSGM: the coarsest network's time grid instead of --grid (e.g. quadratic "
            "for --coarse-sampler euler)",
        )
    if per_model:
        p.add_argument(
            "--grid-rho",
            type=float,
            help="use the power grid t_k = T (1 - k/N)^rho instead of --grid (rho = 2: quadratic)",
        )
    p.add_argument(
        "--sample-batch",
        type=int,
        default=default(d.batch_size),
        help="samples per batch; batch b is drawn from a generator seeded by (seed, b), so "
        "the samples depend on it" + preset,
    )
    if old_batch_flag:
        add_deprecated(p, "--batch-size", new="--sample-batch", dest="sample_batch", type=int)
    if weights:
        p.add_argument(
            "--weights",
            choices=WEIGHTS,
            default=default(d.weights),
            help="the model's EMA weights or its raw (last optimizer step) weights",
        )


def sampling_spec(args: argparse.Namespace, base: SamplingSpec = DEFAULT) -> SamplingSpec:
    """``base`` with the sampling flags that were given."""
    per_scale = getattr(args, "steps_per_scale", None)
    steps = getattr(args, "steps", None)
    return base.replace(
        sampler=getattr(args, "sampler", None),
        grid=getattr(args, "grid", None),
        grid_rho=getattr(args, "grid_rho", None),
        t_min=getattr(args, "t_min", None),
        coarse_sampler=getattr(args, "coarse_sampler", None),
        coarse_grid=getattr(args, "coarse_grid", None),
        steps=steps if isinstance(steps, int) else None,
        steps_per_scale=parse_int_list(per_scale, what="--steps-per-scale") if per_scale else None,
        allocation=getattr(args, "allocate", None),
        step_budget=getattr(args, "step_budget", None),
        batch_size=getattr(args, "sample_batch", None),
        seed=getattr(args, "seed", None),
        weights=getattr(args, "weights", None),
    )
