"""repsim: a discrete-event simulator of Redis-style replication and caching."""

from .config import Config
from .errors import ConfigError

__all__ = ["Config", "ConfigError", "Result", "simulate", "sweep", "trace"]
__version__ = "0.1.0"


def __getattr__(name):
    # The engine pulls in simpy and the sweep pulls in pandas; import them on first use so
    # that `import sim` stays light for the command line and for sweep workers.
    if name in ("simulate", "Result"):
        from . import engine

        return getattr(engine, name)
    if name == "sweep":
        from .sweep import sweep

        return sweep
    if name == "trace":
        from .trace import trace

        return trace
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
