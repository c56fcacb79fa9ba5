"""The master: a single-threaded FIFO server that commits writes and feeds the replicas."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sim.model.kernel import Link
from sim.model.records import Version


class Master:
    """Serves client messages in arrival order on one thread.

    A message of B commands costs ``batch_overhead`` plus ``service_time`` per command, served
    back to back; each SET commits at its own completion time (the key's version becomes the
    previous one plus one) and is then appended to every replica's stream; the reply leaves when
    the whole message is served (and, with ``wait_replicas``, once enough replicas applied it,
    in request order per client connection, since WAIT blocks the connection in Redis).

    Two views of the data are kept: ``latest`` is the state at the end of the queue (what a
    command enqueued now will see when it is served, since only this thread changes it), and
    ``committed`` is V(k, t), the state committed by now, which clients read at issue time to
    judge staleness.
    """

    node_id = 0
    name = "master"

    def __init__(self, env, at, keys: int, overhead: Callable[[], float],
                 service: Callable[[], float], wait_replicas: int, wait_timeout_s: float,
                 trace=None) -> None:
        self.env = env
        self.at = at
        self.overhead = overhead
        self.service = service
        self.committed = [Version(k, 0, 0.0, 0) for k in range(keys)]
        self.latest = list(self.committed)
        self.offset = 0  # replication offset of the newest write enqueued
        self.busy_until = 0.0
        self.down: list[Link] = []  # master -> client links, by client index
        self.replicas: list = []
        self.cache = None  # the Cache, when it must hear of commits (on_write)
        self.wait_replicas = wait_replicas
        self.wait_timeout_s = wait_timeout_s
        self.outboxes: list[deque] = []  # per client, replies held in order under WAIT
        self.trace = trace

    # -- messages from clients ------------------------------------------------------------

    def on_message(self, ev) -> None:
        client, ops = ev._value
        now = self.env._now
        t = self.busy_until if self.busy_until > now else now
        t += self.overhead()
        latest = self.latest
        service = self.service
        at = self.at
        wrote = False
        last = None  # a SET that is the message's last command: committed by the reply event
        for op in ops:
            t += service()
            op.node = self
            if op.write:
                if last is not None:
                    at(last.commit_s, self._on_commit, last)
                k = op.key
                self.offset += 1
                last = Version(k, latest[k].number + 1, t, self.offset)
                latest[k] = last
                op.result = last
                wrote = True
            else:
                if last is not None:
                    at(last.commit_s, self._on_commit, last)
                    last = None
                op.result = latest[op.key]
        self.busy_until = t
        at(t, self._on_served, (client, ops, last, wrote))

    def _on_commit(self, ev) -> None:
        self.commit(ev._value)

    def commit(self, rec: Version) -> None:
        """Make ``rec`` the committed version of its key now and ship it to the replicas."""
        now = self.env._now
        rec.commit_s = now
        committed = self.committed
        committed[rec.key].superseded_s = now
        committed[rec.key] = rec
        for replica in self.replicas:
            replica.ship(rec, now)
        if self.cache is not None:
            self.cache.on_commit(rec, now)
        if self.trace is not None:
            self.trace("commit", now, node=self.name, key=rec.key, version=rec.number)

    def _on_served(self, ev) -> None:
        client, ops, last, wrote = ev._value
        if last is not None:
            self.commit(last)
        if not self.wait_replicas:
            self.reply(client, ops)
            return
        # WAIT blocks the client's connection: replies leave in request order, so a reply
        # queues behind an earlier message of the same client still waiting for its acks.
        entry = [not wrote, ops]
        outbox = self.outboxes[client.index]
        outbox.append(entry)
        if wrote:
            self._wait(client, entry)
        self._drain(client)

    def reply(self, client, ops) -> None:
        self.at(self.down[client.index].arrival(self.env._now), client.on_reply, ops)

    def _drain(self, client) -> None:
        outbox = self.outboxes[client.index]
        while outbox and outbox[0][0]:
            self.reply(client, outbox.popleft()[1])

    # -- WAIT: reply once enough replicas applied every write of the message ------------

    def _wait(self, client, entry: list) -> None:
        waiter = [0, client, entry]  # writes still short of acks, client, outbox entry
        need = self.wait_replicas
        for op in entry[1]:
            if op.write and op.result.acks < need:
                op.result.waiter = waiter
                waiter[0] += 1
        if waiter[0] == 0:
            entry[0] = True
        elif self.wait_timeout_s > 0:
            self.at(self.env._now + self.wait_timeout_s, self._on_wait_timeout, waiter)

    def on_ack(self, ev) -> None:
        """A replica finished applying ``rec`` (scheduled by the replica at apply completion)."""
        rec = ev._value
        rec.acks += 1
        waiter = rec.waiter
        if waiter is not None and rec.acks == self.wait_replicas:
            rec.waiter = None
            waiter[0] -= 1
            if waiter[0] == 0:
                waiter[2][0] = True
                self._drain(waiter[1])

    def _on_wait_timeout(self, ev) -> None:
        waiter = ev._value
        if waiter[0] > 0:
            waiter[0] = -1  # released: late acks must not release it again
            for op in waiter[2][1]:
                if op.write:
                    op.result.waiter = None
            waiter[2][0] = True
            self._drain(waiter[1])
