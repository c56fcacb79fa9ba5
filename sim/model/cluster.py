"""The fault schedule and the cluster's view of who is master: crashes, failovers, recoveries,
replica disconnects and partitions, as Redis with Sentinel behaves.

Built only when ``[faults]`` schedules something; the nodes then hold a reference to it and
ask it who can reach whom. Every fault is an event at a configured
time; after each one :meth:`Cluster.reconcile` brings every replication link to the state the
cluster implies (cut when its master is dead, unreachable, or the replica is disconnected;
reconnected with a partial or full resync when that ends). Sentinel is taken to run on the
majority side: it promotes the connected replica with the highest replication offset after
the master in office crashed or was cut off, and re-points the replicas and clients it can
reach. When it does so follows :mod:`sim.model.sentinel` (detection, promotion, confirmation,
replicas reconfigured one by one, clients switching as they discover the new master), or,
with ``faults.failover_timeout`` set, one sampled delay after which everything happens at
once.

A crash (``faults.crash_mode``) kills the process (``"process"``: what the master already
sent, stream writes and replies on the wire, is still delivered, the replication links close
behind it) or cuts the host off (``"network"``: messages on the wire are lost). A crashed
host restarted by ``faults.master_recover_after`` comes back, under Sentinel's timeline, as a
master holding what ``server.persistence`` kept, until Sentinel demotes it (see
:meth:`Cluster._on_restart`).

Nodes keep their host identity (``node_id``, names "master", "replica0", ... as at the start
of the run) across role changes: a promoted replica's host becomes a new
:class:`~sim.model.master.Master`, a crashed or deposed master's host a new
:class:`~sim.model.replica.Replica`, both made by the run's builder
(:mod:`sim.model.build`), which the cluster is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.model.kernel import Payload
from sim.model.records import Keyspace
from sim.model.sentinel import Sentinel


@dataclass(frozen=True)
class ResyncSettings:
    """What a resync needs: sizes in bytes, ``bandwidth`` in bytes/s, ``load_time()`` s."""

    value_size: int
    backlog_size: int
    snapshot_bytes: int
    bandwidth: float
    load_time: Callable[[], float]
    serve_stale_data: bool
    sync_delay: float = 0.0  # s before a full resync's snapshot starts (diskless sync delay)


class Cluster:
    """Holds the fault state of one run and schedules the configured faults.

    ``builder`` makes the nodes a role change needs (``promoted``, ``rejoined``); ``stats``
    is the run's :class:`~sim.measure.faults.FaultStats`; ``failover_delay()`` samples the
    time from a master's failure to the promotion (s) when ``faults.failover_timeout`` is set,
    else ``sentinel`` (a :class:`~sim.model.sentinel.Sentinel`) draws the timeline.
    ``persistence`` is ``(mode, interval_s)`` from ``[server]``.
    """

    def __init__(self, env, at, faults, settings: ResyncSettings,
                 failover_delay: Callable[[], float] | None, stats, builder, horizon_s: float,
                 trace=None, sentinel: Sentinel | None = None,
                 persistence: tuple[str, float] = ("none", 0.0)) -> None:
        self.env, self.trace = env, trace
        self._schedule = at
        self.faults = faults
        self.settings = settings
        self.failover_delay = failover_delay
        self.sentinel = sentinel
        # A crash in "network" mode loses the messages on the wire (replies in flight).
        self.crash_cuts_links = faults.crash_mode == "network"
        self.persistence, self.persist_every_s = persistence
        self.durable: dict[int, tuple[Keyspace, int]] = {}  # host -> (data, offset)
        self.draining: set = set()  # replicas still receiving what a killed master sent
        self.restarted: list = []  # restarted old masters serving until Sentinel demotes them
        self.crashes: list = []  # (crashed master, its timeline or None), for the outage
        self.stats = stats
        self.builder = builder
        self.horizon_s = horizon_s
        self.recover_after_s = faults.master_recover_after
        self.minority_nodes: frozenset[int] = frozenset()
        self.minority_clients: frozenset[int] = frozenset()
        self.partition = None
        self.disconnected: set[int] = set()  # host ids whose replication link is unplugged
        self.deposed: list = []  # alive masters that lost office (split brain)
        self.waiting_to_rejoin: list = []
        self.outage_start = 0.0
        self.office_since = 0.0  # when the master in office took office (s)
        self.office = None
        self.replicas: list = []
        self.clients: list = []
        self.routers: list = []

    def start(self, master, replicas: list, clients: list, routers: list,
              hosts: dict[str, int]) -> None:
        """Take charge of the built nodes (``replicas`` is the run's live list, changed in
        place by failovers, which tell the ``routers``) and schedule every fault that falls before the horizon: one
        after it never happens, and costs the run nothing, not even an event."""
        self.office = master
        self._keep_log(master)
        self.replicas = replicas
        self.clients = clients
        self.routers = routers
        faults, at, horizon = self.faults, self.at, self.horizon_s

        def schedule(t: float, fn, payload) -> None:
            if t < horizon:
                at(t, fn, payload)

        for t in faults.master_crash_at:
            schedule(t, self._on_crash, None)
        if (self.sentinel is not None and self.recover_after_s > 0 and faults.master_crash_at
                and self.persistence != "none"):
            if self.persist_every_s > 0:
                schedule(self.persist_every_s, self._on_persist, None)
        for spec in faults.replica_disconnects:
            schedule(spec.start, self._on_disconnect, 1 + spec.replica)
            schedule(spec.start + spec.duration, self._on_reconnect, 1 + spec.replica)
        for spec in faults.partitions:
            schedule(spec.start, self._on_partition,
                     (spec, frozenset(hosts[n] for n in spec.nodes)))
            schedule(spec.end, self._on_heal, spec)

    def at(self, time_s: float, fn, payload) -> None:
        """Schedule a fault event: before it acts, every replica takes in what has reached it
        by then, as it would before serving a command (docs/design.md section 1,
        "Simultaneous events"), so a fault sees the same replicas whatever else happened at
        that instant."""
        self._schedule(time_s, self._settled, (fn, payload))

    def _settled(self, ev) -> None:
        fn, payload = ev._value
        now = self.env._now
        for replica in self.replicas:
            replica.take_in(now)
        fn(Payload(payload))

    # -- reachability ----------------------------------------------------------------------

    def reachable(self, client_index: int, node_id: int) -> bool:
        """Can this client reach this host now (same side of the partition, if any)?"""
        if self.partition is None:
            return True
        return (client_index in self.minority_clients) == (node_id in self.minority_nodes)

    def _same_side(self, a: int, b: int) -> bool:
        return (a in self.minority_nodes) == (b in self.minority_nodes)

    def reconcile(self, now: float) -> None:
        """Cut or reconnect every replication link to match the cluster's state."""
        for replica in self.replicas:
            if replica in self.draining:
                continue  # its killed master's last writes are still arriving
            master = replica.master
            up = (not master.dead and replica.node_id not in self.disconnected
                  and self._same_side(replica.node_id, master.node_id))
            if replica.linked and not up:
                replica.cut(now)
                self._trace("cut", now, replica.name, master=master.name)
            elif not replica.linked and up:
                kind = replica.reconnect(now)
                self._trace("reconnect", now, replica.name, master=master.name, resync=kind)

    def _trace(self, kind: str, now: float, node: str, **fields) -> None:
        if self.trace is not None:
            self.trace(kind, now, node=node, **fields)

    # -- crash, failover, recovery -----------------------------------------------------------

    def _on_crash(self, ev) -> None:
        now = self.env._now
        master = self.office
        if master.dead:  # the office is vacant: a failover is still pending
            self._trace("crash-skipped", now, master.name)
            return
        if self.persistence == "aof" and self.persist_every_s == 0:
            self._persist(master)  # appendfsync always: every committed write survives
        master.die()
        self._trace("crash", now, master.name)
        self.outage_start = now
        if not self.crash_cuts_links:
            # The process died, the kernel still delivers what it had sent, then closes the
            # connection (FIN), which arrives behind the data on the same FIFO link.
            for replica in master.replicas:
                if replica.linked:
                    replica.master_died(now)  # its output buffer dies with it
                    self.draining.add(replica)
                    self.at(replica.link.arrival(now), self._on_closed, replica)
        if self.sentinel is None:
            timeline = None
            self.at(now + self.failover_delay(), self._on_failover, (master, None, None))
        else:
            timeline = self.sentinel.timeline(now, not self.crash_cuts_links,
                                              max(0, len(master.replicas) - 1))
            self.at(timeline.promoted_s, self._on_failover, (master, None, timeline))
        self.crashes.append((master, timeline))
        self.stats.crash(master, now)
        if self.recover_after_s > 0:
            self.at(now + self.recover_after_s,
                    self._on_recover if timeline is None else self._on_restart,
                    (master, timeline))
        self.reconcile(now)

    def _on_closed(self, ev) -> None:
        """A killed master's connection closes at this replica (after its last message)."""
        self.draining.discard(ev._value)
        self.reconcile(self.env._now)

    def _on_failover(self, ev) -> None:
        old, partition, timeline = ev._value
        if self.office is not old or (partition is not None and self.partition is not partition):
            return  # healed (or already replaced) before Sentinel acted
        if timeline is not None and timeline.cancelled:
            return  # the old host came back before Sentinel counted it down
        now = self.env._now
        best = self._best_candidate(old)
        if best is None:
            self._trace("failover-impossible", now, old.name)
            host = next((h for h in self.restarted if h.node_id == old.node_id
                         and not h.dead), None)
            if host is not None:  # Sentinel gives up; the restarted host serves on
                self.restarted.remove(host)
                self._reinstate(old, host, now)
            return
        self.draining.discard(best)
        if best.master is not old:  # it was resyncing from old's restarted host
            best.master.remove_replica(best)
        new = self.builder.promoted(best, old)
        best.retire(new, now)
        self.replicas.remove(best)
        self._roles_changed()
        old.lost_from = best.arrived_offset
        self.office = new
        self.office_since = now
        self._keep_log(new)
        if old.dead:
            self._account_loss(old)
        else:
            self.deposed.append(old)  # split brain: it keeps serving its side until healed
        # Sentinel's list of old's replicas holds those that went over to its restarted host.
        others = [r for r in self.replicas if r.node_id not in self.minority_nodes
                  and (r.master is old or (r.master in self.restarted
                                           and r.master.node_id == old.node_id))]
        clients = [c for c in self.clients if c.index not in self.minority_clients]
        if timeline is None:  # failover_timeout: everyone is re-pointed at once
            for replica in others:
                replica.follow(new, now)
            for client in clients:
                client.follow(new)
            self.stats.failover(now - self.outage_start, None)
        else:
            if len(others) != len(timeline.reconfigured_s):  # replicas came or went
                self.sentinel.reconfigure(timeline, len(others))
            for replica, t in zip(others, timeline.reconfigured_s, strict=True):
                self.at(t, self._on_reconfigure, replica)
            for client in clients:
                t = self.sentinel.client_switch_s(timeline)
                timeline.clients_switched_s.append(t)
                self.at(t, self._on_discover, (client, False))
            self.stats.failover(now - self.outage_start, timeline.phases_s())
        self._trace("failover", now, new.name, old=old.name, offset=best.arrived_offset)
        waiting, self.waiting_to_rejoin = self.waiting_to_rejoin, []
        for host in waiting:
            self._rejoin(host, now)
        self.reconcile(now)

    def _on_reconfigure(self, ev) -> None:
        """Sentinel sends REPLICAOF (the master in office) to a replica of the old master."""
        replica = ev._value
        now = self.env._now
        if replica not in self.replicas or replica.master is self.office:
            return
        if replica.node_id in self.minority_nodes:
            return
        diverged = replica.master in self.restarted  # it took a restarted master's history
        replica.follow(self.office, now)
        if diverged:
            replica.diverge()
        self._trace("reconfigure", now, replica.name, master=self.office.name)
        self.reconcile(now)

    def _on_discover(self, ev) -> None:
        """A client learns the master in office from Sentinel (poll or +switch-master). A
        polling client that reconnected to a restarted old master is content with it and
        asks no more (``demoted`` is set when that master just refused it as a replica)."""
        client, demoted = ev._value
        office = self.office
        if client.master is office or client.index in self.minority_clients:
            return
        if (not demoted and client.master in self.restarted
                and self.sentinel.discovery == "poll"):
            return
        client.follow(office)

    def _roles_changed(self) -> None:
        for router in self.routers:
            router.resize()

    def _best_candidate(self, old):
        """The replica Sentinel would promote: the highest offset among ``old``'s replicas
        on the majority side (ties to the lowest host id). A replica whose history diverged
        (``force_full``: a former master, or a follower of one) holds no prefix of ``old``'s
        stream until its full resync lands, and its offset counts in another history: it is
        no candidate. A replica whose full resync from ``old``'s restarted host has not
        landed yet still holds ``old``'s data and offset: it is one (promoting it aborts the
        resync)."""
        candidates = [r for r in self.replicas
                      if r.node_id not in self.minority_nodes
                      and ((r.master is old and not r.force_full)
                           or (r.force_full and r.master in self.restarted
                               and r.master.node_id == old.node_id))]
        if not candidates:
            return None
        return max(candidates, key=lambda r: (r.arrived_offset, -r.node_id))

    def _account_loss(self, old, restarted: bool = False) -> None:
        """Count ``old``'s logged writes above ``lost_from`` as lost (``restarted``: the
        writes a restarted old master accepted before its demotion)."""
        lost = [rec for rec in old.log if rec.offset > old.lost_from]
        old.log.clear()
        self.stats.lost(lost, restarted)

    def _on_recover(self, ev) -> None:
        """With ``failover_timeout`` set: the crashed host comes back as a replica."""
        old, _ = ev._value
        now = self.env._now
        if self.office.dead:
            self.waiting_to_rejoin.append(old)  # rejoins once a master is in office
            return
        self._rejoin(old, now)
        self.reconcile(now)

    # -- restart under Sentinel (persistence) -------------------------------------------------

    def _on_persist(self, ev) -> None:
        """A snapshot (rdb) or fsync (aof) of the master in office: what a restart keeps."""
        if not self.office.dead:
            self._persist(self.office)
        self.at(self.env._now + self.persist_every_s, self._on_persist, None)

    def _keep_log(self, master) -> None:
        """A master that may crash and restart keeps the writes it has not persisted: a
        restart that cancels the failover loses them even though replicas hold them."""
        if self.sentinel is not None and self.recover_after_s > 0:
            master.keep_after = self.durable.get(master.node_id, (None, 0))[1]

    def _persist(self, master) -> None:
        self.durable[master.node_id] = (master.committed.copy(), master.commit_offset)
        master.keep_after = master.commit_offset

    def _restored(self, old) -> tuple[Keyspace, int]:
        """What ``old``'s host holds after a restart: its last persisted state, or nothing."""
        if self.persistence != "none" and old.node_id in self.durable:
            data, offset = self.durable[old.node_id]
            return data.copy(), offset
        # Nothing survives: every key reads as a version 0 of this new, empty history.
        return Keyspace({}), 0

    def _on_restart(self, ev) -> None:
        """The crashed host's redis-server starts again with what persistence kept.

        Before Sentinel counted it down (a reconnect attempt finds it up), it is simply the
        master again: no failover, and every write it had not persisted is lost. Otherwise
        it serves as a master until Sentinel demotes it: clients still pointed at it write to
        it, replicas not yet reconfigured resynchronise from it (wiping what it lacks), and
        everything it acknowledges is discarded at the demotion."""
        old, timeline = ev._value
        now = self.env._now
        data, offset = self._restored(old)
        host = self.builder.restarted(old, data, offset)
        self._trace("restart", now, host.name, persistence=self.persistence, offset=offset)
        if self.office is old and timeline.cancelled_by_restart(now):
            timeline.cancelled = True
            self._reinstate(old, host, now)
            return
        host.lost_from = 0  # nothing it accepts survives the demotion: keep its whole log
        self.restarted.append(host)
        for client in self.clients:
            if client.master is old and client.index not in self.minority_clients:
                client.follow(host)  # the client reconnects to the address it knows
        self._adopt(old, host, now)
        self.at(self.sentinel.demote_s(timeline, now), self._on_demote, host)
        self.reconcile(now)

    def _reinstate(self, old, host, now: float) -> None:
        """No failover: the restarted ``host`` is the master in office again, and every write
        ``old`` had not persisted is lost (its replicas will take the host's data)."""
        old.lost_from = host.commit_offset
        self._account_loss(old)
        host.lost_from = None  # in office, not deposed
        self.office = host
        self.office_since = now
        self._keep_log(host)
        self.restarted.append(host)  # its replicas' resync wipes what it lacks
        for client in self.clients:
            if client.master is old:
                client.follow(host)
        self._adopt(old, host, now)
        self._trace("failover-cancelled", now, host.name)
        self.reconcile(now)

    def _adopt(self, old, host, now: float) -> None:
        """Replicas still following ``old`` retry their connection on their next replication
        cron (once a second) and then reach its restarted ``host``: a new history, so a full
        resync (until it lands they hold ``old``'s data and may still be promoted)."""
        for replica in self.replicas:
            if replica.master is old and not replica.retired:
                self.at(self.sentinel.replica_retry_s(now), self._on_replica_retry,
                        (replica, old, host))

    def _on_replica_retry(self, ev) -> None:
        replica, old, host = ev._value
        now = self.env._now
        if replica not in self.replicas or replica.master is not old or host.dead:
            return  # promoted or reconfigured first
        self.draining.discard(replica)
        replica.follow(host, now)
        replica.force_full = True  # a new history; its data stays old's until the resync lands
        self.reconcile(now)

    def _on_demote(self, ev) -> None:
        """Sentinel turns the restarted old master into a replica of the master in office."""
        host = ev._value
        now = self.env._now
        if host.dead or host not in self.restarted or host is self.office:
            return  # Sentinel gave up the failover: it is the master in office
        self._account_loss(host, restarted=True)
        host.die()
        self._trace("demote", now, host.name, master=self.office.name)
        for replica in list(self.replicas):
            if replica.master is host:
                replica.follow(self.office, now)
                replica.diverge()
        for client in self.clients:
            if client.master is host:
                self.at(self.sentinel.rediscover_s(now), self._on_discover, (client, True))
        self._rejoin(host, now)
        self.reconcile(now)

    def _rejoin(self, old, now: float) -> None:
        """``old``'s host comes back as a replica of the master in office (full resync:
        its history diverged from the new master's)."""
        replica = self.builder.rejoined(old, self.office, self.office_since)
        self.replicas.append(replica)
        self._roles_changed()
        self._trace("rejoin", now, old.name, master=self.office.name)

    # -- disconnects -------------------------------------------------------------------------

    def _on_disconnect(self, ev) -> None:
        self.disconnected.add(ev._value)
        self.reconcile(self.env._now)

    def _on_reconnect(self, ev) -> None:
        self.disconnected.discard(ev._value)
        self.reconcile(self.env._now)

    # -- partitions --------------------------------------------------------------------------

    def _on_partition(self, ev) -> None:
        spec, nodes = ev._value
        now = self.env._now
        self.partition = spec
        self.minority_nodes = nodes
        self.minority_clients = frozenset(spec.clients)
        self._trace("partition", now, "network", nodes=sorted(nodes), clients=list(spec.clients))
        master = self.office
        if master.node_id in nodes:  # Sentinel (on the majority side) sees the master go down
            self.outage_start = now
            if self.sentinel is None:
                timeline = None
                self.at(now + self.failover_delay(), self._on_failover, (master, spec, None))
            else:  # Sentinel's PINGs go unanswered
                timeline = self.sentinel.timeline(now, False, max(0, len(master.replicas) - 1))
                self.at(timeline.promoted_s, self._on_failover, (master, spec, timeline))
            self.crashes.append((master, timeline))
            self.stats.crash(master, now)
        self.reconcile(now)

    def _on_heal(self, ev) -> None:
        now = self.env._now
        self.partition = None
        self.minority_nodes = frozenset()
        self.minority_clients = frozenset()
        self._trace("heal", now, "network")
        office = self.office
        for old in self.deposed:
            # Sentinel turns the old master into a replica: what it accepted since the
            # failover, and what its successor never received, is discarded.
            self._account_loss(old)
            old.die()
            for replica in list(old.replicas):
                if replica in self.replicas:
                    replica.follow(office, now)
                    replica.diverge()
            self._rejoin(old, now)
        self.deposed = []
        for client in self.clients:
            if client.master is not office:
                client.follow(office)
        self.reconcile(now)

    # -- end of run --------------------------------------------------------------------------

    def finish(self) -> None:
        """At the horizon, count what is already doomed: a deposed master still cut off loses
        what it accepted (as if the partition healed now), and a crashed master whose failover
        would come after the end loses what its best replica lacks (no failover is counted)."""
        for old in self.deposed:
            self._account_loss(old)
        self.deposed = []
        for host in self.restarted:
            if not host.dead and host is not self.office:
                self._account_loss(host, restarted=True)  # its demotion is already due
        old = self.office
        if old.dead and old.lost_from is None:
            best = self._best_candidate(old)
            if best is not None:
                old.lost_from = best.arrived_offset
                self._account_loss(old)
