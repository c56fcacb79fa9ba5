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
