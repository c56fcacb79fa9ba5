"""Parsing and validation of the fault settings (``[faults]`` and the Redis-named keys of
``[replication]`` that only matter when something fails).

The dataclass fields live in :mod:`sim.config.schema`; this module holds their value parsers, the
small frozen records a fault list is made of, and the cross-field rules. Every time is in
seconds, every size in bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sim.config.distributions import format_duration, parse_distribution, parse_duration
from sim.config.numeric import NUMBER_PATTERN, NUMBER_RULES, read_number
from sim.errors import ConfigError

CRASH_MODES = ("process", "network")
CLIENT_DISCOVERY = ("poll", "pubsub")
PERSISTENCE = ("none", "rdb", "aof")

# Redis config units: "kb", "mb", "gb" are powers of 1024 (redis.conf says so); a bare number
# or "b" is bytes.
_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
_SIZE_RE = re.compile(rf"\s*(?P<number>{NUMBER_PATTERN})\s*(?P<unit>[a-zA-Z]*)\s*", re.ASCII)
#: Largest size or byte rate (2^50 bytes, or bytes per second): beyond any Redis host.
MAX_BYTES = 2**50
SIZE_ALLOWED = ("a size in bytes between 1 and 1048576gb (2^50): an integer, or a string like "
                f"'64kb', '1mb' (1024-based), {NUMBER_RULES}")
RATE_ALLOWED = ("bytes per second between 1 and 1048576gb (2^50): a number, or a size string "
                f"per second like '100mb', {NUMBER_RULES}")


def _bytes(value: Any) -> Decimal | None:
    """Bytes from a number or a size string, or None when it is neither."""
    if isinstance(value, str):
        match = _SIZE_RE.fullmatch(value)
        unit = match["unit"].lower() if match else None
        if unit not in _SIZE_UNITS:
            return None
        number = read_number(match["number"])
        return None if number is None else number * _SIZE_UNITS[unit]
    return read_number(value)


def parse_size(value: Any, key: str) -> int:
    """Bytes (an int > 0) from an integer or a Redis-style size string ("64kb", "1mb")."""
    size = _bytes(value)
    if size is None or not 1 <= size <= MAX_BYTES or size != size.to_integral_value():
        raise ConfigError(key, value, SIZE_ALLOWED)
    return int(size)


def parse_rate(value: Any, key: str) -> float:
    """Bytes per second (float > 0) from a number or a size string per second."""
    rate = _bytes(value)
    if rate is None or not 1 <= rate <= MAX_BYTES:
        raise ConfigError(key, value, RATE_ALLOWED)
    return float(rate)


def parse_times(value: Any, key: str) -> tuple[float, ...]:
    """One duration or a list of them -> sorted tuple of seconds (empty = none)."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    times = []
    for i, item in enumerate(items):
        try:
            times.append(parse_duration(item, key))
        except ConfigError:
            raise ConfigError(key, value, f"a duration or a list of durations (item {i} "
                              f"{item!r} is not one, e.g. '10s')") from None
    return tuple(sorted(times))


@dataclass(frozen=True)
class DisconnectSpec:
    """``replica`` (index) loses its replication link at ``start`` for ``duration`` seconds."""

    replica: int
    start: float
    duration: float

    def to_plain(self) -> dict[str, Any]:
        return {"replica": self.replica, "start": self.start, "duration": self.duration}


@dataclass(frozen=True)
class PartitionSpec:
    """From ``start`` for ``duration`` seconds, ``nodes`` (names: "master", "replica0", ...,
    naming the nodes by their role at the start of the run) and ``clients`` (indices) form the
    minority side: they reach only each other."""

    start: float
    duration: float
    nodes: tuple[str, ...]
    clients: tuple[int, ...]

    @property
    def end(self) -> float:
        return self.start + self.duration

    def to_plain(self) -> dict[str, Any]:
        return {"start": self.start, "duration": self.duration, "nodes": list(self.nodes),
                "clients": list(self.clients)}


def _table(item: Any, key: str, allowed_keys: Sequence[str], required: Sequence[str]) -> Mapping:
    if not isinstance(item, Mapping):
        raise ConfigError(key, item, "a table with keys " + ", ".join(allowed_keys))
    for name in item:
        if name not in allowed_keys:
            raise ConfigError(f"{key}.{name}", item[name],
                              "unknown key; allowed: " + ", ".join(allowed_keys))
    for name in required:
        if name not in item:
            raise ConfigError(key, dict(item), f"missing key {name!r} (keys: "
                              + ", ".join(allowed_keys) + ")")
    return item


def _index(value: Any, key: str, what: str) -> int:
    number = read_number(value)
    if number is None or number != number.to_integral_value() or not 0 <= number <= _MAX_INDEX:
        raise ConfigError(key, value, f"{what}: an integer >= 0 (and below {_MAX_INDEX:,})")
    return int(number)


_MAX_INDEX = 100_000  # the most clients (and far more than replicas) a run may have


def _positive_duration(value: Any, key: str) -> float:
    seconds = parse_duration(value, key)
    if seconds <= 0:
        raise ConfigError(key, value, "a duration > 0, e.g. '5s'")
    return seconds


def _tables(value: Any, key: str, what: str) -> list:
    """A list of tables; one table alone is a list of one (handy in a sweep's value list)."""
    return [value] if isinstance(value, Mapping) else _list(value, key, what)


def _list(value: Any, key: str, what: str) -> list:
    if not isinstance(value, list | tuple):
        raise ConfigError(key, value, f"a list of {what} (TOML: [{{...}}, ...]); [] for none")
    return list(value)


def parse_disconnects(value: Any, key: str) -> tuple[DisconnectSpec, ...]:
    """A list of tables {replica, start, duration} (or one table)."""
    specs = []
    for i, item in enumerate(_tables(value, key, "tables {replica, start, duration}")):
        where = f"{key}[{i}]"
        fields_ = ("replica", "start", "duration")
        table = _table(item, where, fields_, fields_)
        specs.append(DisconnectSpec(
            _index(table["replica"], f"{where}.replica", "a replica index"),
            parse_duration(table["start"], f"{where}.start"),
            _positive_duration(table["duration"], f"{where}.duration")))
    return tuple(sorted(specs, key=lambda s: (s.start, s.replica)))


def parse_partitions(value: Any, key: str) -> tuple[PartitionSpec, ...]:
    """A list of tables {start, duration, nodes = [names], clients = [indices]} (or one)."""
    specs = []
    for i, item in enumerate(_tables(value, key, "tables {start, duration, nodes, clients}")):
        where = f"{key}[{i}]"
        table = _table(item, where, ("start", "duration", "nodes", "clients"),
                       ("start", "duration"))
        nodes = _list(table.get("nodes", []), f"{where}.nodes", "node names")
        for name in nodes:
            if not isinstance(name, str):
                raise ConfigError(f"{where}.nodes", name, "a node name like 'master' or 'replica0'")
        clients = [_index(c, f"{where}.clients", "a client index")
                   for c in _list(table.get("clients", []), f"{where}.clients", "client indices")]
        specs.append(PartitionSpec(
            parse_duration(table["start"], f"{where}.start"),
            _positive_duration(table["duration"], f"{where}.duration"),
            tuple(dict.fromkeys(nodes)), tuple(sorted(set(clients)))))
    return tuple(sorted(specs, key=lambda s: s.start))


# ---------------------------------------------------------------------------------------
# Parsers in the (value, dotted key, base dir) form of sim.config.schema
# ---------------------------------------------------------------------------------------


def size_option(value: Any, key: str, base_dir: Path | None) -> int:
    return parse_size(value, key)


def rate_option(value: Any, key: str, base_dir: Path | None) -> float:
    return parse_rate(value, key)


def times_option(value: Any, key: str, base_dir: Path | None) -> tuple[float, ...]:
    return parse_times(value, key)


def disconnects_option(value: Any, key: str, base_dir: Path | None) -> tuple:
    return parse_disconnects(value, key)


def partitions_option(value: Any, key: str, base_dir: Path | None) -> tuple:
    return parse_partitions(value, key)


def stream_rate_option(value: Any, key: str, base_dir: Path | None) -> float:
    """0 (no limit) or bytes per second."""
    number = read_number(value)
    if number is not None and number == 0:
        return 0.0
    try:
        return parse_rate(value, key)
    except ConfigError:
        raise ConfigError(key, value, "0 (no limit) or " + RATE_ALLOWED) from None


def failover_timeout_option(value: Any, key: str, base_dir: Path | None) -> Any:
    """"sentinel" (the modelled timeline) or a delay distribution that replaces it."""
    if value == "sentinel":
        return value
    try:
        return parse_distribution(value, key, base_dir)
    except ConfigError as err:
        raise ConfigError(key, value, "'sentinel' (Sentinel's modelled timeline) or a delay "
                          "that replaces it, e.g. '5s' or 'uniform:5s,6s'") from err


# ---------------------------------------------------------------------------------------
# Cross-field rules
# ---------------------------------------------------------------------------------------


def _d(seconds: float) -> str:
    return format_duration(seconds)


def check_fault_rules(config) -> None:
    """Rules that involve the fault settings; raises the first ConfigError found.

    A fault at or after ``run.duration`` is allowed: it never happens and costs the run nothing
    (a sweep may vary the duration, or the fault time, across the horizon)."""
    rep, faults, wl = config.replication, config.faults, config.workload
    if rep.min_replicas_to_write > rep.replicas:
        raise ConfigError("replication.min_replicas_to_write", rep.min_replicas_to_write,
                          f"must be at most replication.replicas ({rep.replicas})")
    if (faults.active and wl.mode == "closed" and wl.think_time.is_zero
            and config.network.client_latency.is_zero):
        # An error reply costs only the network round trip; with neither it nor a think
        # time, a client facing a dead master would retry without simulated time passing.
        raise ConfigError("workload.think_time", str(wl.think_time),
                          "closed mode with faults needs a non-zero think_time or "
                          "network.client_latency (an error reply takes only the round trip)")
    if faults.master_crash_at and rep.replicas == 0:
        raise ConfigError("faults.master_crash_at", [_d(t) for t in faults.master_crash_at],
                          "failover needs replication.replicas >= 1 (it is 0)")
    last_end: dict[int, float] = {}
    for spec in faults.replica_disconnects:
        where = "faults.replica_disconnects"
        if spec.replica >= rep.replicas:
            raise ConfigError(f"{where}.replica", spec.replica,
                              f"no such replica: replication.replicas is {rep.replicas} "
                              f"(indices 0..{rep.replicas - 1})" if rep.replicas else
                              "no such replica: replication.replicas is 0")
        if spec.start < last_end.get(spec.replica, -1.0):
            raise ConfigError(where, spec.to_plain(),
                              f"overlaps an earlier disconnect of replica {spec.replica}")
        last_end[spec.replica] = spec.start + spec.duration
    names = ["master"] + [f"replica{j}" for j in range(rep.replicas)]
    previous = None
    for spec in faults.partitions:
        where = "faults.partitions"
        for name in spec.nodes:
            if name not in names:
                raise ConfigError(f"{where}.nodes", name, "a node name: " + ", ".join(names))
        for c in spec.clients:
            if c >= wl.clients:
                raise ConfigError(f"{where}.clients", c,
                                  f"a client index below workload.clients ({wl.clients})")
        if previous is not None and spec.start < previous.end:
            raise ConfigError(where, spec.to_plain(),
                              f"overlaps the partition from {_d(previous.start)} to "
                              f"{_d(previous.end)}; partitions must not overlap")
        previous = spec
        for t in faults.master_crash_at:
            if spec.start <= t < spec.end:
                raise ConfigError("faults.master_crash_at", _d(t),
                                  f"falls inside the partition from {_d(spec.start)} to "
                                  f"{_d(spec.end)}; a crash during a partition is not modelled")
