"""``repsim trace``: the space-time diagram of a few keys in a short window, as an image.

    repsim trace [CONFIG.toml] [--set K=V ...] --key K [--key K2] --from T0 --to T1
                 --out FILE.png [--max-events N]

``register(subparsers)`` adds the subcommand; its handler returns the exit status. Times take
a unit (``1.2s``, ``1030ms``; a bare number is seconds). Bad input is one line on stderr and
exit status 2, naming the option, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.cli.args import add_config_arguments, number
from sim.config.distributions import format_duration, parse_duration
from sim.config.schema import Config, ConfigError
from sim.experiment.trace import MAX_EVENTS

__all__ = ["register"]

IMAGE_FORMATS = (".png", ".svg", ".pdf")
DPI = 130
# Names of trace() arguments as the user typed them on the command line.
OPTION_OF = {"keys": "--key", "window": "--from/--to", "max_events": "--max-events"}


def _fail(message: str, status: int = 2) -> int:
    sys.stderr.write(f"repsim: error: {message}\n")
    return status


def _cmd_trace(args: argparse.Namespace) -> int:
    try:
        config = Config.load(args.config, args.overrides)
        t0 = parse_duration(args.t0, "--from")
        t1 = parse_duration(args.t1, "--to")
    except ConfigError as error:
        return _fail(str(error))
    out = Path(args.out)
    if out.suffix.lower() not in IMAGE_FORMATS:
        return _fail(f"--out = {args.out!r}: a file ending in {', '.join(IMAGE_FORMATS)}")
    from sim.experiment.trace import trace  # late: config errors above need no engine

    try:
        recorded = trace(config, keys=args.keys, window=(t0, t1), max_events=args.max_events)
    except ConfigError as error:
        key = OPTION_OF.get(error.key, error.key)
        return _fail(str(ConfigError(key, error.value, error.allowed)))
    fig = recorded.plot()
    from sim.plot.style import save_figure

    save_figure(fig, out, dpi=DPI)
    reads = recorded.of("read")
    sys.stdout.write(
        f"{out}: keys {', '.join(map(str, recorded.keys))}, {format_duration(t0)} to "
        f"{format_duration(t1)}: {len(recorded)} events, {len(reads)} reads "
        f"({len(recorded.stale_reads())} stale), {len(recorded.of('commit'))} writes\n")
    if recorded.truncated:
        sys.stderr.write(f"repsim: warning: recording stopped at {recorded.max_events} events "
                         "(--max-events); the picture ends early\n")
    return 0


_count = number(1, integer=True)
_key = number(0, integer=True, what=" (a key number)")


def register(subparsers: Any) -> None:
    """Add ``trace`` to the ``repsim`` subcommands."""
    parser = subparsers.add_parser(
        "trace", help="draw the space-time diagram of a few keys in a short window",
        description="Simulate up to --to and draw every event of the chosen keys between "
                    "--from and --to: one line per node, writes, replication and reads as "
                    "arrows (stale reads red), cache fills and expiries, stale windows shaded.")
    add_config_arguments(parser, "experiment")
    parser.add_argument("--key", dest="keys", action="append", type=_key, required=True,
                        metavar="K", help="key to trace (repeatable; 1-3 keys stay readable)")
    parser.add_argument("--from", dest="t0", required=True, metavar="T0",
                        help="start of the window (simulated time, e.g. 1s or 1000ms)")
    parser.add_argument("--to", dest="t1", required=True, metavar="T1",
                        help="end of the window (e.g. 1.04s); the run stops there")
    parser.add_argument("--out", required=True, metavar="FILE.png",
                        help="image to write (.png, .svg or .pdf)")
    parser.add_argument("--max-events", type=_count, default=MAX_EVENTS, metavar="N",
                        help=f"refuse a window expected to hold more events (default {MAX_EVENTS})")
    parser.set_defaults(handler=_cmd_trace)
