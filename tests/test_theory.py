"""The model against closed forms (sim.analysis.analytic), with tolerances from each run's interval."""

from __future__ import annotations

import math

import pytest

from sim import simulate
from sim.analysis import analytic
from tests.helpers import ZERO, assert_agrees, config, long_run

pytestmark = pytest.mark.heavy


@pytest.mark.parametrize(("keys", "write_rate", "delay_ms"), [
    (10, 50.0, 10.0),    # lambda d = 0.05
    (10, 100.0, 20.0),   # lambda d = 0.2
    (4, 100.0, 20.0),    # lambda d = 0.5
    (1, 100.0, 15.0),    # lambda d = 1.5
])
def test_stale_read_rate_constant_delay(keys, write_rate, delay_ms):
    """Constant delay d, per-key Poisson writes at lambda: P(stale) = 1 - exp(-lambda d)."""
    cfg = config({**ZERO, "cache.enabled": False, "replication.delay": f"{delay_ms}ms",
                  "replication.read_policy": "replicas", "workload.keys": keys,
                  "workload.key_distribution": "uniform", "workload.write_rate": write_rate,
                  "workload.read_rate": 2000.0, "run.duration": long_run(40), "run.warmup": 1})
    s = simulate(cfg).summary
    theory = analytic.stale_read_rate_constant_delay(write_rate / keys, delay_ms / 1e3)
    assert_agrees(s["stale_read_rate"], s["stale_read_rate_ci95"], theory)


def test_stale_read_rate_is_zero_when_reading_the_master():
    cfg = config({"cache.enabled": False, "replication.read_policy": "master",
                  "workload.keys": 5, "run.duration": 4})
    s = simulate(cfg).summary
    assert s["reads"] > 10000 and s["stale_reads"] == 0


@pytest.mark.parametrize(("keys", "read_rate", "ttl_ms"), [
    (100, 2000.0, 20.0),   # r T = 0.4
    (50, 2000.0, 50.0),    # r T = 2
])
def test_ttl_cache_hit_ratio(keys, read_rate, ttl_ms):
    """Poisson reads at r per key, fills from the master at zero latency: hit = rT / (1 + rT)."""
    cfg = config({**ZERO, "cache.enabled": True, "cache.ttl": f"{ttl_ms}ms",
                  "cache.fill_from": "master", "workload.keys": keys,
                  "workload.key_distribution": "uniform", "workload.read_rate": read_rate,
                  "workload.write_rate": 0.0, "run.duration": long_run(40), "run.warmup": 1})
    s = simulate(cfg).summary
    theory = analytic.ttl_hit_ratio(read_rate / keys, ttl_ms / 1e3)
    assert_agrees(s["cache_hit_rate"], s["cache_hit_rate_ci95"], theory)


def _cache_staleness(on_write: str) -> dict:
    cfg = config({**ZERO, "cache.enabled": True, "cache.ttl": "1s", "cache.fill_from": "master",
                  "cache.on_write": on_write, "workload.keys": 20,
                  "workload.key_distribution": "uniform", "workload.read_rate": 3000.0,
                  "workload.write_rate": 300.0, "run.duration": 10})
    return simulate(cfg).summary


def test_invalidation_without_delay_leaves_no_stale_read_in_the_cache():
    s = _cache_staleness("invalidate")
    assert s["cache_hits"] > 1000
    assert s["stale_reads"] == 0


def test_cache_without_invalidation_does_serve_stale_reads():
    # The control for the test above: the same workload without invalidation is stale often.
    s = _cache_staleness("none")
    assert s["stale_read_rate"] > 0.2


@pytest.mark.parametrize("service", ["exp", "const"])
def test_master_queue_mean_latency(service):
    """Reads at the master, Poisson arrivals: mean latency = 2L + sojourn (M/M/1 or M/D/1)."""
    mean_service_s, rate, latency_s = 1e-3, 500.0, 2e-3  # rho = 0.5
    dist = f"exp:{mean_service_s * 1e3}ms" if service == "exp" else f"{mean_service_s * 1e3}ms"
    cfg = config({**ZERO, "cache.enabled": False, "replication.read_policy": "master",
                  "replication.replicas": 0, "network.client_latency": f"{latency_s * 1e3}ms",
                  "server.service_time": dist, "workload.read_rate": rate,
                  "workload.write_rate": 0.0, "run.duration": long_run(300), "run.warmup": 5})
    s = simulate(cfg).summary
    if service == "exp":
        sojourn = analytic.mm1_sojourn(rate, 1.0 / mean_service_s)
    else:
        sojourn = analytic.md1_sojourn(rate, mean_service_s)
    theory_ms = (2 * latency_s + sojourn) * 1e3
    assert_agrees(s["read_latency_ms"]["mean"], s["read_latency_mean_ci95_ms"], theory_ms)


@pytest.mark.parametrize(("batch", "read_fraction"), [(1, 1.0), (8, 1.0), (32, 0.5)])
def test_closed_loop_throughput(batch, read_fraction):
    """One closed-loop client, constant L, o, s: throughput = B / (2L + o + B s), exactly."""
    latency_s, overhead_s, service_s, duration = 100e-6, 20e-6, 5e-6, 5.0
    cfg = config({"cache.enabled": False, "replication.read_policy": "master",
                  "replication.delay": "0s", "server.replica_apply_time": "0s",
                  "workload.mode": "closed", "workload.clients": 1,
                  "workload.read_fraction": read_fraction, "pipeline.batch_size": batch,
                  "network.client_latency": "100us", "server.batch_overhead": "20us",
                  "server.service_time": "5us", "run.duration": duration, "run.warmup": 1})
    s = simulate(cfg).summary
    theory = analytic.closed_loop_throughput(batch, latency_s, overhead_s, service_s)
    # Counting replies inside the window can be off by at most one batch at each edge.
    edge = 2 * batch / (duration - 1)
    assert abs(s["throughput_ops_s"] - theory) <= edge + 1e-9 * theory


def _sync(wait: int, read_rate: float = 4000.0, write_rate: float = 400.0) -> dict:
    return simulate(config({
        "cache.enabled": False, "replication.replicas": 2, "replication.wait_replicas": wait,
        "replication.read_policy": "replicas", "replication.delay": "exp:2ms",
        "workload.keys": 10, "workload.key_distribution": "uniform",
        "workload.clients": 4, "workload.read_rate": read_rate,
        "workload.write_rate": write_rate, "run.duration": 5})).summary


def test_wait_for_all_replicas_never_violates_read_your_writes():
    s = _sync(wait=2)
    assert s["reads"] > 10000
    assert s["ryw_violations"] == 0


def test_asynchronous_replication_does_violate_read_your_writes():
    # The control: the same workload without WAIT has violations, so the test above can fail.
    assert _sync(wait=0)["ryw_violations"] > 0


def test_wait_write_latency_is_round_trip_plus_service_delay_and_apply():
    L, s_, d, a = 200e-6, 10e-6, 3e-3, 50e-6
    cfg = config({"cache.enabled": False, "replication.replicas": 2,
                  "replication.wait_replicas": 2, "replication.delay": "3ms",
                  "network.client_latency": "200us", "server.service_time": "10us",
                  "server.batch_overhead": "0s", "server.replica_apply_time": "50us",
                  "workload.read_rate": 0.0, "workload.write_rate": 20.0, "run.duration": 20})
    s = simulate(cfg).summary
    theory_ms = analytic.sync_write_latency(L, s_, d, a) * 1e3
    # At 20 writes/s a write almost never queues behind another (service 10us, apply 50us):
    # the median is the formula to the histogram's resolution (1/128 relative).
    assert s["write_latency_ms"]["p50"] == pytest.approx(theory_ms, rel=1 / 128)
    assert s["write_latency_ms"]["mean"] >= theory_ms * (1 - 1e-9)
    assert math.isclose(s["write_latency_ms"]["mean"], theory_ms, rel_tol=0.01)


@pytest.mark.parametrize(("keys", "write_rate", "mean_ms"), [
    (1, 50.0, 10.0),     # the link carries one key: 1 - exp(-lambda m)
    (10, 200.0, 5.0),    # ten keys share the FIFO link: earlier writes hold later ones back
])
def test_stale_read_rate_exponential_delay_on_a_fifo_link(keys, write_rate, mean_ms):
    """Exp(m) delays with FIFO delivery: sim.analysis.analytic's exact steady-state form."""
    cfg = config({**ZERO, "cache.enabled": False, "replication.delay": f"exp:{mean_ms}ms",
                  "replication.read_policy": "replicas", "replication.replicas": 1,
                  "workload.keys": keys, "workload.key_distribution": "uniform",
                  "workload.write_rate": write_rate, "workload.read_rate": 2000.0,
                  "run.duration": long_run(40), "run.warmup": 1})
    s = simulate(cfg).summary
    theory = analytic.stale_read_rate_exp_delay(write_rate / keys, mean_ms / 1e3,
                                                link_write_rate_per_s=write_rate)
    assert_agrees(s["stale_read_rate"], s["stale_read_rate_ci95"], theory)
