"""The failover: Sentinel promotes a replica, reconfigures the others, and clients switch.

Sentinel promotes the connected replica on its side with the highest replication offset
(:meth:`Failover.best_candidate`); the master it replaces loses what that replica lacks, at
once if it is dead, when the partition heals if it still serves its side (split brain).
Under Sentinel's timeline the other replicas are sent ``REPLICAOF`` one by one and each
client switches when it discovers the new master; under ``faults.failover_timeout``
everyone is re-pointed at the promotion.
"""

from __future__ import annotations

from sim.model.sentinel import Sentinel


class Failover:
    """The promotions of ``cluster``, as ``sentinel`` times them (None: all at once)."""

    def __init__(self, cluster, sentinel: Sentinel | None) -> None:
        self.cluster = cluster
        self.sentinel = sentinel

    def on_failover(self, ev) -> None:
        """Sentinel promotes a replica of ``old``, which failed (or was cut off by
        ``partition``) and whose outage ``timeline`` describes (None: failover_timeout)."""
        old, partition, timeline = ev._value
        cluster = self.cluster
        if cluster.office is not old or (partition is not None
                                         and cluster.partition is not partition):
            return  # healed (or already replaced) before Sentinel acted
        if timeline is not None and timeline.cancelled:
            return  # the old host came back before Sentinel counted it down
        now = cluster.env._now
        best = self.best_candidate(old, now)
        if best is None:
            cluster.event("failover-impossible", now, old.name)
            host = next((h for h in cluster.restarted if h.node_id == old.node_id and h.alive),
                        None)
            if host is not None:  # Sentinel gives up; the restarted host serves on
                cluster.restarted.remove(host)
                cluster.restarts.reinstate(old, host, now)
            return
        offset = best.received_offset(now)
        new = self._promote(best, old, offset, now)
        # Sentinel's list of old's replicas holds those that went over to its restarted host.
        others = [r for r in cluster.replicas if cluster.majority(r.node_id)
                  and (r.master is old or cluster.restart_of(r.master, old))]
        clients = [c for c in cluster.clients if cluster.majority_client(c.index)]
        if timeline is None:
            self._repoint_at_once(new, others, clients, now)
        else:
            self._repoint_in_turn(timeline, others, clients)
        cluster.event("failover", now, new.name, old=old.name, offset=offset)
        waiting, cluster.waiting_to_rejoin = cluster.waiting_to_rejoin, []
        for host in waiting:
            cluster.rejoin(host, now)
        cluster.reconcile(now)

    def _promote(self, best, old, offset: int, now: float):
        """``best``'s host becomes the master in office, in ``old``'s place; ``old`` loses
        its writes above ``offset``, ``best``'s."""
        cluster = self.cluster
        cluster.draining.discard(best)
        new = cluster.builder.promoted(best, old)
        best.retire(new, now)
        cluster.replicas.remove(best)
        cluster.roles_changed()
        old.depose(offset)
        cluster.take_office(new, now)
        if old.alive:
            cluster.deposed.append(old)  # split brain: it keeps serving its side until healed
        else:
            cluster.count_lost(old)
        return new

    def _repoint_at_once(self, new, replicas: list, clients: list, now: float) -> None:
        """failover_timeout: every replica and client follows ``new`` now."""
        for replica in replicas:
            replica.follow(new, now)
        for client in clients:
            client.follow(new)
        cluster = self.cluster
        cluster.stats.failover(now - cluster.outage_start, None)

    def _repoint_in_turn(self, timeline, replicas: list, clients: list) -> None:
        """Sentinel's timeline: each replica when it is sent REPLICAOF, each client when it
        discovers the new master."""
        cluster, sentinel = self.cluster, self.sentinel
        if len(replicas) != len(timeline.reconfigured_s):  # replicas came or went
            sentinel.reconfigure(timeline, len(replicas))
        for replica, t in zip(replicas, timeline.reconfigured_s, strict=True):
            cluster.at(t, self.on_reconfigure, replica)
        for client in clients:
            t = sentinel.client_switch_s(timeline)
            timeline.clients_switched_s.append(t)
            cluster.at(t, self.on_discover, (client, False))
        cluster.stats.failover(cluster.env._now - cluster.outage_start, timeline.phases_s())

    def on_reconfigure(self, ev) -> None:
        """Sentinel sends REPLICAOF (the master in office) to a replica of the old master."""
        replica = ev._value
        cluster = self.cluster
        now = cluster.env._now
        if replica not in cluster.replicas or replica.master is cluster.office:
            return
        if not cluster.majority(replica.node_id):
            return
        diverged = replica.master in cluster.restarted  # it took a restarted master's history
        replica.follow(cluster.office, now)
        if diverged:
            replica.diverge()
        cluster.event("reconfigure", now, replica.name, master=cluster.office.name)
        cluster.reconcile(now)

    def on_discover(self, ev) -> None:
        """A client learns the master in office from Sentinel (poll or +switch-master). A
        polling client that reconnected to a restarted old master is content with it and
        asks no more (``demoted`` is set when that master just refused it as a replica)."""
        client, demoted = ev._value
        cluster = self.cluster
        office = cluster.office
        if client.master is office or not cluster.majority_client(client.index):
            return
        if (not demoted and client.master in cluster.restarted
                and self.sentinel.discovery == "poll"):
            return
        client.follow(office)

    def best_candidate(self, old, now: float):
        """The replica Sentinel would promote at ``now`` (s): the highest offset among
        ``old``'s replicas on the majority side (ties to the lowest host id). A replica whose
        history diverged (``force_full``: a former master, or a follower of one) holds no
        prefix of ``old``'s stream until its full resync lands, and its offset counts in
        another history: it is no candidate. A replica whose full resync from ``old``'s
        restarted host has not landed yet still holds ``old``'s data and offset: it is one
        (promoting it aborts the resync)."""
        cluster = self.cluster
        candidates = [r for r in cluster.replicas
                      if cluster.majority(r.node_id)
                      and ((r.master is old and not r.force_full)
                           or (r.force_full and cluster.restart_of(r.master, old)))]
        if not candidates:
            return None
        return max(candidates, key=lambda r: (r.received_offset(now), -r.node_id))
