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
from sim.errors import OverloadError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]



def _simulate(config: Config, show_progress: bool) -> dict[str, Any]:
    """Run one experiment and return its summary dict; with ``show_progress``, a bar of
    simulated seconds on stderr."""
    from sim.engine import simulate  # imported late: config errors need no engine

    if not show_progress:
        return simulate(config).summary
    from tqdm import tqdm

    horizon = config.run.horizon
    unit = "s simulated"
    with tqdm(total=horizon, unit=unit, file=sys.stderr, leave=False,
              bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g} " + unit + " [{elapsed}<{remaining}]"
              ) as bar:
        def progress(now_s: float, horizon_s: float) -> None:
            bar.update(now_s - bar.n)

        return simulate(config, progress=progress).summary


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def no_operations_note(summary: dict[str, Any], config: Config) -> str:
    """One line when a run completed no operation in its measured window (every metric is
    then empty), else "". Said rather than left to a table of dashes."""
    if summary.get("reads", 0) or summary.get("writes", 0):
        return ""
    run = config.run
    return (f"repsim run: no operation completed between the warm-up ({run.warmup:g} s) and "
            f"the end ({run.duration:g} s), so every metric is empty; the servers may be "
            "slower than the run is long (server.*), or no client reached one (faults.*)")


def _cmd_run(args: argparse.Namespace) -> int:
    config = Config.load(args.config, args.overrides)
    # Progress only where someone watches: a terminal, and not asked to be quiet.
    summary = _simulate(config, not args.quiet and sys.stderr.isatty())
    _write(to_json(summary) if args.json else format_summary(summary))
    note = no_operations_note(summary, config)
    if note:
        sys.stderr.write(note + "\n")
    return 0


def _add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="simulate one configuration and print its metrics",
                                   description="Simulate one configuration and print its metrics.")
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON object (times in ms, rates as fractions)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar on stderr (there is none unless stderr is a terminal)")
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
    except OverloadError as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 1
    except KeyboardInterrupt:  # Ctrl-C during a long run: no traceback, shell convention
        sys.stderr.write(f"{parser.prog}: interrupted\n")
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
