"""The cross-key rules of ``[cluster]``: what the sharded model does not cover yet."""

from __future__ import annotations

from sim.errors import ConfigError

SLOTS = 16384  # Redis Cluster's hash slots


def check_cluster_rules(config) -> None:
    """Raise the first ConfigError among the rules that involve ``cluster.shards`` > 1."""
    shards, faults = config.cluster.shards, config.faults
    if faults.shard >= shards:
        raise ConfigError("faults.shard", faults.shard,
                          f"no such shard: cluster.shards is {shards} (indices 0..{shards - 1})")
    if shards == 1:
        return
    why = f"with cluster.shards = {shards}"
    refused = [
        ("replication.mode", config.replication.mode, config.replication.mode != "leader",
         "'leader' (quorum mode has no shards)"),
        ("metrics.visibility_probes", config.metrics.visibility_probes,
         config.metrics.visibility_probes, "false (probes are not modelled across shards yet)"),
        ("run.target_rel_ci", config.run.target_rel_ci, config.run.target_rel_ci > 0,
         "0 (precision-driven runs are not modelled across shards yet)"),
        ("faults.failover_timeout", str(faults.failover_timeout), not faults.sentinel,
         "'sentinel' (the default; a shard's failover follows cluster.node_timeout)"),
        ("server.persistence", config.server.persistence,
         config.server.persistence != "none" and faults.master_recover_after > 0,
         "'none' when faults.master_recover_after is set (restarts from disk are modelled "
         "under Sentinel only)"),
        ("workload.key_ttl", config.workload.key_ttl, config.workload.key_ttl > 0,
         "0 (the store's TTL is not modelled across shards yet)"),
        ("client_cache.enabled", config.client_cache.enabled, config.client_cache.enabled,
         "false (client-side caching is not modelled across shards yet)"),
    ]
    for key, value, bad, allowed in refused:
        if bad:
            raise ConfigError(key, value, f"must be {allowed} {why}")
