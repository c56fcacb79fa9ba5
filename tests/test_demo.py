"""The demo's scenario teaches what it claims: on its busy server, reads from replicas trade
staleness for latency, the master's latency grows with load, and the cache's p99 is a miss."""

from __future__ import annotations

from sim import Config, simulate
from sim.cli import sweep as demo_cli


def run(overrides: dict) -> dict:
    config = Config.default().with_overrides({**demo_cli.DEMO_RUN, **overrides})
    return simulate(config).summary


def test_on_the_busy_server_replica_reads_buy_latency_with_staleness():
    base = {**demo_cli.DEMO_TRADEOFF_BASE, "cache.enabled": False}
    master = run({**base, "replication.read_policy": "master"})
    replicas = run({**base, "replication.read_policy": "replicas"})
    assert master["stale_read_rate"] == 0 < replicas["stale_read_rate"]
    # Both ends of the front: the fresher choice is the slower one, by far more than noise.
    assert master["read_latency_ms"]["p99"] > 1.5 * replicas["read_latency_ms"]["p99"]


def test_the_masters_latency_grows_with_load_and_the_replicas_hardly():
    base = {**demo_cli.DEMO_BUSY, "cache.enabled": False}
    rates = [float(r) for r in demo_cli.DEMO_LOAD_GRID["workload.read_rate"].split(",")]

    def p99(policy: str, rate: float) -> float:
        return run({**base, "replication.read_policy": policy,
                    "workload.read_rate": rate})["read_latency_ms"]["p99"]

    assert p99("master", rates[-1]) > 1.8 * p99("master", rates[0])
    assert p99("replicas", rates[-1]) < 1.3 * p99("replicas", rates[0])
    busy = (rates[-1] + demo_cli.DEMO_BUSY["workload.write_rate"]) * demo_cli.SERVER_SECONDS_PER_OP
    assert 0.7 < busy < 0.9  # busy, yet stable


def test_with_the_cache_p99_is_a_miss_that_pays_both_round_trips():
    on, off = run({}), run({"cache.enabled": False})
    config = Config.default()
    cache_trip_ms = 2 * config.cache.latency.mean * 1e3
    assert 1 - on["cache_hit_rate"] > 0.01  # more than 1 % of reads miss: p99 is a miss
    assert on["read_latency_ms"]["p99"] >= cache_trip_ms + off["read_latency_ms"]["p50"] * 0.99
    assert on["read_latency_ms"]["p99"] > off["read_latency_ms"]["p99"]
    assert on["read_latency_ms"]["mean"] < off["read_latency_ms"]["mean"]  # hits help the mean
