"""Clients: issue commands, pipeline them per connection, follow cache misses, keep session state."""

from __future__ import annotations

from sim.model.kernel import Link
from sim.model.records import HIT, MISS, Op


class Client:
    """One application client with a connection (a pair of FIFO links) to every node.

    Commands are routed when issued and queued per destination node. ``pipeline`` decides when
    a queue leaves as one message: ``now`` (batch size 1, or no linger in open mode), ``linger``
    (open mode: when the batch is full or ``linger`` after its first command) or ``explicit``
    (closed mode: the caller flushes after issuing a batch or handling a reply).

    Session state, for the read-your-writes and monotonic-read measures: ``acked`` (key ->
    highest version this client wrote and got the reply for), ``acked_offset`` (key -> its
    replication offset) and ``read_max`` (key -> highest version received by a read).
    """

    def __init__(self, env, at, index: int, master, cache, route, fill_route, recorder,
                 batch_size: int, linger_s: float, pipeline: str, trace=None) -> None:
        self.env = env
        self.at = at
        self.index = index
        self.master = master
        self.committed = master.committed
        self.cache = cache
        self.route = route
        self.fill_route = fill_route
        self.recorder = recorder
        self.batch_size = batch_size
        self.linger_s = linger_s
        self.up: list[Link] = []  # client -> node links, by node id
        self.acked: dict[int, int] = {}
        self.acked_offset: dict[int, int] = {}
        self.read_max: dict[int, int] = {}
        self.queues: dict = {}  # node -> list of ops waiting to leave
        self.generation: dict = {}  # node -> batch counter, so a stale linger timer does nothing
        self.on_batch_done = None  # closed loop: called when a reply completes the last op
        self.outstanding = 0
        self.trace = trace
        self.name = f"client{index}"
        self.submit = {"now": self._send_now, "linger": self._queue_linger,
                       "explicit": self._queue}[pipeline]

    # -- issuing ------------------------------------------------------------------------

    def read(self, key: int, now: float) -> None:
        op = Op(self, key, False, now, self.committed[key], self.acked.get(key, 0),
                self.read_max.get(key, 0))
        if self.trace is not None:
            self.trace("issue", now, node=self.name, key=key, write=False)
        if self.cache is not None:
            op.path = HIT
            self.submit(op, self.cache)
        else:
            self.submit(op, self.route(self, key, now))

    def write(self, key: int, now: float) -> None:
        if self.trace is not None:
            self.trace("issue", now, node=self.name, key=key, write=True)
        self.submit(Op(self, key, True, now, self.committed[key], 0, 0), self.master)

    # -- pipelining ---------------------------------------------------------------------

    def send(self, node, ops: list) -> None:
        self.at(self.up[node.node_id].arrival(self.env._now), node.on_message, (self, ops))

    def _send_now(self, op: Op, node) -> None:
        self.send(node, [op])

    def _queue(self, op: Op, node) -> None:
        queue = self.queues.get(node)
        if queue is None:
            self.queues[node] = [op]
        else:
            queue.append(op)

    def flush(self) -> None:
        """Send every non-empty queue as one message (closed mode)."""
        queues = self.queues
        if queues:
            self.queues = {}
            for node, ops in queues.items():
                self.send(node, ops)

    def _queue_linger(self, op: Op, node) -> None:
        queue = self.queues.get(node)
        if queue is None:
            self.queues[node] = [op]
            gen = self.generation.get(node, 0) + 1
            self.generation[node] = gen
            self.at(self.env._now + self.linger_s, self._on_linger, (node, gen))
            return
        queue.append(op)
        if len(queue) >= self.batch_size:
            del self.queues[node]
            self.send(node, queue)

    def _on_linger(self, ev) -> None:
        node, gen = ev._value
        if self.generation.get(node) == gen and node in self.queues:
            self.send(node, self.queues.pop(node))

    # -- replies ------------------------------------------------------------------------

    def on_cache_reply(self, ev) -> None:
        """Hits complete here; each miss goes on to the store chosen by ``cache.fill_from``."""
        now = self.env._now
        missed = False
        for op in ev._value:
            if op.result is not None:
                self._read_done(op, now)
            else:
                op.path = MISS
                self.submit(op, self.fill_route(self, op.key, now))
                missed = True
        if missed and self.submit == self._queue:
            self.flush()
        self._check_batch()

    def on_reply(self, ev) -> None:
        """Replies from the master or a replica; reads that missed the cache fill it."""
        now = self.env._now
        fills = None
        for op in ev._value:
            if op.write:
                rec = op.result
                key = op.key
                if rec.number > self.acked.get(key, 0):
                    self.acked[key] = rec.number
                    self.acked_offset[key] = rec.offset
                self.recorder.write_done(op, now)
                if self.trace is not None:
                    self.trace("written", now, node=self.name, key=key, version=rec.number,
                               issued=op.issue_s, server=op.node.name)
                self.outstanding -= 1
            else:
                if op.path == MISS:
                    if fills is None:
                        fills = [op.result]
                    else:
                        fills.append(op.result)
                self._read_done(op, now)
        if fills is not None:
            cache = self.cache
            self.at(self.up[cache.node_id].arrival(now), cache.on_fill, fills)
        self._check_batch()

    def _read_done(self, op: Op, now: float) -> None:
        number = op.result.number
        if number > self.read_max.get(op.key, 0):
            self.read_max[op.key] = number
        self.recorder.read_done(op, now)
        self.outstanding -= 1
        if self.trace is not None:
            self.trace("read", now, node=self.name, key=op.key, version=number,
                       newest=op.newest.number, issued=op.issue_s, server=op.node.name,
                       path=op.path, ryw_floor=op.ryw_floor, mono_floor=op.mono_floor)

    def _check_batch(self) -> None:
        if self.outstanding == 0 and self.on_batch_done is not None:
            self.on_batch_done(self)
