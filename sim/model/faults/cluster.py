"""The cluster: the fault state of one run, its schedule, and the links it implies.

It holds who is master in office, the sides of a partition, the disconnected and draining
replicas, and the masters deposed or restarted; the jobs of :mod:`sim.model.faults` change
that state on their events and leave the links to :meth:`Cluster.reconcile`. Sentinel is
taken to run on the majority side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.model.faults.detection import Detection
from sim.model.faults.failover import Failover
from sim.model.faults.partitions import Partitions
from sim.model.faults.persistence import Persistence
from sim.model.faults.restarts import Restarts
from sim.model.kernel import Payload
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

    ``builder`` makes the nodes a role change needs (``promoted``, ``rejoined``,
    ``restarted``); ``stats`` is the run's :class:`~sim.measure.faults.FaultStats`;
    ``failover_delay()`` samples the time from a master's failure to the promotion (s) when
    ``faults.failover_timeout`` is set, else ``sentinel`` (a
    :class:`~sim.model.sentinel.Sentinel`) draws the timeline. ``persistence`` is
    ``(mode, interval_s)`` from ``[server]``.

    ``failover_job`` and ``partitions_job`` are the classes of those two jobs: a variant of
    the controller swaps its own (Redis Cluster's, :mod:`sim.model.faults.redis_cluster`).
    """

    failover_job = Failover
    partitions_job = Partitions

    def __init__(self, env, at, faults, settings: ResyncSettings,
                 failover_delay: Callable[[], float] | None, stats, builder, horizon_s: float,
                 trace=None, sentinel: Sentinel | None = None,
                 persistence: tuple[str, float] = ("none", 0.0)) -> None:
        self.env, self.trace = env, trace
        self._schedule = at
        self.faults = faults
        self.settings = settings
        self.stats = stats
        self.builder = builder
        self.horizon_s = horizon_s
        # A crash in "network" mode loses the messages on the wire (replies in flight).
        self.crash_cuts_links = faults.crash_mode == "network"
        self.recover_after_s = faults.master_recover_after
        self.minority_nodes: frozenset[int] = frozenset()
        self.minority_clients: frozenset[int] = frozenset()
        self.partition = None
        self.disconnected: set[int] = set()  # host ids whose replication link is unplugged
        self.draining: set = set()  # replicas still receiving what a killed master sent
        self.deposed: list = []  # alive masters that lost office (split brain)
        self.restarted: list = []  # restarted old masters serving until Sentinel demotes them
        self.waiting_to_rejoin: list = []  # recovered hosts waiting for a master in office
        self.outage_start = 0.0  # when the master in office last failed (s)
        self.office_since = 0.0  # when the master in office took office (s)
        self.office = None
        self.replicas: list = []
        self.clients: list = []
        self.routers: list = []
        self.persistence = Persistence(self, *persistence, sentinel is not None
                                       and self.recover_after_s > 0)
        self.detection = Detection(self, failover_delay, sentinel)
        self.failover = self.failover_job(self, sentinel)
        self.partitions = self.partitions_job(self)
        self.restarts = Restarts(self, sentinel)

    def start(self, master, replicas: list, clients: list, routers: list,
              hosts: dict[str, int]) -> None:
        """Take charge of the built nodes (``replicas`` is the run's live list, changed in
        place by failovers, which tell the ``routers``) and schedule every fault that falls
        before the horizon: one after it never happens, and costs the run nothing, not even
        an event."""
        self.office = master
        self.persistence.keep_log(master)
        self.replicas = replicas
        self.clients = clients
        self.routers = routers
        faults, at, horizon = self.faults, self.at, self.horizon_s
        persistence, partitions = self.persistence, self.partitions

        def schedule(t: float, fn, payload) -> None:
            if t < horizon:
                at(t, fn, payload)

        for t in faults.master_crash_at:
            schedule(t, self.detection.on_crash, None)
        if persistence.restart_may_come and faults.master_crash_at and persistence.periodic:
            schedule(persistence.every_s, persistence.on_persist, None)
        for spec in faults.replica_disconnects:
            schedule(spec.start, partitions.on_disconnect, 1 + spec.replica)
            schedule(spec.start + spec.duration, partitions.on_reconnect, 1 + spec.replica)
        for spec in faults.partitions:
            schedule(spec.start, partitions.on_partition,
                     (spec, frozenset(hosts[n] for n in spec.nodes)))
            schedule(spec.end, partitions.on_heal, spec)

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

    def event(self, kind: str, now: float, node: str, **fields) -> None:
        """Tell the trace hook, if any, of a fault event at ``now`` (s)."""
        if self.trace is not None:
            self.trace(kind, now, node=node, **fields)

    # -- reachability and links ----------------------------------------------------------

    def reachable(self, client_index: int, node_id: int) -> bool:
        """Can this client reach this host now (same side of the partition, if any)?"""
        if self.partition is None:
            return True
        return (client_index in self.minority_clients) == (node_id in self.minority_nodes)

    def majority(self, node_id: int) -> bool:
        """Is this host on Sentinel's side (the majority side of a partition, or no
        partition)?"""
        return node_id not in self.minority_nodes

    def majority_client(self, client_index: int) -> bool:
        """Is this client on Sentinel's side?"""
        return client_index not in self.minority_clients

    def divide(self, partition, nodes: frozenset[int], clients: frozenset[int]) -> None:
        """``partition`` cuts the hosts ``nodes`` and the clients ``clients`` off from the
        rest from now on (None and empty sets: it healed)."""
        self.partition = partition
        self.minority_nodes = nodes
        self.minority_clients = clients

    def reconcile(self, now: float) -> None:
        """Cut or reconnect every replication link to match the cluster's state."""
        for replica in self.replicas:
            if replica in self.draining:
                continue  # its killed master's last writes are still arriving
            master = replica.master
            up = (master.alive and replica.node_id not in self.disconnected
                  and self.majority(replica.node_id) == self.majority(master.node_id))
            change = replica.relink(up, now)
            if change == "cut":
                self.event("cut", now, replica.name, master=master.name)
            elif change is not None:
                self.event("reconnect", now, replica.name, master=master.name, resync=change)

    # -- role changes ----------------------------------------------------------------------

    def take_office(self, master, now: float) -> None:
        """``master`` is the master in office from ``now`` (s)."""
        self.office = master
        self.office_since = now
        self.persistence.keep_log(master)

    def restart_of(self, master, old) -> bool:
        """Is ``master`` a restarted process on ``old``'s host?"""
        return master in self.restarted and master.node_id == old.node_id

    def rejoin(self, old, now: float) -> None:
        """``old``'s host comes back as a replica of the master in office (full resync:
        its history diverged from the new master's)."""
        replica = self.builder.rejoined(old, self.office, self.office_since)
        self.replicas.append(replica)
        self.roles_changed()
        self.event("rejoin", now, old.name, master=self.office.name)

    def roles_changed(self) -> None:
        for router in self.routers:
            router.resize()

    def go_over(self, replicas, now: float) -> None:
        """``replicas`` of a master just turned into a replica follow the master in office;
        their history was the old master's, so the next resync is full."""
        office = self.office
        for replica in replicas:
            replica.follow(office, now)
            replica.diverge()

    def count_lost(self, master, restarted: bool = False) -> None:
        """Count ``master``'s logged writes above its ``lost_from`` as lost (``restarted``:
        the writes a restarted old master accepted before its demotion)."""
        self.stats.lost(master.take_lost_writes(), restarted)

    # -- end of run --------------------------------------------------------------------------

    def finish(self) -> None:
        """At the horizon, count what is already doomed: a deposed master still cut off loses
        what it accepted (as if the partition healed now), and a crashed master whose failover
        would come after the end loses what its best replica lacks (no failover is counted)."""
        for old in self.deposed:
            self.count_lost(old)
        self.deposed = []
        for host in self.restarted:
            if host.alive and host is not self.office:
                self.count_lost(host, restarted=True)  # its demotion is already due
        old = self.office
        if not old.alive and old.lost_from is None:
            now = self.env.now
            best = self.failover.best_candidate(old, now)
            if best is not None:
                old.depose(best.received_offset(now))
                self.count_lost(old)
