"""Command-line arguments shared by the subcommands that take an experiment."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from sim.config.numeric import read_number
from sim.config.presets import PRESETS


def add_config_arguments(parser: argparse.ArgumentParser, what: str = "experiment") -> None:
    """``[CONFIG.toml]`` and repeatable ``--set SECTION.KEY=VALUE`` (into ``args.config`` and
    ``args.overrides``), as ``sim.config.schema.Config.load`` takes them."""
    parser.add_argument("config", nargs="?", metavar="CONFIG.toml",
                        help=f"{what} file (TOML); every key has a default")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one key, e.g. --set replication.delay=exp:2ms (repeatable)")
    parser.add_argument("--preset", action=_PresetAction, choices=sorted(PRESETS),
                        metavar="NAME", help="a workload preset, YCSB's core workloads: "
                        + ", ".join(sorted(PRESETS)) + " (the same as --set workload.preset="
                        "NAME; keys set beside it win)")


class _PresetAction(argparse.Action):
    """``--preset NAME``: ``workload.preset=NAME`` among the overrides."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 value: Any, option_string: str | None = None) -> None:
        namespace.overrides = [f"workload.preset={value}", *(namespace.overrides or [])]


class UsageError(Exception):
    """A command-line argument argparse refused; :func:`sim.cli.app.main` prints it as the one
    line a configuration error is."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``repsim run: error: ...``) instead of a
    usage block and exit status 2 from inside argparse; its subcommand parsers are of this
    class too (argparse makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def number(minimum: float, maximum: float | None = None, *, integer: bool = False,
           inclusive: bool = True, what: str = "") -> Callable[[str], Any]:
    """An argparse type: a number in range by the rules every configuration number follows
    (:mod:`sim.config.numeric`); ``what`` says what it is (", a port" etc.)."""
    kind = "an integer" if integer else "a number"
    low = f"{'>=' if inclusive else '>'} {minimum:g}"
    allowed = f"{kind} {low}" + (f" and <= {maximum:g}" if maximum is not None else "") + what

    def parse(text: str) -> float | int:
        value = read_number(text)
        if (value is None or (integer and value != value.to_integral_value())
                or value < minimum or (not inclusive and value == minimum)
                or (maximum is not None and value > maximum)):
            raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}")
        return int(value) if integer else float(value)

    return parse
