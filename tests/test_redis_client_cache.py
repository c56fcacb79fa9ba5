"""redis-py's client-side cache against a real redis-server (sim/redis/client_cache.py):
the stale share of local hits and the invalidations, real beside simulated."""

from __future__ import annotations

import pytest

from sim.analysis import analytic
from sim.config.schema import Config
from sim.redis.client_cache import _cache_gate, measure_client_cache, validate_client_cache
from sim.redis.measure import MeasureError
from sim.redis.validate import Workload
from tests.helpers import assert_agrees
from tests.redis_servers import RedisServer, requires_redis
from tests.test_redis_cli import run_cli

# 100 writes/s over 10 keys: 10 writes/s per key; 5 ms and 15 ms give stale shares of local
# hits near 6 % and 15 %. Reads slow enough that the reader, which waits for each miss, is
# seldom behind its schedule (at 800/s it reads in bursts after misses, and measures less).
WORKLOAD = Workload(read_rate=300.0, write_rate=100.0, keys=10, duration_s=6.0, warmup_s=0.5,
                    seed=3)
CONFIG = Config.from_dict({"network": {"client_latency": "30us"}})


def test_a_server_without_client_tracking_is_one_clear_error():
    with pytest.raises(MeasureError, match="redis-server 5.0.7 has no CLIENT TRACKING"):
        with _cache_gate("5.0.7"):
            pass


def test_the_gate_is_restored():
    from redis.connection import CacheProxyConnection

    gate = CacheProxyConnection.MIN_ALLOWED_VERSION
    with _cache_gate("6.2.0") as lowered:
        assert lowered and CacheProxyConnection.MIN_ALLOWED_VERSION == "6.2.0"
    assert CacheProxyConnection.MIN_ALLOWED_VERSION == gate
    with _cache_gate("99.0.0") as lowered:
        assert not lowered


@pytest.fixture(scope="module")
def server():
    with RedisServer() as master:
        yield master


@pytest.mark.redis
@requires_redis
@pytest.mark.parametrize("delay_s", [0.005, 0.015])
def test_real_and_simulated_stale_shares_of_local_hits_agree(server, delay_s):
    c = validate_client_cache(server.address, WORKLOAD, CONFIG, delay_s, sim_duration_s=30)
    real, sim = c.real, c.sim
    assert c.delay_mean_s >= delay_s  # the proxy never forwards early
    assert real["client_cache_hits"] > 500
    assert real["client_cache_stale_reads"] <= real["client_cache_stale_reads_upper"]
    # The model holds its closed form for the realised mean delay (a constant there).
    assert_agrees(sim["client_cache_stale_read_rate"], sim["client_cache_stale_read_rate_ci95"],
                  analytic.client_cache_stale_share(sim["config"]["workload"]["write_rate"] / 10,
                                                    c.delay_mean_s))
    # The real share, between its certain and possible counts, meets the closed form for
    # the delays realised within one more half-width of its interval (docs: README).
    lo, hi = real["client_cache_stale_read_rate_ci95"]
    half = (hi - lo) / 2
    assert lo - half <= c.theory <= real["client_cache_stale_read_rate_upper_ci95_hi"] + half
    # Every write to a key the reader holds invalidates it: near one message per write.
    assert 0.7 < real["invalidations_per_s"] / sim["invalidations_per_s"] < 1.3
    assert server.client().keys("repsim:csc:*") == []


@pytest.mark.redis
@requires_redis
def test_without_writes_no_invalidation_and_nothing_stale(server):
    workload = Workload(read_rate=500.0, write_rate=1e-6, keys=5, duration_s=1.5, warmup_s=0.3)
    real = measure_client_cache(server.address, workload, 0.002)
    assert real["invalidations"] == 0 and real["client_cache_stale_reads_upper"] == 0
    assert real["client_cache_hit_rate"] > 0.9


@pytest.mark.redis
@requires_redis
def test_the_command_prints_the_table(server, capsys):
    status = run_cli(["validate", "--client-cache", "--master", f"127.0.0.1:{server.port}",
                      "--delay", "3ms", "--write-rate", "100", "--seconds", "2",
                      "--warmup", "0.3", "--sim-seconds", "5"])
    out = capsys.readouterr().out
    assert status == 0
    assert "| 3ms | 100 (10) |" in out.replace("100.0", "100") and "stale share of hits" in out


def test_bad_arguments_stop_before_any_server(capsys):
    assert run_cli(["validate", "--client-cache", "--seconds", "1", "--warmup", "2"]) == 2
    assert "warmup_s = 2.0" in capsys.readouterr().err
