"""Experiment configuration: one frozen dataclass per TOML section, validated at the edge.

Defaults live in the dataclasses below and nowhere else. ``Config.from_dict`` (used by
``from_toml``, ``load`` and ``with_overrides``) is the one place input is checked: it
parses every value into its type (durations to float seconds, delays to
``Distribution`` objects), applies the cross-field rules and raises the first problem
found as a ``ConfigError`` naming the key, the value and what is allowed. Constructing
the dataclasses directly does no checking; that is for code that already holds valid
values.

Every time is in seconds, every rate in operations per second.
"""

from __future__ import annotations

import math
import numbers
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sim.config.distributions import (
    Constant,
    Distribution,
    Exponential,
    format_duration,
    parse_distribution,
    parse_duration,
)
from sim.config.faults import (
    CLIENT_DISCOVERY,
    CRASH_MODES,
    PERSISTENCE,
    check_fault_rules,
    disconnects_option,
    failover_timeout_option,
    partitions_option,
    rate_option,
    size_option,
    stream_rate_option,
    times_option,
)
from sim.errors import ConfigError

__all__ = [
    "FILL_FROM",
    "KEY_DISTRIBUTIONS",
    "MODES",
    "ON_WRITE",
    "READ_POLICIES",
    "REPLICA_READ_POLICIES",
    "CacheConfig",
    "Config",
    "ConfigError",
    "FaultsConfig",
    "NetworkConfig",
    "PipelineConfig",
    "ReplicationConfig",
    "RunConfig",
    "ServerConfig",
    "WorkloadConfig",
    "parse_override",
    "parse_override_value",
]

MODES = ("open", "closed")
KEY_DISTRIBUTIONS = ("zipf", "uniform")
READ_POLICIES = ("master", "replicas", "any", "sticky", "read-your-writes")
# Policies that cannot work without at least one replica ("any" falls back to the master).
REPLICA_READ_POLICIES = ("replicas", "sticky", "read-your-writes")
FILL_FROM = ("read_policy", "master", "replicas")
ON_WRITE = ("none", "invalidate", "update")

# ---------------------------------------------------------------------------------------
# Value parsers: (value, dotted key, base dir for files) -> typed value, or ConfigError.
# ---------------------------------------------------------------------------------------

Parse = Callable[[Any, str, Path | None], Any]


def _integer(minimum: int) -> Parse:
    allowed = f"an integer >= {minimum}"

    def parse(value: Any, key: str, base_dir: Path | None) -> int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            number = int(value)
        elif isinstance(value, float) and value.is_integer():  # 2.0 is a fine 2
            number = int(value)
        else:
            raise ConfigError(key, value, allowed)
        if number < minimum:
            raise ConfigError(key, value, allowed)
        return number

    return parse


def _real(minimum: float, maximum: float | None = None) -> Parse:
    if maximum is None:
        allowed = f"a finite number >= {minimum:g}"
    else:
        allowed = f"a number between {minimum:g} and {maximum:g}"

    def parse(value: Any, key: str, base_dir: Path | None) -> float:
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ConfigError(key, value, allowed)
        number = float(value)
        if not math.isfinite(number) or number < minimum or (maximum is not None and number > maximum):
            raise ConfigError(key, value, allowed)
        return number + 0.0  # -0.0 -> 0.0

    return parse


def _duration(*, positive: bool = False) -> Parse:
    def parse(value: Any, key: str, base_dir: Path | None) -> float:
        seconds = parse_duration(value, key)
        if positive and seconds == 0:
            raise ConfigError(key, value, "a duration > 0, e.g. '30s' or 10")
        return seconds

    return parse


def _delay() -> Parse:
    def parse(value: Any, key: str, base_dir: Path | None) -> Distribution:
        return parse_distribution(value, key, base_dir)

    return parse


def _flag() -> Parse:
    def parse(value: Any, key: str, base_dir: Path | None) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(key, value, "true or false (a TOML boolean, unquoted)")
        return value

    return parse


def _choice(options: tuple[str, ...]) -> Parse:
    allowed = "one of " + ", ".join(repr(option) for option in options)

    def parse(value: Any, key: str, base_dir: Path | None) -> str:
        if not isinstance(value, str) or value not in options:
            raise ConfigError(key, value, allowed)
        return value

    return parse


def _option(default: Any, parse: Parse) -> Any:
    """A dataclass field whose default and parser are declared together."""
    return field(default=default, metadata={"parse": parse})


# ---------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunConfig:
    """[run]: simulated ``duration`` and ``warmup`` (seconds; only events after warmup count)
    and the ``seed`` every random stream is spawned from."""

    duration: float = _option(30.0, _duration(positive=True))
    warmup: float = _option(2.0, _duration())
    seed: int = _option(1, _integer(0))


@dataclass(frozen=True)
class WorkloadConfig:
    """[workload]: clients, arrival rates (ops/s, all clients together), key popularity.

    ``open`` mode uses ``read_rate``/``write_rate``; ``closed`` mode uses
    ``read_fraction`` and ``think_time`` and ignores the rates. ``value_size`` in bytes.
    """

    mode: str = _option("open", _choice(MODES))
    clients: int = _option(8, _integer(1))
    read_rate: float = _option(9000.0, _real(0.0))
    write_rate: float = _option(1000.0, _real(0.0))
    read_fraction: float = _option(0.9, _real(0.0, 1.0))
    think_time: Distribution = _option(Constant(0.0), _delay())
    keys: int = _option(1000, _integer(1))
    key_distribution: str = _option("zipf", _choice(KEY_DISTRIBUTIONS))
    zipf_s: float = _option(0.99, _real(0.0))
    value_size: int = _option(100, _integer(0))


@dataclass(frozen=True)
class NetworkConfig:
    """[network]: one-way client <-> node latency (seconds)."""

    client_latency: Distribution = _option(Constant(250e-6), _delay())


@dataclass(frozen=True)
class ServerConfig:
    """[server]: per-command ``service_time``, per-message ``batch_overhead`` and the time a
    replica takes to apply one replicated write (all seconds).

    ``persistence`` decides what a master restarted by ``faults.master_recover_after`` comes
    back with: ``"none"`` (nothing: an empty dataset), ``"rdb"`` (the last snapshot, one
    every ``snapshot_interval`` seconds) or ``"aof"`` (what was fsynced, every
    ``fsync_interval`` seconds; 0 = appendfsync always, every committed write)."""

    service_time: Distribution = _option(Exponential(10e-6), _delay())
    batch_overhead: Distribution = _option(Constant(5e-6), _delay())
    replica_apply_time: Distribution = _option(Exponential(5e-6), _delay())
    persistence: str = _option("none", _choice(PERSISTENCE))
    snapshot_interval: float = _option(60.0, _duration(positive=True))
    fsync_interval: float = _option(1.0, _duration())


@dataclass(frozen=True)
class ReplicationConfig:
    """[replication]: number of replicas, one-way stream ``delay`` (seconds), read routing,
    and synchronous acknowledgement (``wait_timeout`` seconds, 0 = wait for ever).

    The Redis settings for failures: ``serve_stale_data`` (a replica whose link is down
    answers reads from its old data, else refuses them), ``min_replicas_to_write`` and
    ``min_replicas_max_lag`` (seconds: the master refuses writes while fewer replicas have
    acknowledged within it; either at 0 disables the check, as in redis.conf), ``backlog_size`` (bytes: a reconnecting replica resyncs
    partially when every write it missed is still in it), ``bandwidth`` (bytes/s for a full
    resync's snapshot), ``snapshot_load_time`` (seconds the replica's thread spends loading
    the snapshot) and ``diskless_sync_delay`` (seconds a master waits before it starts a full
    resync's transfer, for more replicas to join it: Redis' repl-diskless-sync-delay, 5 s in
    Redis 7; 0 here, a transfer that starts at once). ``stream_bandwidth`` (bytes/s; 0 = no
    limit) is the rate at which the master's output buffer sends the stream to each replica:
    writes queue there for ``workload.value_size`` / bandwidth each, and a process crash
    loses what had not left it."""

    replicas: int = _option(2, _integer(0))
    delay: Distribution = _option(Exponential(1e-3), _delay())
    read_policy: str = _option("replicas", _choice(READ_POLICIES))
    wait_replicas: int = _option(0, _integer(0))
    wait_timeout: float = _option(0.0, _duration())
    # Redis names. They act only when a fault is configured: with every link up, every
    # replica is always in sync and acknowledging.
    serve_stale_data: bool = _option(True, _flag())
    min_replicas_to_write: int = _option(0, _integer(0))
    min_replicas_max_lag: float = _option(10.0, _duration())
    backlog_size: int = _option(1024 * 1024, size_option)  # bytes (Redis repl-backlog-size)
    bandwidth: float = _option(125e6, rate_option)  # bytes/s for a full resync (1 Gbit/s)
    snapshot_load_time: Distribution = _option(Constant(1e-3), _delay())
    diskless_sync_delay: float = _option(0.0, _duration())  # Redis repl-diskless-sync-delay
    stream_bandwidth: float = _option(0.0, stream_rate_option)  # bytes/s, 0 = no limit


@dataclass(frozen=True)
class CacheConfig:
    """[cache]: cache-aside layer; ``ttl`` and one-way ``latency`` in seconds,
    ``capacity`` in keys (0 = unbounded)."""

    enabled: bool = _option(True, _flag())
    ttl: float = _option(1.0, _duration())
    capacity: int = _option(0, _integer(0))
    latency: Distribution = _option(Constant(100e-6), _delay())
    fill_from: str = _option("read_policy", _choice(FILL_FROM))
    on_write: str = _option("none", _choice(ON_WRITE))
    invalidation_delay: Distribution = _option(Constant(0.0), _delay())


@dataclass(frozen=True)
class PipelineConfig:
    """[pipeline]: commands per message and, in open mode, how long (seconds) a partial
    batch may wait for more commands."""

    batch_size: int = _option(1, _integer(1))
    linger: float = _option(0.0, _duration())


@dataclass(frozen=True)
class FaultsConfig:
    """[faults]: what fails and when (seconds).

    ``master_crash_at``: times at which the master in office crashes; ``crash_mode`` says what
    the crash does to messages already sent: ``"process"`` (a killed redis-server: they are
    still delivered) or ``"network"`` (the host is cut off: messages on the wire are lost).
    ``master_recover_after``: the crashed host restarts that long after its crash (0 = it
    stays down), with what ``server.persistence`` kept. ``replica_disconnects``: replication
    links cut for a while. ``partitions``: a minority side of nodes and clients that reach
    only each other.

    The failover follows Sentinel's timeline (:mod:`sim.model.sentinel`):
    ``sentinel_down_after`` is its down-after-milliseconds, ``sentinel_ping_period`` how often
    it PINGs (at most every ``sentinel_down_after``), ``sentinel_info_period`` and
    ``sentinel_failover_info_period`` how often it sends INFO normally and during a failover;
    clients find the new master by asking Sentinel every ``client_poll_interval`` while their
    master fails (``client_discovery = "poll"``) or on ``+switch-master`` (``"pubsub"``).
    ``failover_timeout`` = "sentinel" uses that timeline; a delay (e.g. "5s", "uniform:5s,6s")
    replaces it: crash (or isolation) to promotion, everyone re-pointed at that instant. The
    default down-after of 5 s is a commonly lowered value (Sentinel's own is 30 s) so a
    failover fits in a default run.
    """

    master_crash_at: tuple[float, ...] = _option((), times_option)
    crash_mode: str = _option("process", _choice(CRASH_MODES))
    failover_timeout: Any = _option("sentinel", failover_timeout_option)
    sentinel_down_after: float = _option(5.0, _duration(positive=True))
    sentinel_ping_period: float = _option(1.0, _duration(positive=True))
    sentinel_info_period: float = _option(10.0, _duration(positive=True))
    sentinel_failover_info_period: float = _option(1.0, _duration(positive=True))
    client_discovery: str = _option("poll", _choice(CLIENT_DISCOVERY))
    client_poll_interval: float = _option(0.1, _duration(positive=True))
    master_recover_after: float = _option(0.0, _duration())
    replica_disconnects: tuple = _option((), disconnects_option)
    partitions: tuple = _option((), partitions_option)

    @property
    def sentinel(self) -> bool:
        """True when the failover follows Sentinel's timeline (no ``failover_timeout``)."""
        return self.failover_timeout == "sentinel"

    @property
    def active(self) -> bool:
        """True when any fault is scheduled (the engine then builds fault-aware nodes)."""
        return bool(self.master_crash_at or self.replica_disconnects or self.partitions)


_SECTIONS: dict[str, type] = {
    "run": RunConfig,
    "workload": WorkloadConfig,
    "network": NetworkConfig,
    "server": ServerConfig,
    "replication": ReplicationConfig,
    "cache": CacheConfig,
    "pipeline": PipelineConfig,
    "faults": FaultsConfig,
}


def _keys_text(cls: type) -> str:
    names = [f.name for f in fields(cls)]
    return ", ".join(names) if names else "(none yet)"


def _parse_section(name: str, table: Any, base_dir: Path | None) -> Any:
    """One section's dataclass from its table; unknown keys and bad values raise."""
    cls = _SECTIONS[name]
    if not isinstance(table, Mapping):
        raise ConfigError(name, table, f"a table of keys: {_keys_text(cls)}")
    specs = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():  # input order, so the first error is the first line
        dotted = f"{name}.{key}"
        if key not in specs:
            raise ConfigError(dotted, value, f"unknown key; [{name}] allows: {_keys_text(cls)}")
        values[key] = specs[key].metadata["parse"](value, dotted, base_dir)
    return cls(**values)


def _check_rules(config: Config) -> None:
    """Cross-field rules, each with its own message; raises the first that fails."""
    run, workload, rep, cache = config.run, config.workload, config.replication, config.cache
    if run.warmup >= run.duration:
        raise ConfigError(
            "run.warmup", format_duration(run.warmup),
            f"must be less than run.duration ({format_duration(run.duration)})",
        )
    if workload.mode == "open" and workload.read_rate + workload.write_rate <= 0:
        raise ConfigError(
            "workload.read_rate", workload.read_rate,
            f"open mode needs workload.read_rate + workload.write_rate > 0 (write_rate is "
            f"{workload.write_rate:g}); set a rate or use workload.mode = 'closed'",
        )
    if rep.wait_replicas > rep.replicas:
        raise ConfigError(
            "replication.wait_replicas", rep.wait_replicas,
            f"must be at most replication.replicas ({rep.replicas})",
        )
    if rep.replicas == 0 and rep.read_policy in REPLICA_READ_POLICIES:
        raise ConfigError(
            "replication.read_policy", rep.read_policy,
            "needs replication.replicas >= 1 (it is 0); without replicas use 'master' or 'any'",
        )
    if workload.mode == "closed" and workload.think_time.is_zero:
        net, srv = config.network, config.server
        store_instant = (net.client_latency.is_zero and srv.batch_overhead.is_zero
                         and srv.service_time.is_zero)
        cache_instant = cache.enabled and cache.latency.is_zero
        if store_instant or cache_instant:
            # Every reply would come back at the instant its batch left, so the clients
            # would loop for ever without simulated time advancing.
            raise ConfigError(
                "workload.think_time", str(workload.think_time),
                "closed mode needs some time per round trip: a non-zero think_time, or a "
                "non-zero network.client_latency/server time"
                + (" and cache.latency" if cache.enabled else ""),
            )
    if cache.enabled and rep.replicas == 0 and cache.fill_from == "replicas":
        raise ConfigError(
            "cache.fill_from", cache.fill_from,
            "needs replication.replicas >= 1 (it is 0); use 'read_policy' or 'master'",
        )
    check_fault_rules(config)


# ---------------------------------------------------------------------------------------
# Overrides ("section.key=value")
# ---------------------------------------------------------------------------------------

_DOTTED_RE = re.compile(r"[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*")
_OVERRIDE_ALLOWED = "expected SECTION.KEY=VALUE, e.g. run.seed=2 or replication.delay=exp:2ms"


def parse_override_value(text: str) -> Any:
    """A command-line value: a TOML value when it is one (``5``, ``2.5``, ``true``,
    ``"x"``, ``[1, 2]``), else the bare string (``5ms``, ``exp:1ms``, ``replicas``)."""
    text = text.strip()
    try:
        parsed = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    # "1\nother = 2" would parse as two keys: that is not one value.
    return parsed["value"] if list(parsed) == ["value"] else text


def parse_override(text: str) -> tuple[str, Any]:
    """``"section.key=value"`` -> ``("section.key", typed value)``; ConfigError if malformed."""
    if not isinstance(text, str):
        raise ConfigError("override", text, _OVERRIDE_ALLOWED)
    dotted, sep, raw = text.partition("=")
    dotted = dotted.strip()
    if not sep or not _DOTTED_RE.fullmatch(dotted):
        raise ConfigError("override", text, _OVERRIDE_ALLOWED)
    return dotted, parse_override_value(raw)


def _override_pairs(overrides: Mapping[str, Any] | Iterable[str]) -> list[tuple[str, Any]]:
    if isinstance(overrides, Mapping):
        pairs = list(overrides.items())
        for dotted, _ in pairs:
            if not isinstance(dotted, str) or not _DOTTED_RE.fullmatch(dotted):
                raise ConfigError("override", dotted, "expected a key SECTION.KEY, e.g. run.seed")
        return pairs
    if isinstance(overrides, str):  # one string is a common slip for a list of one
        overrides = [overrides]
    return [parse_override(text) for text in overrides]


def _plain(value: Any) -> Any:
    """A field value as TOML/JSON data: distributions become their canonical strings,
    tuples lists, fault records tables."""
    if isinstance(value, Distribution):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if hasattr(value, "to_plain"):
        return value.to_plain()
    return value


# ---------------------------------------------------------------------------------------
# The whole configuration
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """A complete, validated experiment configuration (see docs/design.md, section 4)."""

    run: RunConfig = field(default_factory=RunConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    replication: ReplicationConfig = field(default_factory=ReplicationConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)

    @classmethod
    def default(cls) -> Config:
        """Every key at its default."""
        return cls()

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]], base_dir: Path | None = None) -> Config:
        """Parse and validate ``{section: {key: value}}``; missing keys take defaults.

        ``empirical:`` files are found relative to ``base_dir`` (else the current
        directory). Raises the first problem as a ``ConfigError``.
        """
        if not isinstance(data, Mapping):
            raise ConfigError("config", data, "a table of sections: " + ", ".join(_SECTIONS))
        sections: dict[str, Any] = {}
        for name, table in data.items():
            if name not in _SECTIONS:
                raise ConfigError(
                    "section", name, "unknown section; allowed sections: " + ", ".join(_SECTIONS)
                )
            sections[name] = _parse_section(name, table, base_dir)
        config = cls(**sections)
        _check_rules(config)
        return config

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a TOML file; ``empirical:`` paths are relative to the file's folder."""
        path = Path(path)
        try:
            with path.open("rb") as stream:
                data = tomllib.load(stream)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config file", str(path), f"invalid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError("config file", str(path), f"not UTF-8 text: {exc.reason}") from None
        except OSError as exc:
            raise ConfigError("config file", str(path), f"cannot read: {exc.strerror or exc}") from None
        return cls.from_dict(data, base_dir=path.parent)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        overrides: Mapping[str, Any] | Iterable[str] = (),
    ) -> Config:
        """The file at ``path`` (defaults when None) with ``overrides`` applied."""
        config = cls.default() if path is None else cls.from_toml(path)
        return config.with_overrides(overrides)

    def with_overrides(
        self,
        overrides: Mapping[str, Any] | Iterable[str],
        base_dir: Path | None = None,
    ) -> Config:
        """A new validated config with some keys replaced.

        ``overrides`` is ``{"section.key": value}`` (values used as given) or strings
        ``"section.key=value"`` (values parsed by ``parse_override_value``); later
        entries win. Relative ``empirical:`` paths are taken against ``base_dir``.
        """
        pairs = _override_pairs(overrides)
        if not pairs:
            return self
        data = self.to_dict()
        for dotted, value in pairs:
            section, _, key = dotted.partition(".")
            data.setdefault(section, {})[key] = value
        return Config.from_dict(data, base_dir=base_dir)

    def _sections(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in _SECTIONS]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain TOML/JSON data: distributions as canonical strings, durations in seconds.

        ``Config.from_dict(cfg.to_dict()) == cfg``.
        """
        return {
            name: {f.name: _plain(getattr(section, f.name)) for f in fields(section)}
            for name, section in self._sections()
        }

    def flat(self) -> dict[str, Any]:
        """``{"section.key": value}`` with the same values as ``to_dict``."""
        return {
            f"{name}.{key}": value
            for name, table in self.to_dict().items()
            for key, value in table.items()
        }

    def get(self, dotted_key: str) -> Any:
        """The typed value of ``"section.key"`` (a ``Distribution`` for delays)."""
        section, _, key = str(dotted_key).partition(".")
        if section not in _SECTIONS:
            raise ConfigError(
                "key", dotted_key, "unknown section; allowed sections: " + ", ".join(_SECTIONS)
            )
        cls = _SECTIONS[section]
        if key not in {f.name for f in fields(cls)}:
            raise ConfigError("key", dotted_key, f"unknown key; [{section}] allows: {_keys_text(cls)}")
        return getattr(getattr(self, section), key)
