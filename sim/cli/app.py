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
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.analysis.report import format_summary, to_json
from sim.cli import sweep as sweep_cli
from sim.cli.args import OneLineParser, UsageError, add_config_arguments
from sim.cli.explore import register as _add_explore
from sim.cli.redis import register as _add_redis
from sim.cli.trace import register as _add_trace
from sim.config.schema import Config, ConfigError
from sim.errors import OverloadError, StalledError
from sim.provenance import creator, git_commit, provenance, version

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

SUMMARY_NAME = "summary.json"
CONFIG_NAME = "config.toml"


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
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError("--out", str(out), "a directory (this is a file)")
    # Progress only where someone watches: a terminal, and not asked to be quiet.
    # Provenance after the metrics, so that every key of the contract keeps its place.
    summary = {**_simulate(config, not args.quiet and sys.stderr.isatty()), **provenance()}
    if out is not None:
        _save_run(out, summary, config)
    _write(to_json(summary) if args.json else format_summary(summary))
    note = no_operations_note(summary, config)
    if note:
        sys.stderr.write(note + "\n")
    return 0


def _save_run(out: Path, summary: dict[str, Any], config: Config) -> None:
    """``out/summary.json`` and ``out/config.toml`` (the resolved configuration, which
    ``repsim run out/config.toml`` reruns), each written atomically."""
    from sim.experiment.store import write_atomic

    try:
        out.mkdir(parents=True, exist_ok=True)
        header = f"# {creator()}: the resolved configuration of {SUMMARY_NAME}\n"
        write_atomic(out / SUMMARY_NAME, (to_json(summary) + "\n").encode())
        write_atomic(out / CONFIG_NAME, (header + config.to_toml()).encode())
    except OSError as exc:
        raise ConfigError("--out", str(out),
                          f"a directory this user can write to ({exc.strerror or exc})") from None


def _cmd_config_show(args: argparse.Namespace) -> int:
    _write(Config.load(args.config, args.overrides).to_toml())
    return 0


def _add_config(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config", help="show the full resolved configuration as TOML",
        description="Configuration tools. `repsim config show [CONFIG.toml] [--set K=V ...]` "
                    "prints every key with the value a run would use (defaults filled in, "
                    "overrides applied) as TOML that `repsim run` reads back.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the resolved configuration as TOML",
                              description="Print the resolved configuration as TOML.")
    add_config_arguments(show)
    show.set_defaults(handler=_cmd_config_show)


def _add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="simulate one configuration and print its metrics",
                                   description="Simulate one configuration and print its metrics.")
    add_config_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON object (times in ms, rates as fractions)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar on stderr (there is none unless stderr is a terminal)")
    parser.add_argument("--out", metavar="DIR",
                        help=f"also write DIR/{SUMMARY_NAME} (the JSON summary) and "
                        f"DIR/{CONFIG_NAME} (the resolved configuration)")
    parser.set_defaults(handler=_cmd_run)


def _add_demo(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="the main job: four small sweeps, CSVs and figures in results/demo",
        description="Sweep the default model over write rate x replication delay x cache on/off; "
                    "on a busy server, read rate x read policy and the latency-staleness "
                    "trade-off of read policy x cache TTL; and pipeline batch size. Write CSVs "
                    "and figures (PNG, SVG, PDF) to results/demo.")
    parser.set_defaults(handler=sweep_cli.cmd_demo)


# The one place subcommands are registered, in the order `repsim --help` lists them.
SUBCOMMANDS: list[Callable[[Any], None]] = [
    _add_run, sweep_cli.register, _add_demo, _add_trace, _add_config, _add_redis,
    _add_explore]


class _VersionAction(argparse.Action):
    """``repsim --version``: the version and, in a git checkout, the commit (looked up only
    when asked, so other commands do not run git)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version (and git commit) and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        commit = git_commit()
        _write(f"{parser.prog} {version()}" + (f" (git {commit})" if commit else ""))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = OneLineParser(
        prog="repsim",
        description="Discrete-event simulator of Redis-style replication and caching.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def _process_age_s() -> float:
    """Seconds since this process started (Linux /proc; 0 where it cannot be read)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22, starttime, in clock ticks after boot
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime_s - started_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


#: Modules whose warnings are ours (``sim`` and its subpackages, not ``simpy``).
SIM_MODULES = r"sim(\.|$)"


def _quiet_warnings() -> None:
    """No warning reaches the terminal: one raised from sim becomes an exception (the one
    line of :func:`main`); a library's own notices are not the user's to act on."""
    warnings.simplefilter("ignore")
    warnings.filterwarnings("error", module=SIM_MODULES)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``repsim`` and ``python -m sim``; returns the exit status.

    Handlers find in ``args.started`` the ``time.perf_counter()`` time the command started:
    the start of the process when it was started for this command (``argv`` None: the
    console script or ``python -m sim``), so that a time budget such as ``calibrate
    --seconds`` counts Python's start-up and imports too."""
    started = time.perf_counter() - (_process_age_s() if argv is None else 0.0)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    except SystemExit as exc:  # --help or --version (0): argparse already wrote them
        return exc.code if isinstance(exc.code, int) else 2
    args.started = started
    try:
        with warnings.catch_warnings():
            _quiet_warnings()
            return args.handler(args)
    except Warning as exc:  # raised from sim by _quiet_warnings: a bug, but one line
        sys.stderr.write(f"{parser.prog}: error: {type(exc).__name__}: {exc} (please report "
                         "this with the command that caused it)\n")
        return 1
    except ConfigError as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 2
    except (OverloadError, StalledError) as exc:
        sys.stderr.write(f"{parser.prog}: error: {exc}\n")
        return 1
    except KeyboardInterrupt:  # Ctrl-C during a long run: no traceback, shell convention
        sys.stderr.write(f"{parser.prog}: interrupted\n")
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error of ours
        # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
