"""Redis's own TTL on the store: node clocks, the master's lazy and active expiry, and how a
replica judges a key whose TTL has passed (docs/design.md section 1, "Keys that expire").

A SET with a TTL carries its absolute expiry by the master's clock (Redis 7 propagates
``PXAT``), so every node compares that timestamp with its own clock. The master deletes an
expired key when a command touches it (lazy) and in its active expire cycle, ``server.hz``
times a second, as Redis 6+ ``src/expire.c``: sample 20 keys that have a TTL, delete the
expired ones, repeat while more than 10% of the sample was expired, within 25% of the cycle's
period. Each deletion is a DEL: a new version of the key, committed and sent down the
replication stream like a write. The cycle is one event per period, whatever the keyspace.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from sim.model.records import Op, Version

KEYS_PER_LOOP = 20  # ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP
ACCEPTABLE_STALE_PERCENT = 10  # ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE
SLOW_TIME_PERCENT = 25  # ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC: share of a period
TIME_CHECK_EVERY = 16  # Redis reads its clock once every 16 iterations of the loop

GONE = float("-inf")  # a DEL's expire_at: expired by any clock


class Clock:
    """A node's clock: ``offset_s + t (1 + drift)`` at true time t (s); ``drift`` a fraction
    (ppm x 1e-6)."""

    __slots__ = ("offset_s", "rate")

    def __init__(self, offset_s: float = 0.0, drift: float = 0.0) -> None:
        self.offset_s = offset_s
        self.rate = 1.0 + drift

    def read(self, t: float) -> float:
        """The clock's reading (s) at true time ``t`` (s)."""
        return self.offset_s + t * self.rate


class Deleted(Version):
    """The DEL with which the master expired ``of`` (a SET with a TTL): the key's next
    version, which reads as missing everywhere."""

    __slots__ = ("of",)

    def __init__(self, of: Version, commit_s: float, offset: int) -> None:
        super().__init__(of.key, of.number + 1, commit_s, offset)
        self.of = of
        self.expire_at = GONE


def expire_at(rec: Version) -> float | None:
    """``rec``'s PXAT (s, master's clock), None when it carries no TTL (version 0 never had
    one: it is shared by every node and made before any TTL exists)."""
    return getattr(rec, "expire_at", None)


class TtlIndex:
    """The master's keys that have a TTL, by what ``latest`` holds (Redis's ``db->expires``):
    ``keys`` (a list, for sampling in O(1)) with each key's position, and the same keys split
    into ``pending`` (not yet expired by the master's clock, in expiry order: one TTL for all
    and commit times increase, so appending keeps the order) and ``expired`` (expired, not yet
    deleted: the memory the active cycle has not freed). Memory: the keys with a TTL."""

    def __init__(self, clock: Clock, on_held: Callable[[int, float], None]) -> None:
        self.clock = clock
        self.keys: list[int] = []
        self.pos: dict[int, int] = {}
        self.pending: OrderedDict[int, float] = OrderedDict()
        self.expired: set[int] = set()
        self.on_held = on_held  # hears (expired keys held, t) just before that count falls

    def advance(self, t: float) -> None:
        """Move the keys whose expiry the master's clock has passed at ``t`` (s) to
        ``expired``, and report the count (it only grows between removals)."""
        now = self.clock.read(t)
        pending, expired = self.pending, self.expired
        while pending:
            key, at = next(iter(pending.items()))
            if at > now:
                break
            pending.popitem(last=False)
            expired.add(key)
        self.on_held(len(expired), t)

    def add(self, key: int, at: float, t: float) -> None:
        """``key`` now holds a SET expiring at ``at`` (master's clock), written at ``t``."""
        self.remove(key, t)
        self.pos[key] = len(self.keys)
        self.keys.append(key)
        self.pending[key] = at

    def remove(self, key: int, t: float) -> None:
        """``key`` no longer has a TTL (deleted, or overwritten without one) at ``t`` (s)."""
        i = self.pos.pop(key, None)
        if i is None:
            return
        last = self.keys.pop()
        if last != key:
            self.keys[i] = last
            self.pos[last] = i
        at = self.pending.get(key)
        if at is None or at <= self.clock.read(t):  # an expired key goes: report the peak
            self.advance(t)
        self.pending.pop(key, None)
        self.expired.discard(key)


class MasterExpiry:
    """The master's side: TTLs on its writes, lazy expiry on access, the active cycle.

    ``ttl_s`` is ``workload.key_ttl``; ``carries()`` says whether a write carries it (the
    ``ttl_share``); ``sample()`` draws uniform floats in [0, 1) for the cycle's sampling;
    ``key_cost_s`` the master's thread time per key the cycle checks (s); ``hz`` cycles per
    second. :meth:`attach` binds it to its master, which calls :meth:`wrote` for every SET and
    :meth:`read` for every GET it serves. ``max_checked`` and ``max_busy_s`` are the most keys
    one cycle checked and the longest one took (the cycle's effort bound).
    """

    def __init__(self, at, clock: Clock, ttl_s: float, carries: Callable[[], bool],
                 sample: Callable[[], float], key_cost_s: float, hz: int,
                 on_held: Callable[[int, float], None], horizon_s: float) -> None:
        self.at = at
        self.clock = clock
        self.ttl_s = ttl_s
        self.carries = carries
        self.sample = sample
        self.key_cost_s = key_cost_s
        self.period_s = 1.0 / hz
        self.budget_s = SLOW_TIME_PERCENT / 100 * self.period_s
        self.horizon_s = horizon_s
        self.index = TtlIndex(clock, on_held)
        self.master = None
        self.max_checked = 0
        self.max_busy_s = 0.0
        self.cycles = 0
        self.start_s = 0.0
        self.ticks = 0

    def attach(self, master) -> None:
        """Serve ``master`` from now on; its cycles run every period from now."""
        self.master = master
        self.start_s = master.env.now
        self._schedule()

    def _schedule(self) -> None:
        # The k-th cycle at start + k period: counted, not summed, so no rounding piles up.
        self.ticks += 1
        t = self.start_s + self.ticks * self.period_s
        if t < self.horizon_s:
            self.at(t, self._on_cycle, None)

    # -- commands -------------------------------------------------------------------------

    def wrote(self, rec: Version, t: float) -> None:
        """The master enqueued SET ``rec``, served at ``t`` (s): give it its TTL (or none)."""
        if self.carries():
            rec.expire_at = self.clock.read(t) + self.ttl_s
            self.index.add(rec.key, rec.expire_at, t)
        else:
            rec.expire_at = None  # a SET without EX clears the key's TTL, as in Redis
            self.index.remove(rec.key, t)

    def read(self, op: Op, t: float) -> None:
        """GET ``op`` is served at ``t`` (s): an expired key is deleted first (lazy expiry),
        so it reads as missing."""
        rec = op.result
        at = expire_at(rec)
        if at is not None and at != GONE and self.clock.read(t) >= at:
            rec = op.result = self._delete(rec, t)
            self.at(t, self.master._on_commit, rec)
        op.served_s = t
        op.missing = rec.number == 0 or at == GONE or rec.__class__ is Deleted

    def _delete(self, rec: Version, t: float) -> Deleted:
        master = self.master
        master.offset += 1
        gone = Deleted(rec, t, master.offset)
        master.latest[rec.key] = gone
        self.index.remove(rec.key, t)
        return gone

    # -- the active cycle -----------------------------------------------------------------

    def _on_cycle(self, ev) -> None:
        master = self.master
        now = master.env._now
        self._schedule()
        if master.dead:
            return
        # It runs on the master's thread after what is queued there, on the state at the
        # end of the queue (``latest``), so a command enqueued from now on comes after it.
        start = master.thread.start(now)
        deleted, busy = self.cycle(start)
        master.thread.busy(start + busy, now)
        if not deleted:
            return
        if start == now:
            for gone in deleted:
                master.commit(gone)
        else:
            self.at(start, self._on_commit_all, deleted)

    def _on_commit_all(self, ev) -> None:
        master = self.master
        if not master.dead:
            for gone in ev._value:
                master.commit(gone)

    def cycle(self, t: float) -> tuple[list[Deleted], float]:
        """One active expire cycle at ``t`` (s): the DELs it makes and the thread time it
        takes (s)."""
        index, latest = self.index, self.master.latest
        keys, pos = index.keys, index.pos
        now = self.clock.read(t)
        index.advance(t)
        deleted: list[Deleted] = []
        checked = iteration = 0
        busy = 0.0
        while keys:
            iteration += 1
            n = len(keys)
            m = KEYS_PER_LOOP if n > KEYS_PER_LOOP else n
            if m < n:  # the first m places become a uniform sample (partial Fisher-Yates)
                for i in range(m):
                    j = i + int(self.sample() * (n - i))
                    ki, kj = keys[i], keys[j]
                    keys[i], keys[j] = kj, ki
                    pos[kj], pos[ki] = i, j
            expired = [k for k in keys[:m] if latest[k].expire_at <= now]
            for k in expired:
                deleted.append(self._delete(latest[k], t))
            checked += m
            busy += m * self.key_cost_s
            if iteration % TIME_CHECK_EVERY == 0 and busy > self.budget_s:
                break
            if len(expired) * 100 // m <= ACCEPTABLE_STALE_PERCENT:
                break
        self.cycles += 1
        if checked > self.max_checked:
            self.max_checked = checked
        if busy > self.max_busy_s:
            self.max_busy_s = busy
        return deleted, busy


class ReplicaExpiry:
    """How a replica answers a read of a key with a TTL (``replication.replica_expiry``):
    ``"clock"`` reports it missing once ``clock`` has passed its PXAT (Redis 3.2+), while
    ``"master_del"`` serves it until the master's DEL arrives (before 3.2). A replica never
    deletes a key itself."""

    __slots__ = ("clock", "by_clock")

    def __init__(self, clock: Clock, mode: str) -> None:
        self.clock = clock
        self.by_clock = mode == "clock"

    def missing(self, rec: Version, t: float) -> bool:
        """Does a GET served at ``t`` (s) that finds ``rec`` answer "no such key"?"""
        if rec.number == 0:
            return True
        at = expire_at(rec)
        if at is None:
            return False
        if at == GONE:
            return True
        return self.by_clock and self.clock.read(t) >= at
