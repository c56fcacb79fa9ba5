"""Offered load of each server, checked before a run: an open-loop experiment whose arrivals
exceed what a server can serve has no steady state, and simulating it only grows a queue.

The model (docs/design.md section 3): the master and every replica are single FIFO threads.
A message of B commands costs ``server.batch_overhead`` plus ``server.service_time`` per
command; a replica also spends ``server.replica_apply_time`` on every write the master
commits; the cache answers without service time. The utilisation of a node is its offered
work per second of simulated time (arrival rate x mean work per arrival); at 1 or above its
queue grows without bound.

Every number here is a lower bound on the true utilisation, so a configuration is refused
only when overload is certain:

- messages: with ``pipeline.batch_size`` B and a linger in open mode, a message carries at
  most B commands (so at least 1/B message per command); otherwise one message per command;
- cache: a key read at rate r misses at least r / (1 + r * ttl) times per second (each
  entry, filled after a miss, serves at most the reads of one ttl), unless writes refresh
  entries (``cache.on_write = "update"``), in which case reads may all hit;
- ``read-your-writes`` sends a read to the master only when its replica lags; the check
  assumes the split that loads the busiest node least.

Runs with faults are not checked (a failover moves load between nodes); closed mode is
bounded by its clients and needs no check.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.errors import ConfigError

__all__ = ["FINITE_MEAN_KEYS", "check_finite_means", "check_offered_load", "utilisation"]

# Server times whose mean enters the utilisation (a heavy tail with an infinite mean
# overloads any server, however low the rate).
FINITE_MEAN_KEYS = ("server.service_time", "server.batch_overhead", "server.replica_apply_time")
# Keys of the zipf sum handled per numpy block, so that a large key space costs no memory.
_BLOCK = 1 << 20


def check_finite_means(config: Any) -> None:
    """Refuse a server time whose distribution has an infinite mean (pareto alpha <= 1)."""
    for dotted in FINITE_MEAN_KEYS:
        dist = config.get(dotted)
        if not math.isfinite(dist.mean):
            raise ConfigError(dotted, str(dist), "a distribution with a finite mean (a pareto "
                              "needs alpha > 1): every server would be overloaded")


def _zipf_misses(rate: float, keys: int, s: float, uniform: bool, ttl: float) -> float:
    """Lower bound on cache misses per second: sum over keys of r_k / (1 + r_k * ttl)."""
    if ttl == 0 or rate == 0:
        return rate
    if uniform:
        per_key = rate / keys
        return keys * per_key / (1.0 + per_key * ttl)
    norm = 0.0
    total = 0.0
    blocks = [(lo, min(lo + _BLOCK, keys)) for lo in range(0, keys, _BLOCK)]
    for lo, hi in blocks:
        norm += float(np.sum(np.arange(lo + 1, hi + 1, dtype=float) ** -s))
    for lo, hi in blocks:
        r = rate * np.arange(lo + 1, hi + 1, dtype=float) ** -s / norm
        total += float(np.sum(r / (1.0 + r * ttl)))
    return total


def _water_level(master_base: float, replica_base: float, reads: float, replicas: int) -> tuple[
        float, float]:
    """Utilisations (master, each replica) when work ``reads`` is split between the master
    and ``replicas`` equal replicas so that the busier side is as idle as it can be."""
    share = reads / replicas
    # Fraction q to the master: master_base + q*reads = replica_base + (1 - q)*share.
    q = (replica_base + share - master_base) / (reads + share) if reads > 0 else 0.0
    q = min(max(q, 0.0), 1.0)
    return master_base + q * reads, replica_base + (1.0 - q) * share


def _loads(config: Any, reads: float, policy: str) -> dict[str, float]:
    """Utilisation of each server when ``reads`` reads per second reach the servers, routed
    by ``policy``."""
    wl, srv, rep, pipe = config.workload, config.server, config.replication, config.pipeline
    batched = pipe.batch_size > 1 and pipe.linger > 0
    # Work per command on a node, its message overhead shared by at most batch_size commands.
    per_command = srv.service_time.mean + srv.batch_overhead.mean / (
        pipe.batch_size if batched else 1)
    replicas = rep.replicas
    master = wl.write_rate * per_command
    replica = wl.write_rate * srv.replica_apply_time.mean
    work = reads * per_command
    loads = {"master": master}
    names = [f"replica{i}" for i in range(replicas)]
    if policy == "master" or (policy == "any" and not replicas):
        loads["master"] += work
        loads.update(dict.fromkeys(names, replica))
    elif policy == "replicas":
        loads.update(dict.fromkeys(names, replica + work / replicas))
    elif policy == "any":
        loads["master"] += work / (replicas + 1)
        loads.update(dict.fromkeys(names, replica + work / (replicas + 1)))
    elif policy == "sticky":
        # Arrivals pick a client uniformly; client i reads from replica i mod replicas.
        for i, name in enumerate(names):
            loads[name] = replica + work * len(range(i, wl.clients, replicas)) / wl.clients
    else:  # read-your-writes
        loads["master"], replica_u = _water_level(master, replica, work, replicas)
        loads.update(dict.fromkeys(names, replica_u))
    return loads


def _server_reads(config: Any) -> tuple[float, str]:
    """Lower bound on the reads per second that reach a server, and how they are routed."""
    wl, cache, policy = config.workload, config.cache, config.replication.read_policy
    if not cache.enabled:
        return wl.read_rate, policy
    if cache.fill_from == "origin":  # misses go to the origin, bounded by run.max_queue
        return 0.0, policy
    if cache.fill_from != "read_policy":
        policy = cache.fill_from
    if cache.on_write == "update":
        return 0.0, policy
    # YCSB's "latest" is a Zipf law over the keys, rotated; "scrambled_zipf" is flatter than
    # one: the Zipf law's misses stay a lower bound for both.
    return _zipf_misses(wl.read_rate, wl.keys, wl.zipf_s, wl.key_distribution == "uniform",
                        cache.ttl), policy


def utilisation(config: Any) -> dict[str, float]:
    """Lower bounds on the utilisation of each server in open mode: ``{"master": u,
    "replica0": u, ...}`` (dimensionless; 1 means the server is busy all the time)."""
    return _loads(config, *_server_reads(config))


def check_offered_load(config: Any) -> None:
    """Raise ConfigError naming the busiest server when its utilisation is 1 or more (open
    mode without faults); also refuse server times with an infinite mean."""
    check_finite_means(config)
    if config.workload.mode != "open" or config.faults.active or config.cluster.shards > 1:
        return  # a cluster splits the load over its shards: its queues bound it at run time
    # Cheap first: with every read reaching a server (no cache hit at all), is anyone near 1?
    upper = _loads(config, *_server_reads(config)) if config.cache.fill_from == "origin" else (
        _loads(config, config.workload.read_rate, config.cache.fill_from
               if config.cache.enabled and config.cache.fill_from != "read_policy"
               else config.replication.read_policy))
    if max(upper.values()) < 1:
        return
    loads = utilisation(config)
    node, busiest = max(loads.items(), key=lambda item: item[1])
    if busiest < 1:
        return
    writes_alone = _loads(config, 0.0, "master")[node]
    key = "workload.write_rate" if writes_alone >= busiest / 2 else "workload.read_rate"
    raise ConfigError(
        key, getattr(config.workload, key.partition(".")[2]),
        f"overloads {'the master' if node == 'master' else node}: its utilisation (arrival "
        f"rate x mean service time) would be {busiest:.3g}, and must stay below 1 in open mode; lower the rates, add replicas, "
        "or use workload.mode = 'closed'")
