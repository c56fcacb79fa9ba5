"""A sharded run: one master-and-replicas group per shard, and the clients' slot maps.

Each application client is a :class:`ShardedClient`: one :class:`~sim.model.client.Client`
per shard (its connection to that shard's nodes and its session state for that shard's
keys; all of them share the client's links, so its messages to the cache stay one FIFO
stream), and the slot map that sends each key to its shard (:mod:`sim.model.slots`). The
part for shard s holds that shard's master as ``master``: that is the slot map's entry for
the shard's slots, which a failover's MOVED reply updates.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.model.lag import LAG_SAMPLES_PER_S


class ShardedClient:
    """Application client ``index``: ``parts[s]`` talks to shard s, ``owner[key]`` is the
    shard of each key. The open loop calls ``read`` and ``write``; the closed loop
    ``issue_batch``, whose commands go out as one batch per shard they touch."""

    __slots__ = ("index", "name", "parts", "owner", "outstanding", "on_batch_done", "waiting")

    def __init__(self, index: int, parts: list, owner: list[int]) -> None:
        self.index = index
        self.name = f"client{index}"
        self.parts = parts
        self.owner = owner
        self.outstanding = 0  # set by the closed loop; the parts keep the real counts
        self.on_batch_done = None
        self.waiting = 0  # parts whose share of the batch is not complete yet

    def set_batch_listener(self, listener) -> None:
        """Closed loop: ``listener(client)`` runs when every part's commands completed."""
        self.on_batch_done = listener
        for part in self.parts:
            part.set_batch_listener(self._part_done)

    def issue_batch(self, reads: list[bool], read_keys: list[int], write_keys: list[int],
                    now: float) -> None:
        """Split the batch by shard, keeping the commands' order within each, and send each
        share as that part's batch (its messages to the shard's nodes, and to the cache)."""
        owner = self.owner
        split: dict[int, tuple[list[bool], list[int], list[int]]] = {}
        r = w = 0
        for is_read in reads:
            if is_read:
                key = read_keys[r]
                r += 1
            else:
                key = write_keys[w]
                w += 1
            shard = owner[key]
            share = split.get(shard)
            if share is None:
                share = split[shard] = ([], [], [])
            share[0].append(is_read)
            share[1 if is_read else 2].append(key)
        self.waiting = len(split)
        for shard, (kinds, shard_reads, shard_writes) in split.items():
            part = self.parts[shard]
            part.outstanding = len(kinds)
            part.issue_batch(kinds, shard_reads, shard_writes, now)

    def _part_done(self, part) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.on_batch_done(self)

    def read(self, key: int, now: float) -> None:
        self.parts[self.owner[key]].read(key, now)

    def write(self, key: int, now: float) -> None:
        self.parts[self.owner[key]].write(key, now)


class LagClock:
    """One sampling event for the lag monitors of every shard, at the monitors' rate from the
    warm-up on (a monitor each would cost an event per shard per sample)."""

    def __init__(self, env, at, monitors: list, warmup_s: float) -> None:
        self.env = env
        self.at = at
        self.monitors = [m for m in monitors if m.replicas]
        self.warmup_s = warmup_s
        self.interval_s = 1.0 / LAG_SAMPLES_PER_S

    def start(self) -> None:
        if self.monitors:
            self.at(self.warmup_s, self._on_warmup, None)

    def _on_warmup(self, ev) -> None:
        now = self.env._now
        for monitor in self.monitors:
            monitor.warm(now)
        self._on_sample(ev)

    def _on_sample(self, ev) -> None:
        now = self.env._now
        for monitor in self.monitors:
            monitor.sample(now)
        self.at(now + self.interval_s, self._on_sample, None)


@dataclass
class Group:
    """One shard's nodes: its first master, its live list of replicas, its lag monitor,
    its fault schedule (None without faults) and the client parts that talk to it."""

    master: object
    replicas: list
    lag: object
    cluster: object | None
    clients: list


class Shards:
    """The groups of a sharded run, ``owner`` (key -> shard) and the MOVED counter."""

    def __init__(self, groups: list[Group], owner: list[int], redirects) -> None:
        self.groups = groups
        self.owner = owner
        self.redirects = redirects

    def maximum(self, end_s: float) -> float:
        """The run's maximum replication lag (s), over every shard (a LagMonitor's role)."""
        return max(group.lag.maximum(end_s) for group in self.groups)

    def max_lags(self, end_s: float) -> list[float]:
        """Each shard's maximum replication lag over the measured window (s)."""
        return [group.lag.maximum(end_s) for group in self.groups]

    def finish(self) -> None:
        """At the horizon: each shard's fault schedule counts what is already doomed."""
        for group in self.groups:
            if group.cluster is not None:
                group.cluster.finish()

    @property
    def moved_redirects(self) -> int:
        return self.redirects.count
