"""Read routing: which node a client's GET goes to (``replication.read_policy``)."""

from __future__ import annotations

from collections.abc import Callable

POLICIES = ("master", "replicas", "any", "sticky", "read-your-writes")


def make_router(policy: str, replicas: list, uniform: Callable[[], float]):
    """Return ``route(client, key, now) -> node`` over the cluster's live roles.

    "The master" is the client's master (``client.master``: a failover changes it, and it
    differs between the sides of a partition) and ``replicas`` is the live list of replicas,
    which a failover or a rejoining host changes in place; with no replica left, reads go to
    the client's master. ``uniform()`` draws floats in [0, 1) from the routing stream: one
    draw per routed read whatever happens to the roles, so runs that differ only in their
    faults route their reads alike until a fault changes the roles (common random numbers).

    ``read-your-writes`` picks a replica as ``replicas`` would, and sends the read to the
    master instead when that replica has not yet applied the client's last acknowledged write
    of the key (compared by replication offset, as a Redis client would with WAIT/offsets).
    """
    def pick(client):
        u = uniform()
        n = len(replicas)
        return replicas[int(u * n)] if n else client.master

    if policy == "master":
        return lambda client, key, now: client.master
    if policy == "replicas":
        return lambda client, key, now: pick(client)
    if policy == "any":
        def route_any(client, key, now):
            i = int(uniform() * (len(replicas) + 1))
            return replicas[i] if i < len(replicas) else client.master

        return route_any
    if policy == "sticky":
        def route_sticky(client, key, now):
            return replicas[client.index % len(replicas)] if replicas else client.master

        return route_sticky
    if policy == "read-your-writes":
        def route_ryw(client, key, now):
            replica = pick(client)
            need = client.acked_offset.get(key)
            if replica is client.master or need is None or replica.applied_offset(now) >= need:
                return replica
            return client.master

        return route_ryw
    raise ValueError(f"unknown read policy {policy!r}")
