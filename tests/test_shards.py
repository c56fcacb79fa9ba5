"""Redis Cluster in the model: the load of each shard, one shard as today's model, a shard's
failover by node timeout and election, the minority master's lost writes, the other shards."""

from __future__ import annotations

import math

import pytest

from sim import ConfigError, simulate
from sim.analysis.analytic import cluster_down_after_two_failures, shard_load_shares
from sim.model.faults.redis_cluster import (
    ELECTION_BASE_S,
    ELECTION_SPREAD_S,
    GOSSIP_SPREAD,
    PING_SPREAD,
    TICK_S,
)
from tests.helpers import Z_CHECK, config

QUICK = {"run.duration": 4.0, "run.warmup": 0.5, "cache.enabled": False,
         "workload.read_rate": 3000.0, "workload.write_rate": 1000.0}


def test_each_shard_carries_the_key_distribution_summed_over_its_slots():
    for shards, overrides in ((3, {}), (10, {"workload.zipf_s": 1.2}),
                              (4, {"workload.key_distribution": "uniform"})):
        cfg = config({**QUICK, "cluster.shards": shards, **overrides})
        s = simulate(cfg).summary
        wl = cfg.workload
        shares = shard_load_shares(wl.keys, wl.zipf_s if wl.key_distribution == "zipf" else 0.0,
                                   shards)
        ops = [row["ops_s"] for row in s["shards"]]
        total = sum(ops)
        n = total * (cfg.run.duration - cfg.run.warmup)
        for got, p in zip(ops, shares, strict=True):
            # per-shard counts of Poisson arrivals: the share's binomial standard error
            assert abs(got / total - p) <= Z_CHECK * math.sqrt(p * (1 - p) / n), (shards, got, p)
        hottest = max(shares) * shards
        assert s["hottest_shard_load_ratio"] == pytest.approx(hottest, rel=0.05)
        assert total == pytest.approx(s["throughput_ops_s"], rel=1e-9)


def test_one_shard_is_todays_model_whatever_the_cluster_settings():
    base = {**QUICK, "faults.master_crash_at": "2s", "faults.sentinel_down_after": "1s"}
    plain = simulate(config(base)).summary
    tuned = simulate(config({**base, "cluster.shards": 1, "cluster.node_timeout": "1s",
                             "cluster.require_full_coverage": False,
                             "cluster.replica_validity_factor": 0})).summary
    for s in (plain, tuned):
        s.pop("wall_seconds"), s.pop("config")
    assert repr(plain) == repr(tuned)
    assert "shards" not in plain and "moved_redirects" not in plain


def test_the_default_hot_shard_of_ten_gets_about_twice_the_mean_load():
    shares = shard_load_shares(1000, 0.99, 10)
    assert 1.8 < max(shares) * 10 < 2.6  # the "about twice the average"


FAILOVER = {**QUICK, "run.duration": 6.0, "cluster.shards": 2, "replication.replicas": 1,
            "cluster.node_timeout": "1s", "faults.master_crash_at": "2s", "faults.shard": 1,
            "workload.read_rate": 1000.0, "workload.write_rate": 2000.0,
            "replication.read_policy": "master"}


def test_a_shards_outage_lies_in_the_node_timeout_plus_election_window_over_many_seeds():
    node_timeout = 1.0
    lo = node_timeout + ELECTION_BASE_S
    hi = (node_timeout * (1 + PING_SPREAD + GOSSIP_SPREAD) + ELECTION_BASE_S + ELECTION_SPREAD_S
          + TICK_S)
    durations, outages = [], []
    for seed in range(1, 25):
        s = simulate(config({**FAILOVER, "run.seed": seed})).summary
        assert s["failovers"] == 1
        promoted = s["failover_duration_ms"]["max"] / 1e3
        outage = s["shards"][1]["write_outage_ms"] / 1e3
        assert lo <= promoted <= hi
        # the outage ends with the first write acknowledged by the new master: after the
        # MOVED round trip and the next write to the shard (~1000 writes/s reach it)
        assert promoted <= outage <= promoted + 0.02
        assert s["shards"][0]["write_outage_ms"] == 0.0
        assert s["moved_redirects"] >= 1
        durations.append(promoted)
        outages.append(outage)
    # detection's and the election's random waits show: the draws spread over the window
    assert max(durations) - min(durations) > 0.5 * (hi - lo)


def test_with_full_coverage_every_shard_refuses_commands_only_between_fail_and_promotion():
    seeds = range(1, 6)
    for seed in seeds:
        full = simulate(config({**FAILOVER, "run.seed": seed}))
        s = full.summary
        other = s["shards"][0]
        assert other["unavailable_writes"] > 0 and other["unavailable_reads"] > 0
        # FAIL to promotion is at most the election's wait: the shard's writes refused then
        window = ELECTION_BASE_S + ELECTION_SPREAD_S + TICK_S
        cfg = full.config
        rate = cfg.workload.write_rate * shard_load_shares(
            cfg.workload.keys, cfg.workload.zipf_s, 2)[0]
        bound = rate * window
        assert other["unavailable_writes"] <= bound + Z_CHECK * math.sqrt(bound)
        loose = simulate(config({**FAILOVER, "run.seed": seed,
                                 "cluster.require_full_coverage": False})).summary
        assert loose["shards"][0]["unavailable_writes"] == 0


def test_the_other_shards_are_unaffected_without_full_coverage():
    """Every shard draws from streams of its own, so without the coverage rule a shard whose
    neighbour fails runs exactly as it would alone."""
    loose = {**FAILOVER, "cluster.shards": 3, "cluster.require_full_coverage": False,
             "replication.read_policy": "replicas"}
    faulty = simulate(config(loose)).summary
    calm = simulate(config({**loose, "faults.master_crash_at": "20s"})).summary
    assert faulty["failovers"] == 1 and calm["failovers"] == 0
    for s in (0, 2):
        assert faulty["shards"][s] == calm["shards"][s]
    assert faulty["shards"][1] != calm["shards"][1]


def test_a_minority_master_accepts_writes_for_at_most_the_node_timeout_and_loses_them():
    node_timeout = 1.0
    cfg = config({**QUICK, "run.duration": 8.0, "cluster.shards": 2, "replication.replicas": 1,
                  "cluster.node_timeout": "1s", "cluster.require_full_coverage": False,
                  "workload.write_rate": 4000.0, "replication.read_policy": "master",
                  "faults.shard": 0,
                  "faults.partitions": [{"start": "2s", "duration": "4s", "nodes": ["master"],
                                         "clients": [0, 1]}]})
    share = shard_load_shares(cfg.workload.keys, cfg.workload.zipf_s, 2)[0]
    # writes the minority clients send to that master while it still accepts them
    expected = cfg.workload.write_rate * 2 / cfg.workload.clients * share * node_timeout
    for seed in (1, 2, 3):
        s = simulate(cfg.with_overrides({"run.seed": seed})).summary
        assert s["failovers"] == 1
        assert 0.5 * expected < s["lost_writes"] <= expected + Z_CHECK * math.sqrt(expected)
        # from the writes still on the replication link when it was cut (exp:1ms) to the
        # last one the master took before the node timeout
        assert s["data_loss_window_ms"] <= node_timeout * 1e3 + 20
        assert s["shards"][0]["lost_writes"] == s["lost_writes"]
        assert s["shards"][1]["lost_writes"] == 0
        # after the node timeout the minority side answers CLUSTERDOWN
        assert s["shards"][0]["unavailable_writes"] > 0


def test_a_replica_whose_data_is_too_old_cannot_fail_over():
    stale = {**FAILOVER, "run.duration": 30.0, "run.warmup": 0.5, "cluster.node_timeout": "1s",
             "cluster.replica_validity_factor": 1, "faults.master_crash_at": "24s",
             "workload.read_rate": 100.0, "workload.write_rate": 100.0,
             "faults.replica_disconnects": [{"replica": 0, "start": "1s", "duration": "40s"}]}
    assert simulate(config(stale)).summary["failovers"] == 0
    anyone = simulate(config({**stale, "cluster.replica_validity_factor": 0})).summary
    assert anyone["failovers"] == 1


def test_two_random_failures_take_a_shard_down_with_probability_one_over_2n_minus_1():
    for n in (3, 5):
        model = simulate(config({**QUICK, "run.duration": 0.2, "run.warmup": 0.1,
                                 "cluster.shards": n, "replication.replicas": 1}),
                         keep_model=True).model
        nodes = [(s, node) for s, group in enumerate(model.nodes.shards.groups)
                 for node in (group.master, *group.replicas)]
        pairs = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]]
        fatal = sum(1 for a, b in pairs if a[0] == b[0])  # a shard's master and its replica
        assert fatal / len(pairs) == pytest.approx(cluster_down_after_two_failures(n))
    assert cluster_down_after_two_failures(5) == pytest.approx(0.111, abs=5e-4)


def test_a_sharded_run_reports_its_keys_and_its_events_per_operation_stay_bounded():
    """No event per operation is added by the shards: the slot map is a list lookup, and
    one clock samples every shard's replication lag."""
    for shards in (32, 4):
        s = simulate(config({"run.duration": 2.0, "run.warmup": 0.0,
                             "cluster.shards": shards})).summary
        assert s["sim_events"] / (s["reads"] + s["writes"]) < 4.0  # as one group (test_engine)
    assert len(s["shards"]) == 4 and s["moved_redirects"] == 0
    assert set(s["shards"][0]) == {"ops_s", "utilisation", "stale_read_rate",
                                   "replication_lag_ms", "write_outage_ms", "lost_writes",
                                   "unavailable_writes", "unavailable_reads"}
    assert s["hottest_shard_utilisation"] == max(r["utilisation"] for r in s["shards"])


def test_the_shards_add_up_to_the_run():
    for overrides in ({}, {"cache.enabled": False, "faults.master_crash_at": "1s",
                           "cluster.node_timeout": "0.5s"}):
        result = simulate(config({"run.duration": 3.0, "cluster.shards": 3, **overrides}),
                          keep_model=True)
        s, taps = result.summary, result.model.shard_measures.taps
        assert sum(tap.reads for tap in taps) == s["reads"]
        assert sum(tap.stale for tap in taps) == s["stale_reads"] > 0
        window = result.config.run.duration - result.config.run.warmup
        assert sum(r["ops_s"] for r in s["shards"]) == pytest.approx(s["throughput_ops_s"])
        assert sum(tap.completed for tap in taps) == round(s["throughput_ops_s"] * window)
        assert sum(r["unavailable_writes"] for r in s["shards"]) == s["unavailable_writes"]


def test_a_closed_loop_sends_each_batch_as_one_batch_per_shard():
    """Each client's next batch waits for every shard it touched: the loop neither stalls nor
    runs ahead, so its rate is the one-group loop's (the same round trips, the slowest of a
    batch's messages deciding), and the shards share the commands as their keys do."""
    closed = {"run.duration": 3.0, "workload.mode": "closed", "pipeline.batch_size": 4,
              "workload.think_time": "1ms", "cache.enabled": False}
    one = simulate(config(closed)).summary
    for shards in (3, 8):
        s = simulate(config({**closed, "cluster.shards": shards})).summary
        assert s["throughput_ops_s"] == pytest.approx(one["throughput_ops_s"], rel=0.15)
        shares = shard_load_shares(1000, 0.99, shards)
        total = sum(row["ops_s"] for row in s["shards"])
        n = total * 2.7
        for row, p in zip(s["shards"], shares, strict=True):
            # batches of 4 correlate the counts a little: a looser multiple of the error
            assert abs(row["ops_s"] / total - p) <= 2 * Z_CHECK * math.sqrt(p * (1 - p) / n)
    with_cache = simulate(config({**closed, "cluster.shards": 3, "cache.enabled": True})).summary
    assert with_cache["cache_hit_rate"] > 0.5 and with_cache["writes"] > 0


def test_the_text_report_has_a_row_per_shard():
    from sim.analysis.report import format_summary

    s = simulate(config({**QUICK, "run.duration": 1.0, "cluster.shards": 3})).summary
    text = format_summary(s)
    rows = text.split("Shards\n", 1)[1].splitlines()[3:6]
    assert [row.split()[0] for row in rows] == ["0", "1", "2"]
    assert "Shards" not in format_summary(simulate(config({**QUICK, "run.duration": 1.0})).summary)


def test_the_trace_view_refuses_shards():
    import sim

    with pytest.raises(ConfigError, match="one master-and-replicas group"):
        sim.trace(config({"cluster.shards": 2}), keys=[0], window=(1.0, 1.01))


@pytest.mark.parametrize(("key", "value", "words"), [
    ("cluster.shards", 0, "an integer >= 1"),
    ("faults.shard", 3, "no such shard"),
    ("metrics.visibility_probes", True, "probes are not modelled across shards"),
    ("replication.mode", "quorum", "quorum mode has no shards"),
    ("client_cache.enabled", True, "client-side caching is not modelled across shards"),
])
def test_bad_cluster_settings_say_what_is_allowed(key, value, words):
    with pytest.raises(ConfigError, match=words) as caught:
        config({"cluster.shards": 2 if key != "cluster.shards" else value, key: value})
    assert caught.value.key == key


def test_the_stores_ttl_is_refused_across_shards():
    with pytest.raises(ConfigError, match="TTL is not modelled across shards") as caught:
        config({"cluster.shards": 2, "cache.enabled": False, "workload.key_ttl": 1.0})
    assert caught.value.key == "workload.key_ttl"


def test_an_origin_and_the_ycsb_presets_serve_every_shard():
    """The origin behind the cache is one database for all shards: every miss's fill goes
    there, whatever the key's shard; a YCSB preset's keys spread over the shards."""
    origin = {**QUICK, "cache.enabled": True, "cache.fill_from": "origin", "origin.servers": 200}
    one = simulate(config(origin)).summary
    with_origin = simulate(config({**origin, "cluster.shards": 3})).summary
    assert one["origin_recomputes"] > 0
    assert with_origin["origin_recomputes"] == pytest.approx(one["origin_recomputes"], rel=0.1)
    assert len(with_origin["shards"]) == 3
    for preset in ("ycsb-a", "ycsb-d"):
        cfg = config({"run.duration": 2.0, "run.warmup": 0.5, "workload.preset": preset,
                      "cluster.shards": 3})
        s = simulate(cfg).summary
        assert all(row["ops_s"] > 0 for row in s["shards"])
        assert sum(row["ops_s"] for row in s["shards"]) == pytest.approx(s["throughput_ops_s"])
