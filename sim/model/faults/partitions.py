"""Partitions and replica disconnects: who can reach whom, and the split brain they leave.

A partition puts some hosts and clients on a minority side that reaches only itself;
Sentinel runs on the majority side. If the master in office is cut off, Sentinel sees it go
down (an outage opens, :mod:`sim.model.faults.detection`) while it keeps serving the
clients on its side. When the partition heals, every master deposed meanwhile becomes a
replica of the master in office, and what it accepted since is lost. A replica disconnect
unplugs one replication link for a while; the replica then resynchronises.
"""

from __future__ import annotations


class Partitions:
    """The partition and disconnect events of ``cluster``."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster

    def on_partition(self, ev) -> None:
        spec, nodes = ev._value
        cluster = self.cluster
        now = cluster.env._now
        cluster.divide(spec, nodes, frozenset(spec.clients))
        cluster.event("partition", now, "network", nodes=sorted(nodes),
                      clients=list(spec.clients))
        master = cluster.office
        if master.node_id in nodes:  # Sentinel's PINGs go unanswered
            cluster.detection.open_outage(master, now, False, spec)
        cluster.reconcile(now)

    def on_heal(self, ev) -> None:
        cluster = self.cluster
        now = cluster.env._now
        cluster.divide(None, frozenset(), frozenset())
        cluster.event("heal", now, "network")
        for old in cluster.deposed:
            # Sentinel turns the old master into a replica: what it accepted since the
            # failover, and what its successor never received, is discarded.
            cluster.count_lost(old)
            old.die()
            cluster.go_over([r for r in old.followers() if r in cluster.replicas], now)
            cluster.rejoin(old, now)
        cluster.deposed = []
        office = cluster.office
        for client in cluster.clients:
            if client.master is not office:
                client.follow(office)
        cluster.reconcile(now)

    def on_disconnect(self, ev) -> None:
        self.cluster.disconnected.add(ev._value)
        self.cluster.reconcile(self.cluster.env._now)

    def on_reconnect(self, ev) -> None:
        self.cluster.disconnected.discard(ev._value)
        self.cluster.reconcile(self.cluster.env._now)
