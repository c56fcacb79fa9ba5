"""Fault-aware master, replica and client: the nodes the engine builds when a fault is configured.

They subclass the plain nodes and change only what a failure touches, so a run without faults
keeps the plain classes and their hot path. What they add:

- a node can be **dead** (crashed, or a deposed master being turned into a replica): every event
  it scheduled before that (command completions, commits, replies in flight, WAIT timers)
  checks the flag when it fires and does nothing, or fails the commands it carried;
- a replica's replication link can be **cut** and **resynchronised**. Each connection has an
  epoch carried in every stream message, so writes in flight on a cut link are dropped; a resync
  goes through the replica's own FIFO thread (``busy_until``), so the rule that only a node's
  thread changes its store, which makes enqueue-time results exact, still holds;
- commands can fail: ``op.result`` is then a :class:`Failure` (unavailable, or refused by
  ``min_replicas_to_write``) and the client (:mod:`sim.model.fault_client`) counts it
  instead of recording a read or write.

The cluster-level decisions (who is master, which links are up) live in
:mod:`sim.model.cluster`.
"""

from __future__ import annotations

from collections import deque

from sim.model.master import Master
from sim.model.records import Version
from sim.model.replica import Replica


class Payload:
    """Stands in for an event when a callback is called directly: it only carries ``_value``."""

    __slots__ = ("_value",)

    def __init__(self, value) -> None:
        self._value = value


class Failure:
    """An error reply in place of a result: ``kind`` is ``"unavailable"`` or ``"refused"``.

    ``acks`` and ``waiter`` let the WAIT bookkeeping pass over a refused write untouched.
    """

    __slots__ = ("kind", "acks", "waiter")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.acks = 1 << 30
        self.waiter = None


UNAVAILABLE = Failure("unavailable")
REFUSED = Failure("refused")


class FaultVersion(Version):
    """A Version that also knows whether its writer received the reply (``acked``): the
    writes lost at a failover are counted among the acknowledged ones."""

    __slots__ = ("acked",)

    def __init__(self, key: int, number: int, commit_s: float, offset: int) -> None:
        super().__init__(key, number, commit_s, offset)
        self.acked = False


# ---------------------------------------------------------------------------------------
# Master
# ---------------------------------------------------------------------------------------


class FaultyMaster(Master):
    """A master that can die, be deposed, refuse writes, and keeps the log that decides loss.

    ``log`` holds the committed Versions that some connected replica may not have received
    yet (trimmed as they all receive them); at a failover the ones above the promoted
    replica's offset are the lost writes. With every replica cut off it holds the writes since
    then, so its size is bounded by the write rate times the length of the fault.
    ``replica_since`` maps each replica's host id to the time it stopped acknowledging (None
    while it is online); a connected replica's last ACK is taken as now (Redis ACKs every
    second, well inside the 10 s default ``min_replicas_max_lag``).
    """

    cluster = None  # set by the cluster when it adopts the node

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dead = False
        self.lost_from: int | None = None  # promoted replica's offset, once deposed
        self.log: deque[FaultVersion] = deque()
        self.commit_offset = 0  # offset of the newest committed write
        self.replica_since: dict[int, float | None] = {}
        self.min_replicas = 0
        self.max_lag_s = 0.0

    @classmethod
    def promoted_from(cls, replica: Replica, template: FaultyMaster) -> FaultyMaster:
        """The master that ``replica``'s host becomes: its data, thread and links; the
        settings of ``template`` (the master it replaces)."""
        new = cls(template.env, template.at, 0, replica.overhead, replica.service,
                  template.wait_replicas, template.wait_timeout_s, template.trace)
        new.min_replicas, new.max_lag_s = template.min_replicas, template.max_lag_s
        new.cluster = template.cluster
        new.node_id, new.name = replica.node_id, replica.name
        # The store already holds every write that reached the replica (results are fixed
        # at enqueue); those still queued are applied on this thread before any new command.
        new.committed = list(replica.store)
        new.latest = list(replica.store)
        new.offset = new.commit_offset = replica.arrived_offset
        new.busy_until = replica.busy_until
        new.down = replica.down
        new.cache = template.cache
        new.outboxes = [deque() for _ in template.outboxes]
        return new

    # -- commands --------------------------------------------------------------------------

    def on_message(self, ev) -> None:
        client, ops = ev._value
        now = self.env._now
        if self.dead or not self.cluster.reachable(client.index, self.node_id):
            self.fail(ops, UNAVAILABLE, self.down[client.index].arrival(now))
            return
        t = self.busy_until if self.busy_until > now else now
        t += self.overhead()
        latest, service, at = self.latest, self.service, self.at
        # Redis: min-replicas-to-write or min-replicas-max-lag at 0 disables the check.
        need = self.min_replicas if self.max_lag_s > 0 else 0
        wrote = False
        last = None  # as in Master.on_message
        for op in ops:
            t += service()
            op.node = self
            if op.write:
                if last is not None:
                    at(last.commit_s, self._on_commit, last)
                    last = None
                if need and self.good_replicas(t) < need:
                    op.result = REFUSED  # Redis: NOREPLICAS Not enough good replicas to write
                    continue
                k = op.key
                self.offset += 1
                last = FaultVersion(k, latest[k].number + 1, t, self.offset)
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

    def good_replicas(self, t: float) -> int:
        """Replicas that acknowledged within ``min_replicas_max_lag`` at time ``t`` (s)."""
        lag = self.max_lag_s
        return sum(1 for since in self.replica_since.values() if since is None or t - since <= lag)

    def _on_served(self, ev) -> None:
        if self.dead:  # the commands queued behind the crash never run
            self.fail(ev._value[1], UNAVAILABLE, None)
            return
        super()._on_served(ev)

    def _on_commit(self, ev) -> None:
        if not self.dead:
            self.commit(ev._value)

    def commit(self, rec: Version) -> None:
        super().commit(rec)
        self.commit_offset = rec.offset
        log = self.log
        log.append(rec)
        if len(log) >= 4096:
            self.trim_log()

    def trim_log(self) -> None:
        """Forget logged writes that every connected replica Sentinel can reach has received:
        a failover promotes one of them (or one further ahead), so they cannot be lost. Once
        deposed, nothing above the promoted replica's offset is forgotten."""
        log = self.log
        if not self.replicas and self.lost_from is None:
            # No replica to promote, so no failover can lose these writes (a host that joins
            # later first resyncs to this master's state): keeping them would grow for ever.
            log.clear()
            return
        minority = self.cluster.minority_nodes
        received = [r.arrived_offset for r in self.replicas
                    if r.linked and r.node_id not in minority]
        if not received:
            return
        floor = min(received)
        if self.lost_from is not None and self.lost_from < floor:
            floor = self.lost_from
        while log and log[0].offset <= floor:
            log.popleft()

    def reply(self, client, ops) -> None:
        self.at(self.down[client.index].arrival(self.env._now), self._on_reply_arrival,
                (client, ops))

    def _on_reply_arrival(self, ev) -> None:
        client, ops = ev._value
        if self.dead:  # the crash cut the connection while the reply was on its way
            self.fail(ops, UNAVAILABLE, None)
        else:
            client.on_reply(Payload(ops))

    def on_ack(self, ev) -> None:
        if not self.dead:
            super().on_ack(ev)

    def on_resync_ack(self, ev) -> None:
        """A replica finished loading a resync up to offset ``hi``: as Redis's WAIT counts a
        replica once its acknowledged offset reaches a write's, every write still waiting
        with an offset in (``lo``, ``hi``] gains its ack (it applied none of them before)."""
        if self.dead:
            return
        lo, hi = ev._value
        recs = [op.result for outbox in self.outboxes for ready, ops in outbox if not ready
                for op in ops if op.write and isinstance(op.result, Version)
                and lo < op.result.offset <= hi]
        for rec in recs:  # on_ack may drain the outboxes: collected first
            self.on_ack(Payload(rec))

    def _on_wait_timeout(self, ev) -> None:
        if not self.dead:
            super()._on_wait_timeout(ev)

    # -- failures --------------------------------------------------------------------------

    def fail(self, ops: list, kind: Failure, at_s: float | None) -> None:
        """Fail every command of a message: the client hears at ``at_s`` (None = now)."""
        for op in ops:
            op.result = kind
        client = ops[0].client
        if at_s is None:
            client.on_reply(Payload(ops))
        else:
            self.at(at_s, client.on_reply, ops)

    def die(self) -> None:
        """Crash now: replies held by WAIT are never sent, and every event already scheduled
        by this node does nothing when it fires (see the ``dead`` checks)."""
        self.dead = True
        for outbox in self.outboxes:
            while outbox:
                self.fail(outbox.popleft()[1], UNAVAILABLE, None)


# ---------------------------------------------------------------------------------------
# Replica
# ---------------------------------------------------------------------------------------


class FaultyReplica(Replica):
    """A replica whose link to its master can be cut and resynchronised.

    ``linked``: the stream flows. ``synced``: its data is the master's (False from a cut until
    the resync lands on its thread; with ``serve_stale_data`` off it refuses reads meanwhile).
    ``missing_since``: commit time of the oldest write it lacks while cut off (for the lag).
    A promoted replica is ``retired``; messages still reaching it go to its ``successor``.
    """

    cluster = None  # set by the cluster when it adopts the node

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.linked = True
        self.link_epoch = 0
        self.synced = True
        self.missing_since: float | None = None
        self.retired = False
        self.successor = None
        self.force_full = False  # the next resync must be full (its history diverged)

    # -- the stream ------------------------------------------------------------------------

    def ship(self, rec: Version, now: float) -> None:
        if self.linked:
            self.inflight.append(now)
            self.at(self.link.arrival(now), self._on_stream_epoch, (self.link_epoch, rec))
        elif self.missing_since is None:
            self.missing_since = now

    def _on_stream_epoch(self, ev) -> None:
        epoch, rec = ev._value
        if epoch == self.link_epoch:  # else it was in flight on a connection since cut
            self.on_stream(Payload(rec))

    def cut(self, now: float) -> None:
        """The link to the master breaks now: writes in flight on it are lost."""
        if not self.linked:
            return
        self.linked = False
        self.synced = False
        self.link_epoch += 1
        if self.inflight:
            self.missing_since = self.inflight[0]
            self.inflight.clear()
        since = self.master.replica_since
        if since.get(self.node_id) is None:
            since[self.node_id] = now

    def follow(self, master, now: float) -> None:
        """Replicate from ``master`` from now on (the link is connected by the cluster)."""
        self.cut(now)
        if self in self.master.replicas:
            self.master.replicas.remove(self)  # it keeps counting in the old replica_since
        self.master = master
        master.replicas.append(self)
        master.replica_since[self.node_id] = now
        self.acks = master.wait_replicas > 0

    def reconnect(self, now: float, full: bool) -> str:
        """Connect to the master and resynchronise; returns "partial" or "full".

        Partial when every write missed is still in the backlog (missed x value_size <=
        backlog_size): the missed writes cross the link and are applied one by one. Full
        otherwise: a snapshot of the dataset crosses the link at ``bandwidth`` and is loaded
        in ``snapshot_load_time``. Either way the replica's store becomes the master's
        committed state of now, on its thread, and later writes queue behind it on the link.
        """
        master, settings = self.master, self.cluster.settings
        missed = master.commit_offset - self.arrived_offset
        partial = (not full and missed >= 0
                   and missed * settings.value_size <= settings.backlog_size)
        self.linked = True
        self.link_epoch += 1
        if partial:
            arrive = self.link.arrival(now)
            apply = self.apply_time
            cost = sum(apply() for _ in range(missed))
        else:
            arrive = self.link.arrival(now + settings.snapshot_bytes / settings.bandwidth)
            cost = settings.load_time()
        kind = "partial" if partial else "full"
        # The writes it already applied (or will: they had arrived) are acknowledged by the
        # stream; after a diverged history (``full`` forced) none of this master's are.
        acked_upto = -1 if full else self.arrived_offset
        self.at(arrive, self._on_resync, (self.link_epoch, list(master.committed),
                                          master.commit_offset, cost, kind, now, acked_upto))
        return kind

    def _on_resync(self, ev) -> None:
        epoch, snapshot, offset, cost, kind, started, acked_upto = ev._value
        if epoch != self.link_epoch:  # cut again before the resync arrived
            return
        self.force_full = False  # only now is its history the master's
        now = self.env._now
        start = self.busy_until if self.busy_until > now else now
        done = start + cost
        self.busy_until = done
        self.store[:] = snapshot
        self.arrived_offset = offset
        self.synced = True
        # Until ``done`` the replica lags by everything it missed: one pseudo-write marks it.
        oldest = self.missing_since if self.missing_since is not None else started
        self.missing_since = None
        self.applying.clear()
        self.applying.append((done, Version(-1, 0, oldest, offset + 1)))
        lag = done - oldest
        if lag > self.max_lag_s and self.warmup_s <= done <= self.horizon_s:
            self.max_lag_s = lag
        self.cluster.stats.resync(kind, done - started)
        self.at(done, self._on_synced, (epoch, self.master))
        if self.acks:
            self.at(done, self.master.on_resync_ack, (acked_upto, offset))
        if self.trace is not None:
            self.trace("resync", done, node=self.name, resync=kind, started=started, offset=offset)

    def _on_synced(self, ev) -> None:
        epoch, master = ev._value
        if epoch == self.link_epoch and master is self.master:
            master.replica_since[self.node_id] = None

    # -- reads -----------------------------------------------------------------------------

    def on_message(self, ev) -> None:
        if self.retired:
            self.successor.on_message(ev)
            return
        client, ops = ev._value
        if not self.cluster.reachable(client.index, self.node_id) or (
                not self.synced and not self.cluster.settings.serve_stale_data):
            for op in ops:
                op.node = self
                op.result = UNAVAILABLE  # Redis: MASTERDOWN ... serve-stale-data is 'no'
            self.at(self.down[client.index].arrival(self.env._now), client.on_reply, ops)
            return
        super().on_message(ev)

    def lag(self, now: float) -> float:
        lag = super().lag(now)
        if self.missing_since is not None and now - self.missing_since > lag:
            return now - self.missing_since
        return lag

    def retire(self, successor) -> None:
        """This host became ``successor`` (a master): drop the stream, forward messages."""
        self.retired = True
        self.successor = successor
        self.linked = False
        self.link_epoch += 1
        self.inflight.clear()
