"""A replica: applies its master's stream and serves reads on the same single thread."""

from __future__ import annotations

from collections import deque

from sim.model.kernel import Inbox, Link, Payload
from sim.model.records import UNAVAILABLE, Host, Keyspace, OnHost, Resync, Version


class Replica(OnHost):
    """Receives committed writes over a FIFO link and applies them in stream order.

    Applying a write takes ``replica_apply_time`` on the thread that also serves reads, so a
    read queued behind a burst of writes waits, and reads delay replication (as in Redis). The
    thread is FIFO and nothing else changes ``store``, so a command's result is fixed when it
    is enqueued: the replica needs no completion event.

    What the link delivers (writes, resyncs) goes into the replica's :class:`Inbox` and is
    taken in, in arrival order, before the replica serves anything at or after its arrival
    and whenever it is looked at (docs/design.md section 1, "Simultaneous events"). Only
    what must act on time wakes it at the arrival: a write whose apply a WAIT awaits, a
    resync. So the stream costs no event unless something waits for it, and the run is the
    same whether or not anything wakes the replica.

    Replication lag is read from ``inflight`` (commit times of writes shipped but not
    taken in) and ``applying`` ((apply completion time, version) of writes taken in but
    possibly not yet applied); both hold only what is in flight. Each apply reports its lag
    peak to ``lag`` (the run's :class:`sim.model.lag.LagMonitor`).

    Faults reach a replica through its ``cluster`` (None without faults), which changes it
    only through its methods: its link to the master is cut (:meth:`cut`: what is still on
    its way is dropped) and resynchronised (:meth:`reconnect`; :meth:`relink` does whichever
    the cluster's state asks), which goes through this same FIFO thread, so enqueue-time
    results stay exact; it follows another master (:meth:`follow`, with a history of its own
    after :meth:`diverge` or :meth:`reach_restarted`: a full resync next); its master's
    process dies under it (:meth:`master_died`). Until a resync lands the replica is not
    ``synced``; with ``serve_stale_data`` off it then refuses reads. A promoted replica is
    ``retired`` (:meth:`retire`); messages still reaching it go to its ``successor``.

    ``expiry`` (a :class:`sim.model.expiry.ReplicaExpiry`, None when the store has no TTL)
    decides whether a read of a key with a TTL answers "missing"; its reads are then served
    by :meth:`_on_message_expiring`, which also records when each read was served.
    """

    def __init__(self, env, at, host: Host, master, store: Keyspace, link: Link, lag,
                 cluster=None, trace=None, arrived_offset: int = 0, synced: bool = True,
                 missing_since: float | None = None, force_full: bool = False,
                 send_time: float = 0.0, expiry=None, tracking=None) -> None:
        super().__init__(env, at, host)
        self.apply_time = host.apply_time
        self.store = store
        self.link = link
        self.lag_monitor = lag
        self.cluster = cluster
        self.trace = trace
        self.tracking = tracking  # CLIENT TRACKING (sim.model.tracking), None when off
        self.inbox = Inbox(at)
        # Bound once: the stream's hot path appends to the inbox for every write.
        self._arrive = self.inbox.entries.append
        self._take = self._take_write
        self.inflight: deque[float] = deque()
        self.applying: deque[tuple[float, Version]] = deque()
        self.arrived_offset = arrived_offset
        # Fault state: a replica built while it still lacks its master's data (a rejoining
        # host) starts cut off, not synced, missing writes since ``missing_since``.
        self.linked = synced
        self.epoch = 0  # counts connections: a sync completes only on the one it began on
        self.synced = synced
        self.missing_since = missing_since
        self._force_full = force_full  # the next resync must be full (its history diverged)
        self.retired = False
        self.successor = None
        self._master = master
        self.sends_acks = master.wait_replicas > 0
        # A write must be taken in at its arrival when its apply schedules something: a WAIT
        # acknowledgement, or invalidations (their delivery events cannot be scheduled late).
        self.wakes = self.sends_acks or tracking is not None
        # The master's output buffer towards this replica, when the stream has a bandwidth:
        # each write takes ``send_time`` to leave it; what has not left when the master's
        # process dies (``sender_died_s``) is lost with it.
        self.send_time = send_time
        self.send_free = 0.0
        self.delivered_s = 0.0  # arrival of the last write that left the buffer and arrived
        self.sender_died_s = float("inf")
        if send_time > 0:
            self.ship = self._ship_queued
        self.expiry = expiry
        if expiry is not None:  # chosen once here: a run without TTLs pays nothing per read
            self.on_message = self._on_message_expiring
        master.add_replica(self)
        if not synced:
            master.replica_since[self.node_id] = env.now

    # -- the stream ------------------------------------------------------------------------

    def ship(self, rec: Version, now: float) -> None:
        """The master committed ``rec`` at ``now``: send it down the replication link."""
        if not self.linked:  # only a fault unlinks a replica
            if self.missing_since is None:
                self.missing_since = now
            return
        self.inflight.append(now)
        arrival = self.link.arrival(now)
        if self.wakes:
            self.inbox.put_waking(arrival, self._take, rec)
        else:
            self._arrive((arrival, self._take, rec))  # Inbox.put, inlined

    def _ship_queued(self, rec: Version, now: float) -> None:
        """:meth:`ship` behind the master's output buffer (``replication.stream_bandwidth``):
        the write leaves it ``send_time`` after the one before, then crosses the link."""
        if not self.linked:
            if self.missing_since is None:
                self.missing_since = now
            return
        sent = (self.send_free if self.send_free > now else now) + self.send_time
        self.send_free = sent
        self.inflight.append(now)
        put = self.inbox.put_waking if self.wakes else self.inbox.put
        put(self.link.arrival(sent), self._take_sent, (rec, sent))

    def take_in(self, now: float) -> None:
        """Take in, in order, everything that has arrived by ``now`` (s)."""
        entries = self.inbox.entries
        if entries and entries[0][0] <= now:
            self.inbox.take_in(now)

    def _take_sent(self, payload: tuple[Version, float], arrival_s: float) -> None:
        rec, sent = payload
        self.delivered_s = arrival_s
        # Else it was still in the output buffer of a master process that died.
        if sent <= self.sender_died_s:
            self._take_write(rec, arrival_s)

    def _take_write(self, rec: Version, now: float) -> None:
        """A write arrived at ``now``: it is applied on this thread after what is queued."""
        thread = self.thread
        done = thread.busy_until  # Thread.start and Thread.busy, inlined: once per write
        if done < now:
            done = now
        done += self.apply_time()
        thread.busy_until = done
        if done - now > thread.backlog_limit_s:
            thread.limit.exceeded(self.name, done - now, now)
        self.store[rec.key] = rec
        self.arrived_offset = rec.offset
        self.inflight.popleft()
        applying = self.applying
        while applying and applying[0][0] <= now:
            applying.popleft()
        applying.append((done, rec))
        # The lag peaks just before this write is applied (everything older is applied by
        # then): done - commit time. The monitor decides whether the peak counts.
        monitor = self.lag_monitor
        if done - rec.commit_s > monitor.max_s:
            monitor.peak(done, rec.commit_s)
        if self.sends_acks:
            self.at(done, self._master.on_ack, rec)
        if self.tracking is not None:  # the write is applied, and its pass ends, at done
            self.tracking.changed(rec.key, rec.offset, done)
            self.tracking.end_pass(done)
        if self.trace is not None:
            self.trace("apply", done, node=self.name, key=rec.key, version=rec.number,
                       offset=rec.offset, arrived=now)

    # -- reads -----------------------------------------------------------------------------

    def on_message(self, ev) -> None:
        ops = ev._value
        client = ops[0].client
        now = self.env._now
        entries = self.inbox.entries
        if entries and entries[0][0] <= now:
            self.inbox.take_in(now)
        if self.cluster is not None and not self._admit(client, ops, now):
            return
        thread = self.thread
        t = thread.busy_until  # Thread.start and Thread.busy, inlined: once per message
        if t < now:
            t = now
        t += self.overhead()
        store = self.store
        service = self.service
        for op in ops:
            t += service()
            op.result = store[op.key]
            op.node = self
        thread.busy_until = t
        if t - now > thread.backlog_limit_s:
            thread.limit.exceeded(self.name, t - now, now)
        self.down[client.index].send(t, client.on_reply, ops)
        if self.tracking is not None:
            self.tracking.served_replica(client, ops, self.arrived_offset, now, t)

    def _on_message_expiring(self, ev) -> None:
        """:meth:`on_message` for a store with TTLs: each read's answer, "missing" or not, is
        judged when it is served (``op.served_s``)."""
        ops = ev._value
        now = self.env._now
        self.take_in(now)
        client = ops[0].client
        if self.cluster is not None and not self._admit(client, ops, now):
            return
        missing = self.expiry.missing
        t = self.thread.start(now) + self.overhead()
        for op in ops:
            t += self.service()
            op.node = self
            rec = op.result = self.store[op.key]
            op.served_s = t
            op.missing = missing(rec, t)
        self.thread.busy(t, now)
        self.down[client.index].send(t, client.on_reply, ops)

    def _admit(self, client, ops, now: float) -> bool:
        """Fault hook: serve the message, or answer it otherwise and return False."""
        if self.retired:
            self.successor.on_message(Payload(ops))
            return False
        if not self.cluster.reachable(client.index, self.node_id) or (
                not self.synced and not self.cluster.settings.serve_stale_data):
            for op in ops:
                op.node = self
                op.result = UNAVAILABLE  # Redis: MASTERDOWN ... serve-stale-data is 'no'
            self.at(self.down[client.index].arrival(now), client.on_error, ops)
            return False
        return True

    # -- what an outside observer sees at the current time --------------------------------

    def shipped_arrival(self) -> float:
        """When the write shipped last reaches this replica (s): its delivery on the FIFO
        link, fixed when it was shipped (what a visibility probe asks right after a commit)."""
        return self.link.last

    def received_offset(self, now: float) -> int:
        """Replication offset of the newest write that has reached it by ``now`` (s)."""
        self.take_in(now)
        return self.arrived_offset

    def _settle(self, now: float) -> None:
        applying = self.applying
        while applying and applying[0][0] <= now:
            applying.popleft()

    def applied_offset(self, now: float) -> int:
        """Replication offset applied by ``now`` (all writes up to it are visible)."""
        self.take_in(now)
        self._settle(now)
        if self.applying:
            return self.applying[0][1].offset - 1
        return self.arrived_offset

    def lag(self, now: float) -> float:
        """``now`` minus the commit time of the oldest committed write not yet applied (s)."""
        self.take_in(now)
        self._settle(now)
        if self.applying:
            lag = now - self.applying[0][1].commit_s
        elif self.inflight:
            lag = now - self.inflight[0]
        else:
            lag = 0.0
        if self.missing_since is not None and now - self.missing_since > lag:
            return now - self.missing_since
        return lag

    # -- faults: cut, follow, resync, retire ------------------------------------------------

    def cut(self, now: float) -> None:
        """The link to the master breaks now: what is still on its way on it is lost."""
        if not self.linked:
            return
        self.take_in(now)
        self.inbox.drop()
        self.linked = False
        self.synced = False
        self.epoch += 1
        self.send_free = 0.0  # the output buffer went with the connection
        if self.inflight:
            self.missing_since = self.inflight[0]
            self.inflight.clear()
        since = self._master.replica_since
        if since.get(self.node_id) is None:
            since[self.node_id] = now

    @property
    def master(self):
        """The master it follows (it changes only through :meth:`follow`)."""
        return self._master

    @property
    def force_full(self) -> bool:
        """Must its next resync be full? (Its history is not its master's: a former master, a
        follower of one, or a replica of a restarted host.) Cleared when a resync lands."""
        return self._force_full

    def relink(self, up: bool, now: float) -> str | None:
        """Bring its link to the state the cluster implies (``up``): "cut" when it breaks now,
        "partial" or "full" when it reconnects (:meth:`reconnect`), None when it already is."""
        if self.linked and not up:
            self.cut(now)
            return "cut"
        if not self.linked and up:
            return self.reconnect(now)
        return None

    def follow(self, master, now: float) -> None:
        """Replicate from ``master`` from now on (the link is connected by the cluster)."""
        self.cut(now)
        self._leave_master()
        self._master = master
        master.add_replica(self)
        master.replica_since[self.node_id] = now
        self.sends_acks = master.wait_replicas > 0
        self.wakes = self.sends_acks or self.tracking is not None

    def _leave_master(self) -> None:
        if self in self._master.replicas:
            self._master.remove_replica(self)

    def reach_restarted(self, host, now: float) -> None:
        """Its master's address answers again, served by a restarted process ``host``: it
        follows ``host``, a new history, so its next resync is full; until that lands it
        keeps the old master's data and offset (and may still be promoted)."""
        self.follow(host, now)
        self._force_full = True

    def diverge(self) -> None:
        """Its history is no longer its master's (it followed a deposed master): the next
        resync is full, and its offset counts nothing of the new master's stream."""
        self._force_full = True
        self.arrived_offset = 0

    def reconnect(self, now: float) -> str:
        """Connect to the master and resynchronise; returns "partial" or "full".

        Partial when every write missed is still in the backlog (missed x value_size <=
        backlog_size): the missed writes cross the link and are applied one by one. Full
        otherwise: after ``sync_delay`` (Redis' repl-diskless-sync-delay, waiting for more
        replicas to share the transfer) a snapshot of the dataset crosses the link at
        ``bandwidth`` and is loaded in ``snapshot_load_time``. Either way the replica's store
        becomes the master's committed state of now, on its thread, and later writes queue
        behind it on the link.
        """
        master, settings = self._master, self.cluster.settings
        full = self._force_full  # stays set until a resync lands (a cut may interrupt this one)
        missed = master.commit_offset - self.arrived_offset
        partial = (not full and missed >= 0
                   and missed * settings.value_size <= settings.backlog_size)
        self.take_in(now)
        self.linked = True
        self.epoch += 1
        self.sender_died_s = float("inf")
        if partial:
            arrive = self.link.arrival(now)
            apply = self.apply_time
            cost = sum(apply() for _ in range(missed))
        else:
            arrive = self.link.arrival(now + settings.sync_delay
                                       + settings.snapshot_bytes / settings.bandwidth)
            cost = settings.load_time()
        kind = "partial" if partial else "full"
        # The writes it already applied (or will: they had arrived) are acknowledged by the
        # stream; after a diverged history (``full`` forced) none of this master's are.
        acked_upto = -1 if full else self.arrived_offset
        # It schedules its completion when it lands: it wakes the replica on arrival.
        self.inbox.put_waking(arrive, self._take_resync, Resync(
            self.epoch, master.committed.copy(), master.commit_offset, cost, kind, now,
            acked_upto))
        return kind

    def master_died(self, now: float) -> float | None:
        """Its master's process died at ``now``: what had not left its output buffer for
        this replica never will (what had is still delivered). Returns when the connection's
        close reaches it (s), behind the last data on the FIFO link; None when it was not
        linked."""
        if not self.linked:
            return None
        self.take_in(now)
        self.sender_died_s = now
        entries = self.inbox.entries
        take = self._take_sent
        lost = [e for e in entries if e[1] == take and e[2][1] > now]
        if lost:
            # Never sent: they give up the places on the link they had reserved, so the close
            # follows the last write that did leave (or the last delivered one).
            kept = [e for e in entries if e[1] != take or e[2][1] <= now]
            entries.clear()
            entries.extend(kept)
            self.link.last = max(self.delivered_s, max((e[0] for e in kept), default=0.0))
        return self.link.arrival(now)

    def _take_resync(self, resync: Resync, now: float) -> None:
        self._force_full = False  # only now is its history the master's
        thread = self.thread
        done = thread.start(now) + resync.cost_s
        thread.busy_until = done  # a resync is not a command: run.max_queue does not count it
        if self._master in self.cluster.restarted:  # a restarted master's data replaces ours
            theirs = resync.snapshot
            self.cluster.stats.wiped(sum(1 for key, mine in self.store.items()
                                         if mine.number > theirs[key].number))
        self.store.replace(resync.snapshot)
        self.arrived_offset = resync.offset
        self.synced = True
        # Until ``done`` the replica lags by everything it missed: one pseudo-write marks it.
        oldest = self.missing_since if self.missing_since is not None else resync.started_s
        self.missing_since = None
        self.applying.clear()
        self.applying.append((done, Version(-1, 0, oldest, resync.offset + 1)))
        self.lag_monitor.peak(done, oldest)
        self.cluster.stats.resync(resync.kind, done - resync.started_s)
        self.at(done, self._on_synced, (resync.epoch, self._master))
        if self.sends_acks:
            self.at(done, self._master.on_resync_ack, (resync.acked_upto, resync.offset))
        if self.trace is not None:
            self.trace("resync", done, node=self.name, resync=resync.kind,
                       started=resync.started_s, offset=resync.offset)

    def _on_synced(self, ev) -> None:
        epoch, master = ev._value
        if epoch == self.epoch and master is self._master:
            master.replica_since[self.node_id] = None

    def retire(self, successor, now: float) -> None:
        """This host became ``successor`` (a master) at ``now``: leave its master, drop the
        stream, forward messages."""
        self._leave_master()
        self.take_in(now)
        self.inbox.drop()
        self.retired = True
        self.successor = successor
        self.linked = False
        self.epoch += 1
        self.inflight.clear()

