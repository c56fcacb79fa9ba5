"""Read routing: which node a client's GET goes to (``replication.read_policy``)."""

from __future__ import annotations

from collections.abc import Callable

POLICIES = ("master", "replicas", "any", "sticky", "read-your-writes")


def make_router(policy: str, master, replicas: list, pick: Callable[[int], Callable[[], int]]):
    """Return ``route(client, key, now) -> node``.

    ``pick(n)`` builds a sampler of uniform integers in [0, n) from the routing stream.
    ``read-your-writes`` picks a replica as ``replicas`` would, and sends the read to the
    master instead when that replica has not yet applied the client's last acknowledged write
    of the key (compared by replication offset, as a Redis client would with WAIT/offsets).
    """
    if policy == "master" or (policy == "any" and not replicas):
        return lambda client, key, now: master
    if policy == "replicas":
        choose = pick(len(replicas))
        return lambda client, key, now: replicas[choose()]
    if policy == "any":
        nodes = [master, *replicas]
        choose = pick(len(nodes))
        return lambda client, key, now: nodes[choose()]
    if policy == "sticky":
        return lambda client, key, now: replicas[client.index % len(replicas)]
    if policy == "read-your-writes":
        choose = pick(len(replicas))

        def route(client, key, now):
            replica = replicas[choose()]
            need = client.acked_offset.get(key)
            if need is None or replica.applied_offset(now) >= need:
                return replica
            return master

        return route
    raise ValueError(f"unknown read policy {policy!r}")


def make_fault_router(policy: str, replicas: list, uniform: Callable[[], float]):
    """Return ``route(client, key, now) -> node`` for a run with faults.

    The same policies as :func:`make_router`, but over the cluster's current roles: "the
    master" is the client's master (it changes at a failover, and differs between the sides
    of a partition) and ``replicas`` is the live list of replicas, which a failover or a
    rejoining master changes. With no replica left, reads go to the client's master.
    ``uniform()`` draws floats in [0, 1) from the routing stream.
    """
    def pick(client):
        n = len(replicas)
        return replicas[int(uniform() * n)] if n else client.master

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
