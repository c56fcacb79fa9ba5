"""repsim: a discrete-event simulator of Redis-style replication and caching.

The public API (see README, section "From Python"):

- :func:`simulate` runs one experiment and returns a :class:`Result`;
- :class:`Config` holds a configuration (``Config.load``, ``Config.from_dict``, ``with_overrides``);
- :func:`sweep` runs a grid of experiments, :func:`load_sweep` reads a sweep directory back;
- :func:`mean_ci` tabulates repetition means with 95% intervals;
- :func:`trace` records every event of a few keys in a short window.

The heavy parts (simpy, pandas) are imported on first use, so ``import sim`` stays light for
the command line and for sweep workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.config.schema import Config
from sim.errors import ConfigError

if TYPE_CHECKING:
    from sim.analysis.tables import mean_ci
    from sim.engine import Result, simulate
    from sim.experiment.sweep import load_sweep, sweep
    from sim.experiment.trace import trace

__all__ = ["Config", "ConfigError", "Result", "load_sweep", "mean_ci", "simulate", "sweep",
           "trace", "__version__"]
__version__ = "0.1.0"

_LAZY = {
    "simulate": "sim.engine", "Result": "sim.engine",
    "sweep": "sim.experiment.sweep", "load_sweep": "sim.experiment.sweep",
    "mean_ci": "sim.analysis.tables", "trace": "sim.experiment.trace",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
