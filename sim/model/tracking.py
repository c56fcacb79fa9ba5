"""A server's CLIENT TRACKING: which clients read which keys, and the invalidations it sends.

As in redis ``src/tracking.c``: in default (and optin) mode the table maps a key to the
clients that read it; a change sends each of them an invalidation and drops the key's list
(one-shot: a client is tracked again only after it reads the key again). In BCAST mode no
table is kept: every subscribed client hears of every changed key, one message per event-loop
pass listing the keys the pass changed. ``tracking_table_max_keys`` bounds the table: past it,
random keys are evicted and their clients invalidated as if the keys had changed
(``trackingLimitUsedSlots``, run before a command is processed).

**Which reads a change invalidates.** A node fixes a command's result when it is enqueued
(docs/design.md section 1), so a read is stamped with the replication offset its result
includes (the master's offset after the writes before it in its queue, a replica's applied
offset); a write of offset o invalidates the reads stamped below o, and leaves tracked the
reads that already saw it. The master commits a write after later reads may have been
enqueued; the stamp keeps their tracking.

**A pass** (BCAST's "end of each event loop pass") is one message taken in: a client's
message at the master (its writes commit within it; the invalidations leave with its reply),
one replicated write at a replica (the model delivers the stream write by write).
"""

from __future__ import annotations

from sim.model.records import Version


class Tracking:
    """One node's tracking state and its invalidation sender.

    ``links``: the node's links to the clients by client index (its data connections with
    ``connection = "same"``, its own FIFO links with ``"redirect"``); ``clients``: the run's
    clients by index (a live list, filled once the clients are built); ``pick``: uniform
    [0, 1) samples for the table's random evictions; ``stats``: the run's
    :class:`sim.measure.client_cache.ClientCacheStats`.
    """

    def __init__(self, at, name: str, mode: str, max_keys: int, links, clients: list,
                 pick, stats, trace=None) -> None:
        self.at = at
        self.name = name
        self.bcast = mode == "bcast"
        self.optin = mode == "optin"
        self.max_keys = max_keys
        self.links = links
        self.clients = clients
        self.pick = pick
        self.stats = stats
        self.trace = trace
        self.table: dict[int, dict[int, int]] = {}  # key -> {client index: offset stamp}
        # The table's keys in a list as well, so that a random one costs O(1).
        self.order: list[int] = []
        self.slot: dict[int, int] = {}
        self.subscribed: dict[int, None] = {}  # BCAST: client indices, in order of contact
        self.changed_keys: list[int] = []  # BCAST: the keys changed in this pass

    # -- reads ----------------------------------------------------------------------------

    def served_master(self, client, ops, end_offset: int, now: float) -> None:
        """The master enqueued ``ops`` of ``client`` at ``now`` (s); its offset after them is
        ``end_offset``: each read is stamped with the writes queued before it."""
        if self.bcast:
            self._subscribe(client.index)
            return
        offset = end_offset - sum(1 for op in ops
                                  if op.write and op.result.__class__ is Version)
        for op in ops:
            if op.write:
                if op.result.__class__ is Version:
                    offset += 1
            elif op.caching:
                self._track(op.key, client, offset, now)
        self._limit(now)

    def served_replica(self, client, ops, offset: int, now: float, send_s: float) -> None:
        """A replica enqueued the reads ``ops`` at ``now`` (s) with its store at replication
        ``offset``; invalidations an overflow causes leave at ``send_s`` (s), with the reply."""
        if self.bcast:
            self._subscribe(client.index)
            return
        for op in ops:
            if op.caching:
                self._track(op.key, client, offset, now)
        self._limit(send_s)

    def _subscribe(self, index: int) -> None:
        if index not in self.subscribed:
            self.subscribed[index] = None

    def _track(self, key: int, client, offset: int, now: float) -> None:
        index = client.index
        readers = self.table.get(key)
        if readers is None:
            readers = self.table[key] = {}
            self.slot[key] = len(self.order)
            self.order.append(key)
        readers[index] = offset
        if self.trace is not None:
            self.trace("tracked", now, node=self.name, key=key, client=client.name)

    def _limit(self, now: float) -> None:
        """Evict random keys while the table is over its bound, then note its size."""
        while self.max_keys and len(self.order) > self.max_keys:
            key = self.order[int(self.pick() * len(self.order))]
            self.stats.evicted += 1
            for index in self._drop(key):
                self._send(index, (key,), now)
        if len(self.order) > self.stats.table_peak:
            self.stats.table_peak = len(self.order)

    def _drop(self, key: int) -> list[int]:
        """Forget ``key``; return the clients that tracked it."""
        readers = self.table.pop(key)
        order, slot = self.order, self.slot
        i, last = slot.pop(key), order.pop()
        if last != key:
            order[i] = last
            slot[last] = i
        return list(readers)

    # -- writes ---------------------------------------------------------------------------

    def changed(self, key: int, offset: int, now: float) -> None:
        """The write of replication ``offset`` to ``key`` took effect at ``now`` (s)."""
        if self.bcast:
            if self.subscribed:
                self.changed_keys.append(key)
            return
        readers = self.table.get(key)
        if readers is None:
            return
        told = [index for index, stamp in readers.items() if stamp < offset]
        if len(told) == len(readers):
            self._drop(key)
        else:  # some read was enqueued after this write: it saw it and stays tracked
            for index in told:
                del readers[index]
        for index in told:
            self._send(index, (key,), now)

    def end_pass(self, now: float) -> None:
        """BCAST: the pass ends at ``now`` (s); every subscriber hears of its keys at once."""
        keys = self.changed_keys
        if keys:
            self.changed_keys = []
            keys = tuple(dict.fromkeys(keys))
            for index in self.subscribed:
                self._send(index, keys, now)

    def _send(self, index: int, keys: tuple[int, ...], now: float) -> None:
        local = self.clients[index].local
        arrival = self.links[index].arrival(now)
        local.on_way(keys)
        self.at(arrival, local.on_invalidation, (keys, now, self.name))
        self.stats.sent(now)
        if self.trace is not None:
            for key in keys:
                self.trace("invalidation", arrival, node=local.name, key=key, sent=now,
                           server=self.name)

    # -- what an observer sees at the end ---------------------------------------------------

    def tracks(self, index: int, key: int) -> bool:
        """Will a change of ``key`` here tell client ``index``?"""
        if self.bcast:
            return index in self.subscribed
        readers = self.table.get(key)
        return readers is not None and index in readers
