"""``repsim explore``: the teaching page, served on 127.0.0.1.

    repsim explore [--port N] [--no-browser]

Needs the optional dependencies ``repsim[explore]`` (Panel); without them, one line says how
to install them (exit status 2). A port in use is one line too.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import sys
from typing import Any

from sim.cli.args import number

__all__ = ["DEFAULT_PORT", "register"]

DEFAULT_PORT = 5006  # Panel's and Bokeh's usual port


def _fail(message: str) -> int:
    sys.stderr.write(f"repsim: error: {message}\n")
    return 2


def _cmd_explore(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("panel") is None:
        return _fail("explore needs Panel: pip install 'repsim[explore]' "
                     "(make demo installs it)")
    from sim.explore.serve import HOST, free_port, make_server, run

    port = args.port or free_port()
    try:
        server = make_server(port, open_browser=not args.no_browser)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return _fail(f"--port = {port}: in use; choose another port, or 0 for a free one")
        raise
    sys.stdout.write(f"repsim explore: serving http://{HOST}:{port}/ (Ctrl-C to stop)\n")
    sys.stdout.flush()
    run(server)
    return 0


_port = number(0, 65535, integer=True, what=" (a port; 0 picks a free one)")


def register(subparsers: Any) -> None:
    """Add ``explore`` to the ``repsim`` subcommands."""
    parser = subparsers.add_parser(
        "explore", help="a local web page with sliders: staleness, latency, losses, live",
        description="Serve a teaching page on 127.0.0.1: move the write rate, the replication "
                    "delay, the cache TTL, a master crash..., and see the stale-read rate, "
                    "latency, lost writes and a space-time trace of a short simulation rerun "
                    "at every change, next to the closed forms.")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, metavar="N",
                        help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a browser tab (print the address only)")
    parser.set_defaults(handler=_cmd_explore)
