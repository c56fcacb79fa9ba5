"""Parsing and cross-key rules of the store's own TTL: ``workload.key_ttl``, ``[clocks]``.

The dataclass fields live in :mod:`sim.config.schema`; here are the parser of a clock list
(one signed value per node) and the rules that tie the keys together. Seconds throughout.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from sim.config.distributions import parse_duration
from sim.errors import ConfigError

# What a clock offset may be: a node whose clock is off by a day is a broken node, not skew.
MAX_OFFSET_S = 86_400.0
MAX_DRIFT_PPM = 1e5  # 10%: a quartz clock is off by tens of ppm

_ALLOWED = {
    "offsets": ("a list of signed durations, one per node, master first (seconds or strings "
                "like '-20ms'; each within a day), or [] for all 0"),
    "drift_ppm": ("a list of numbers of parts per million, one per node, master first (each "
                  f"within +-{MAX_DRIFT_PPM:g}), or [] for all 0"),
}


def _signed_seconds(item: Any, key: str) -> float:
    if isinstance(item, str) and item.strip().startswith("-"):
        return -parse_duration(item.strip()[1:], key)
    if isinstance(item, numbers.Real) and not isinstance(item, bool) and item < 0:
        return -parse_duration(-item, key)
    return parse_duration(item, key)


def _number(item: Any, key: str) -> float:
    if not isinstance(item, numbers.Real) or isinstance(item, bool):
        raise ConfigError(key, item, "a number")
    return float(item)


def clock_list_option(name: str):
    """The parser of ``clocks.<name>``: a list (a lone value is a list of one) -> a tuple of
    floats (seconds for ``offsets``, ppm for ``drift_ppm``)."""
    allowed = _ALLOWED[name]
    one, bound = (_signed_seconds, MAX_OFFSET_S) if name == "offsets" else (
        _number, MAX_DRIFT_PPM)

    def parse(value: Any, key: str, base_dir) -> tuple[float, ...]:
        items = list(value) if isinstance(value, list | tuple) else [value]
        out = []
        for i, item in enumerate(items):
            try:
                number = one(item, key)
            except (ConfigError, OverflowError):
                number = math.nan
            if not math.isfinite(number) or abs(number) > bound:
                raise ConfigError(key, value, f"{allowed} (item {i}, {item!r}, is not one)")
            out.append(number + 0.0)
        return tuple(out)

    return parse


def check_expiry_rules(config) -> None:
    """The rules of the store's TTL and the clocks; raises the first that fails."""
    nodes = 1 + config.replication.replicas
    for name in ("offsets", "drift_ppm"):
        values = getattr(config.clocks, name)
        if values and len(values) != nodes:
            raise ConfigError(
                f"clocks.{name}", list(values),
                f"needs {nodes} values, one per node, master first (replication.replicas is "
                f"{nodes - 1}), or [] for all 0")
    if config.workload.key_ttl <= 0:
        return
    reason = None
    if config.replication.mode == "quorum":
        reason = "quorum mode (peers have no master to expire keys); use replication.mode = " \
                 "'leader'"
    elif config.cache.enabled:
        reason = "a cache in front (cache.enabled = true); set cache.enabled = false"
    elif config.faults.active:
        reason = "faults (a failover would carry the TTLs to a new master); remove the " \
                 "[faults] settings"
    elif config.metrics.visibility_probes:
        reason = "visibility probes; set metrics.visibility_probes = false"
    if reason is not None:
        raise ConfigError("workload.key_ttl", config.workload.key_ttl,
                          f"the store's TTL is not modelled yet with {reason}")
