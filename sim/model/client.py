"""Clients: issue commands, pipeline them per connection, follow cache misses, keep session state."""

from __future__ import annotations

from collections import defaultdict, deque

from sim.model.kernel import Link
from sim.model.records import DIRECT, HIT, LOCAL, MISS, Failure, Op


class Pending:
    """A batch waiting to leave for ``node`` in linger mode: the linger timer sends it only
    if it is still the batch waiting (a full batch may have left, and a new one begun)."""

    __slots__ = ("node", "ops")

    def __init__(self, node, op: Op) -> None:
        self.node = node
        self.ops = [op]


class Client:
    """One application client with a connection (a pair of FIFO links) to every node.

    Commands are routed when issued and queued per destination node. ``pipeline`` decides when
    a queue leaves as one message (a list of Ops): ``now`` (batch size 1, or no linger in open
    mode), ``linger`` (open mode: when the batch is full or ``linger`` after its first command)
    or ``explicit`` (closed mode: the caller flushes after issuing a batch or handling a reply).

    ``master`` is the master this client writes to and judges staleness against (V(k, t) is
    ``master.committed``); a failover re-points it through :meth:`follow`.

    Session state, for the read-your-writes and monotonic-read measures: ``acked`` (key ->
    highest version this client wrote and got the reply for), ``acked_offset`` (key -> its
    replication offset) and ``read_max`` (key -> highest version received by a read).

    Error replies (a :class:`Failure` in place of a result: a whole message through
    :meth:`on_error`, or a write refused under ``min_replicas_to_write`` in :meth:`on_reply`)
    are counted in ``fault_stats`` and not recorded as reads or writes.

    ``local`` is the client's own cache (:class:`sim.model.local_cache.LocalCache`, with
    ``[client_cache]``): a read it holds completes at its issue; a miss goes on as above, and
    the store's reply fills it. Without it ``read`` and ``on_reply`` are the plain methods.
    """

    def __init__(self, env, at, index: int, master, cache, route, fill_route, recorder,
                 fault_stats, up: list[Link], batch_size: int, linger_s: float,
                 pipeline: str, trace=None, local=None) -> None:
        self.env = env
        self.at = at
        self.index = index
        self.name = f"client{index}"
        self.master = master
        self.cache = cache
        self.route = route
        self.fill_route = fill_route
        self.recorder = recorder
        if recorder is not None:  # the recorder's list of finished reads, appended to here
            self.reads_done, self.flush_at = recorder.pending_reads(), recorder.flush_at
        self.fault_stats = fault_stats
        self.up = up  # client -> node links, by node id
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.trace = trace
        # defaultdicts: read by subscript on the hot path (a never-seen key reads 0)
        self.acked: defaultdict[int, int] = defaultdict(int)
        self.acked_offset: dict[int, int] = {}
        self.read_max: defaultdict[int, int] = defaultdict(int)
        # Cache hits completed ahead of their reply's arrival: (arrival_s, key, version),
        # in arrival order (one FIFO link), folded into read_max once their time has come.
        self.arriving: deque[tuple[float, int, int]] = deque()
        self.queues: dict = {}  # linger mode: node -> the Pending batch waiting to leave
        self.batch: defaultdict = defaultdict(list)  # closed mode: node -> ops of this batch
        self.on_batch_done = None  # closed loop: called when a reply completes the last op
        self.outstanding = 0
        self.submit = {"now": self._send_now, "linger": self._queue_linger,
                       "explicit": self._queue}[pipeline]
        self.local = local
        if local is not None:  # chosen once here, so a run without it pays nothing per read
            self.read = self._read_local
            self.on_reply = self._on_reply_local

    def follow(self, master) -> None:
        """Write to (and judge staleness against) ``master`` from now on."""
        self.master = master

    def set_batch_listener(self, listener) -> None:
        """Closed loop: ``listener(client)`` runs when the last outstanding command completes."""
        self.on_batch_done = listener

    # -- issuing ------------------------------------------------------------------------

    def read(self, key: int, now: float) -> Op:
        arriving = self.arriving
        if arriving and arriving[0][0] <= now:
            self._arrived(now)
        cache = self.cache
        op = Op(self, key, False, now, self.master.committed[key], self.acked[key],
                self.read_max[key], DIRECT if cache is None else HIT)
        if self.trace is not None:
            self.trace("issue", now, node=self.name, key=key, write=False)
        self.submit(op, cache if cache is not None else self.route(self, key, now))
        return op

    def _read_local(self, key: int, now: float) -> None:
        """:meth:`read` behind the client's own cache: a hit completes now, with no trip."""
        version = self.local.lookup(key, now)
        if version is None:
            self.local.sent(Client.read(self, key, now))
            return
        arriving = self.arriving
        if arriving and arriving[0][0] <= now:
            self._arrived(now)
        op = Op(self, key, False, now, self.master.committed[key], self.acked[key],
                self.read_max[key], LOCAL)
        op.result = version
        op.node = self.local
        if self.trace is not None:
            self.trace("issue", now, node=self.name, key=key, write=False)
        self._read_done(op, now)

    def _on_reply_local(self, ev) -> None:
        """:meth:`on_reply`, and the tracked reads fill the client's own cache."""
        Client.on_reply(self, ev)
        self.local.replied(ev._value, self.env._now)

    def issue_batch(self, reads: list[bool], read_keys: list[int], write_keys: list[int],
                    now: float) -> None:
        """Closed loop: issue a batch (``reads[i]``: command i is a GET, else a SET; the keys
        in order) and send it, one message per node: :meth:`read` and :meth:`write` for each
        command, then :meth:`flush`, with the lookups hoisted out of the loop."""
        arriving = self.arriving
        if arriving and arriving[0][0] <= now:
            self._arrived(now)
        master, cache, trace, batch = self.master, self.cache, self.trace, self.batch
        committed, acked, read_max = master.committed, self.acked, self.read_max
        if cache is not None:
            # Every GET goes to the cache and every SET to the master: two messages, sent in
            # the order of their first commands, as flush() would send them.
            gets = [Op(self, key, False, now, committed[key], acked[key], read_max[key], HIT)
                    for key in read_keys]
            sets = [Op(self, key, True, now, committed[key], 0, 0) for key in write_keys]
            if trace is not None:
                self._trace_batch(reads, gets, sets, now)
            messages = ((cache, gets), (master, sets)) if reads[0] else (
                (master, sets), (cache, gets))
            for node, ops in messages:
                if ops:
                    self.up[node.node_id].send(now, node.on_message, ops)
            return
        r = w = 0
        for is_read in reads:
            if is_read:
                key = read_keys[r]
                r += 1
                op = Op(self, key, False, now, committed[key], acked[key], read_max[key],
                        DIRECT)
                node = self.route(self, key, now)
            else:
                key = write_keys[w]
                w += 1
                op = Op(self, key, True, now, committed[key], 0, 0)
                node = master
            if trace is not None:
                trace("issue", now, node=self.name, key=key, write=not is_read)
            batch[node].append(op)
        self.flush()

    def _trace_batch(self, reads: list[bool], gets: list[Op], sets: list[Op],
                     now: float) -> None:
        """The trace hook's "issue" records of a batch, in command order."""
        g, s = iter(gets), iter(sets)
        for is_read in reads:
            op = next(g) if is_read else next(s)
            self.trace("issue", now, node=self.name, key=op.key, write=op.write)

    def write(self, key: int, now: float) -> None:
        if self.trace is not None:
            self.trace("issue", now, node=self.name, key=key, write=True)
        master = self.master
        self.submit(Op(self, key, True, now, master.committed[key], 0, 0), master)

    # -- pipelining ---------------------------------------------------------------------

    def send(self, node, ops: list[Op]) -> None:
        self.up[node.node_id].send(self.env._now, node.on_message, ops)

    def _send_now(self, op: Op, node) -> None:
        self.up[node.node_id].send(self.env._now, node.on_message, [op])  # send(), inlined

    def _queue(self, op: Op, node) -> None:
        self.batch[node].append(op)

    def flush(self) -> None:
        """Send every non-empty queue as one message (closed mode)."""
        batch = self.batch
        if batch:
            self.batch = defaultdict(list)
            for node, ops in batch.items():
                self.send(node, ops)

    def _queue_linger(self, op: Op, node) -> None:
        pending = self.queues.get(node)
        if pending is None:
            pending = self.queues[node] = Pending(node, op)
            self.at(self.env._now + self.linger_s, self._on_linger, pending)
            return
        pending.ops.append(op)
        if len(pending.ops) >= self.batch_size:
            del self.queues[node]
            self.send(node, pending.ops)

    def _on_linger(self, ev) -> None:
        pending = ev._value
        if self.queues.get(pending.node) is pending:
            del self.queues[pending.node]
            self.send(pending.node, pending.ops)

    # -- replies ------------------------------------------------------------------------

    def on_cache_reply(self, ev) -> None:
        """Hits complete here; each miss goes on to the store chosen by ``cache.fill_from``."""
        now = self.env._now
        read_max, reads, trace = self.read_max, self.reads_done, self.trace
        hits = 0
        missed = False
        for op in ev._value:
            rec = op.result
            if rec is not None:
                # _read_done, inlined: most reads of a cached workload end here.
                number = rec.number
                if number > read_max[op.key]:
                    read_max[op.key] = number
                op.done_s = now
                reads.append(op)
                hits += 1
                if trace is not None:
                    self._trace_read(op, now)
            else:
                op.path = MISS
                self.submit(op, self.fill_route(self, op.key, now))
                missed = True
        self.outstanding -= hits
        if len(reads) >= self.flush_at:
            self.recorder.flush(now)
        if missed and self.submit == self._queue:
            self.flush()
        self._check_batch()

    def on_recomputed(self, ev) -> None:
        """The origin answered a read that missed, ``(op, delta_s)``: the read completes and
        fills the cache with the value and the recompute's duration (s)."""
        op, delta_s = ev._value
        now = self.env._now
        self._read_done(op, now)
        cache = self.cache
        self.up[cache.node_id].send(now, cache.guard.on_recomputed, (op.result, delta_s))
        self._check_batch()

    def on_hot_miss(self, ev) -> None:
        """A lease loser, ``(ops, wait_s)``: ask the cache again after the wait (s)."""
        ops, wait_s = ev._value
        self.at(self.env._now + wait_s, self._ask_again, ops)

    def _ask_again(self, ev) -> None:
        cache = self.cache
        self.up[cache.node_id].send(self.env._now, cache.on_message, ev._value)

    def hit(self, op: Op, arrival_s: float, now: float) -> None:
        """A cache hit answered ``now`` whose reply will reach this client at ``arrival_s``
        (s): recorded now (the recorder measures it once that time has passed), and what it
        read counts for the monotonic-read floor of reads issued from then on."""
        op.done_s = arrival_s
        reads = self.reads_done
        reads.append(op)
        if len(reads) >= self.flush_at:
            self.recorder.flush(now)
        self.arriving.append((arrival_s, op.key, op.result.number))
        self.outstanding -= 1
        if self.trace is not None:
            self._trace_read(op, arrival_s)

    def _arrived(self, now: float) -> None:
        arriving, read_max = self.arriving, self.read_max
        while arriving and arriving[0][0] <= now:
            _, key, number = arriving.popleft()
            if number > read_max[key]:
                read_max[key] = number

    def on_reply(self, ev) -> None:
        """Replies from the master or a replica; reads that missed the cache fill it."""
        now = self.env._now
        fills = None
        for op in ev._value:
            rec = op.result
            if op.write:
                if rec.__class__ is Failure:
                    self._failed(op, rec, now)
                    continue
                key = op.key
                if rec.number > self.acked[key]:
                    self.acked[key] = rec.number
                    self.acked_offset[key] = rec.offset
                rec.acked = True
                self.fault_stats.acked_writes += 1
                self.recorder.write_done(op, now)
                if self.trace is not None:
                    self.trace("written", now, node=self.name, key=key, version=rec.number,
                               issued=op.issue_s, server=op.node.name)
                self.outstanding -= 1
            else:
                if op.path == MISS:
                    if fills is None:
                        fills = [rec]
                    else:
                        fills.append(rec)
                self._read_done(op, now)
        if fills is not None:
            cache = self.cache
            self.up[cache.node_id].send(now, cache.on_fill, fills)
        self._check_batch()

    def on_error(self, ev) -> None:
        """Every command of a message failed (the node was down, unreachable, or refused
        reads): each ``op.result`` is a :class:`Failure`."""
        now = self.env._now
        for op in ev._value:
            self._failed(op, op.result, now)
        self._check_batch()

    def _failed(self, op: Op, failure: Failure, now: float) -> None:
        self.fault_stats.failed(op, failure, now)
        self.outstanding -= 1
        if self.trace is not None:
            self.trace("error", now, node=self.name, key=op.key, write=op.write,
                       reason=failure.kind, issued=op.issue_s)

    def _read_done(self, op: Op, now: float) -> None:
        number = op.result.number
        if number > self.read_max[op.key]:
            self.read_max[op.key] = number
        op.done_s = now  # Recorder.read_done, inlined: this runs once per read
        reads = self.reads_done
        reads.append(op)
        if len(reads) >= self.flush_at:
            self.recorder.flush(now)
        self.outstanding -= 1
        if self.trace is not None:
            self._trace_read(op, now)

    def _trace_read(self, op: Op, now: float) -> None:
        self.trace("read", now, node=self.name, key=op.key, version=op.result.number,
                   newest=op.newest.number, issued=op.issue_s, server=op.node.name,
                   path=op.path, ryw_floor=op.ryw_floor, mono_floor=op.mono_floor)

    def _check_batch(self) -> None:
        if self.outstanding == 0 and self.on_batch_done is not None:
            self.on_batch_done(self)
