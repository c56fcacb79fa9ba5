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

import dataclasses
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sim.config.cluster import SLOTS, check_cluster_rules
from sim.config.distributions import (
    Constant,
    Distribution,
    Exponential,
    format_duration,
    parse_distribution,
    parse_duration,
)
from sim.config.expiry import check_expiry_rules, clock_list_option
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
from sim.config.load import check_offered_load
from sim.config.numeric import NUMBER_RULES, is_decimal_text, read_number, to_float
from sim.config.presets import NO_PRESET, PRESETS, preset_values
from sim.errors import ConfigError, echo

__all__ = [
    "FILL_FROM",
    "KEY_DISTRIBUTIONS",
    "MODES",
    "ON_WRITE",
    "READ_POLICIES",
    "REPLICA_EXPIRY",
    "REPLICA_READ_POLICIES",
    "STAMPEDE",
    "CacheConfig",
    "ClientCacheConfig",
    "ClocksConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "FaultsConfig",
    "NetworkConfig",
    "MetricsConfig",
    "OriginConfig",
    "PipelineConfig",
    "QuorumConfig",
    "ReplicationConfig",
    "RunConfig",
    "ServerConfig",
    "WorkloadConfig",
    "duration_keys",
    "parse_override",
    "parse_override_value",
    "parse_value",
]

MODES = ("open", "closed")
KEY_DISTRIBUTIONS = ("zipf", "uniform", "scrambled_zipf", "latest")
LINK_ORDERS = ("fifo", "independent")  # quorum.link_order
READ_POLICIES = ("master", "replicas", "any", "sticky", "read-your-writes")
# Policies that cannot work without at least one replica ("any" falls back to the master).
REPLICA_READ_POLICIES = ("replicas", "sticky", "read-your-writes")
FILL_FROM = ("read_policy", "master", "replicas", "origin")
# What the cache tier does when many readers miss one key at once (docs/design.md section 9).
STAMPEDE = ("none", "single_flight", "lease", "xfetch", "stale_while_revalidate")
ON_WRITE = ("none", "invalidate", "update")
TRACKING_MODES = ("default", "bcast", "optin")
TRACKING_CONNECTIONS = ("same", "redirect")
REPLICATION_MODES = ("leader", "quorum")
REPLICA_EXPIRY = ("clock", "master_del")
# A quorum delay that is the network's one-way client latency (the default).
NETWORK_DELAY = "network"

# ---------------------------------------------------------------------------------------
# Value parsers: (value, dotted key, base dir for files) -> typed value, or ConfigError.
# ---------------------------------------------------------------------------------------

Parse = Callable[[Any, str, Path | None], Any]


#: Largest integer any key takes unless it says less: what a signed 64-bit counter holds.
MAX_INTEGER = 2**63 - 1


def _integer(minimum: int, maximum: int = MAX_INTEGER, why: str = "") -> Parse:
    allowed = f"an integer >= {minimum:,} and <= {maximum:,}{why}"

    def parse(value: Any, key: str, base_dir: Path | None) -> int:
        number = None if isinstance(value, str) else read_number(value)
        # Compared as a Decimal before int(): "1e999999999" must not become a huge int.
        if (number is None or number != number.to_integral_value()
                or not minimum <= number <= maximum):
            raise ConfigError(key, value, _rules(allowed, value))
        return int(number)

    parse.numeric = True  # type: ignore[attr-defined]  # see numeric_keys()
    return parse


def _real(minimum: float, maximum: float, allowed: str = "") -> Parse:
    allowed = allowed or f"a number between {minimum:g} and {maximum:g}"

    def parse(value: Any, key: str, base_dir: Path | None) -> float:
        number = None if isinstance(value, str) else read_number(value)
        real = None if number is None else to_float(number)
        if real is None or not minimum <= real <= maximum:
            raise ConfigError(key, value, _rules(allowed, value))
        return real

    parse.numeric = True  # type: ignore[attr-defined]  # see numeric_keys()
    return parse


def _rules(allowed: str, value: Any) -> str:
    """``allowed``, and how a number is written when ``value`` was not one at all (a string
    is not a number here: a TOML number is unquoted, and on the command line it is decimal)."""
    if isinstance(value, str):
        return f"{allowed}, as a number (unquoted in TOML) {NUMBER_RULES}"
    return allowed if read_number(value) is not None else f"{allowed}, {NUMBER_RULES}"


def _positive_real(maximum: float = 1e6) -> Parse:
    allowed = f"a number > 0 and <= {maximum:g}"
    at_least_zero = _real(0.0, maximum, allowed=allowed)

    def parse(value: Any, key: str, base_dir: Path | None) -> float:
        number = at_least_zero(value, key, base_dir)
        if number == 0:
            raise ConfigError(key, value, allowed)
        return number

    parse.numeric = True  # type: ignore[attr-defined]  # see numeric_keys()
    return parse


def _duration(*, positive: bool = False) -> Parse:
    def parse(value: Any, key: str, base_dir: Path | None) -> float:
        seconds = parse_duration(value, key)
        if positive and seconds == 0:
            raise ConfigError(key, value, "a duration > 0, e.g. '30s' or 10")
        return seconds

    parse.duration = True  # type: ignore[attr-defined]  # see duration_keys()
    return parse


def _delay() -> Parse:
    def parse(value: Any, key: str, base_dir: Path | None) -> Distribution:
        return parse_distribution(value, key, base_dir)

    parse.duration = True  # type: ignore[attr-defined]  # see duration_keys()
    return parse


def _delay_or_network() -> Parse:
    def parse(value: Any, key: str, base_dir: Path | None) -> Distribution | str:
        if value == NETWORK_DELAY:
            return NETWORK_DELAY
        try:
            return parse_distribution(value, key, base_dir)
        except ConfigError as exc:
            raise ConfigError(key, value, f"{exc.allowed}, or '{NETWORK_DELAY}' for "
                              "network.client_latency") from None

    return parse


def _duration_or_auto() -> Parse:
    def parse(value: Any, key: str, base_dir: Path | None) -> float | str:
        if value == "auto":
            return "auto"
        try:
            seconds = parse_duration(value, key)
        except ConfigError:
            seconds = 0.0
        if seconds <= 0:
            raise ConfigError(key, value, "'auto' or a duration > 0, e.g. '20ms'")
        return seconds

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


# Bounds on magnitudes that no experiment needs and that would exhaust memory or run for
# ever instead of failing (docs/design.md section 4; the README's "Bad input and limits").
MAX_RATE = 1e9  # ops/s, all clients together
MAX_KEYS = 10_000_000  # the zipf sampler alone holds 16 bytes per key
MAX_CLIENTS = 100_000
MAX_REPLICAS = 1_000
MAX_ORIGIN_SERVERS = 100_000
DEFAULT_MAX_QUEUE = 1_000_000  # commands waiting at one node
MAX_BATCH = 100_000  # commands per pipelined message
MAX_IN_FLIGHT = 10_000_000  # commands a closed loop's clients hold at once
MAX_VALUE_SIZE = 512 * 2**20  # bytes (Redis's proto-max-bulk-len)
MAX_VISIBILITY_POINTS = 10_000
# Beyond s = 10 the most popular key already takes 99.9% of requests; far beyond it,
# k ** s overflows a float for large key spaces.
MAX_ZIPF_S = 10.0
ZIPF_ALLOWED = (f"a number between 0 and {MAX_ZIPF_S:g} (0: every key equally popular; at "
                f"{MAX_ZIPF_S:g} the first key already takes 99.9% of requests)")


def _rate() -> Parse:
    return _real(0.0, MAX_RATE, "a finite number >= 0 and <= 1e9 (ops/s; faster than any "
                 "server by orders of magnitude)")


def _option(default: Any, parse: Parse) -> Any:
    """A dataclass field whose default and parser are declared together."""
    return field(default=default, metadata={"parse": parse})


# ---------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunConfig:
    """[run]: simulated ``duration`` and ``warmup`` (seconds; only events after warmup count),
    the ``seed`` every random stream is spawned from, and ``max_queue``, the most commands
    that may wait at one node before the run stops as overloaded.

    A precision-driven run sets ``target_rel_ci`` (e.g. 0.02; 0 = off): it runs at least
    ``duration``, then goes on, doubling its measured window, until the 95% intervals of the
    stale-read rate and of the mean read latency are each within that share of their value,
    or until ``max_duration`` (seconds; 0 = ten times ``duration``)."""

    duration: float = _option(30.0, _duration(positive=True))
    warmup: float = _option(2.0, _duration())
    seed: int = _option(1, _integer(0))
    max_queue: int = _option(DEFAULT_MAX_QUEUE, _integer(1))
    target_rel_ci: float = _option(0.0, _real(0.0, 1.0))
    max_duration: float = _option(0.0, _duration())

    @property
    def horizon(self) -> float:
        """The latest simulated time the run may reach (s)."""
        if self.target_rel_ci <= 0:
            return self.duration
        return self.max_duration or 10.0 * self.duration


@dataclass(frozen=True)
class WorkloadConfig:
    """[workload]: clients, arrival rates (ops/s, all clients together), key popularity.

    ``open`` mode uses ``read_rate``/``write_rate``; ``closed`` mode uses
    ``read_fraction`` and ``think_time`` and ignores the rates. ``value_size`` in bytes.
    ``key_distribution``: ``zipf`` (key 0 the most popular), ``uniform``, and YCSB's
    ``scrambled_zipf`` and ``latest`` (:mod:`sim.model.ycsb`). ``preset`` (a YCSB core
    workload, :mod:`sim.config.presets`) sets the keys it names unless they are set beside it.
    """

    preset: str = _option(NO_PRESET, _choice((NO_PRESET, *PRESETS)))
    mode: str = _option("open", _choice(MODES))
    clients: int = _option(8, _integer(1, MAX_CLIENTS))
    read_rate: float = _option(9000.0, _rate())
    write_rate: float = _option(1000.0, _rate())
    read_fraction: float = _option(0.9, _real(0.0, 1.0))
    think_time: Distribution = _option(Constant(0.0), _delay())
    keys: int = _option(1000, _integer(1, MAX_KEYS, " (larger key spaces would not fit in "
                                                    "memory)"))
    key_distribution: str = _option("zipf", _choice(KEY_DISTRIBUTIONS))
    zipf_s: float = _option(0.99, _real(0.0, MAX_ZIPF_S, ZIPF_ALLOWED))
    value_size: int = _option(100, _integer(0, MAX_VALUE_SIZE, " (bytes: Redis's largest "
                                                               "string, 512 MiB)"))
    # Redis's own TTL on the store (SET ... EX key_ttl), 0 = none; ttl_share of writes carry it.
    key_ttl: float = _option(0.0, _duration())
    ttl_share: float = _option(1.0, _real(0.0, 1.0))


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
    hz: int = _option(10, _integer(1, 500, " (Redis's range)"))  # active expire cycles per s


@dataclass(frozen=True)
class ReplicationConfig:
    """[replication]: ``mode`` (``leader``: one master and asynchronous replicas; ``quorum``:
    ``replicas`` leaderless peers read and written by partial quorums, see [quorum]),
    number of replicas, one-way stream ``delay`` (seconds), read routing,
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

    mode: str = _option("leader", _choice(REPLICATION_MODES))
    replicas: int = _option(2, _integer(0, MAX_REPLICAS))
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
    # How a replica treats a key whose TTL has passed: "clock" (Redis 3.2+: missing by its own
    # clock) or "master_del" (older: served until the master's DEL arrives).
    replica_expiry: str = _option("clock", _choice(REPLICA_EXPIRY))


@dataclass(frozen=True)
class CacheConfig:
    """[cache]: cache-aside layer; ``ttl`` and one-way ``latency`` in seconds,
    ``capacity`` in keys (0 = unbounded). ``fill_from = "origin"`` recomputes misses at the
    [origin]; ``stampede`` then picks the cure for many readers missing one key at once
    (``lease_interval``: at most one lease per key in it; ``lease_wait``: a lease loser's
    wait before it asks again; ``xfetch_beta``: XFetch's eagerness). ``ttl_jitter``
    (seconds) draws each set's TTL uniformly in ttl +- jitter."""

    enabled: bool = _option(True, _flag())
    ttl: float = _option(1.0, _duration())
    capacity: int = _option(0, _integer(0))
    latency: Distribution = _option(Constant(100e-6), _delay())
    fill_from: str = _option("read_policy", _choice(FILL_FROM))
    on_write: str = _option("none", _choice(ON_WRITE))
    invalidation_delay: Distribution = _option(Constant(0.0), _delay())
    # With fill_from = "origin" (docs/design.md section 9): what a miss of a key others are
    # already recomputing does, and the settings of the policies that need them (seconds).
    stampede: str = _option("none", _choice(STAMPEDE))
    lease_interval: float = _option(10.0, _duration(positive=True))
    lease_wait: float = _option(0.01, _duration(positive=True))
    xfetch_beta: float = _option(1.0, _positive_real())
    ttl_jitter: float = _option(0.0, _duration())


@dataclass(frozen=True)
class OriginConfig:
    """[origin]: the database behind the cache (``cache.fill_from = "origin"``): ``servers``
    parallel workers in front of one FIFO queue (``run.max_queue`` bounds it), each recompute
    taking ``recompute_time`` (seconds, a distribution)."""

    servers: int = _option(1, _integer(1, MAX_ORIGIN_SERVERS))
    recompute_time: Distribution = _option(Constant(0.1), _delay())


@dataclass(frozen=True)
class ClientCacheConfig:
    """[client_cache]: a local cache in every client kept by the servers' invalidation
    messages, as Redis's CLIENT TRACKING does (docs/design.md section 10). ``mode``: Redis's
    tracking mode; ``capacity`` in keys per client (LRU; 0 = unbounded); ``max_ttl`` in
    seconds (0 = entries never expire); ``placeholder``: a read in progress leaves a marker
    an invalidation removes, and only a reply that finds its marker fills; ``connection``:
    invalidations come on the data connection (``same``, RESP3 pushes) or on a second one
    with its own FIFO link (``redirect``); ``tracking_table_max_keys`` per server (0 = no
    bound); ``optin_share``: the share of reads sent with ``CLIENT CACHING yes`` in optin
    mode."""

    enabled: bool = _option(False, _flag())
    mode: str = _option("default", _choice(TRACKING_MODES))
    capacity: int = _option(10000, _integer(0))
    max_ttl: float = _option(0.0, _duration())
    placeholder: bool = _option(True, _flag())
    connection: str = _option("same", _choice(TRACKING_CONNECTIONS))
    tracking_table_max_keys: int = _option(1_000_000, _integer(0))
    optin_share: float = _option(1.0, _real(0.0, 1.0))


@dataclass(frozen=True)
class QuorumConfig:
    """[quorum]: leaderless partial quorums (``replication.mode = "quorum"``), as in Dynamo
    and the WARS model of PBS (Bailis et al., VLDB 2012). N = ``replication.replicas`` peers;
    a write waits for ``write`` (W) acknowledgements, a read for ``read`` (R) responses. The
    four one-way delays (seconds) are distributions; ``"network"`` means
    ``network.client_latency``: ``write_delay`` coordinator -> peer (then the peer applies
    it), ``ack_delay`` peer -> coordinator, ``read_delay`` coordinator -> peer,
    ``response_delay`` peer -> coordinator. ``read_repair`` sends the newest version a read
    saw to the peers that answered it with an older one. ``remote_delay`` (seconds, one way)
    places the peers in N datacenters: client c sits in peer c mod N's, and every message
    between a client and a peer of another datacenter takes that much longer (the WAN setting
    of PBS). ``link_order``: ``"fifo"`` (each (client, peer, kind) link is one TCP-like
    stream: a message is not delivered before an earlier one) or ``"independent"`` (each
    message its own delay, as the WARS model assumes: no head-of-line blocking)."""

    read: int = _option(1, _integer(1))
    write: int = _option(1, _integer(1))
    write_delay: Distribution | str = _option(NETWORK_DELAY, _delay_or_network())
    ack_delay: Distribution | str = _option(NETWORK_DELAY, _delay_or_network())
    read_delay: Distribution | str = _option(NETWORK_DELAY, _delay_or_network())
    response_delay: Distribution | str = _option(NETWORK_DELAY, _delay_or_network())
    read_repair: bool = _option(False, _flag())
    remote_delay: float = _option(0.0, _duration())
    link_order: str = _option("fifo", _choice(LINK_ORDERS))

    def delay(self, name: str, network: Distribution) -> Distribution:
        """The distribution of ``<name>_delay``, with ``"network"`` resolved."""
        value = getattr(self, f"{name}_delay")
        return network if value == NETWORK_DELAY else value


@dataclass(frozen=True)
class MetricsConfig:
    """[metrics]: optional measures. ``visibility_probes`` adds probe reads after a sampled
    ``visibility_share`` of commits, started at ``visibility_points`` offsets evenly spaced
    from 0 to ``visibility_horizon`` (seconds, or ``"auto"``: derived from the delays of the
    write path) and counted only in the summary's ``visibility`` object."""

    visibility_probes: bool = _option(False, _flag())
    visibility_horizon: float | str = _option("auto", _duration_or_auto())
    visibility_points: int = _option(41, _integer(2, MAX_VISIBILITY_POINTS, " (probes per "
                                                                            "sampled commit)"))
    visibility_share: float = _option(0.1, _real(0.0, 1.0))


@dataclass(frozen=True)
class ClocksConfig:
    """[clocks]: each node's clock, read by every expiry decision it makes. ``offsets``
    (seconds, one per node, master first: that node's clock minus true time at time 0) and
    ``drift_ppm`` (parts per million its clock gains, one per node); an empty list means 0
    for every node. A node's clock reads ``offset + t (1 + drift_ppm 1e-6)`` at true time t."""

    offsets: tuple[float, ...] = _option((), clock_list_option("offsets"))
    drift_ppm: tuple[float, ...] = _option((), clock_list_option("drift_ppm"))

    def clock(self, node: int) -> tuple[float, float]:
        """(offset s, drift as a fraction) of node ``node`` (0 the master, 1 + j replica j)."""
        offset = self.offsets[node] if self.offsets else 0.0
        drift = self.drift_ppm[node] * 1e-6 if self.drift_ppm else 0.0
        return offset, drift


@dataclass(frozen=True)
class PipelineConfig:
    """[pipeline]: commands per message and, in open mode, how long (seconds) a partial
    batch may wait for more commands."""

    batch_size: int = _option(1, _integer(1, MAX_BATCH, " (commands per message, each "
                                                        "held in memory)"))
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
    With ``cluster.shards`` > 1 the faults strike ``shard``'s group and its failover follows
    Redis Cluster's timeline instead (:mod:`sim.model.faults.redis_cluster`).
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
    shard: int = _option(0, _integer(0))

    @property
    def sentinel(self) -> bool:
        """True when the failover follows Sentinel's timeline (no ``failover_timeout``)."""
        return self.failover_timeout == "sentinel"

    @property
    def active(self) -> bool:
        """True when any fault is scheduled (the engine then builds fault-aware nodes)."""
        return bool(self.master_crash_at or self.replica_disconnects or self.partitions)

    def strikes_before(self, horizon_s: float) -> bool:
        """True when a fault is scheduled before ``horizon_s`` (s): one at or after the end of
        a run never happens, and the run is built as if there were none."""
        starts = [*self.master_crash_at, *(d.start for d in self.replica_disconnects),
                  *(p.start for p in self.partitions)]
        return any(t < horizon_s for t in starts)


@dataclass(frozen=True)
class ClusterConfig:
    """[cluster]: Redis Cluster. ``shards`` master-and-replicas groups share the 16,384 hash
    slots (1 = no cluster: one group, today's model); ``node_timeout`` (s) is
    cluster-node-timeout, ``replica_validity_factor`` cluster-replica-validity-factor (0 =
    any replica may fail over), ``require_full_coverage`` cluster-require-full-coverage."""

    shards: int = _option(1, _integer(1, SLOTS, " (Redis Cluster has 16,384 slots)"))
    node_timeout: float = _option(15.0, _duration(positive=True))
    replica_validity_factor: int = _option(10, _integer(0))
    require_full_coverage: bool = _option(True, _flag())


_SECTIONS: dict[str, type] = {
    "run": RunConfig,
    "workload": WorkloadConfig,
    "network": NetworkConfig,
    "server": ServerConfig,
    "replication": ReplicationConfig,
    "cache": CacheConfig,
    "client_cache": ClientCacheConfig,
    "pipeline": PipelineConfig,
    "faults": FaultsConfig,
    "quorum": QuorumConfig,
    "metrics": MetricsConfig,
    "origin": OriginConfig,
    "clocks": ClocksConfig,
    "cluster": ClusterConfig,
}


def duration_keys() -> list[str]:
    """The dotted keys whose value is a duration or a delay distribution (seconds)."""
    return [f"{name}.{f.name}" for name, cls in _SECTIONS.items() for f in fields(cls)
            if getattr(f.metadata["parse"], "duration", False)]


def _keys_text(cls: type) -> str:
    names = [f.name for f in fields(cls)]
    return ", ".join(names) if names else "(none yet)"


def _parse_section(name: str, table: Any, base_dir: Path | None) -> dict[str, Any]:
    """One section's typed values from its table; unknown keys and bad values raise."""
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
    return values


def _parse_tables(data: Any, base_dir: Path | None) -> dict[str, dict[str, Any]]:
    """``{section: {key: typed value}}`` from settings nested or dotted (see
    :func:`nested_settings`); nothing is checked across keys yet."""
    data = nested_settings(data)
    typed: dict[str, dict[str, Any]] = {}
    for name, table in data.items():
        if name not in _SECTIONS:
            raise ConfigError(
                "section", name, "unknown section; allowed sections: " + ", ".join(_SECTIONS))
        typed[name] = _parse_section(name, table, base_dir)
    return typed


def _assemble(typed: Mapping[str, Mapping[str, Any]]) -> Config:
    """The Config of typed values, missing keys at their defaults (or the preset's), checked
    across keys: the one place the cross-field rules run on input."""
    workload = typed.get("workload", {})
    if workload.get("preset", NO_PRESET) != NO_PRESET:
        given = {f"workload.{key}" for key in workload}
        typed = {**typed, "workload": {**{
            dotted.partition(".")[2]: value
            for dotted, value in _preset_typed(workload["preset"], given).items()}, **workload}}
    config = Config(**{name: _SECTIONS[name](**values) for name, values in typed.items()})
    _check_rules(config)
    return config


def _preset_typed(name: str, given: Iterable[str]) -> dict[str, Any]:
    """The typed ``{"workload.key": value}`` preset ``name`` sets, less the keys ``given``."""
    given = set(given)
    return {dotted: parse_value(dotted, value) for dotted, value in preset_values(name).items()
            if dotted not in given}


_NESTED_OR_DOTTED = ("settings either nested, {section: {key: value}}, or dotted, "
                     "{'section.key': value}, not both in one table")


def nested_settings(data: Any) -> dict[str, Any]:
    """``{section: {key: value}}`` from settings given nested (a TOML file's shape) or
    dotted (``{"run.seed": 2}``, the shape of ``--set``, ``with_overrides`` and ``vary``);
    a mix of both is refused, since which of two spellings of one key wins would be a guess."""
    if not isinstance(data, Mapping):
        raise ConfigError("config", data, "a table of sections: " + ", ".join(_SECTIONS))
    dotted = [key for key in data if isinstance(key, str) and "." in key]
    if not dotted:
        return dict(data)
    plain = [key for key in data if key not in dotted]
    if plain:
        raise ConfigError("config", f"{plain[0]!s} and {dotted[0]}", _NESTED_OR_DOTTED)
    nested: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        section, _, name = key.partition(".")
        nested.setdefault(section, {})[name] = value
    return nested


def flat_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"section.key": value}`` from settings given dotted or nested (the inverse shape of
    :func:`nested_settings`, with the same refusal of a mix)."""
    if not isinstance(data, Mapping):
        raise ConfigError("settings", data, "a table of settings, e.g. {'run.seed': 2}")
    if all(isinstance(key, str) and "." in key for key in data):
        return dict(data)
    flat: dict[str, Any] = {}
    for section, table in nested_settings(data).items():
        if not isinstance(table, Mapping):
            raise ConfigError(str(section), table, "a table of keys, or dotted keys "
                              "{'section.key': value}")
        flat.update({f"{section}.{key}": value for key, value in table.items()})
    return flat


def _check_rules(config: Config) -> None:
    """Cross-field rules, each with its own message; raises the first that fails."""
    run, workload, rep, cache = config.run, config.workload, config.replication, config.cache
    if run.warmup >= run.duration:
        raise ConfigError(
            "run.warmup", format_duration(run.warmup),
            f"must be less than run.duration ({format_duration(run.duration)})",
        )
    if run.max_duration and run.max_duration < run.duration:
        raise ConfigError(
            "run.max_duration", format_duration(run.max_duration),
            f"must be at least run.duration ({format_duration(run.duration)}), or 0 for ten "
            f"times it",
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
        if rep.mode == "quorum":
            # The coordinator is in the client: the peers' trips count, and a batch of only
            # reads (or only writes) takes just one kind of trip.
            q = config.quorum
            trips = [[q.delay("read", net.client_latency), q.delay("response", net.client_latency)],
                     [q.delay("write", net.client_latency), q.delay("ack", net.client_latency)]]
        else:
            trips = [[net.client_latency]]
        store_instant = (any(all(d.is_zero for d in trip) for trip in trips)
                         and srv.batch_overhead.is_zero and srv.service_time.is_zero)
        cache_instant = cache.enabled and cache.latency.is_zero
        if store_instant or cache_instant:
            # Every reply would come back at the instant its batch left, so the clients
            # would loop for ever without simulated time advancing.
            raise ConfigError(
                "workload.think_time", str(workload.think_time),
                "closed mode needs some time per round trip: a non-zero think_time, or a "
                "non-zero network.client_latency (quorum delays in quorum mode)/server time"
                + (" and cache.latency" if cache.enabled else ""),
            )
    if workload.mode == "closed":
        _check_round_trip_rate(config)
        if workload.clients * config.pipeline.batch_size > MAX_IN_FLIGHT:
            raise ConfigError(
                "pipeline.batch_size", config.pipeline.batch_size,
                f"closed mode: workload.clients x batch_size commands are in flight at once "
                f"({workload.clients:,} x {config.pipeline.batch_size:,}), at most "
                f"{MAX_IN_FLIGHT:,} (each is held in memory)")
    if workload.key_distribution == "scrambled_zipf" and workload.zipf_s >= 1:
        raise ConfigError("workload.zipf_s", workload.zipf_s,
                          "with workload.key_distribution = 'scrambled_zipf', a number >= 0 "
                          "and < 1 (YCSB draws it by Gray's method, which needs s < 1)")
    if cache.enabled and rep.replicas == 0 and cache.fill_from == "replicas":
        raise ConfigError(
            "cache.fill_from", cache.fill_from,
            "needs replication.replicas >= 1 (it is 0); use 'read_policy' or 'master'",
        )
    _check_origin_rules(config)
    if rep.mode == "quorum":
        _check_quorum_rules(config)
    if config.metrics.visibility_probes and config.faults.active:
        raise ConfigError("metrics.visibility_probes", True,
                          "probes are not modelled with faults yet; remove the [faults] "
                          "settings or set it to false")
    if config.client_cache.enabled:
        _check_client_cache_rules(config)
    check_fault_rules(config)
    check_expiry_rules(config)
    check_cluster_rules(config)
    check_offered_load(config)


def _check_round_trip_rate(config: Config) -> None:
    """Refuse a closed loop whose clients would make more than MAX_RATE round trips per
    simulated second: its simulated time would crawl (a think time of 1e-300 s and instant
    delays would never reach the horizon). The round trip is bounded below by the means of
    the think time and of the fastest path a batch can take (a cache hit, or the store)."""
    wl, net, srv, cache = config.workload, config.network, config.server, config.cache
    server = srv.batch_overhead.mean + srv.service_time.mean
    if config.replication.mode == "quorum":
        q = config.quorum
        store = server + min(q.delay("read", net.client_latency).mean
                             + q.delay("response", net.client_latency).mean,
                             q.delay("write", net.client_latency).mean
                             + q.delay("ack", net.client_latency).mean)
    else:
        store = server + 2 * net.client_latency.mean
    fastest = min(store, 2 * cache.latency.mean) if cache.enabled else store
    trip = wl.think_time.mean + fastest
    if trip > 0 and wl.clients / trip > MAX_RATE:
        raise ConfigError(
            "workload.think_time", str(wl.think_time),
            f"closed mode: {wl.clients} clients whose round trip takes {trip:.3g} s on "
            f"average would make {wl.clients / trip:.3g} round trips per simulated second, "
            f"more than {MAX_RATE:g}; raise workload.think_time, network.client_latency, "
            "cache.latency or the server.* times")


def _check_client_cache_rules(config: Config) -> None:
    """What the client-side cache is not modelled with yet, refused in one line each."""
    if config.replication.mode == "quorum":
        raise ConfigError("client_cache.enabled", True,
                          "is modelled in leader mode only; set replication.mode = 'leader'")
    if config.workload.mode == "closed":
        raise ConfigError("client_cache.enabled", True,
                          "is modelled with the open loop only; set workload.mode = 'open'")
    if config.faults.active:
        raise ConfigError("client_cache.enabled", True,
                          "is not modelled with faults yet; remove the [faults] settings")
    if config.workload.key_ttl > 0:
        raise ConfigError("client_cache.enabled", True,
                          "is not modelled with TTLs on the store yet; set "
                          "workload.key_ttl = 0s")
    if config.cache.fill_from == "origin":
        raise ConfigError("client_cache.enabled", True,
                          "is not modelled with an origin behind the cache yet; set "
                          "cache.fill_from to read_policy, master or replicas")
    if config.metrics.visibility_probes:
        raise ConfigError("client_cache.enabled", True,
                          "is not modelled with visibility probes yet; set "
                          "metrics.visibility_probes = false")


def parse_value(dotted: str, value: Any, base_dir: Path | None = None) -> Any:
    """One key's value parsed into its type (``"5ms"`` -> 0.005), without the cross-field
    rules; ConfigError for an unknown key or a bad value."""
    section, _, key = str(dotted).partition(".")
    if section not in _SECTIONS:
        raise ConfigError(
            "section", section, "unknown section; allowed sections: " + ", ".join(_SECTIONS))
    cls = _SECTIONS[section]
    spec = next((f for f in fields(cls) if f.name == key), None)
    if spec is None:
        raise ConfigError(dotted, value, f"unknown key; [{section}] allows: {_keys_text(cls)}")
    return spec.metadata["parse"](value, dotted, base_dir)


def _check_origin_rules(config: Config) -> None:
    cache = config.cache
    if cache.ttl_jitter > cache.ttl:
        raise ConfigError("cache.ttl_jitter", format_duration(cache.ttl_jitter),
                          f"must be at most cache.ttl ({format_duration(cache.ttl)}): a TTL "
                          "cannot be negative")
    if cache.fill_from != "origin":
        if cache.stampede != "none":
            raise ConfigError("cache.stampede", cache.stampede,
                              "needs cache.fill_from = 'origin' (the cures act on recomputes "
                              "at the origin); use 'none' or set cache.fill_from")
        return
    if not cache.enabled:
        raise ConfigError("cache.fill_from", cache.fill_from,
                          "needs cache.enabled = true (only a cache miss recomputes)")
    if config.replication.mode == "quorum":
        raise ConfigError("cache.fill_from", cache.fill_from,
                          "the origin is not modelled in quorum mode yet; use "
                          "replication.mode = 'leader' or another fill_from")
    if config.metrics.visibility_probes:
        raise ConfigError("metrics.visibility_probes", True,
                          "probes are not modelled with cache.fill_from = 'origin' yet; set "
                          "it to false or use another fill_from")


def _check_quorum_rules(config: Config) -> None:
    rep, quorum = config.replication, config.quorum
    if rep.replicas < 1:
        raise ConfigError("replication.replicas", rep.replicas,
                          "quorum mode needs at least 1 peer (replication.replicas >= 1)")
    for name, value in (("quorum.read", quorum.read), ("quorum.write", quorum.write)):
        if value > rep.replicas:
            raise ConfigError(name, value, f"must be between 1 and replication.replicas "
                              f"({rep.replicas}) in quorum mode")
    if rep.wait_replicas:
        raise ConfigError("replication.wait_replicas", rep.wait_replicas,
                          "must be 0 in quorum mode; a write waits for quorum.write acks")
    if config.faults.active:
        raise ConfigError("replication.mode", rep.mode,
                          "faults are not modelled in quorum mode yet; remove the [faults] "
                          "settings or use replication.mode = 'leader'")


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
    except ValueError:  # TOMLDecodeError, or an integer too long to convert (4300+ digits)
        return text
    # "1\nother = 2" would parse as two keys: that is not one value.
    if list(parsed) != ["value"]:
        return text
    value = parsed["value"]
    # TOML's other number forms (0x10, 1_000, inf, nan) and overflows (1e309) stay text, which
    # the number rules of sim.config.numeric then refuse, echoing what was typed.
    if isinstance(value, int | float) and not isinstance(value, bool) and not (
            is_decimal_text(text) and math.isfinite(value)):
        return text
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """``"section.key=value"`` -> ``("section.key", typed value)``; ConfigError if malformed."""
    if not isinstance(text, str):
        raise ConfigError("override", text, _OVERRIDE_ALLOWED)
    dotted, sep, raw = text.partition("=")
    dotted = dotted.strip()
    if not sep or not _DOTTED_RE.fullmatch(dotted):
        raise ConfigError("override", text, _OVERRIDE_ALLOWED)
    return dotted, parse_override_value(raw)


def _read_toml(path: Path) -> dict[str, Any]:
    """The tables of a TOML file, read as UTF-8 with or without a byte-order mark (editors on
    Windows write one; TOML itself does not allow it)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config file", str(path), f"invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("config file", str(path), f"not UTF-8 text: {exc.reason}") from None
    except ValueError as exc:  # an integer too long to convert (4300+ digits)
        reason = str(exc).split(";")[0]
        raise ConfigError("config file", str(path), f"holds a number too long to read "
                          f"({echo(reason, 120)[1:-1]})") from None
    except OSError as exc:
        raise ConfigError("config file", str(path), f"cannot read: {exc.strerror or exc}") from None


def _override_pairs(overrides: Mapping[str, Any] | Iterable[str]) -> list[tuple[str, Any]]:
    if isinstance(overrides, Mapping):
        pairs = list(flat_settings(overrides).items())
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
    client_cache: ClientCacheConfig = field(default_factory=ClientCacheConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    quorum: QuorumConfig = field(default_factory=QuorumConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    origin: OriginConfig = field(default_factory=OriginConfig)
    clocks: ClocksConfig = field(default_factory=ClocksConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    @classmethod
    def default(cls) -> Config:
        """Every key at its default."""
        return cls()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: Path | None = None) -> Config:
        """Parse and validate ``{section: {key: value}}`` (or the same settings as dotted
        keys, ``{"section.key": value}``); missing keys take defaults.

        ``empirical:`` files are found relative to ``base_dir`` (else the current
        directory). Raises the first problem as a ``ConfigError``.
        """
        return _assemble(_parse_tables(data, base_dir))

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a TOML file; ``empirical:`` paths are relative to the file's folder."""
        return cls.load(path)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        overrides: Mapping[str, Any] | Iterable[str] = (),
    ) -> Config:
        """The file at ``path`` (defaults when None) with ``overrides`` applied, validated
        once with them: a file that is valid only with its overrides is valid.

        The file's ``empirical:`` paths are relative to its folder, the overrides' to the
        current directory."""
        typed = {} if path is None else _parse_tables(_read_toml(Path(path)), Path(path).parent)
        for dotted, value in _override_pairs(overrides):
            section, _, key = dotted.partition(".")
            typed.setdefault(section, {})[key] = parse_value(dotted, value)
        return _assemble(typed)

    def with_overrides(
        self,
        overrides: Mapping[str, Any] | Iterable[str],
        base_dir: Path | None = None,
    ) -> Config:
        """A new validated config with some keys replaced.

        ``overrides`` is ``{"section.key": value}`` or ``{section: {key: value}}`` (values
        used as given), or strings ``"section.key=value"`` (values parsed by
        ``parse_override_value``); later entries win. Relative ``empirical:`` paths are
        taken against ``base_dir``.
        """
        pairs = _override_pairs(overrides)
        if not pairs:
            return self
        return self.with_values({dotted: parse_value(dotted, value, base_dir)
                                 for dotted, value in pairs})

    def with_values(self, parsed: Mapping[str, Any], check: bool = True) -> Config:
        """A new config with ``{"section.key": value}`` replaced, the values already typed
        by :func:`parse_value`; the cross-field rules are applied unless ``check`` is False
        (for keys, such as ``run.seed``, that no rule reads). Much cheaper than
        :meth:`with_overrides` for the thousands of points of a sweep."""
        if parsed.get("workload.preset", NO_PRESET) != NO_PRESET:
            parsed = {**_preset_typed(parsed["workload.preset"], parsed), **parsed}
        changes: dict[str, dict[str, Any]] = {}
        for dotted, value in parsed.items():
            section, _, key = dotted.partition(".")
            changes.setdefault(section, {})[key] = value
        config = dataclasses.replace(self, **{
            name: dataclasses.replace(getattr(self, name), **values)
            for name, values in changes.items()})
        if check:
            _check_rules(config)
        return config

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

    def to_toml(self) -> str:
        """The whole configuration as TOML, every key present (defaults filled in): what
        ``Config.load`` reads back into an equal Config. Durations are in seconds."""
        import tomli_w  # late: only writers of configs need it

        return tomli_w.dumps(self.to_dict())

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
