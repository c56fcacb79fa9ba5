"""The ``repsim`` command line (docs/design.md section 5).

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its arguments
and sets ``handler``; ``SUBCOMMANDS`` registers them. A handler returns the exit status.
Bad configuration becomes one line on stderr and exit status 2, before anything is
written to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sim.analysis.report import format_summary, to_json
from sim.cli import sweep as sweep_cli
from sim.cli.args import add_config_arguments
from sim.cli.explore import register as _add_explore
from sim.cli.redis import register as _add_redis
from sim.cli.trace import register as _add_trace
from sim.config.schema import Config, ConfigError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]



def _simulate(config: Config) -> dict[str, Any]:
    """Run one experiment and return its summary dict."""
    from sim.engine import simulate  # imported late: config errors need no engine

    return simulate(config).summary


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _cmd_run(args: argparse.Namespace) -> int:
    config = Config.load(args.config, args.overrides)
    summary = _simulate(config)
    _write(to_json(summary) if args.json else format_summary(summary))
    return 0


def _add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="simulate one configuration and print its metrics",
                                   description="Simulate one configuration and print its metrics.")
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON object (times in ms, rates as fractions)")
    parser.set_defaults(handler=_cmd_run)


def _add_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="the main job: small sweeps of the default model, CSV and plots in results/demo",
        description="Sweep the default model over write rate x replication delay x cache on/off "
                    "and over pipeline batch size; write CSVs and plots to results/demo.")
    parser.set_defaults(handler=sweep_cli.cmd_demo)


# The one place subcommands are registered, in the order `repsim --help` lists them.
SUBCOMMANDS: list[Callable[[Any], None]] = [
    _add_run, sweep_cli.register, _add_demo, _add_trace, _add_redis, _add_explore]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="repsim",
        description="Discrete-event simulator of Redis-style replication and caching.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``repsim`` and ``python -m sim``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help (0): argparse already wrote why
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.handler(args)
    except ConfigError as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:  # Ctrl-C during a long run: no traceback, shell convention
        sys.stderr.write(f"{parser.prog}: interrupted\n")
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
