"""The ``repsim`` command line; only this layer turns exceptions into one line for the user."""

from sim.cli.app import main

__all__ = ["main"]
