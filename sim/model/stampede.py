"""What the cache tier does when many readers miss one key at once: the cures of a stampede.

With an origin behind the cache (``cache.fill_from = "origin"``) the cache's lookups go
through a :class:`Stampede` guard, which keeps the per-key state each cure needs, in the
cache tier, as a Redis or memcache deployment keeps it beside the data (docs/design.md
section 9): the key's recompute in flight and its waiting readers (``single_flight``, as a
coalescing proxy does), the time its last lease was issued (``lease``, memcache's leases),
the recompute time stored with each value (``xfetch``) and the keys being revalidated
(``stale_while_revalidate``). ``none`` is plain cache-aside.
"""

from __future__ import annotations

from math import log

from sim.model.kernel import Link
from sim.model.records import WAITED


class Policy:
    """A guard's settings: ``name`` (one of ``cache.stampede``), ``lease_interval_s`` (at
    most one lease per key in it), ``lease_wait_s`` (a lease loser's wait before it asks
    again), ``xfetch_beta`` and its ``uniform`` sampler ([0, 1)), the ``origin`` and the
    ``to_origin`` link a revalidation travels on, and the ``stats`` it reports to."""

    __slots__ = ("name", "lease_interval_s", "lease_wait_s", "xfetch_beta", "uniform",
                 "origin", "to_origin", "stats")

    def __init__(self, name: str, lease_interval_s: float, lease_wait_s: float,
                 xfetch_beta: float, uniform, origin, to_origin: Link, stats) -> None:
        self.name = name
        self.lease_interval_s = lease_interval_s
        self.lease_wait_s = lease_wait_s
        self.xfetch_beta = xfetch_beta
        self.uniform = uniform
        self.origin = origin
        self.to_origin = to_origin
        self.stats = stats


class Stampede:
    """The lookups and fills of ``cache`` under ``policy`` (entries are (Version, expiry_s,
    delta_s), delta_s the measured duration of the recompute that produced the value).

    An entry's cycle ends once, at the first lookup that finds it expired or, under XFetch,
    at its first early refresh: what ``recomputes_per_expiry`` divides by.
    """

    def __init__(self, cache, policy: Policy) -> None:
        self.cache = cache
        self.env = cache.env
        self.policy = policy
        name = policy.name
        self.single_flight = name == "single_flight"
        self.lease = name == "lease"
        self.xfetch = name == "xfetch"
        self.revalidate = name == "stale_while_revalidate"
        self.stats = policy.stats
        self.waiters: dict[int, list] = {}  # single flight: key -> readers waiting for it
        self.leased: dict[int, float] = {}  # lease: key -> when its last lease was issued (s)
        self.refreshing: set[int] = set()  # stale-while-revalidate: keys being recomputed
        self.ended: dict[int, float] = {}  # key -> expiry of the entry whose cycle ended

    def on_message(self, ev) -> None:
        """Lookups from one client: hits are answered, a miss either recomputes (the reply's
        result is None), waits for the key's recompute in flight (single flight: answered at
        its fill), is told to ask again later (lease) or gets the stale value
        (stale-while-revalidate, which starts one background recompute per key)."""
        ops = ev._value
        client = ops[0].client
        now = self.env._now
        cache = self.cache
        entries = cache.entries
        answered, told_to_wait = [], []
        for op in ops:
            key = op.key
            entry = entries.get(key)
            if entry is not None:
                rec, expiry, delta = entry
                if expiry > now:
                    if self.xfetch and delta > 0 and (
                            now - delta * self.policy.xfetch_beta
                            * log(1.0 - self.policy.uniform()) >= expiry):
                        self._end_cycle(key, expiry, now, early=True)
                        op.result = None  # this reader recomputes, ahead of the expiry
                    else:
                        op.result = rec
                        op.node = cache
                        if cache.capacity:
                            entries.move_to_end(key)
                    answered.append(op)
                    continue
                self._end_cycle(key, expiry, now)
                if self.revalidate:
                    op.result = rec
                    op.node = cache
                    self.stats.stale_served(op.issue_s)
                    self._revalidate(key, client, now)
                    answered.append(op)
                    continue
                del entries[key]
            if self.single_flight:
                waiting = self.waiters.get(key)
                if waiting is not None:
                    op.path = WAITED
                    waiting.append(op)
                    continue
                self.waiters[key] = []
            elif self.lease:
                issued = self.leased.get(key)
                if issued is not None and now - issued < self.policy.lease_interval_s:
                    op.path = WAITED
                    told_to_wait.append(op)
                    continue
                self.leased[key] = now
                self.stats.lease_issued(now)
            op.result = None
            answered.append(op)
        down = cache.down[client.index]
        if answered:
            down.send(now, client.on_cache_reply, answered)
        if told_to_wait:
            down.send(now, client.on_hot_miss, (told_to_wait, self.policy.lease_wait_s))

    def _end_cycle(self, key: int, expiry: float, now: float, early: bool = False) -> None:
        if self.ended.get(key) != expiry:
            self.ended[key] = expiry
            self.stats.cycle_ended(now, early)

    def _revalidate(self, key: int, client, now: float) -> None:
        if key not in self.refreshing:
            self.refreshing.add(key)
            self.policy.to_origin.send(now, self.policy.origin.on_refresh,
                                       (key, client, self.on_refreshed))

    def on_recomputed(self, ev) -> None:
        """A reader's recompute fills the cache: ``(Version, delta_s)``; the readers waiting
        for it (single flight) get it now."""
        rec, delta = ev._value
        now = self.env._now
        self.cache.set(rec, now, delta)
        if self.single_flight:
            waiting = self.waiters.pop(rec.key, None)
            if waiting:
                self._answer(waiting, rec, now)

    def on_refreshed(self, ev) -> None:
        """A background revalidation's value arrives from the origin."""
        rec, delta = ev._value
        self.cache.set(rec, self.env._now, delta)
        self.refreshing.discard(rec.key)

    def _answer(self, ops: list, rec, now: float) -> None:
        cache = self.cache
        by_client: dict = {}
        for op in ops:
            op.result = rec
            op.node = cache
            by_client.setdefault(op.client, []).append(op)
        for client, answered in by_client.items():
            cache.down[client.index].send(now, client.on_cache_reply, answered)
