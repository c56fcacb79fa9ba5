"""Leaderless partial quorums (``replication.mode = "quorum"``): peers and the coordinator.

The model is the WARS model of Probabilistically Bounded Staleness (Bailis et al., VLDB
2012) with queues: N peers each hold every key; a client's coordinator sends a write to all
N and acknowledges it after the first W acks, and sends a read to all N and returns the
highest version among the first R responses. The four one-way delays are W (write, until
the peer applies), A (ack), R (read) and S (response), each over its own FIFO link per
(client, peer) pair: with different delay distributions for reads and writes, one FIFO
connection carrying both would not have a single delay law.

Versions. Every coordinator takes the next version of a key from one per-key counter when
it sends the write, as if the clients' clocks were perfectly synchronised and the store
resolved conflicts by last-writer-wins on those timestamps. Concurrent writers of a key are
thereby ordered by the time their coordinators sent the writes; a peer keeps the highest
version it has received, so a late-arriving older write never overwrites a newer one.

Commit. A write commits when its coordinator has W acks: V(k, t) (``committed``) is then
the highest version of k whose write has committed by t, so the staleness measures of
docs/design.md keep their meaning. A write can be applied by some peers before it commits
(a read may return a version newer than V(k, i)); with concurrent writers a lower version
may commit after a higher one and then never becomes V(k, t).

A peer is a single-threaded FIFO server with the service times of leader mode
(``batch_overhead`` per message, ``service_time`` per command, a write included). As on a
replica, nothing but this thread changes a peer's store, so a command's result is fixed
when its message is enqueued: the store is updated on a write's arrival, and a read
enqueued after it sees it, which is what serving them in order gives.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping

from sim.model.kernel import Link, Payload, QueueLimit, Thread
from sim.model.records import Keyspace, Version


class Peer:
    """One of the N peers: applies writes (highest version wins) and serves reads on one
    thread. ``ack_links[c]`` and ``response_links[c]`` lead back to client c's coordinator."""

    def __init__(self, env, at, index: int, store: Keyspace, overhead: Callable[[], float],
                 service: Callable[[], float], ack_links: Mapping[int, Link],
                 response_links: Mapping[int, Link], changes=None) -> None:
        self.env = env
        self.at = at
        self.index = index
        self.name = f"peer{index}"
        self.store = store
        self.overhead = overhead
        self.service = service
        self.ack_links = ack_links
        self.response_links = response_links
        self.thread = Thread(self.name, QueueLimit.none())
        self.coordinator = None  # the coordinator that owns the run's peers (see join)
        # The visibility probes' log of what each write does to a probed key: a hook that
        # only records, so a run without probes keeps the bare apply.
        self.changes = changes
        if changes is not None:
            self.apply = self._apply_watched

    def join(self, coordinator) -> None:
        """Answer ``coordinator`` from now on (it takes the run's peers when built)."""
        self.coordinator = coordinator

    def _serve(self, n: int, now: float) -> float:
        """Completion time (s) of a message of ``n`` commands arriving ``now``."""
        t = self.thread.start(now) + self.overhead()
        service = self.service
        for _ in range(n):
            t += service()
        self.thread.busy_until = t
        return t

    # -- what an outside observer (a visibility probe) may ask ------------------------------

    def answer(self, key: int, now: float) -> Version:
        """The version a read of ``key`` arriving ``now`` (s) returns."""
        return self.store[key]

    def starts(self, now: float) -> float:
        """When a command arriving ``now`` (s) would start on this peer's thread."""
        return self.thread.start(now)

    def apply(self, versions: list[Version]) -> None:
        store = self.store
        for rec in versions:
            if rec.number > store[rec.key].number:
                store[rec.key] = rec

    def _apply_watched(self, versions: list[Version]) -> None:
        """:meth:`apply`, then ``changes.add(key, (arrival_s, peer index, version
        number))`` for each write taken in."""
        Peer.apply(self, versions)
        add, now, index = self.changes.add, self.env._now, self.index
        for rec in versions:
            add(rec.key, (now, index, rec.number))

    def on_write(self, ev) -> None:
        """A write message ``(call, versions)`` arrived: apply, ack when served."""
        call, versions = ev._value
        now = self.env._now
        self.apply(versions)
        done = self._serve(len(versions), now)
        self.at(self.ack_links[call.client.index].arrival(done), self.coordinator.on_ack, call)

    def on_repair(self, ev) -> None:
        """A read repair: apply the versions; no acknowledgement is awaited."""
        versions = ev._value
        self.apply(versions)
        self._serve(len(versions), self.env._now)

    def on_read(self, ev) -> None:
        """A read message ``call`` arrived: answer from the store when served."""
        call = ev._value
        now = self.env._now
        store = self.store
        results = [store[op.key] for op in call.ops]
        done = self._serve(len(results), now)
        self.at(self.response_links[call.client.index].arrival(done),
                self.coordinator.on_response, (call, self, results))


class WriteCall:
    """A client message's writes in flight: ``acks`` received so far."""

    __slots__ = ("client", "ops", "versions", "acks")

    def __init__(self, client, ops: list, versions: list[Version]) -> None:
        self.client = client
        self.ops = ops
        self.versions = versions
        self.acks = 0


class ReadCall:
    """A client message's reads in flight: ``responses`` so far, ``best`` version per op
    among them; ``answers`` keeps (peer, results) for read repair until the call is done."""

    __slots__ = ("client", "ops", "responses", "best", "answers")

    def __init__(self, client, ops: list) -> None:
        self.client = client
        self.ops = ops
        self.responses = 0
        self.best: list[Version] | None = None
        self.answers: list | None = None


class Coordinator:
    """The client-side coordinator of every client (one object: the version counters and
    V(k, t) are shared). To a :class:`sim.model.client.Client` it is its ``master``: writes
    and (through a ``master`` router) reads are sent to it as messages on a zero-delay link
    (it runs in the client's process), and it replies through ``client.on_reply`` once a
    message's writes, or its reads, have their quorum.

    ``write_links[c][j]``, ``read_links[c][j]``: client c's links to peer j. ``cache`` hears
    of commits (``cache.on_write``); ``on_commit(rec, now)`` is the visibility probes' hook.
    """

    node_id = 0
    name = "coordinator"

    def __init__(self, env, at, committed: Keyspace, peers: list[Peer], read_quorum: int,
                 write_quorum: int, write_links: Mapping[int, list[Link]],
                 read_links: Mapping[int, list[Link]], read_repair: bool, cache=None,
                 on_commit=None, trace=None) -> None:
        self.env = env
        self.at = at
        self.committed = committed
        self.latest: defaultdict[int, int] = defaultdict(int)  # version counter per key
        self.offset = 0  # writes issued so far (what a client's acked_offset records)
        self.peers = peers
        self.read_quorum = read_quorum
        self.write_quorum = write_quorum
        self.write_links = write_links
        self.read_links = read_links
        self.read_repair = read_repair
        self.cache = cache
        self.on_commit = on_commit
        self.trace = trace
        for peer in peers:
            peer.join(self)

    def on_message(self, ev) -> None:
        """A client's message: its writes and its reads each go to all N peers."""
        ops = ev._value
        client = ops[0].client
        now = self.env._now
        writes = [op for op in ops if op.write]
        reads = [op for op in ops if not op.write] if len(writes) < len(ops) else None
        at = self.at
        if writes:
            latest = self.latest
            versions = []
            for op in writes:
                k = op.key
                latest[k] += 1
                self.offset += 1
                versions.append(Version(k, latest[k], math.inf, self.offset))  # commit_s at commit
            call = WriteCall(client, writes, versions)
            for peer, link in zip(self.peers, self.write_links[client.index], strict=True):
                at(link.arrival(now), peer.on_write, (call, versions))
        if reads:
            call = ReadCall(client, reads)
            for peer, link in zip(self.peers, self.read_links[client.index], strict=True):
                at(link.arrival(now), peer.on_read, call)

    def on_ack(self, ev) -> None:
        call = ev._value
        call.acks += 1
        if call.acks != self.write_quorum:
            return
        now = self.env._now
        for op, rec in zip(call.ops, call.versions, strict=True):
            self.commit(rec, now)
            op.result = rec
            op.node = self
        call.client.on_reply(Payload(call.ops))

    def commit(self, rec: Version, now: float) -> None:
        """``rec`` has its W acks now: it becomes V(k, now) unless a higher version already
        committed (a concurrent writer's), in which case it was superseded as it committed."""
        rec.commit_s = now
        committed = self.committed
        old = committed[rec.key]
        if rec.number < old.number:
            rec.superseded_s = now
            return
        old.superseded_s = now
        committed[rec.key] = rec
        if self.cache is not None:
            self.cache.on_commit(rec, now)
        if self.on_commit is not None:
            self.on_commit(rec, now)
        if self.trace is not None:
            self.trace("commit", now, node=self.name, key=rec.key, version=rec.number)

    def on_response(self, ev) -> None:
        call, peer, results = ev._value
        if call.responses >= self.read_quorum:  # the read has returned already
            if self.read_repair:
                self._repair(call, call.best, peer, results)
            return
        call.responses += 1
        best = call.best
        if best is None:
            call.best = best = list(results)
        else:
            for i, rec in enumerate(results):
                if rec.number > best[i].number:
                    best[i] = rec
        if self.read_repair:
            if call.answers is None:
                call.answers = []
            call.answers.append((peer, results))
        if call.responses < self.read_quorum:
            return
        for op, rec in zip(call.ops, best, strict=True):
            op.result = rec
            op.node = self
        if self.read_repair:
            for answered, got in call.answers:
                self._repair(call, best, answered, got)
            call.answers = None
        call.client.on_reply(Payload(call.ops))

    def _repair(self, call: ReadCall, best: list[Version], peer: Peer,
                results: list[Version]) -> None:
        """Send ``peer`` the newest versions it answered older ones for, on the reading
        client's write connection to it."""
        stale = [rec for rec, got in zip(best, results, strict=True) if got.number < rec.number]
        if stale:
            link = self.write_links[call.client.index][peer.index]
            self.at(link.arrival(self.env._now), peer.on_repair, stale)
