"""The master: a single-threaded FIFO server that commits writes and feeds the replicas."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from sim.model.kernel import Payload
from sim.model.records import (
    REFUSED,
    UNAVAILABLE,
    Failure,
    HeldReply,
    Host,
    Keyspace,
    OnHost,
    Op,
    Version,
    WaitGroup,
)

LOG_TRIM_AT = 4096  # write-log length at which the writes every replica has are forgotten


@dataclass(frozen=True)
class WriteRules:
    """What ``[replication]`` asks of a write at the master: ``wait_replicas`` (WAIT N) with
    ``wait_timeout_s`` (0 = for ever), and ``min_replicas`` good replicas within
    ``min_replicas_max_lag_s`` to accept it (Redis: either at 0 disables the check)."""

    wait_replicas: int = 0
    wait_timeout_s: float = 0.0
    min_replicas: int = 0
    min_replicas_max_lag_s: float = 0.0


class Master(OnHost):
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

    Faults reach the master through its ``cluster`` (None in a run without faults, and then
    none of this costs anything on the hot path): a client on the other side of a partition
    is answered "unavailable", and ``log`` keeps the committed writes some replica may still
    lack, which decide what a failover loses. The fault controller changes the node only
    through its methods: :meth:`die` (every event it scheduled before then does nothing, or
    fails the commands it carried), :meth:`depose` and :meth:`reinstate` (what it loses once
    out of office, counted by :meth:`take_lost_writes`), :meth:`persist` and
    :meth:`keep_writes_after` (what a restart keeps). The admission check for
    ``min_replicas_to_write`` holds with or without faults, as in Redis.

    ``committed`` may be handed in (a promoted replica's data), and ``host`` (its id, links,
    cost samplers and thread) is the machine's, kept across role changes.
    ``on_commit(rec, now)``, when given, hears of every commit (the visibility probes).
    ``expiry`` (a :class:`sim.model.expiry.MasterExpiry`, None when the store has no TTL)
    hears of every SET and GET it serves, and runs the active expire cycle.
    """

    def __init__(self, env, at, host: Host, committed: Keyspace, offset: int,
                 rules: WriteRules, cache=None, cluster=None, trace=None,
                 on_commit=None, expiry=None, tracking=None) -> None:
        super().__init__(env, at, host)
        self.rules = rules
        self.committed = committed
        self.latest = committed.copy()
        self.offset = offset  # replication offset of the newest write enqueued
        self.commit_offset = offset  # of the newest write committed
        self.replicas: list = []  # the replicas following this master (they join it)
        self.cache = cache  # the Cache, when it must hear of commits (on_write)
        self.wait_replicas = rules.wait_replicas
        self.wait_timeout_s = rules.wait_timeout_s
        # WAIT: each client connection's replies in request order, made on first use.
        self.outboxes: defaultdict[int, deque[HeldReply]] = defaultdict(deque)
        # Redis: min-replicas-to-write or min-replicas-max-lag at 0 disables the check.
        self.min_replicas = rules.min_replicas if rules.min_replicas_max_lag_s > 0 else 0
        self.min_replicas_max_lag_s = rules.min_replicas_max_lag_s
        # host id -> when that replica stopped acknowledging (None while it is online)
        self.replica_since: dict[int, float | None] = {}
        self.cluster = cluster
        self.trace = trace
        self.on_commit = on_commit  # the visibility probes' hook: on_commit(rec, now)
        self.tracking = tracking  # CLIENT TRACKING (sim.model.tracking), None when off
        self.dead = False
        self._lost_from: int | None = None  # the promoted replica's offset, once deposed
        self._keep_after: int | None = None  # offset persisted last, when a restart may come
        self.last_ack_s: float | None = None  # when a write reply last reached a client
        self.log: deque[Version] = deque()
        self.expiry = expiry
        if expiry is not None:
            expiry.attach(self)

    def add_replica(self, replica) -> None:
        """``replica`` follows this master from now on (its acknowledgement clock starts)."""
        self.replicas.append(replica)
        self.replica_since[replica.node_id] = None

    def remove_replica(self, replica) -> None:
        """``replica`` follows another master (it keeps counting in ``replica_since``)."""
        self.replicas.remove(replica)

    def silent_since(self, replica) -> float | None:
        """When ``replica`` stopped acknowledging this master (s; None while it is online, or
        if it never followed it)."""
        return self.replica_since.get(replica.node_id)

    # -- messages from clients ------------------------------------------------------------

    def on_message(self, ev) -> None:
        ops = ev._value
        client = ops[0].client
        now = self.env._now
        if self.cluster is not None and not self._admit(client, now):
            self.fail(ops, UNAVAILABLE, self.down[client.index].arrival(now))
            return
        thread = self.thread
        t = thread.busy_until  # Thread.start and Thread.busy, inlined: once per message
        if t < now:
            t = now
        t += self.overhead()
        latest = self.latest
        service = self.service
        at = self.at
        need = self.min_replicas
        expiry = self.expiry
        last = None  # a SET that is the message's last command: committed by the reply event
        for op in ops:
            t += service()
            op.node = self
            if last is not None:
                at(last.commit_s, self._on_commit, last)
                last = None
            if op.write:
                if need and self.good_replicas(t) < need:
                    op.result = REFUSED  # Redis: NOREPLICAS Not enough good replicas to write
                    continue
                k = op.key
                self.offset += 1
                last = Version(k, latest[k].number + 1, t, self.offset)
                latest[k] = last
                op.result = last
                if expiry is not None:
                    expiry.wrote(last, t)
            else:
                op.result = latest[op.key]
                if expiry is not None:
                    expiry.read(op, t)
        thread.busy_until = t
        if t - now > thread.backlog_limit_s:
            thread.limit.exceeded(self.name, t - now, now)
        at(t, self._on_served, ops)
        if self.tracking is not None:
            self.tracking.served_master(client, ops, self.offset, now)

    def _admit(self, client, now: float) -> bool:
        """Fault hook: can this master take the client's message now (alive, reachable)?"""
        return not self.dead and self.cluster.reachable(client.index, self.node_id)

    def good_replicas(self, t: float) -> int:
        """Replicas that acknowledged within ``min_replicas_max_lag`` at time ``t`` (s)."""
        lag = self.min_replicas_max_lag_s
        return sum(1 for since in self.replica_since.values() if since is None or t - since <= lag)

    def _on_commit(self, ev) -> None:
        if not self.dead:
            self.commit(ev._value)

    def commit(self, rec: Version) -> None:
        """Make ``rec`` the committed version of its key now and ship it to the replicas."""
        now = self.env._now
        rec.commit_s = now
        committed = self.committed
        committed[rec.key].superseded_s = now
        committed[rec.key] = rec
        self.commit_offset = rec.offset
        for replica in self.replicas:
            replica.ship(rec, now)
        if self.cache is not None:
            self.cache.on_commit(rec, now)
        if self.on_commit is not None:
            self.on_commit(rec, now)
        if self.tracking is not None:
            self.tracking.changed(rec.key, rec.offset, now)
        if self.cluster is not None:
            log = self.log
            log.append(rec)
            if len(log) >= LOG_TRIM_AT:
                self.trim_log()
        if self.trace is not None:
            self.trace("commit", now, node=self.name, key=rec.key, version=rec.number)

    def _on_served(self, ev) -> None:
        ops = ev._value
        if self.dead:  # the commands queued behind the crash never run
            self.fail(ops, UNAVAILABLE, None)
            return
        last = ops[-1]
        if last.write and last.result.__class__ is Version:
            self.commit(last.result)
        if self.tracking is not None:
            self.tracking.end_pass(self.env._now)
        client = last.client
        if not self.wait_replicas:
            self.reply(client, ops)
            return
        # WAIT blocks the client's connection: replies leave in request order, so a reply
        # queues behind an earlier message of the same client still waiting for its acks.
        wrote = any(op.write and op.result.__class__ is Version for op in ops)
        held = HeldReply(not wrote, ops)
        self.outboxes[client.index].append(held)
        if wrote:
            self._wait(client, held)
        self._drain(client)

    def reply(self, client, ops: list[Op]) -> None:
        self.down[client.index].send(self.env._now, client.on_reply if self.cluster is None
                                     else self._on_reply_arrival, ops)

    def _on_reply_arrival(self, ev) -> None:
        ops = ev._value
        if self.dead and self.cluster.crash_cuts_links:
            self.fail(ops, UNAVAILABLE, None)  # the crash cut the connection under the reply
            return
        for op in ops:
            if op.write and op.result.__class__ is Version:
                now = self.env._now
                self.last_ack_s = now
                self.cluster.stats.write_acked(self, now)
                break
        ops[0].client.on_reply(ev)

    def _drain(self, client) -> None:
        outbox = self.outboxes[client.index]
        while outbox and outbox[0].ready:
            self.reply(client, outbox.popleft().ops)

    # -- WAIT: reply once enough replicas applied every write of the message ------------

    def _wait(self, client, held: HeldReply) -> None:
        group = WaitGroup(client, held)
        need = self.wait_replicas
        for op in held.ops:
            rec = op.result
            if op.write and rec.__class__ is Version and rec.acks < need:
                rec.wait = group
                group.pending += 1
        if group.pending == 0:
            held.ready = True
        elif self.wait_timeout_s > 0:
            self.at(self.env._now + self.wait_timeout_s, self._on_wait_timeout, group)

    def on_ack(self, ev) -> None:
        """A replica finished applying a write (scheduled by the replica at apply completion)."""
        self.ack(ev._value)

    def ack(self, rec: Version) -> None:
        if self.dead:
            return
        rec.acks += 1
        group = rec.wait
        if group is not None and rec.acks == self.wait_replicas:
            rec.wait = None
            group.pending -= 1
            if group.pending == 0:
                group.reply.ready = True
                self._drain(group.client)

    def on_resync_ack(self, ev) -> None:
        """A replica finished loading a resync up to offset ``hi``: as Redis's WAIT counts a
        replica once its acknowledged offset reaches a write's, every write still waiting
        with an offset in (``lo``, ``hi``] gains its ack (it applied none of them before)."""
        if self.dead:
            return
        lo, hi = ev._value
        recs = [op.result for _, outbox in sorted(self.outboxes.items()) for held in outbox
                if not held.ready
                for op in held.ops if op.write and op.result.__class__ is Version
                and lo < op.result.offset <= hi]
        for rec in recs:  # ack may drain the outboxes: collected first
            self.ack(rec)

    def _on_wait_timeout(self, ev) -> None:
        group = ev._value
        if group.pending > 0 and not self.dead:
            group.pending = -1  # released: late acks must not release it again
            for op in group.reply.ops:
                if op.write and op.result.__class__ is Version:
                    op.result.wait = None
            group.reply.ready = True
            self._drain(group.client)

    # -- faults ----------------------------------------------------------------------------

    def fail(self, ops: list[Op], kind: Failure, at_s: float | None) -> None:
        """Fail every command of a message: the client hears at ``at_s`` (None = now)."""
        for op in ops:
            op.result = kind
        client = ops[0].client
        if at_s is None:
            client.on_error(Payload(ops))
        else:
            self.at(at_s, client.on_error, ops)

    def die(self) -> None:
        """Crash now: replies held by WAIT are never sent, and every event already scheduled
        by this node does nothing when it fires (see the ``dead`` checks)."""
        self.dead = True
        for _, outbox in sorted(self.outboxes.items()):  # by client, as the connections close
            while outbox:
                self.fail(outbox.popleft().ops, UNAVAILABLE, None)

    @property
    def alive(self) -> bool:
        """False once it died (crashed, or was demoted into a replica)."""
        return not self.dead

    @property
    def lost_from(self) -> int | None:
        """Replication offset above which its writes are lost, once it lost office (None
        while nothing decided that)."""
        return self._lost_from

    def followers(self) -> list:
        """The replicas following it now (a copy: following it may change as they are
        handled)."""
        return list(self.replicas)

    def depose(self, lost_from: int) -> None:
        """It lost office (or never held it, at ``lost_from`` 0): the writes above offset
        ``lost_from``, which its successor never received, are lost; its log keeps them until
        :meth:`take_lost_writes` counts them."""
        self._lost_from = lost_from

    def reinstate(self) -> None:
        """It holds office after all: nothing it accepts is doomed any more."""
        self._lost_from = None

    def take_lost_writes(self) -> list[Version]:
        """The logged writes above :attr:`lost_from` (lost with its history), and the log
        forgotten, so they are counted once."""
        lost = [rec for rec in self.log if rec.offset > self._lost_from]
        self.log.clear()
        return lost

    def persist(self) -> tuple[Keyspace, int]:
        """A snapshot (rdb) or fsync (aof) now: its committed data and offset, which a restart
        keeps; the log keeps only the writes after it (a restart loses those)."""
        self._keep_after = self.commit_offset
        return self.committed.copy(), self.commit_offset

    def keep_writes_after(self, persisted_offset: int) -> None:
        """A restart may come and its disk holds its writes up to ``persisted_offset``: the
        log keeps every later one, which a restart that cancels the failover loses even
        though replicas hold them."""
        self._keep_after = persisted_offset

    def trim_log(self) -> None:
        """Forget logged writes that every connected replica Sentinel can reach has received:
        a failover promotes one of them (or one further ahead), so they cannot be lost. Once
        deposed, nothing above the promoted replica's offset is forgotten, and while a restart
        may come nothing above the offset persisted last (:meth:`keep_writes_after`)."""
        log = self.log
        keep = self._keep_after
        lost_from = self._lost_from
        if not self.replicas and lost_from is None and keep is None:
            # No replica to promote, so no failover can lose these writes (a host that joins
            # later first resyncs to this master's state): keeping them would grow for ever.
            log.clear()
            return
        minority = self.cluster.minority_nodes
        now = self.env._now
        received = [r.received_offset(now) for r in self.replicas
                    if r.linked and r.node_id not in minority]
        if not received:
            return
        floor = min(received)
        if lost_from is not None and lost_from < floor:
            floor = lost_from
        if keep is not None and keep < floor:
            floor = keep
        while log and log[0].offset <= floor:
            log.popleft()
