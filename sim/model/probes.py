"""Visibility probes: reads started at fixed offsets after a commit, to measure t-visibility.

After a sampled share of the commits made after the warm-up, a probe read of the committed
key is started at every offset t of a grid (seconds after the commit), from a client chosen
at random, and follows the path an ordinary read of that client would take: the cache first
when there is one (a miss goes back to the client and on to the store by
``cache.fill_from``), the read routing of leader mode (the probe's own routing stream) or
the quorum read of quorum mode; every delay is drawn from the same distribution as the
ordinary read's, on the probes' own streams.

Probes do not occupy anything. Every server in the model fixes a command's result when its
message is enqueued (a FIFO thread that alone changes its data), and the cache answers on
arrival. So the answer a real read would get is the node's state at the instant the read
arrives, and that state changes, for the probed key, only at instants the run knows:

- a replica holds the committed version (or a newer one) once the write's message has
  arrived on the replication link (FIFO: later writes of the key arrive after it); its
  arrival is the link's delivery computed when the master shipped it, just before the
  commit hook runs (:meth:`Replica.shipped_arrival`);
- the master's end-of-queue state holds it from its enqueue on, before the commit;
- a quorum peer holds it, or a newer version, from the first arrival of a write (or read
  repair) of the key with that version or a higher one;
- the cache's entry changes at fills, invalidations and updates, and expires at a known time.

So all grid offsets of a probed commit are evaluated in one pass, vectorised over a batch of
commits, from those recorded instants: :class:`Changes` keeps, per probed key, what happened
to it at the peers and at the cache since the oldest open probe window of that key (nothing
else, so memory does not grow with the run), and one event per batch, after the batch's last
probe has arrived, answers every probe of it. Ordinary reads and writes see the same run with
probes as without: the probes draw only from their own streams and the recording reads, it
never changes a node.

What the one-pass evaluation takes from the commit instant instead of the probe's own
send time (docs/design.md section 8): a probe's message does not wait behind ordinary
messages on its link (it is delivered its own delay after it is sent, as in the WARS
model), a quorum peer starts serving a probe after the backlog it had at the commit, and
read-your-writes routing asks the replica's applied offset when the batch is drawn (at its
last commit).
Neglected as before: the probe's own load (it delays nothing queued behind it, refreshes
no LRU order, fills no cache) and pipelining waits.
"""

from __future__ import annotations

from collections import deque

import numpy as np

BATCH = 256  # probed commits evaluated together: numpy per-call costs spread over 256 x 41
TRIM = 64  # a key's log is cut once that many of its entries precede every open window
NONE = -1  # the version number of "no cached entry"
INF = float("inf")


class Changes:
    """Per probed key, what happened to it at one kind of node since its oldest open probe
    window: ``add(key, entry)`` (the nodes' hook) appends ``entry`` only while a window of
    ``key`` is open, so a run keeps what its open windows need and nothing more."""

    __slots__ = ("logs",)

    def __init__(self) -> None:
        self.logs: dict[int, _Log] = {}

    def add(self, key: int, entry: tuple) -> None:
        log = self.logs.get(key)
        if log is not None:
            log.entries.append(entry)

    def open(self, key: int) -> _Window:
        log = self.logs.get(key)
        if log is None:
            log = self.logs[key] = _Log()
        window = _Window(log, log.base + len(log.entries))
        log.windows.append(window)
        return window

    def close(self, key: int, window: _Window) -> None:
        window.closed = True
        log = window.log
        windows = log.windows
        while windows and windows[0].closed:
            windows.popleft()
        if not windows:
            del self.logs[key]
            return
        drop = windows[0].start - log.base
        if drop >= TRIM:
            del log.entries[:drop]
            log.base += drop


class _Log:
    __slots__ = ("entries", "base", "windows")

    def __init__(self) -> None:
        self.entries: list[tuple] = []
        self.base = 0  # entries dropped from the front so far
        self.windows: deque[_Window] = deque()


class _Window:
    """One probed commit's view of its key's log: the entries from ``start`` on."""

    __slots__ = ("log", "start", "closed")

    def __init__(self, log: _Log, start: int) -> None:
        self.log = log
        self.start = start
        self.closed = False

    def since(self) -> list[tuple]:
        log = self.log
        return log.entries[self.start - log.base:]


class Batch:
    """Probed commits evaluated together: ``commit_s`` (s), their versions, what each path
    knew at the commit (``known``), the cache's state then (``cached``) and, once closed,
    every probe's times."""

    __slots__ = ("commit_s", "recs", "known", "cached", "times")

    def __init__(self) -> None:
        self.commit_s: list[float] = []
        self.recs: list = []
        self.known: list = []
        self.cached: list = []
        self.times = None


class Prober:
    """Probes after sampled commits (``on_commit`` is the commit hook of the master or the
    quorum coordinator), answered in batches; outcomes go to ``stats.add_many``."""

    def __init__(self, env, at, offsets_s: list[float], share: float, uniform, client_rng,
                 n_clients: int, warmup_s: float, horizon_s: float, stats) -> None:
        self.env = env
        self.at = at
        self.offsets_s = np.asarray(offsets_s, dtype=float)
        self.share = share
        self.uniform = uniform
        self.client_rng = client_rng
        self.n_clients = n_clients
        self.warmup_s = warmup_s
        self.horizon_s = horizon_s
        self.stats = stats
        self.batch = Batch()
        self.open: dict[int, Batch] = {}  # closed batches not yet answered, by id
        self.cache = None
        self.cache_delay = None
        self.cache_changes = Changes()  # the cache records into it (see Cache)
        self.path = None

    def wire(self, cache, cache_delay, path) -> None:
        """The read path, known once the nodes exist (the prober is made first, since the
        node that commits calls :meth:`on_commit`); ``cache_delay`` is ``(dist, rng)``."""
        self.cache = cache
        self.cache_delay = cache_delay
        self.path = path

    def on_commit(self, rec, now: float) -> None:
        if now < self.warmup_s or self.uniform() >= self.share or now >= self.horizon_s:
            return
        batch = self.batch
        batch.commit_s.append(now)
        batch.recs.append(rec)
        batch.known.append(self.path.known(rec, now))
        if self.cache is not None:
            batch.cached.append((self.cache.state(rec.key), self.cache_changes.open(rec.key)))
        if len(batch.recs) == BATCH:
            self._close(batch)

    def _draw(self, spec, shape) -> np.ndarray:
        dist, rng = spec
        return dist.draw(rng, int(np.prod(shape))).reshape(shape)

    def _close(self, batch: Batch) -> None:
        """Draw every probe's delays and compute its times; answer once all have arrived."""
        self.batch = Batch()
        commit = np.asarray(batch.commit_s)
        start = commit[:, None] + self.offsets_s[None, :]
        shape = start.shape
        valid = start < self.horizon_s
        clients = self.client_rng.integers(0, self.n_clients, shape)
        if self.cache is None:
            store_done, store = self.path.times(batch, start, clients, False)
            cache_s = None
            last = store_done
        else:
            cache_s = start + self._draw(self.cache_delay, shape)
            back = cache_s + self._draw(self.cache_delay, shape)
            store_done, store = self.path.times(batch, back, clients, True)
            last = store_done  # after cache_s: a miss goes on from there
        batch.times = (commit, valid, cache_s, store_done, store)
        self.open[id(batch)] = batch
        self.at(float(np.nextafter(last[valid].max(initial=commit[-1]), np.inf)),
                self._on_arrived, batch)

    def _on_arrived(self, ev) -> None:
        batch = ev._value
        if id(batch) in self.open:
            self._answer(batch, None)

    def _answer(self, batch: Batch, end_s: float | None) -> None:
        """Answer every probe of ``batch``; with ``end_s`` (the run's end, s), only those
        whose answer was complete before it, as the run's events before it are."""
        del self.open[id(batch)]
        commit, valid, cache_s, done, store = batch.times
        consistent = self.path.answers(batch, store)
        if cache_s is not None:
            hit, fresh = self._cache_answers(batch, cache_s)
            consistent = np.where(hit, fresh, consistent)
            done = np.where(hit, cache_s, done)
            changes = self.cache_changes
            for rec, (_, window) in zip(batch.recs, batch.cached, strict=True):
                changes.close(rec.key, window)
        self.path.close(batch)
        counted = valid if end_s is None else valid & (done < end_s)
        self.stats.add_many(commit, consistent, counted)

    def _cache_answers(self, batch: Batch, cache_s: np.ndarray):
        """(hit, fresh) per probe: the cached entry at the probe's arrival, from the entry
        at the commit and the changes of the key since."""
        hit = np.empty(cache_s.shape, dtype=bool)
        fresh = np.empty(cache_s.shape, dtype=bool)
        for b, (rec, ((number, expiry), window)) in enumerate(
                zip(batch.recs, batch.cached, strict=True)):
            arrive = cache_s[b]
            changes = window.since()
            if not changes:
                hit[b] = (expiry > arrive) if number != NONE else False
                fresh[b] = number >= rec.number
                continue
            times = np.fromiter((c[0] for c in changes), float, len(changes))
            numbers = np.array([number] + [c[1] for c in changes])
            expiries = np.array([expiry] + [c[2] for c in changes])
            # A change at the probe's instant has been taken in before the probe is served.
            at = np.searchsorted(times, arrive, side="right")
            hit[b] = (numbers[at] != NONE) & (expiries[at] > arrive)
            fresh[b] = numbers[at] >= rec.number
        return hit, fresh

    def finish(self, end_s: float) -> None:
        """The run ends at ``end_s`` (s): answer what is pending with what happened before
        it (a probe whose answer would come later is not counted, as its events were not)."""
        if self.batch.recs:
            self._close(self.batch)
        for batch in list(self.open.values()):
            self._answer(batch, end_s)


class LeaderPath:
    """The store part of a leader-mode read: routed by the read policy (``fill_policy``
    after a cache miss), the client's delay to the node, answered from the node's state at
    arrival. ``routing``/``fill_routing`` and ``network`` are the probes' streams."""

    def __init__(self, replicas: list, clients: list, policy: str, fill_policy: str,
                 routing, fill_routing, network) -> None:
        self.replicas = replicas
        self.clients = clients
        self.policies = {False: (policy, routing), True: (fill_policy, fill_routing)}
        self.network = network

    def known(self, rec, now: float) -> list[float]:
        """Where the committed write is at the commit: when it reaches each replica (s)."""
        return [replica.shipped_arrival() for replica in self.replicas]

    def times(self, batch: Batch, send: np.ndarray, clients: np.ndarray, fill: bool):
        policy, rng = self.policies[fill]
        n = len(self.replicas)
        shape = send.shape
        if policy == "master" or n == 0:
            node = np.zeros(shape, dtype=np.int64)
        elif policy == "any":
            node = rng.integers(0, n + 1, shape)
            node = np.where(node < n, node + 1, 0)
        elif policy == "sticky":
            node = clients % n + 1
        else:  # replicas, read-your-writes
            node = rng.integers(0, n, shape) + 1
        dist, net_rng = self.network
        arrive = send + dist.draw(net_rng, send.size).reshape(shape)
        if policy == "read-your-writes":
            node = self._your_writes(batch, node, clients)
        return arrive, (node, arrive)

    def _your_writes(self, batch: Batch, node: np.ndarray, clients: np.ndarray) -> np.ndarray:
        """Read-your-writes: to the master when the replica lacks the client's last
        acknowledged write of the key (asked now, when the batch is closed)."""
        now_s = None
        for b, rec in enumerate(batch.recs):
            for i in np.flatnonzero(node[b]):
                need = self.clients[clients[b, i]].acked_offset.get(rec.key)
                if need is None:
                    continue
                if now_s is None:
                    now_s = batch.commit_s[-1]
                if self.replicas[node[b, i] - 1].applied_offset(now_s) < need:
                    node[b, i] = 0
        return node

    def answers(self, batch: Batch, store) -> np.ndarray:
        node, arrive = store
        # Column 0, the master: its end-of-queue state holds the version since its enqueue.
        reached = np.full((len(batch.recs), len(self.replicas) + 1), -np.inf)
        if self.replicas:
            reached[:, 1:] = batch.known
        # Taken in before it serves anything at that instant: arrival <= probe's arrival.
        return np.take_along_axis(reached, node, axis=1) <= arrive

    def close(self, batch: Batch) -> None:
        pass


class QuorumPath:
    """The store part of a quorum-mode read: to all N peers, the highest version among the
    first R responses (by response arrival at the coordinator). ``draws`` holds the probes'
    (distribution, stream) pairs for ``read``, ``overhead``, ``service``, ``response``."""

    def __init__(self, coordinator, draws: dict, remote_delay_s: float,
                 changes: Changes) -> None:
        self.coordinator = coordinator
        self.peers = coordinator.peers
        self.read_quorum = coordinator.read_quorum
        self.draws = draws
        self.remote_delay_s = remote_delay_s  # added between a client and a remote peer
        self.ordered = self.read_quorum < len(self.peers)  # else every answer counts
        self.changes = changes  # the peers record into it (see Peer)

    def known(self, rec, now: float):
        """At the commit: -inf for each peer holding the version (or a newer one), +inf for
        the others (their arrivals are read from the key's changes); each peer's start."""
        key, number = rec.key, rec.number
        reached = [-INF if peer.answer(key, now).number >= number else INF
                   for peer in self.peers]
        starts = [peer.starts(now) for peer in self.peers] if self.ordered else None
        return reached, starts, self.changes.open(key)

    def _draw(self, name: str, shape) -> np.ndarray:
        dist, rng = self.draws[name]
        return dist.draw(rng, int(np.prod(shape))).reshape(shape)

    def times(self, batch: Batch, send: np.ndarray, clients: np.ndarray, fill: bool):
        # Peers first, (peer, commit, offset): numpy reduces fast over a leading axis.
        n = len(self.peers)
        shape = (n, *send.shape)
        remote = np.where(np.arange(n)[:, None, None] != clients % n, self.remote_delay_s, 0.0)
        arrive = send + self._draw("read", shape) + remote
        # The answer is complete when the last peer has been reached.
        return arrive.max(axis=0), (arrive, remote)

    def answers(self, batch: Batch, store) -> np.ndarray:
        arrive, remote = store
        rows = []
        for rec, (first, _, window) in zip(batch.recs, batch.known, strict=True):
            if INF in first:
                first = list(first)
                need = rec.number
                for t, j, number in window.since():
                    if number >= need and t < first[j]:
                        first[j] = t
            rows.append(first)
        has = np.array(rows).T[:, :, None] <= arrive
        consistent = has.any(axis=0)
        if not self.ordered:
            return consistent
        # Which R peers answer first matters only where the peers disagree: the response
        # times are drawn for those probes alone (the draws are independent of the answers).
        mixed = consistent & ~has.all(axis=0)
        rows, cols = np.nonzero(mixed)
        if len(rows):
            shape = (len(self.peers), len(rows))
            starts = np.array([known[1] for known in batch.known]).T[:, rows]
            back = (np.maximum(arrive[:, rows, cols], starts) + self._draw("overhead", shape)
                    + self._draw("service", shape) + self._draw("response", shape)
                    + remote[:, rows, cols])
            order = np.argsort(back, axis=0, kind="stable")[:self.read_quorum]
            consistent[rows, cols] = np.take_along_axis(has[:, rows, cols], order, axis=0).any(
                axis=0)
        return consistent

    def close(self, batch: Batch) -> None:
        for rec, (_, _, window) in zip(batch.recs, batch.known, strict=True):
            self.changes.close(rec.key, window)


HORIZON_QUANTILE = 0.9999  # of the write path's delay, times HORIZON_MARGIN (auto horizon)
HORIZON_MARGIN = 1.5
HORIZON_DRAWS = 100_000


def probe_offsets(config, rng) -> list[float]:
    """The probe grid (seconds after a commit): ``metrics.visibility_points`` offsets evenly
    spaced from 0 to ``metrics.visibility_horizon``.

    ``"auto"``: 1.5 times the 99.99th percentile of the write path's delay (a replica's
    stream delay plus apply time; a peer's write delay), estimated from draws of ``rng``;
    plus the cache's TTL when cached entries are left to expire (``cache.on_write = none``)
    or its invalidation delay's percentile otherwise, since a probe may hit the cache.
    """
    metrics, rep, cache = config.metrics, config.replication, config.cache

    def quantile(*dists) -> float:
        total = np.zeros(HORIZON_DRAWS)
        for dist in dists:
            total += dist.draw(rng, HORIZON_DRAWS)
        # np.quantile's linear rule from a partial sort (np.quantile sorts the whole sample,
        # a noticeable part of a short probed run).
        k = HORIZON_QUANTILE * (HORIZON_DRAWS - 1)
        lo = int(k)
        part = np.partition(total, [lo, lo + 1])
        return float(part[lo] + (k - lo) * (part[lo + 1] - part[lo]))

    horizon = metrics.visibility_horizon
    if horizon == "auto":
        if rep.mode == "quorum":
            horizon = quantile(config.quorum.delay("write", config.network.client_latency))
            horizon += config.quorum.remote_delay
        else:
            horizon = quantile(rep.delay, config.server.replica_apply_time)
        horizon *= HORIZON_MARGIN
        if cache.enabled:
            horizon += cache.ttl if cache.on_write == "none" else quantile(
                cache.invalidation_delay)
        if horizon <= 0:  # every delay is zero: everything is visible at once
            horizon = 1e-3
    return [float(t) for t in np.linspace(0.0, horizon, metrics.visibility_points)]
