"""The fault schedule and the cluster's view of who is master: crashes, failovers, recoveries,
replica disconnects and partitions, as Redis with Sentinel behaves.

Built only when ``[faults]`` schedules something; the nodes then hold a reference to it and
ask it who can reach whom. Every fault is an event at a configured
time; after each one :meth:`Cluster.reconcile` brings every replication link to the state the
cluster implies (cut when its master is dead, unreachable, or the replica is disconnected;
reconnected with a partial or full resync when that ends). Sentinel is taken to run on the
majority side: it promotes the connected replica with the highest replication offset
``failover_timeout`` after the master in office crashed or was cut off, and re-points the
replicas and clients it can reach.

Nodes keep their host identity (``node_id``, names "master", "replica0", ... as at the start
of the run) across role changes: a promoted replica's host becomes a new
:class:`~sim.model.master.Master`, a crashed or deposed master's host a new
:class:`~sim.model.replica.Replica`, both made by the run's builder
(:mod:`sim.model.build`), which the cluster is handed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ResyncSettings:
    """What a resync needs: sizes in bytes, ``bandwidth`` in bytes/s, ``load_time()`` s."""

    value_size: int
    backlog_size: int
    snapshot_bytes: int
    bandwidth: float
    load_time: Callable[[], float]
    serve_stale_data: bool


class Cluster:
    """Holds the fault state of one run and schedules the configured faults.

    ``builder`` makes the nodes a role change needs (``promoted``, ``rejoined``); ``stats``
    is the run's :class:`~sim.measure.faults.FaultStats`; ``failover_delay()`` samples the
    time from a master's failure to the promotion (s).
    """

    crash_cuts_links = True  # a crash loses the messages on the wire (replies in flight)

    def __init__(self, env, at, faults, settings: ResyncSettings,
                 failover_delay: Callable[[], float], stats, builder, horizon_s: float,
                 trace=None) -> None:
        self.env, self.at, self.trace = env, at, trace
        self.faults = faults
        self.settings = settings
        self.failover_delay = failover_delay
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
        self.replicas = replicas
        self.clients = clients
        self.routers = routers
        faults, at, horizon = self.faults, self.at, self.horizon_s

        def schedule(t: float, fn, payload) -> None:
            if t < horizon:
                at(t, fn, payload)

        for t in faults.master_crash_at:
            schedule(t, self._on_crash, None)
        for spec in faults.replica_disconnects:
            schedule(spec.start, self._on_disconnect, 1 + spec.replica)
            schedule(spec.start + spec.duration, self._on_reconnect, 1 + spec.replica)
        for spec in faults.partitions:
            schedule(spec.start, self._on_partition,
                     (spec, frozenset(hosts[n] for n in spec.nodes)))
            schedule(spec.end, self._on_heal, spec)

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
        master.die()
        self._trace("crash", now, master.name)
        self.outage_start = now
        self.at(now + self.failover_delay(), self._on_failover, (master, None))
        if self.recover_after_s > 0:
            self.at(now + self.recover_after_s, self._on_recover, master)
        self.reconcile(now)

    def _on_failover(self, ev) -> None:
        old, partition = ev._value
        if self.office is not old or (partition is not None and self.partition is not partition):
            return  # healed (or already replaced) before Sentinel acted
        now = self.env._now
        best = self._best_candidate(old)
        if best is None:
            self._trace("failover-impossible", now, old.name)
            return
        new = self.builder.promoted(best, old)
        best.retire(new)
        self.replicas.remove(best)
        self._roles_changed()
        old.lost_from = best.arrived_offset
        self.office = new
        self.office_since = now
        if old.dead:
            self._account_loss(old)
        else:
            self.deposed.append(old)  # split brain: it keeps serving its side until healed
        for replica in list(self.replicas):
            if replica.master is old and replica.node_id not in self.minority_nodes:
                replica.follow(new, now)
        for client in self.clients:
            if client.index not in self.minority_clients:
                client.follow(new)
        self.stats.failover(now - self.outage_start)
        self._trace("failover", now, new.name, old=old.name, offset=best.arrived_offset)
        waiting, self.waiting_to_rejoin = self.waiting_to_rejoin, []
        for host in waiting:
            self._rejoin(host, now)
        self.reconcile(now)

    def _roles_changed(self) -> None:
        for router in self.routers:
            router.resize()

    def _best_candidate(self, old):
        """The replica Sentinel would promote: the highest offset among ``old``'s replicas
        on the majority side (ties to the lowest host id). A replica whose history diverged
        (``force_full``: a former master, or a follower of one) holds no prefix of ``old``'s
        stream until its full resync lands, and its offset counts in another history: it is
        no candidate."""
        candidates = [r for r in self.replicas
                      if r.master is old and r.node_id not in self.minority_nodes
                      and not r.force_full]
        if not candidates:
            return None
        return max(candidates, key=lambda r: (r.arrived_offset, -r.node_id))

    def _account_loss(self, old) -> None:
        lost = [rec for rec in old.log if rec.offset > old.lost_from]
        old.log.clear()
        self.stats.lost(lost)

    def _on_recover(self, ev) -> None:
        old = ev._value
        now = self.env._now
        if self.office.dead:
            self.waiting_to_rejoin.append(old)  # rejoins once a master is in office
            return
        self._rejoin(old, now)
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
            self.at(now + self.failover_delay(), self._on_failover, (master, spec))
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
        old = self.office
        if old.dead and old.lost_from is None:
            best = self._best_candidate(old)
            if best is not None:
                old.lost_from = best.arrived_offset
                self._account_loss(old)
