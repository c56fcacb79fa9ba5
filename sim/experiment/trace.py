"""Record every model event of a few keys in a short window: the data of the space-time view.

``sim.experiment.trace(config, keys=[0], window=(t0_s, t1_s))`` runs the experiment up to ``t1_s`` with
the engine's trace hook, keeps the events of ``keys`` whose time falls inside the window, and
returns a :class:`Trace`. ``Trace.plot()`` draws the space-time diagram (:mod:`sim.plot.trace`).

The window is bounded: before running, the number of events is estimated from the rates and
key popularity, and a window expected to hold more than ``max_events`` is refused with a
``ConfigError``; while running, recording stops at ``max_events`` (``Trace.truncated``).

Times are simulated seconds throughout. The engine's events (kind, node, fields):

- ``issue``   at a client: ``key``, ``write``;
- ``commit``  at the master: ``key``, ``version``;
- ``apply``   at a replica: ``key``, ``version``, ``offset``, ``arrived`` (the event's time is
  the apply completion; it is emitted when the write arrives, so events are sorted here);
- ``read``    at a client on receipt: ``version``, ``newest`` (V(k, issue)), ``issued``,
  ``server``, ``path`` (0 direct, 1 cache hit, 2 cache miss), ``ryw_floor``, ``mono_floor``;
- ``written`` at a client on receipt of a write reply: ``version``, ``issued``, ``server``;
- ``fill``, ``update``, ``invalidate``, ``expire`` at the cache: ``version`` (``expires``);
- with ``[client_cache]``: ``local_fill`` at a client (``version``: its own cache keeps the
  value a reply brought), ``invalidation`` at a client on the message's arrival (``sent``,
  ``server``: when and where it left; emitted when sent), ``tracked`` at the server that
  took in a tracked read (``client``: from then on it owes that client an invalidation).
  A local hit is a ``read`` with ``path`` 4 and ``server`` the client itself. LRU
  evictions and ``max_ttl`` expiries of local entries are not traced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.config.schema import Config
from sim.errors import ConfigError

__all__ = ["MAX_EVENTS", "Event", "StaleWindow", "Trace", "estimate_events", "trace"]

MAX_EVENTS = 5000  # default bound on the events one trace records (a readable picture has far fewer)
COMMITS_KEPT = 256  # commit times remembered per key, to draw arrows that start before t0

READ_PATHS = {0: "direct", 1: "cache hit", 2: "cache miss", 4: "local hit"}


@dataclass(frozen=True)
class Event:
    """One model event: ``kind`` at ``time_s`` (simulated seconds) on ``node`` for ``key``;
    the other fields of the hook call are in ``fields``."""

    kind: str
    time_s: float
    node: str
    key: int
    fields: dict[str, Any] = field(default_factory=dict, compare=False)

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


@dataclass(frozen=True)
class StaleWindow:
    """An interval [start_s, end_s] during which ``node`` held an older version of ``key``
    than the master had committed (a replica, or the cache holding a live entry)."""

    node: str
    key: int
    start_s: float
    end_s: float


def _key_shares(config: Config) -> list[float]:
    """Probability that one operation picks each key, as the workload's key distribution
    (``latest`` in the long run: its skew follows the inserts round the key space)."""
    wl = config.workload
    if wl.key_distribution == "scrambled_zipf":
        from sim.model.ycsb import scrambled_zipf_shares

        return [float(p) for p in scrambled_zipf_shares(wl.keys, wl.zipf_s)]
    if wl.key_distribution == "zipf":
        from sim.analysis.analytic import zipf_weights

        return [float(p) for p in zipf_weights(wl.keys, wl.zipf_s)]
    return [1.0 / wl.keys] * wl.keys


def _op_rates(config: Config) -> tuple[float, float]:
    """(reads/s, writes/s) of all clients together; for a closed loop the no-queueing bound
    of :func:`sim.analysis.analytic.closed_loop_throughput` (inf when a cycle takes no time)."""
    wl = config.workload
    if wl.mode == "open":
        return wl.read_rate, wl.write_rate
    from sim.analysis.analytic import closed_loop_throughput

    latency = config.network.client_latency.mean
    if config.cache.enabled:
        latency = min(latency, config.cache.latency.mean)
    per_client = closed_loop_throughput(
        config.pipeline.batch_size, latency, config.server.batch_overhead.mean,
        config.server.service_time.mean, think_s=wl.think_time.mean)
    total = wl.clients * per_client
    return total * wl.read_fraction, total * (1.0 - wl.read_fraction)


def estimate_events(config: Config, keys: Iterable[int], window: tuple[float, float]) -> float:
    """Expected number of events of ``keys`` in ``window`` (seconds), from the rates.

    A read makes 2 events (issue, read) plus, on a cache miss, a fill and later an expiry;
    a write makes 3 (issue, commit, written), one apply per replica and, with ``on_write``,
    one cache update or invalidation. Cache misses use the TTL hit ratio of each key
    (:func:`sim.analysis.analytic.ttl_hit_ratio`). A closed loop without any delay gives inf.
    """
    from sim.analysis.analytic import ttl_hit_ratio

    reads_s, writes_s = _op_rates(config)
    span = window[1] - window[0]
    cache = config.cache
    per_write = 3 + config.replication.replicas + (cache.enabled and cache.on_write != "none")
    shares = _key_shares(config)
    total = 0.0
    for key in set(keys):
        r, w = reads_s * shares[key], writes_s * shares[key]
        per_read = 2.0
        if cache.enabled:
            per_read += 2.0 * (1.0 - ttl_hit_ratio(r, cache.ttl)) if math.isfinite(r) else 0.0
        total += (r * per_read + w * per_write) * span
    return total


def _check_request(config: Config, keys: Sequence[int], window: Sequence[float],
                   max_events: int) -> tuple[list[int], float, float]:
    """Validate the arguments of :func:`trace`; return (keys, t0_s, t1_s)."""
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
        raise ConfigError("max_events", max_events, "an integer >= 1")
    if config.replication.mode != "leader":
        # The diagram's rows are the master and its replicas; peers do not trace yet.
        raise ConfigError("replication.mode", config.replication.mode,
                          "the trace view draws leader mode only (not yet quorum mode)")
    if config.cluster.shards > 1:  # its rows are one group's nodes
        raise ConfigError("cluster.shards", config.cluster.shards,
                          "the trace view draws one master-and-replicas group: 1")
    n_keys = config.workload.keys
    if isinstance(keys, int | str):
        keys = [keys]
    keys = list(keys)
    if not keys:
        raise ConfigError("keys", keys, f"at least one key in 0..{n_keys - 1}")
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < n_keys:
            raise ConfigError("keys", key, f"a key in 0..{n_keys - 1} (workload.keys = {n_keys})")
    try:
        t0, t1 = (float(t) for t in window)
    except (TypeError, ValueError):
        raise ConfigError("window", window, "two times in seconds (t0, t1)") from None
    duration = config.run.duration
    if not (0.0 <= t0 < t1 <= duration):
        raise ConfigError("window", (t0, t1),
                          f"0 <= t0 < t1 <= run.duration = {duration:g} s (times in seconds)")
    return list(dict.fromkeys(keys)), t0, t1


class _Recorder:
    """The trace hook: keeps window events of the chosen keys, and the state at t0."""

    def __init__(self, keys: Iterable[int], t0: float, t1: float, max_events: int) -> None:
        self.keys = frozenset(keys)
        self.t0, self.t1 = t0, t1
        self.max_events = max_events
        self.events: list[Event] = []
        self.truncated = False
        self.commits: dict[int, dict[int, float]] = {k: {} for k in self.keys}
        # State at t0, so stale windows and cache entries open before the window are drawn.
        self.master_at_t0: dict[int, int] = dict.fromkeys(self.keys, 0)
        self.held_at_t0: dict[tuple[str, int], int] = {}  # (replica, key) -> applied version
        self.cache_at_t0: dict[int, tuple[int, float]] = {}  # key -> (version, expires_s)
        # (client, key) -> (time_s, version or None) of the last fill or invalidation;
        # by time, since an invalidation is reported when sent, before it arrives.
        self.local_at_t0: dict[tuple[str, int], tuple[float, int | None]] = {}

    def __call__(self, kind: str, time_s: float, **fields: Any) -> None:
        key = fields.get("key")
        if key not in self.keys:
            return
        if kind == "commit":
            commits = self.commits[key]
            commits[fields["version"]] = time_s
            if len(commits) > COMMITS_KEPT:
                del commits[next(iter(commits))]
        if time_s < self.t0:
            self._before(kind, time_s, key, fields)
        elif time_s <= self.t1 or (kind == "apply" and fields["arrived"] <= self.t1):
            if len(self.events) >= self.max_events:
                self.truncated = True
                return
            node = fields.pop("node")
            del fields["key"]
            self.events.append(Event(kind, time_s, node, key, fields))

    def _before(self, kind: str, time_s: float, key: int, fields: dict[str, Any]) -> None:
        version = fields.get("version")
        if kind == "commit":
            self.master_at_t0[key] = version
        elif kind == "apply":
            slot = (fields["node"], key)
            self.held_at_t0[slot] = max(self.held_at_t0.get(slot, 0), version)
        elif kind in ("fill", "update"):
            self.cache_at_t0[key] = (version, fields["expires"])
        elif kind == "invalidate":
            self.cache_at_t0.pop(key, None)
        elif kind in ("local_fill", "invalidation"):
            slot = (fields["node"], key)
            if time_s >= self.local_at_t0.get(slot, (-math.inf, None))[0]:
                self.local_at_t0[slot] = (time_s, version if kind == "local_fill" else None)


class Trace:
    """The events of ``keys`` in ``window`` (seconds) of one run, sorted by time.

    ``events``: list of :class:`Event`; ``nodes``: the node lines of the diagram, top to
    bottom (clients that touched the keys, cache, master, replicas); ``truncated``: True when
    recording stopped at ``max_events``.
    """

    def __init__(self, config: Config, keys: list[int], window: tuple[float, float],
                 recorder: _Recorder) -> None:
        self.config = config
        self.keys = keys
        self.window = window
        self.events = sorted(recorder.events, key=lambda e: e.time_s)
        self.truncated = recorder.truncated
        self.max_events = recorder.max_events
        self.commit_times = recorder.commits
        self._recorder = recorder
        clients = sorted({e.node for e in self.events if e.node.startswith("client")},
                         key=lambda n: int(n.removeprefix("client")))
        self.replicas = [f"replica{j}" for j in range(config.replication.replicas)]
        self.nodes = clients + (["cache"] if config.cache.enabled else []) + ["master"]
        self.nodes += self.replicas

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        t0, t1 = self.window
        return (f"<Trace keys={self.keys} window=[{t0 * 1e3:g} ms, {t1 * 1e3:g} ms] "
                f"{len(self.events)} events{' (truncated)' if self.truncated else ''}>")

    def of(self, *kinds: str) -> list[Event]:
        """The events of the given kinds, in time order."""
        return [e for e in self.events if e.kind in kinds]

    def commit_time(self, key: int, version: int) -> float | None:
        """When the master committed ``version`` of ``key`` (s), if remembered."""
        return self.commit_times.get(key, {}).get(version)

    def stale_reads(self) -> list[Event]:
        """Reads that returned an older version than the master had when they were issued."""
        return [e for e in self.of("read") if e["version"] < e["newest"]]

    def stale_windows(self) -> list[StaleWindow]:
        """Intervals, clipped to the window, in which a replica or the cache held an older
        version of a key than the master: from a commit to that version's apply at each
        replica (to its replacement, invalidation or expiry in the cache)."""
        t0, t1 = self.window
        out: list[StaleWindow] = []
        for key in self.keys:
            master = [(t0, self._recorder.master_at_t0[key])]
            master += [(e.time_s, e["version"]) for e in self.of("commit") if e.key == key]
            for replica in self.replicas:
                held = [(t0, self._recorder.held_at_t0.get((replica, key), 0))]
                held += [(e.time_s, e["version"]) for e in self.of("apply")
                         if e.key == key and e.node == replica]
                out += _stale_intervals(replica, key, master, held, t1)
            if self.config.cache.enabled:
                out += _stale_intervals("cache", key, master, self.cache_holdings(key), t1)
            if self.config.client_cache.enabled:
                for client in (n for n in self.nodes if n.startswith("client")):
                    out += _stale_intervals(client, key, master,
                                            self.local_holdings(client, key), t1)
        return sorted(out, key=lambda w: (w.start_s, w.node))

    def local_holdings(self, client: str, key: int) -> list[tuple[float, int | None]]:
        """``client``'s own cached version of ``key`` as steps (time_s, version or None),
        from its fills and the invalidations that reached it, starting at t0."""
        steps: list[tuple[float, int | None]] = [
            (self.window[0], self._recorder.local_at_t0.get((client, key), (0.0, None))[1])]
        for e in self.of("local_fill", "invalidation"):
            if e.key == key and e.node == client:
                steps.append((e.time_s, e["version"] if e.kind == "local_fill" else None))
        return steps

    def cache_holdings(self, key: int) -> list[tuple[float, int | None]]:
        """The cache's version of ``key`` as steps (time_s, version or None when absent),
        starting at t0; expiries are placed at each entry's expiry time."""
        t0, t1 = self.window
        steps: list[tuple[float, int | None]] = []
        entry = self._recorder.cache_at_t0.get(key)
        expires = math.inf
        if entry is not None and entry[1] > t0:
            steps.append((t0, entry[0]))
            expires = entry[1]
        else:
            steps.append((t0, None))
        for e in self.events:
            if e.key != key or e.node != "cache" or e.kind == "expire":
                continue
            if expires <= e.time_s:
                steps.append((expires, None))
            if e.kind == "invalidate":
                steps.append((e.time_s, None))
                expires = math.inf
            else:
                steps.append((e.time_s, e["version"]))
                expires = e["expires"]
        if expires <= t1:
            steps.append((expires, None))
        return steps

    def to_frame(self):
        """The events as a pandas DataFrame (one row per event, fields as columns)."""
        import pandas as pd

        return pd.DataFrame([{"kind": e.kind, "time_s": e.time_s, "node": e.node, "key": e.key,
                              **e.fields} for e in self.events])

    def plot(self, **kwargs: Any):
        """The space-time diagram (a matplotlib Figure); see :func:`sim.plot.trace.space_time`."""
        from sim.plot.trace import space_time

        return space_time(self, **kwargs)


def _stale_intervals(node: str, key: int, master: list[tuple[float, int]],
                     held: list[tuple[float, int | None]], end_s: float) -> list[StaleWindow]:
    """Where the step function ``held`` (None = holds nothing) is below ``master``."""
    steps = sorted([(t, 0, v) for t, v in master] + [(t, 1, v) for t, v in held])
    out: list[StaleWindow] = []
    m, h = 0, None
    start = None
    for t, which, v in steps:
        if which == 0:
            m = v
        else:
            h = v
        stale = h is not None and h < m
        if stale and start is None:
            start = t
        elif not stale and start is not None:
            if t > start:
                out.append(StaleWindow(node, key, start, t))
            start = None
    if start is not None and end_s > start:
        out.append(StaleWindow(node, key, start, end_s))
    return out


def trace(config: Config | None = None, keys: Sequence[int] | int = (0,),
          window: Sequence[float] = (0.0, 0.05), max_events: int = MAX_EVENTS) -> Trace:
    """Run ``config`` up to the end of ``window`` (t0_s, t1_s) and record every event of
    ``keys`` inside it.

    Raises ConfigError for keys outside ``0..workload.keys-1``, a window outside
    ``[0, run.duration]``, or a window expected to hold more than ``max_events`` events.
    """
    from sim.engine import simulate  # late: validation needs no simpy

    config = config if config is not None else Config.default()
    keys, t0, t1 = _check_request(config, keys, window, max_events)
    expected = estimate_events(config, keys, (t0, t1))
    if expected > max_events:
        per_s = expected / (t1 - t0)
        hint = (f"at most {max_events / per_s * 1e3:.3g} ms for these keys"
                if math.isfinite(per_s) else "a closed loop with delays, so rates are finite")
        raise ConfigError(
            "window", (t0, t1),
            f"would record about {expected:.0f} events for keys {keys}, more than the limit "
            f"of {max_events}; choose a shorter window ({hint}), a less popular key, or lower "
            f"rates")
    # Events up to t1 do not depend on the horizon: stop the run there, whatever precision
    # target would have made it run on.
    overrides: dict[str, Any] = {"run.duration": t1, "run.target_rel_ci": 0.0,
                                 "run.max_duration": 0.0}
    if config.run.warmup >= t1:
        overrides["run.warmup"] = 0.0
    recorder = _Recorder(keys, t0, t1, max_events)
    simulate(config.with_overrides(overrides), trace=recorder)
    return Trace(config, keys, (t0, t1), recorder)
