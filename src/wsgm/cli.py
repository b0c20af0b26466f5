"""The ``wsgm`` command line: ``wsgm <command> [options]``.

Each command lives in :mod:`wsgm.commands` as a module with ``register(subparsers)`` that
adds its parser and sets ``func``; this file only lists them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .commands import COMMAND_MODULES
from .cpu import job_slot, threads_for_command
from .errors import WSGMError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsgm", description="Wavelet Score-based Generative Modeling"
    )
    parser.add_argument("--version", action="version", version=f"wsgm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        # Other wsgm jobs see this one and share the cores with it.
        with job_slot(), threads_for_command(getattr(args, "threads", None)):
            return int(args.func(args) or 0)
    except (WSGMError, ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"wsgm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wsgm {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`wsgm theory | head`): stop quietly like other Unix tools,
        # and keep Python's exit-time flush of stdout from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a process killed by it


if __name__ == "__main__":
    sys.exit(main())
