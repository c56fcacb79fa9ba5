"""The store's TTL against its closed forms (sim.analysis.expiry), with tolerances from each
run's interval: a replica clock behind (expired reads), ahead (hidden live keys), and the
pre-3.2 replica that waits for the master's DEL, whose window the active cycle sets."""

from __future__ import annotations

import json

import pytest

from sim import simulate
from sim.analysis import expiry as theory
from sim.cli import app as cli
from tests.helpers import ZERO, assert_agrees, config, long_run

pytestmark = pytest.mark.heavy

KEYS, WRITE_RATE, TTL_S = 10, 10.0, 1.0  # lambda = 1 write per key per second
LAMBDA = WRITE_RATE / KEYS
PERIOD_S = 0.1  # server.hz = 10

# One replica, reads served when issued, every key written (and checked by each cycle).
BASE = {**ZERO, "cache.enabled": False, "workload.key_ttl": "1s",
        "replication.read_policy": "replicas", "replication.replicas": 1,
        "workload.keys": KEYS, "workload.key_distribution": "uniform",
        "workload.write_rate": WRITE_RATE, "workload.read_rate": 4000.0,
        "run.warmup": 3.0}


def run(**changes) -> dict:
    return simulate(config({**BASE, "run.duration": long_run(40), **changes})).summary


@pytest.mark.parametrize("behind_ms", [0, 20, 40])
def test_repsim_run_reproduces_the_closed_form_for_a_clock_behind(behind_ms, capsys):
    """e^(-lambda (T - d)) (1 - e^(-lambda s)) with a constant replication delay d >= s, so
    the replica's own clock, not the master's DEL, ends the window; 0 for s = 0."""
    sets = ["workload.key_ttl=1s", "replication.read_policy=replicas",
            f'clocks.offsets=[0, "-{behind_ms}ms"]', "replication.delay=50ms",
            "replication.replicas=1", "cache.enabled=false", f"workload.keys={KEYS}",
            "workload.key_distribution=uniform", f"workload.write_rate={WRITE_RATE}",
            "workload.read_rate=4000", "run.warmup=3s", f"run.duration={long_run(40)}",
            *(f"{key}={value}" for key, value in ZERO.items())]
    argv = ["run", "--json", *(a for text in sets for a in ("--set", text))]
    assert cli.main(argv) == 0
    s = json.loads(capsys.readouterr().out)
    expected = theory.expired_read_rate_clock_behind(LAMBDA, TTL_S, behind_ms / 1e3, 0.05)
    if behind_ms == 0:
        assert s["expired_read_rate"] == 0.0 and expected == 0.0
        assert s["reads"] > 100_000
        return
    assert_agrees(s["expired_read_rate"], s["expired_read_rate_ci95"], expected)
    assert s["hidden_live_rate"] == 0.0  # a clock behind never hides a live key
    assert 0 < s["expired_read_age_ms"]["mean"] < behind_ms


@pytest.mark.parametrize("behind_ms", [50, 200])
def test_a_clock_behind_is_cut_short_by_the_master_s_next_cycle(behind_ms):
    """d = 0: the DEL of the first cycle after the expiry (U ~ Uniform(0, 1/hz) later) ends
    the window if it comes before the replica's clock does."""
    s = run(**{"replication.delay": "0s", "clocks.offsets": [0, -behind_ms / 1e3]})
    expected = theory.expired_read_rate_small_keyspace(LAMBDA, TTL_S, behind_ms / 1e3,
                                                       PERIOD_S)
    assert_agrees(s["expired_read_rate"], s["expired_read_rate_ci95"], expected)


@pytest.mark.parametrize("delay", ["0s", "20ms"])
def test_master_del_serves_until_the_active_cycle_s_del_arrives(delay):
    """Redis before 3.2: the replica serves the key until the DEL of the master's first
    cycle after its expiry has crossed the link."""
    s = run(**{"replication.delay": delay, "replication.replica_expiry": "master_del"})
    d = 0.02 if delay == "20ms" else 0.0
    expected = theory.expired_read_rate_small_keyspace(LAMBDA, TTL_S, None, PERIOD_S, d)
    assert_agrees(s["expired_read_rate"], s["expired_read_rate_ci95"], expected)
    assert s["hidden_live_rate"] == 0.0
    # Ten keys, at most one cycle's worth of them expired and not yet deleted at a time.
    assert 1 <= s["expired_keys_held"] <= KEYS


@pytest.mark.parametrize(("ahead_ms", "delay"), [(100, "0s"), (300, "0s"), (100, "20ms")])
def test_a_clock_ahead_hides_live_keys_as_derived(ahead_ms, delay):
    """e^(-lambda (T - d)) (e^(lambda s) - 1): the replica answers "missing" from
    T - s after the SET it holds, while the key is still live (docs/design.md section 2)."""
    s = run(**{"replication.delay": delay, "clocks.offsets": [0, ahead_ms / 1e3]})
    d = 0.02 if delay == "20ms" else 0.0
    expected = theory.hidden_live_rate_clock_ahead(LAMBDA, TTL_S, ahead_ms / 1e3, d)
    assert_agrees(s["hidden_live_rate"], s["hidden_live_rate_ci95"], expected)
    assert s["expired_read_rate"] == 0.0  # it hides the key before it truly expires


def test_a_constant_delay_closed_loop_agrees_with_the_clock_behind_form():
    """Ties: a closed loop whose every delay is constant, reads at the one replica and
    writes at the master arriving at the same instants as DELs and reads."""
    s = simulate(config({
        **BASE, "workload.mode": "closed", "workload.clients": 4,
        "workload.read_fraction": 0.999, "workload.think_time": "1ms",
        "network.client_latency": "0s", "replication.delay": "50ms",
        "clocks.offsets": [0, "-40ms"], "run.duration": long_run(40)})).summary
    # Each client issues a command every 1 ms (the round trip takes no time): 4,000 a
    # second, each a SET with probability 0.001, on one of KEYS keys.
    lam = 4000.0 * 0.001 / KEYS
    expected = theory.expired_read_rate_clock_behind(lam, TTL_S, 0.04, 0.05)
    assert_agrees(s["expired_read_rate"], s["expired_read_rate_ci95"], expected)
