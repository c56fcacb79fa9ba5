"""The origin: the database behind the cache, where a cache miss recomputes its value.

``servers`` parallel workers take requests from one FIFO queue: a request starts when it
and every request before it has a worker, on the worker that frees first. A pool of
workers is ``servers`` floats (when each frees), a min-heap; no SimPy process per request.
"""

from __future__ import annotations

from collections import deque
from heapq import heapreplace

from sim.errors import OverloadError
from sim.model.kernel import Link


class Recompute:
    """One request at the origin: the key, who asked (a reader's Op, or the cache tier's
    background refresh), the reader's client (whose master holds the committed versions) and
    its arrival time and end (s); ``reply`` is the refresh's return address."""

    __slots__ = ("key", "op", "client", "reply", "arrival_s", "done_s", "value")

    def __init__(self, key: int, op, client, arrival_s: float, reply=None) -> None:
        self.key = key
        self.op = op
        self.client = client
        self.reply = reply
        self.arrival_s = arrival_s
        self.done_s = 0.0
        self.value = None


class Origin:
    """Recomputes values: the value is the version committed at the client's master when
    the recompute starts, so staleness keeps its definition (docs/design.md section 2).

    A reader's request (``on_message``, Ops sent by a client that missed) is answered to
    ``client.on_recomputed`` with ``(op, delta_s)``; a refresh the cache tier asks for
    (``on_refresh``) is answered to ``reply`` over ``to_cache``. ``delta_s`` is the
    recompute's measured duration, queue wait included: what XFetch stores with the value.
    More than ``max_queue`` requests waiting stops the run (:class:`OverloadError`).
    """

    name = "origin"

    def __init__(self, env, at, node_id: int, servers: int, recompute, max_queue: int,
                 down: list[Link], to_cache: Link, stats) -> None:
        self.env = env
        self.at = at
        self.node_id = node_id
        self.free = [0.0] * servers  # when each worker frees (s), a min-heap
        self.recompute = recompute  # sampler of a recompute's duration (s)
        self.max_queue = max_queue
        self.waiting: deque[float] = deque()  # start times of the queued requests, in order
        self.in_flight = 0
        self.down = down  # origin -> client links, by client index
        self.to_cache = to_cache
        self.stats = stats

    def on_message(self, ev) -> None:
        """Requests from one client, each a reader that missed (or refreshes early)."""
        now = self.env._now
        for op in ev._value:
            self._accept(Recompute(op.key, op, op.client, now), now)

    def on_refresh(self, ev) -> None:
        """The cache tier asks for ``(key, client, reply)``: a background refresh."""
        key, client, reply = ev._value
        now = self.env._now
        self._accept(Recompute(key, None, client, now, reply), now)

    def _accept(self, job: Recompute, now: float) -> None:
        free = self.free
        start = free[0] if free[0] > now else now
        job.done_s = start + self.recompute()
        heapreplace(free, job.done_s)
        self.in_flight += 1
        self.stats.arrival(job.key, now, start - now, self.in_flight)
        if start > now:
            waiting = self.waiting
            while waiting and waiting[0] <= now:
                waiting.popleft()
            waiting.append(start)
            if len(waiting) > self.max_queue:
                raise OverloadError(self.name, len(waiting), start - now, now, self.max_queue)
            self.at(start, self._on_start, job)
        else:
            job.value = job.client.master.committed[job.key]
            self.at(job.done_s, self._on_done, job)

    def _on_start(self, ev) -> None:
        job = ev._value
        job.value = job.client.master.committed[job.key]
        self.at(job.done_s, self._on_done, job)

    def _on_done(self, ev) -> None:
        job = ev._value
        now = self.env._now
        self.in_flight -= 1
        delta = now - job.arrival_s
        op = job.op
        if op is None:
            self.to_cache.send(now, job.reply, (job.value, delta))
            return
        op.result = job.value
        op.node = self
        client = op.client
        self.down[client.index].send(now, client.on_recomputed, (op, delta))
