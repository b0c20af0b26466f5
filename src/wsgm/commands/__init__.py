"""Subcommands of the ``wsgm`` CLI, one module each, listed in the order of ``wsgm --help``."""

from __future__ import annotations

from types import ModuleType

from . import data, demo, diagnose, eval, reproduce, sample, theory, train, upsample

COMMAND_MODULES: tuple[ModuleType, ...] = (
    data,
    theory,
    train,
    sample,
    upsample,
    eval,
    diagnose,
    reproduce,
    demo,
)
