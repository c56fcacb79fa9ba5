"""Stampedes at the origin against their closed forms (sim.analysis.analytic), with
tolerances from each run's own interval (docs/design.md section 9)."""

from __future__ import annotations

import math

import pytest

from sim import simulate
from sim.analysis import analytic
from tests.helpers import Z_CHECK, ZERO, assert_agrees, config, long_run

pytestmark = pytest.mark.heavy

HOT = {  # a few equally hot keys, no writes, no replicas: only the cache and the origin act
    **ZERO, "replication.replicas": 0, "replication.read_policy": "master",
    "workload.key_distribution": "uniform", "workload.write_rate": 0.0,
    "cache.fill_from": "origin", "origin.servers": 10_000,  # never queues
}


def _run(keys: int, rate_per_key: float, changes: dict, seconds: float) -> dict:
    cfg = config({**HOT, "workload.keys": keys, "workload.read_rate": keys * rate_per_key,
                  "run.duration": long_run(seconds), "run.warmup": 10, **changes})
    return simulate(cfg).summary


def _agrees(s: dict, theory: float) -> None:
    assert_agrees(s["recomputes_per_expiry"], s["recomputes_per_expiry_ci95"], theory)


def test_plain_cache_aside_recomputes_one_plus_lambda_d():
    s = _run(4, 50.0, {"cache.ttl": "1s", "origin.recompute_time": "200ms"}, 120)
    assert s["cache_expiries"] > 200
    _agrees(s, analytic.recomputes_per_expiry_plain(50.0, 0.2))  # 11


def test_plain_cache_aside_with_exponential_recomputes_closes_at_the_first_to_finish():
    s = _run(4, 50.0, {"cache.ttl": "1s", "origin.recompute_time": "exp:200ms"}, 120)
    theory = analytic.recomputes_per_expiry_exponential(50.0, 0.2)
    _agrees(s, theory)
    assert theory < analytic.recomputes_per_expiry_plain(50.0, 0.2) - 3  # the control differs


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_xfetch_recomputes_e_to_the_one_over_beta(beta):
    # lambda beta delta >= 30 and a TTL 25 times beta delta: the formula's regime.
    s = _run(4, 300.0, {"cache.stampede": "xfetch", "cache.xfetch_beta": beta,
                        "cache.ttl": "5s", "origin.recompute_time": "100ms"}, 240)
    assert s["early_refreshes"] > 150 and s["cache_expiries"] <= 2
    _agrees(s, analytic.xfetch_recomputes_per_cycle(beta))


@pytest.mark.parametrize("recompute", ["200ms", "exp:200ms"])
def test_single_flight_recomputes_exactly_once_per_expiry(recompute):
    s = _run(4, 50.0, {"cache.stampede": "single_flight", "cache.ttl": "1s",
                       "origin.recompute_time": recompute}, 60)
    assert s["cache_expiries"] > 100
    assert s["recomputes_per_expiry"] == 1.0


def test_single_flight_waiters_wait_half_the_recompute():
    """Per expiry the first reader waits D and the λD that come during it D/2 on average."""
    lam, d = 50.0, 0.2
    s = _run(4, lam, {"cache.stampede": "single_flight", "cache.ttl": "1s",
                      "origin.recompute_time": f"{d}s"}, 120)
    n = s["cache_expiries"]
    waited = s["cache_misses"] - n  # every miss but the recomputing one
    # A Poisson(λD) number of waiters per expiry, independent across expiries.
    assert abs(waited / n - lam * d) <= Z_CHECK * math.sqrt(lam * d / n)
    total_wait_s = s["read_latency_ms"]["mean"] / 1e3 * s["reads"]
    theory_s = n * d + waited * d / 2
    # Poisson arrivals in the window are uniform in it: each wait has variance d^2 / 12.
    assert abs(total_wait_s - theory_s) <= Z_CHECK * d * math.sqrt(waited / 12)


def test_lease_tokens_are_issued_at_most_once_per_interval_per_key():
    keys, interval = 4, 3.0
    s = _run(keys, 50.0, {"cache.stampede": "lease", "cache.lease_interval": f"{interval}s",
                          "cache.ttl": "1s", "origin.recompute_time": "200ms"}, 120)
    window = s["config"]["run"]["duration"] - s["config"]["run"]["warmup"]
    assert s["origin_recomputes"] == s["leases_issued"]  # only lease holders recompute
    assert s["leases_issued"] <= keys * (window / interval + 1)
    # The bound binds here (a TTL cycle is shorter than the interval): a token soon after.
    assert s["leases_issued"] >= keys * (window / (interval + 0.5) - 1)


def test_lease_shorter_than_a_cycle_recomputes_once_per_expiry():
    s = _run(4, 50.0, {"cache.stampede": "lease", "cache.lease_interval": "500ms",
                       "cache.ttl": "1s", "origin.recompute_time": "200ms"}, 60)
    assert s["recomputes_per_expiry"] == 1.0 and s["leases_issued"] == s["origin_recomputes"]


def test_stale_while_revalidate_serves_about_lambda_d_stale_values_per_expiry():
    lam, d = 50.0, 0.2
    s = _run(4, lam, {"cache.stampede": "stale_while_revalidate", "cache.ttl": "1s",
                      "origin.recompute_time": f"{d}s"}, 120)
    assert s["recomputes_per_expiry"] == 1.0
    n = s["cache_expiries"]
    # The read that finds the entry expired, then a Poisson(λD) number during the refresh.
    per_expiry = s["stale_served"] / n
    assert abs(per_expiry - (1 + lam * d)) <= Z_CHECK * math.sqrt(lam * d / n)


@pytest.mark.parametrize("servers", [1, 4])
def test_closed_loop_workers_never_have_more_recomputes_than_workers(servers):
    workers = 20
    cfg = config({**HOT, "workload.mode": "closed", "workload.clients": workers,
                  "workload.think_time": "exp:20ms", "workload.read_fraction": 1.0,
                  "workload.keys": 1, "network.client_latency": "100us",
                  "cache.latency": "50us", "cache.ttl": "500ms", "origin.servers": servers,
                  "origin.recompute_time": "300ms", "run.duration": 30, "run.warmup": 2})
    s = simulate(cfg).summary
    # The herd reaches every worker (the bound is reached), and never more.
    assert s["origin_in_flight_max"] == workers
    if servers == 1:
        assert s["origin_queue_ms"]["max"] > 300  # the origin did queue


@pytest.mark.parametrize("cure", ["single_flight", "lease", "stale_while_revalidate"])
def test_one_recompute_per_expiry_when_every_delay_is_constant(cure):
    """Constant think time, links and recompute: many things happen at the same instants."""
    cfg = config({**HOT, "workload.mode": "closed", "workload.clients": 8,
                  "workload.think_time": "10ms", "workload.read_fraction": 1.0,
                  "workload.keys": 2, "network.client_latency": "100us",
                  "cache.latency": "100us", "cache.ttl": "200ms", "cache.stampede": cure,
                  "cache.lease_interval": "100ms", "origin.recompute_time": "50ms",
                  "run.duration": 20, "run.warmup": 1})
    s = simulate(cfg).summary
    cycles = s["cache_expiries"] + s["early_refreshes"]
    assert cycles > 100
    # An expiry at an end of the window may have its recompute counted on the other side.
    assert abs(s["recomputes_per_expiry"] - 1.0) <= 2 / cycles
