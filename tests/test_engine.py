"""Engine behaviour: reproducibility, random streams, read policies, pipelining, cost per op."""

from __future__ import annotations

import pytest

from sim import Config, simulate
from tests.helpers import config


def _strip(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_seconds"}


def test_same_config_and_seed_give_identical_results():
    cfg = config({"run.duration": 1.0, "run.warmup": 0.1})
    assert _strip(simulate(cfg).summary) == _strip(simulate(cfg).summary)


def test_another_seed_gives_other_results():
    cfg = config({"run.duration": 1.0, "run.warmup": 0.1})
    other = cfg.with_overrides({"run.seed": 2})
    assert simulate(cfg).summary["reads"] != simulate(other).summary["reads"]


def _issues(cfg: Config) -> list:
    issued = []

    def trace(kind, t, **f):
        if kind == "issue":
            issued.append((t, f["node"], f["key"], f["write"]))

    simulate(cfg, trace=trace)
    return issued


def test_changing_the_ttl_leaves_the_arrivals_unchanged():
    base = config({"run.duration": 0.5, "run.warmup": 0.1, "cache.ttl": "1s"})
    short = base.with_overrides({"cache.ttl": "5ms"})
    assert simulate(base).summary["cache_hit_rate"] != simulate(short).summary["cache_hit_rate"]
    assert _issues(base) == _issues(short)


def test_changing_the_write_rate_leaves_the_read_arrivals_unchanged():
    base = config({"run.duration": 0.5, "run.warmup": 0.1})
    more = base.with_overrides({"workload.write_rate": 3000.0})
    reads = [i for i in _issues(base) if not i[3]]
    assert reads == [i for i in _issues(more) if not i[3]]
    assert len(_issues(more)) > len(_issues(base))


def test_events_per_operation_stay_bounded():
    """A guard on the hot path that does not depend on the clock: the default model spends
    about 3.6 SimPy events per client operation (issue, cache lookup, reply; misses and writes
    more). An extra event per operation anywhere would push it over the bound."""
    cfg = config({"run.duration": 2.0, "run.warmup": 0.0})
    s = simulate(cfg).summary
    ops = s["reads"] + s["writes"]
    assert s["sim_events"] / ops < 4.0


def _policy(policy: str, cache: bool = False) -> dict:
    return simulate(config({
        "cache.enabled": cache, "replication.replicas": 3, "replication.read_policy": policy,
        "replication.delay": "exp:3ms", "workload.keys": 20, "workload.clients": 4,
        "workload.key_distribution": "uniform", "workload.read_rate": 5000.0,
        "workload.write_rate": 1000.0, "run.duration": 3.0})).summary


def test_random_replica_reads_break_session_guarantees():
    s = _policy("replicas")
    assert s["monotonic_violations"] > 0 and s["ryw_violations"] > 0


def test_sticky_routing_gives_monotonic_reads():
    s = _policy("sticky")
    assert s["stale_reads"] > 0
    assert s["monotonic_violations"] == 0


def test_read_your_writes_routing_gives_read_your_writes():
    s = _policy("read-your-writes")
    assert s["stale_reads"] > 0
    assert s["ryw_violations"] == 0


def test_any_routing_is_less_stale_than_replicas_only():
    # One read in four goes to the master (never stale), so staleness drops by about a quarter.
    replicas, anyone = _policy("replicas"), _policy("any")
    assert anyone["stale_read_rate"] == pytest.approx(0.75 * replicas["stale_read_rate"], rel=0.1)


def test_linger_batches_commands_and_costs_latency():
    common = {"cache.enabled": False, "replication.read_policy": "master",
              "workload.clients": 1, "workload.read_rate": 2000.0, "workload.write_rate": 0.0,
              "network.client_latency": "0s", "server.service_time": "0s",
              "server.batch_overhead": "0s", "run.duration": 2.0}
    plain = simulate(config({**common})).summary
    lingering = simulate(config({**common, "pipeline.batch_size": 8,
                                 "pipeline.linger": "2ms"})).summary
    assert plain["read_latency_ms"]["max"] == 0.0
    # A command waits at most the linger; at 2 ops/ms most batches close on the timer, so the
    # mean wait is close to half of the linger and the maximum is the linger itself.
    assert lingering["read_latency_ms"]["max"] == pytest.approx(2.0, rel=1e-6)
    assert 0.5 < lingering["read_latency_ms"]["mean"] < 2.0
    assert lingering["sim_events"] < plain["sim_events"]


def test_pipelining_raises_closed_loop_throughput():
    common = {"cache.enabled": False, "replication.read_policy": "master",
              "workload.mode": "closed", "workload.clients": 2, "run.duration": 2.0}
    one = simulate(config({**common, "pipeline.batch_size": 1})).summary
    many = simulate(config({**common, "pipeline.batch_size": 16})).summary
    assert many["throughput_ops_s"] > 5 * one["throughput_ops_s"]


def test_replication_lag_reflects_the_delay():
    s = simulate(config({"cache.enabled": False, "replication.delay": "5ms",
                         "server.replica_apply_time": "0s", "run.duration": 3.0})).summary
    lag = s["replication_lag_ms"]
    # Constant 5 ms delay: the oldest unapplied write is at most 5 ms old (plus queueing).
    assert 5.0 <= lag["max"] < 5.5
    assert 0.0 < lag["mean"] < 5.0


def test_no_replicas_means_no_lag_and_no_staleness():
    s = simulate(config({"replication.replicas": 0, "replication.read_policy": "master",
                         "cache.enabled": False, "run.duration": 1.0})).summary
    assert s["replication_lag_ms"]["max"] is None
    assert s["stale_reads"] == 0


def test_a_large_key_space_costs_only_the_keys_touched():
    r = sim_simulate_keep({"workload.keys": 1_000_000, "run.duration": 0.5, "run.warmup": 0.1,
                           "workload.key_distribution": "uniform"})
    model, writes = r.model, r.model.fault_stats.acked_writes
    assert 0 < len(model.master.committed) <= writes + 10  # the writes in flight at the end
    assert all(len(replica.store) <= len(model.master.committed) for replica in model.replicas)
    # A key never written reads as one shared version 0 on every node.
    never = next(k for k in range(1_000_000) if k not in model.master.committed)
    assert model.master.committed[never] is model.replicas[0].store[never]
    assert model.master.committed[never].number == 0


def sim_simulate_keep(overrides):
    from sim import simulate

    return simulate(config(overrides), keep_model=True)
