"""Command-line arguments shared by the subcommands that take an experiment."""

from __future__ import annotations

import argparse


def add_config_arguments(parser: argparse.ArgumentParser, what: str = "experiment") -> None:
    """``[CONFIG.toml]`` and repeatable ``--set SECTION.KEY=VALUE`` (into ``args.config`` and
    ``args.overrides``), as ``sim.config.schema.Config.load`` takes them."""
    parser.add_argument("config", nargs="?", metavar="CONFIG.toml",
                        help=f"{what} file (TOML); every key has a default")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one key, e.g. --set replication.delay=exp:2ms (repeatable)")
