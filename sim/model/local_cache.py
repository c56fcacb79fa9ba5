"""A client's own cache, kept by the servers' invalidation messages (CLIENT TRACKING).

It stands for redis-py's client-side cache (``protocol=3, cache_config=CacheConfig()``): an
LRU of ``capacity`` entries, filled by the replies of the reads it sent to a server that
tracks them, emptied key by key by invalidation messages; ``max_ttl`` bounds an entry's life
(0: none, redis-py's default). With ``placeholder`` a read that goes out leaves an "in
progress" marker for its key; an invalidation that arrives before the reply removes it, and a
reply fills only if it finds its own marker (redis-py's ``IN_PROGRESS`` entry). Without it
every reply fills, which is the race the Redis docs describe: a reply that arrives after the
invalidation of its own value (``connection = "redirect"``: the invalidation came on another
link) stays for good, since one-shot tracking sends no second invalidation.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict

from sim.model.records import Op, Version

NO_EXPIRY = float("inf")


class LocalCache:
    """One client's local cache. Times in seconds.

    ``entries``: key -> (Version, expires_s); ``pending``: key -> the read in flight whose
    reply may fill it (with ``placeholder``); ``inbound``: key -> invalidation messages on
    their way to this client (for ``stale_forever``, docs/design.md section 10).
    """

    def __init__(self, name: str, capacity: int, max_ttl_s: float, placeholder: bool,
                 optin=None, optin_share: float = 1.0, trace=None) -> None:
        self.name = name  # the client's: a local hit is served where it is issued
        self.capacity = capacity
        self.max_ttl_s = max_ttl_s if max_ttl_s > 0 else NO_EXPIRY
        self.placeholder = placeholder
        self.optin = optin  # optin mode: a sampler of [0, 1) against ``optin_share``, else None
        self.optin_share = optin_share
        self.entries: OrderedDict[int, tuple[Version, float]] = OrderedDict()
        self.pending: dict[int, Op] = {}
        self.inbound: defaultdict[int, int] = defaultdict(int)
        self.trace = trace

    def lookup(self, key: int, now: float) -> Version | None:
        """The cached version of ``key`` at ``now`` (s), or None (absent, or past max_ttl)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self.entries[key]
            return None
        if self.capacity:
            self.entries.move_to_end(key)
        return entry[0]

    def sent(self, op: Op) -> None:
        """``op`` missed here and goes out: mark whether its server is asked to track it,
        and leave its placeholder."""
        if self.optin is not None and self.optin() >= self.optin_share:
            op.caching = False  # sent without CLIENT CACHING yes: not tracked, not kept
            return
        op.caching = True
        if self.placeholder:
            self.pending[op.key] = op

    def replied(self, ops: list[Op], now: float) -> None:
        """Replies from a server reached the client at ``now`` (s): the tracked reads fill."""
        pending = self.pending
        for op in ops:
            if op.write or not op.caching or op.result.__class__ is not Version:
                continue
            key = op.key
            if self.placeholder:
                if pending.get(key) is not op:
                    continue  # its marker went with an invalidation, or a newer read owns it
                del pending[key]
            self._fill(key, op.result, now)

    def _fill(self, key: int, rec: Version, now: float) -> None:
        entries = self.entries
        entries[key] = (rec, now + self.max_ttl_s)
        entries.move_to_end(key)
        if self.capacity and len(entries) > self.capacity:
            entries.popitem(last=False)
        if self.trace is not None:
            self.trace("local_fill", now, node=self.name, key=key, version=rec.number)

    def on_way(self, keys: tuple[int, ...]) -> None:
        """An invalidation of ``keys`` was sent to this client."""
        inbound = self.inbound
        for key in keys:
            inbound[key] += 1

    def on_invalidation(self, ev) -> None:
        """An invalidation message arrived: its keys leave the cache, their markers too."""
        keys, _sent_s, _server = ev._value
        inbound, entries, pending = self.inbound, self.entries, self.pending
        for key in keys:
            if inbound[key] <= 1:
                del inbound[key]
            else:
                inbound[key] -= 1
            entries.pop(key, None)
            pending.pop(key, None)

    def stale_entries(self, committed, now: float) -> list[int]:
        """Keys held at ``now`` (s) whose version is older than ``committed`` (V(k, now))
        and for which no invalidation is on its way."""
        return [key for key, (rec, expires) in self.entries.items()
                if expires > now and rec.number < committed[key].number
                and not self.inbound.get(key)]
