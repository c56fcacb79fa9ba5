"""A replica: applies the master's stream and serves reads on the same single thread."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sim.model.kernel import Link
from sim.model.records import Version


class Replica:
    """Receives committed writes over a FIFO link and applies them in stream order.

    Applying a write takes ``replica_apply_time`` on the thread that also serves reads, so a
    read queued behind a burst of writes waits, and reads delay replication (as in Redis). The
    thread is FIFO and nothing else changes ``store``, so a command's result is fixed when it
    is enqueued: the replica needs no completion event, only the arrival of each message.

    For replication lag it keeps ``inflight`` (commit times of writes shipped but not arrived)
    and ``applying`` ((apply completion time, version) of writes arrived but possibly not yet
    applied); both hold only what is in flight.
    """

    name = "replica"

    def __init__(self, env, at, index: int, node_id: int, master, keys_store: list[Version],
                 link: Link, apply_time: Callable[[], float], overhead: Callable[[], float],
                 service: Callable[[], float], trace=None) -> None:
        self.env = env
        self.at = at
        self.index = index
        self.node_id = node_id
        self.name = f"replica{index}"
        self.master = master
        self.store = keys_store
        self.link = link
        self.apply_time = apply_time
        self.overhead = overhead
        self.service = service
        self.busy_until = 0.0
        self.down: list[Link] = []
        self.inflight: deque[float] = deque()
        self.applying: deque[tuple[float, Version]] = deque()
        self.arrived_offset = 0
        self.max_lag_s = 0.0
        self.warmup_s = 0.0  # set by the engine: the measured window [warmup_s, horizon_s]
        self.horizon_s = float("inf")
        self.acks = master.wait_replicas > 0
        self.trace = trace

    def ship(self, rec: Version, now: float) -> None:
        """The master committed ``rec`` at ``now``: send it down the replication link."""
        self.inflight.append(now)
        self.at(self.link.arrival(now), self.on_stream, rec)

    def on_stream(self, ev) -> None:
        rec = ev._value
        now = self.env._now
        start = self.busy_until if self.busy_until > now else now
        done = start + self.apply_time()
        self.busy_until = done
        self.store[rec.key] = rec
        self.arrived_offset = rec.offset
        self.inflight.popleft()
        applying = self.applying
        while applying and applying[0][0] <= now:
            applying.popleft()
        applying.append((done, rec))
        # The lag peaks just before this write is applied (everything older is applied by
        # then): done - commit time. Only peaks inside the measured window count.
        lag = done - rec.commit_s
        if lag > self.max_lag_s and self.warmup_s <= done <= self.horizon_s:
            self.max_lag_s = lag
        if self.acks:
            self.at(done, self.master.on_ack, rec)
        if self.trace is not None:
            self.trace("apply", done, node=self.name, key=rec.key, version=rec.number,
                       offset=rec.offset, arrived=now)

    def on_message(self, ev) -> None:
        client, ops = ev._value
        now = self.env._now
        t = self.busy_until if self.busy_until > now else now
        t += self.overhead()
        store = self.store
        service = self.service
        for op in ops:
            t += service()
            op.result = store[op.key]
            op.node = self
        self.busy_until = t
        self.at(self.down[client.index].arrival(t), client.on_reply, ops)

    # -- what an outside observer sees at the current time --------------------------------

    def _settle(self, now: float) -> None:
        applying = self.applying
        while applying and applying[0][0] <= now:
            applying.popleft()

    def applied_offset(self, now: float) -> int:
        """Replication offset applied by ``now`` (all writes up to it are visible)."""
        self._settle(now)
        if self.applying:
            return self.applying[0][1].offset - 1
        return self.arrived_offset

    def lag(self, now: float) -> float:
        """``now`` minus the commit time of the oldest committed write not yet applied (s)."""
        self._settle(now)
        if self.applying:
            return now - self.applying[0][1].commit_s
        if self.inflight:
            return now - self.inflight[0]
        return 0.0
