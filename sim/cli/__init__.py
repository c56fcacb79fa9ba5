"""The ``repsim`` command line; only this layer turns exceptions into one line for the user."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``repsim``: :func:`sim.cli.app.main`, imported here so that a Ctrl-C
    while the libraries load (a good part of a second) is one line too, not a traceback."""
    try:
        from sim.cli.app import main as app_main
    except KeyboardInterrupt:
        sys.stderr.write("repsim: interrupted\n")
        return 130
    return app_main(argv)
