"""A crashed host comes back (``faults.master_recover_after``).

Under ``faults.failover_timeout`` it rejoins as a replica of the master in office. Under
Sentinel's timeline its redis-server starts again with what :mod:`~sim.model.faults.persistence`
kept: before Sentinel counted it down it is simply the master again (no failover; what it had
not persisted is lost); after, it serves as a master until Sentinel demotes it, and what it
accepts meanwhile is discarded at the demotion.
"""

from __future__ import annotations

from sim.model.sentinel import Sentinel


class Restarts:
    """The recoveries and restarts of ``cluster``'s crashed masters, ``sentinel`` timing
    them (None under ``failover_timeout``)."""

    def __init__(self, cluster, sentinel: Sentinel | None) -> None:
        self.cluster = cluster
        self.sentinel = sentinel

    def on_recover(self, ev) -> None:
        """With ``failover_timeout`` set: the crashed host comes back as a replica."""
        old, _ = ev._value
        cluster = self.cluster
        now = cluster.env._now
        if not cluster.office.alive:
            cluster.waiting_to_rejoin.append(old)  # rejoins once a master is in office
            return
        cluster.rejoin(old, now)
        cluster.reconcile(now)

    def on_restart(self, ev) -> None:
        """The crashed host's redis-server starts again with what persistence kept.

        Before Sentinel counted it down (a reconnect attempt finds it up), it is simply the
        master again: no failover, and every write it had not persisted is lost. Otherwise
        it serves as a master until Sentinel demotes it: clients still pointed at it write to
        it, replicas not yet reconfigured resynchronise from it (wiping what it lacks), and
        everything it acknowledges is discarded at the demotion."""
        old, timeline = ev._value
        cluster = self.cluster
        now = cluster.env._now
        persistence = cluster.persistence
        data, offset = persistence.restored(old)
        host = cluster.builder.restarted(old, data, offset)
        cluster.event("restart", now, host.name, persistence=persistence.mode, offset=offset)
        if cluster.office is old and timeline.cancelled_by_restart(now):
            timeline.cancelled = True
            self.reinstate(old, host, now)
            return
        host.depose(0)  # nothing it accepts survives the demotion: keep its whole log
        cluster.restarted.append(host)
        for client in cluster.clients:
            if client.master is old and cluster.majority_client(client.index):
                client.follow(host)  # the client reconnects to the address it knows
        self._adopt(old, host, now)
        cluster.at(self.sentinel.demote_s(timeline, now), self.on_demote, host)
        cluster.reconcile(now)

    def reinstate(self, old, host, now: float) -> None:
        """No failover: the restarted ``host`` is the master in office again, and every write
        ``old`` had not persisted is lost (its replicas will take the host's data)."""
        cluster = self.cluster
        old.depose(host.commit_offset)
        cluster.count_lost(old)
        host.reinstate()
        cluster.take_office(host, now)
        cluster.restarted.append(host)  # its replicas' resync wipes what it lacks
        for client in cluster.clients:
            if client.master is old:
                client.follow(host)
        self._adopt(old, host, now)
        cluster.event("failover-cancelled", now, host.name)
        cluster.reconcile(now)

    def _adopt(self, old, host, now: float) -> None:
        """Replicas still following ``old`` retry their connection on their next replication
        cron (once a second) and then reach its restarted ``host``: a new history, so a full
        resync (until it lands they hold ``old``'s data and may still be promoted)."""
        cluster = self.cluster
        for replica in cluster.replicas:
            if replica.master is old:
                cluster.at(self.sentinel.replica_retry_s(now), self._on_replica_retry,
                           (replica, old, host))

    def _on_replica_retry(self, ev) -> None:
        replica, old, host = ev._value
        cluster = self.cluster
        if replica not in cluster.replicas or replica.master is not old or not host.alive:
            return  # promoted or reconfigured first
        now = cluster.env._now
        cluster.draining.discard(replica)
        replica.reach_restarted(host, now)
        cluster.reconcile(now)

    def on_demote(self, ev) -> None:
        """Sentinel turns the restarted old master into a replica of the master in office."""
        host = ev._value
        cluster = self.cluster
        now = cluster.env._now
        if not host.alive or host not in cluster.restarted or host is cluster.office:
            return  # Sentinel gave up the failover: it is the master in office
        cluster.count_lost(host, restarted=True)
        host.die()
        cluster.event("demote", now, host.name, master=cluster.office.name)
        cluster.go_over([r for r in cluster.replicas if r.master is host], now)
        for client in cluster.clients:
            if client.master is host:
                cluster.at(self.sentinel.rediscover_s(now), cluster.failover.on_discover,
                           (client, True))
        cluster.rejoin(host, now)
        cluster.reconcile(now)
