"""A real master and replica against the simulator: stale reads with and without delay."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest

from sim.config.schema import Config
from sim.redis.measure import MeasureError
from sim.redis.validate import Workload, compare, measure_real, theory_stale_rate, validate
from tests.redis_servers import master_and_replica, requires_redis

# 200 writes/s over 20 keys: 10 writes/s per key, so 5 ms and 20 ms of delay give stale
# fractions near 5 % and 18 %, with hundreds of writes per run behind each interval.
WORKLOAD = Workload(read_rate=800.0, write_rate=200.0, keys=20, duration_s=3.5, warmup_s=0.5, seed=7)
CONFIG = Config.from_dict({"network": {"client_latency": "30us"},
                           "server": {"service_time": "2us", "batch_overhead": "20us",
                                      "replica_apply_time": "2us"}})


def test_compare_is_interval_overlap():
    real = {"stale_read_rate": 0.10, "stale_read_rate_ci95": [0.08, 0.12]}
    assert compare(real, {"stale_read_rate": 0.13, "stale_read_rate_ci95": [0.115, 0.145]})
    assert not compare(real, {"stale_read_rate": 0.15, "stale_read_rate_ci95": [0.13, 0.17]})
    assert compare({"stale_read_rate": 0.0, "stale_read_rate_ci95": [None, None]},
                   {"stale_read_rate": 0.0, "stale_read_rate_ci95": [0.0, 0.0]})


def test_theory_is_the_constant_delay_formula_averaged():
    assert theory_stale_rate(10.0, np.array([0.02]), 0.0) == pytest.approx(1 - np.exp(-0.2))
    assert theory_stale_rate(10.0, np.array([0.01, 0.03]), 0.0) == pytest.approx(
        1 - (np.exp(-0.1) + np.exp(-0.3)) / 2)
    assert theory_stale_rate(10.0, np.array([0.001]), 0.002) == 0.0  # read arrives after the write


def test_workload_checks_itself():
    with pytest.raises(ValueError, match="warmup"):
        Workload(duration_s=1.0, warmup_s=1.0)


@pytest.fixture(scope="module")
def pair():
    with master_and_replica() as servers:
        yield servers


@pytest.mark.redis
@requires_redis
@pytest.mark.parametrize("delay_s", [0.005, 0.02])
def test_real_and_simulated_stale_reads_agree(pair, delay_s):
    master, replica = pair
    result = validate(master.address, replica.address, WORKLOAD, CONFIG, delay_s, sim_duration_s=30)
    real = result.real
    assert result.agree, result.verdict
    assert result.delay_mean_s >= delay_s  # the proxy never forwards early
    # The real rate also sits near 1 - E[exp(-λ(D - δ))] for the delay actually realised.
    lo, hi = real["stale_read_rate_ci95"]
    half = (hi - lo) / 2
    assert abs(real["stale_read_rate"] - result.theory_stale_rate) <= 2 * half + 0.01
    # Bounds: certainly stale <= possibly stale; nothing newer than was ever sent.
    assert real["stale_reads"] <= real["stale_reads_upper"]
    assert real["impossible"] == 0
    assert real["reads"] > 0.8 * WORKLOAD.read_rate * (WORKLOAD.duration_s - WORKLOAD.warmup_s)
    assert real["staleness_versions_mean"] >= real["stale_read_rate"]  # >= 1 version per stale read
    # Afterwards the replica follows the master directly again.
    info = replica.client().info("replication")
    assert info["master_port"] == master.port and info["master_link_status"] == "up"


@pytest.mark.redis
@requires_redis
def test_without_proxy_reads_are_almost_never_stale(pair):
    master, replica = pair
    workload = Workload(read_rate=800.0, write_rate=200.0, keys=5, duration_s=2.0, warmup_s=0.3)
    result = validate(master.address, replica.address, workload, CONFIG, None, sim_duration_s=10)
    real = result.real
    assert real["stale_read_rate"] < 0.02
    assert real["impossible"] == 0
    # Versions newer than any acknowledged are fresh reads, not errors: they are counted
    # separately and never as stale.
    assert real["stale_reads"] + real["newer_than_acked"] <= real["reads"]


@pytest.mark.redis
@requires_redis
def test_a_replica_of_someone_else_is_refused(pair):
    master, _ = pair
    with pytest.raises(MeasureError, match="is not a replica"):
        validate(master.address, master.address, WORKLOAD, CONFIG, 0.005)


def _workload_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "writer" in t.name or "reader" in t.name]


@pytest.mark.redis
@requires_redis
def test_an_interrupted_run_stops_its_threads_and_deletes_its_keys(pair):
    """Ctrl-C in the middle: no thread goes on writing, and the keys are gone."""
    master, replica = pair
    workload = Workload(read_rate=400.0, write_rate=400.0, keys=5, duration_s=30.0, warmup_s=0.1)
    main = threading.main_thread().ident
    timer = threading.Timer(0.5, signal.pthread_kill, args=(main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        measure_real(master.address, replica.address, workload)
    timer.join()
    assert _workload_threads() == []
    assert master.client().keys("repsim:val:*") == []


@pytest.mark.redis
@requires_redis
def test_a_proxy_that_cannot_listen_is_one_clear_error(pair):
    master, replica = pair
    with pytest.raises(MeasureError, match="cannot listen on 192.0.2.1"):
        validate(master.address, replica.address, WORKLOAD, CONFIG, 0.005, proxy_host="192.0.2.1")
    info = replica.client().info("replication")  # left pointing at its master
    assert info["master_port"] == master.port and info["master_link_status"] == "up"
