"""Read routing: which node a client's GET goes to (``replication.read_policy``)."""

from __future__ import annotations

import numpy as np

from sim.model.streams import integer_sampler

POLICIES = ("master", "replicas", "any", "sticky", "read-your-writes")


class Router:
    """``route(client, key, now) -> node`` over the cluster's live roles.

    "The master" is the client's master (``client.master``: a failover changes it, and it
    differs between the sides of a partition) and ``replicas`` is the run's live list of
    replicas; with no replica left, reads go to the client's master. Random choices draw
    uniform integers from ``rng`` (the routing stream), one per routed read; whoever changes
    the list's length calls :meth:`resize`, which draws from then on over the new length. So
    runs that differ only in their faults route every read alike until a fault changes the
    roles (common random numbers), and a run without faults pays for no check.

    ``read-your-writes`` picks a replica as ``replicas`` would, and sends the read to the
    master instead when that replica has not yet applied the client's last acknowledged write
    of the key (compared by replication offset, as a Redis client would with WAIT/offsets).
    """

    def __init__(self, policy: str, replicas: list, rng: np.random.Generator) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown read policy {policy!r}")
        self.policy = policy
        self.replicas = replicas
        self.rng = rng
        self.choose = None
        self.resize()
        self.route = getattr(self, "_" + policy.replace("-", "_"))

    def resize(self) -> None:
        """The live list of replicas changed length: draw over the new length."""
        n = len(self.replicas) + (1 if self.policy == "any" else 0)
        self.choose = integer_sampler(self.rng, n) if n and self.policy != "master" else None

    def _master(self, client, key, now):
        return client.master

    def _replicas(self, client, key, now):
        replicas = self.replicas
        return replicas[self.choose()] if replicas else client.master

    def _any(self, client, key, now):
        i = self.choose()
        replicas = self.replicas
        return replicas[i] if i < len(replicas) else client.master

    def _sticky(self, client, key, now):
        replicas = self.replicas
        return replicas[client.index % len(replicas)] if replicas else client.master

    def _read_your_writes(self, client, key, now):
        replica = self._replicas(client, key, now)
        need = client.acked_offset.get(key)
        if replica is client.master or need is None or replica.applied_offset(now) >= need:
            return replica
        return client.master
