"""Axis labels with units for config keys and metrics, and numbers for axes of config values.

Config durations are shown in milliseconds: ``"5ms"`` and ``0.005`` (seconds) both plot at 5,
a distribution (``"exp:5ms"``) at its mean. Metric units come from the name's suffix
(``_ms`` -> ms, ``_ops_s`` -> ops/s, ``_rate`` -> fraction, ``_seconds`` -> s).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

SECTIONS = ("run", "workload", "network", "server", "replication", "cache", "pipeline", "faults",
            "origin", "clocks")
DURATION = "duration"

# Config key -> (words for the axis, unit or DURATION). Keys not listed get their own name.
KEYS: dict[str, tuple[str, str | None]] = {
    "run.duration": ("run duration", DURATION),
    "run.warmup": ("warm-up", DURATION),
    "run.seed": ("seed", None),
    "workload.clients": ("clients", None),
    "workload.read_rate": ("read rate", "ops/s"),
    "workload.write_rate": ("write rate", "ops/s"),
    "workload.read_fraction": ("read fraction", None),
    "workload.think_time": ("think time", DURATION),
    "workload.keys": ("keys", None),
    "workload.zipf_s": ("Zipf exponent s", None),
    "workload.value_size": ("value size", "bytes"),
    "workload.key_ttl": ("key TTL in the store", DURATION),
    "network.client_latency": ("client latency, one way", DURATION),
    "server.service_time": ("service time", DURATION),
    "server.batch_overhead": ("overhead per message", DURATION),
    "server.replica_apply_time": ("replica apply time", DURATION),
    "replication.replicas": ("replicas", None),
    "replication.delay": ("replication delay, one way", DURATION),
    "replication.read_policy": ("read policy", None),
    "replication.wait_replicas": ("WAIT replicas", None),
    "replication.wait_timeout": ("WAIT timeout", DURATION),
    "cache.enabled": ("cache", None),
    "cache.ttl": ("cache TTL", DURATION),
    "cache.capacity": ("cache capacity", "keys"),
    "cache.latency": ("cache latency, one way", DURATION),
    "cache.fill_from": ("cache fill from", None),
    "cache.on_write": ("cache on write", None),
    "cache.invalidation_delay": ("invalidation delay", DURATION),
    "cache.stampede": ("stampede cure", None),
    "cache.lease_interval": ("lease interval", DURATION),
    "cache.lease_wait": ("lease wait", DURATION),
    "cache.xfetch_beta": ("XFetch beta", None),
    "cache.ttl_jitter": ("TTL jitter", DURATION),
    "origin.servers": ("origin workers", None),
    "origin.recompute_time": ("recompute time", DURATION),
    "pipeline.batch_size": ("pipeline batch size", "commands"),
    "pipeline.linger": ("pipeline linger", DURATION),
}

# Metric base name -> words; the unit comes from the suffix.
METRICS = {
    "stale_read_rate": "stale-read rate",
    "cache_hit_rate": "cache hit rate",
    "staleness_versions_mean": "staleness, mean",
    "staleness_age_ms": "staleness age",
    "read_latency_ms": "read latency",
    "write_latency_ms": "write latency",
    "replication_lag_ms": "replication lag",
    "throughput_ops_s": "throughput",
    "ryw_violations": "read-your-writes violations",
    "monotonic_violations": "monotonic-read violations",
    "wall_seconds": "wall time",
    "sim_events": "simulated events",
    "origin_recomputes": "origin recomputes",
    "recomputes_per_expiry": "recomputes per expiry",
    "origin_load": "origin load",
    "origin_queue_ms": "origin queue wait",
    "stale_served": "stale values served",
    "expired_read_rate": "expired-read rate",
    "expired_read_age_ms": "expired-read age",
    "hidden_live_rate": "hidden-live-key rate",
    "expired_keys_held": "expired keys held, peak",
}
COUNTS = ("reads", "writes", "stale_reads", "ryw_violations", "monotonic_violations",
          "sim_events", "origin_recomputes", "stale_served", "expired_keys_held")
SUFFIX_UNITS = (("_ms", "ms"), ("_ops_s", "ops/s"), ("_seconds", "s"), ("_rate", "fraction"))


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def is_duration_key(key: str) -> bool:
    """True for config keys that hold a duration or a delay distribution."""
    return KEYS.get(key, ("", None))[1] == DURATION


def numeric_values(values: Sequence[Any], key: str | None) -> list[float] | None:
    """The values of ``key`` as numbers for an axis (durations in ms), or None when they are
    categories (read policies, booleans, text)."""
    if key is None or any(_is_bool(v) for v in values):
        return None
    if is_duration_key(key):
        from sim.config.distributions import parse_distribution

        try:
            return [parse_distribution(v, key).mean * 1000.0 for v in values]
        except (ValueError, TypeError):
            return None
    out = []
    for value in values:
        if _is_number(value):
            out.append(float(value))
        else:
            try:
                out.append(float(str(value)))
            except ValueError:
                return None
    return out


def key_label(key: str, values: Sequence[Any] = (), unit: bool = True) -> str:
    """``"write rate (ops/s)"``, ``"replication delay, one way (ms)"`` (mean of a distribution)."""
    words, kind = KEYS.get(key, (key.split(".")[-1].replace("_", " "), None))
    if not unit or kind is None:
        return words
    if kind == DURATION:
        spread = any(isinstance(v, str) and ":" in v for v in values)
        return f"{words}{', mean' if spread else ''} (ms)"
    return f"{words} ({kind})"


def value_text(value: Any) -> str:
    """A config value for a legend: ``on``/``off`` for booleans, ``1e+03`` as ``1000``."""
    if _is_bool(value):
        return "on" if value else "off"
    if isinstance(value, float | np.floating):
        return f"{value:g}"
    return str(value)


def value_label(key: str, value: Any) -> str:
    """A key and its value, short: ``"cache on"``, ``"write rate 100"``, ``"replicas 2"``."""
    words = key_label(key, unit=False).split(",")[0]
    return f"{words} {value_text(value)}"


def metric_label(metric: str, unit: bool = True) -> str:
    """``"read latency p99 (ms)"``, ``"stale-read rate (fraction of reads)"``."""
    base, _, stat = metric.partition(".")
    words = METRICS.get(base, base.replace("_", " "))
    found = next(((suffix, u) for suffix, u in SUFFIX_UNITS if base.endswith(suffix)), None)
    if found and base not in METRICS:
        words = base[: -len(found[0])].replace("_", " ")
    if stat:
        words = f"{words} {stat}"
    if not unit:
        return words
    if base == "stale_read_rate":
        return f"{words} (fraction of reads)"
    if base == "cache_hit_rate":
        return f"{words} (fraction of cache lookups)"
    if base == "staleness_versions_mean":
        return f"{words} (versions)"
    if base == "recomputes_per_expiry":
        return f"{words} (recomputes)"
    if base == "origin_load":
        return f"{words} (recomputes/s)"
    if base in COUNTS:
        return f"{words} (count)"
    return f"{words} ({found[1]})" if found else words


def is_fraction(metric: str) -> bool:
    """True for rates given as fractions (``stale_read_rate``, ``cache_hit_rate``)."""
    return metric.partition(".")[0].endswith("_rate")


def is_nonnegative(metric: str) -> bool:
    """True for metrics that cannot be negative: fractions, times, throughputs, counts."""
    base = metric.partition(".")[0]
    return (is_fraction(metric) or base in COUNTS or base in METRICS
            or base.endswith(tuple(suffix for suffix, _ in SUFFIX_UNITS)))


def varied_keys(df: pd.DataFrame) -> list[str]:
    """The config keys a sweep varied: ``df.attrs["vary"]``, else the columns named
    ``section.key`` after a config section."""
    if df.attrs.get("vary"):
        return [k for k in df.attrs["vary"] if k in df.columns]
    # A duration's twin in seconds ("replication.delay_s") is not a key of its own.
    return [c for c in df.columns if c.partition(".")[0] in SECTIONS
            and not (c.endswith("_s") and c[:-2] in df.columns)]
