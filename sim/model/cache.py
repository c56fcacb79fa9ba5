"""The cache layer: a cache-aside key-value store with TTL expiry and optional LRU capacity."""

from __future__ import annotations

import math
from collections import OrderedDict

from sim.model.kernel import Link
from sim.model.records import Version
from sim.model.stampede import Policy, Stampede


class Cache:
    """Answers lookups instantly on arrival (no service time); entries are (Version, expiry_s,
    delta_s), delta_s the duration of the recompute that made the value (0 unless it came
    from the origin).

    Expiry is checked on access, as Redis does lazily, so no event is spent per fill. A fill
    sets ``ttl`` from its arrival and a hit does not extend it (``SET EX`` semantics). With a
    capacity, the least recently used entry (hits and fills count as use) is evicted.

    ``on_write`` decides what a commit at the master does to the cached key:
    ``none`` nothing, ``invalidate`` deletes it and ``update`` sets the new version with a fresh
    TTL, each ``invalidation_delay`` after the commit, over a FIFO link from the master.
    """

    name = "cache"

    def __init__(self, env, at, node_id: int, ttl_s: float, capacity: int, on_write: str,
                 invalidation: Link, down: list[Link], trace=None,
                 direct_hits: bool = False, jitter=None, stampede: Policy | None = None,
                 changes=None) -> None:
        self.env = env
        self.at = at
        self.node_id = node_id
        self.ttl_s = ttl_s
        self.capacity = capacity
        self.entries: dict[int, tuple[Version, float]] = OrderedDict() if capacity else {}
        self.on_write = on_write
        self.invalidation = invalidation
        self.down = down  # cache -> client links, by client index
        # A lone hit needs no reply event: its answer and the reply's arrival are known
        # now, so the client completes it at once (see Client.hit). Only where nothing
        # waits for the reply event itself: open loop, one command a message.
        self.direct_hits = direct_hits
        self.trace = trace
        self.jitter = jitter  # None, or a sampler of each set's TTL offset (s)
        self.guard = None
        if stampede is not None:
            # With an origin behind it, lookups go through the guard; bound here, so the
            # plain path pays nothing for it.
            self.guard = Stampede(self, stampede)
            self.on_message = self.guard.on_message
        # The visibility probes' log of every change of a probed key's entry: a hook that
        # only records, so a run without probes keeps the bare methods.
        self.changes = changes
        if changes is not None:
            self._set = self._set_watched
            self._apply_write = self._apply_write_watched

    def on_message(self, ev) -> None:
        """Lookups from one client: each op gets its cached Version, or None on a miss."""
        ops = ev._value
        client = ops[0].client
        now = self.env._now
        entries = self.entries
        capacity = self.capacity
        for op in ops:
            entry = entries.get(op.key)
            if entry is not None:
                if entry[1] > now:
                    op.result = entry[0]
                    op.node = self
                    if capacity:
                        entries.move_to_end(op.key)
                    continue
                del entries[op.key]
                if self.trace is not None:
                    self.trace("expire", entry[1], node="cache", key=op.key,
                               version=entry[0].number)
            op.result = None
        if self.direct_hits and ops[0].result is not None:
            client.hit(ops[0], self.down[client.index].arrival(now), now)
        else:
            self.down[client.index].send(now, client.on_cache_reply, ops)

    def state(self, key: int) -> tuple[int, float]:
        """(version number, expiry in s) of ``key``'s entry, expired or not; (-1, -inf) when
        there is none: what a probe's answer at a later instant starts from."""
        entry = self.entries.get(key)
        return (entry[0].number, entry[1]) if entry is not None else (-1, -math.inf)

    def _set_watched(self, rec: Version, now: float, why: str, delta_s: float = 0.0) -> None:
        """:meth:`_set`, then ``changes.add(key, (now_s, number, expiry_s))`` with the new
        :meth:`state` of the key set and of the one evicted, if any."""
        entries = self.entries
        evicted = (next(iter(entries)) if self.capacity and rec.key not in entries
                   and len(entries) >= self.capacity else None)
        Cache._set(self, rec, now, why, delta_s)
        self.changes.add(rec.key, (now, *self.state(rec.key)))
        if evicted is not None:
            self.changes.add(evicted, (now, *self.state(evicted)))

    def _apply_write_watched(self, rec: Version, now: float) -> None:
        """:meth:`_apply_write`, then the key's new :meth:`state` to ``changes``."""
        Cache._apply_write(self, rec, now)
        self.changes.add(rec.key, (now, *self.state(rec.key)))

    def on_fill(self, ev) -> None:
        """Cache-aside fill: the client sets what it read from the store."""
        for rec in ev._value:
            self._set(rec, self.env._now, "fill")

    def set(self, rec: Version, now: float, delta_s: float) -> None:
        """A fill from the origin: ``rec`` recomputed in ``delta_s`` (s)."""
        self._set(rec, now, "fill", delta_s)

    def _set(self, rec: Version, now: float, why: str, delta_s: float = 0.0) -> None:
        entries = self.entries
        expiry = now + self.ttl_s
        if self.jitter is not None:
            expiry += self.jitter()
        entries[rec.key] = (rec, expiry, delta_s)
        if self.capacity:
            entries.move_to_end(rec.key)
            if len(entries) > self.capacity:
                entries.popitem(last=False)
        if self.trace is not None:
            self.trace(why, now, node="cache", key=rec.key, version=rec.number,
                       expires=expiry)

    def on_commit(self, rec: Version, now: float) -> None:
        """The master committed ``rec``; apply ``on_write`` after the invalidation delay."""
        t = self.invalidation.arrival(now)
        if t == now:
            self._apply_write(rec, now)
        else:
            self.at(t, self._on_invalidation, rec)

    def _on_invalidation(self, ev) -> None:
        self._apply_write(ev._value, self.env._now)

    def _apply_write(self, rec: Version, now: float) -> None:
        if self.on_write == "update":
            # The value's recompute cost is the key's, whoever set it last.
            old = self.entries.get(rec.key)
            self._set(rec, now, "update", old[2] if old is not None else 0.0)
        elif self.entries.pop(rec.key, None) is not None and self.trace is not None:
            self.trace("invalidate", now, node="cache", key=rec.key, version=rec.number)
