"""A crash as Redis with Sentinel lives through it: what each crash mode loses, how the
outage decomposes into Sentinel's phases, and the restart without persistence. Each test
states the shape of behaviour measured on a real Redis that would break it."""

from __future__ import annotations

import math
import statistics

import pytest

from sim import ConfigError, simulate
from sim.analysis import analytic
from sim.model.sentinel import FAILOVER_STEPS, TICK_S
from tests.helpers import Z_CHECK, config

QUIET = {"cache.enabled": False, "workload.read_rate": 0.0}
CRASH = {**QUIET, "run.duration": 4.0, "run.warmup": 0.1, "workload.write_rate": 1000.0,
         "replication.delay": "20ms", "faults.master_crash_at": 1.0,
         "faults.sentinel_down_after": "0.5s"}


def _run(overrides: dict, keep_model: bool = False):
    return simulate(config({**CRASH, **overrides}), keep_model=keep_model)


# -- what a crash loses ---------------------------------------------------------------------


def test_a_process_crash_loses_nothing_already_on_the_wire():
    """A killed redis-server: every write it committed was sent down the replication link
    before it died, and the link delivers it (d = 20 ms, far below the failover)."""
    for seed in range(5):
        s = _run({"run.seed": seed}).summary
        assert s["failovers"] == 1
        assert s["lost_writes"] == 0 and s["lost_unacknowledged_writes"] == 0


def test_a_network_crash_loses_the_newest_writes_about_w_times_d():
    """The host cut off: the writes committed in the last d before the crash are on the wire
    and lost, the newest ones (their commit times span at most d), W (d - L) of them
    acknowledged on average."""
    w, d, latency = 1000.0, 0.02, 250e-6
    lost = []
    for seed in range(30):
        s = _run({"run.seed": seed, "faults.crash_mode": "network", "run.duration": 3.0}).summary
        lost.append(s["lost_writes"])
        assert s["data_loss_window_ms"] is None or s["data_loss_window_ms"] <= 1e3 * d
    theory = analytic.expected_lost_writes(w, d, reply_latency_s=latency)
    se = statistics.stdev(lost) / math.sqrt(len(lost))
    assert abs(statistics.fmean(lost) - theory) <= Z_CHECK * se, (lost, theory)


def test_a_process_crash_loses_what_waits_in_the_output_buffer():
    """With the stream limited to 110 kB/s (1000 writes of 100 bytes a second: 91 % busy),
    writes queue in the master's output buffer; a killed process loses those, a few per
    crash, never more than a crash that also loses the wire."""
    limited = {"replication.stream_bandwidth": 110_000}
    buffered = [_run({**limited, "run.seed": seed}).summary["lost_writes"] for seed in range(6)]
    assert sum(buffered) > 0
    for seed, lost in enumerate(buffered):
        wire = _run({**limited, "run.seed": seed, "faults.crash_mode": "network"}).summary
        assert lost <= wire["lost_writes"]


def test_a_process_crash_delivers_the_replies_already_sent():
    """Replies on the wire reach their clients after a process crash (they are lost when
    the host is cut off): with 10 ms to the client, about ten replies are on the wire."""
    slow = {"run.seed": 3, "network.client_latency": "10ms"}
    process = _run(slow).summary
    network = _run({**slow, "faults.crash_mode": "network"}).summary
    assert process["writes"] > network["writes"]
    assert process["unavailable_writes"] < network["unavailable_writes"]


# -- the outage and its phases ----------------------------------------------------------------


def test_the_outage_decomposes_into_sentinel_phases():
    for seed in range(6):
        s = _run({"run.seed": seed}).summary
        p = {k: v / 1e3 for k, v in s["failover_phases_ms"].items()}
        # Counted down after down_after, from a reconnect attempt on the next timer tick.
        assert 0.5 <= p["detected"] <= 0.5 + 2 * TICK_S
        assert p["detected"] <= p["promoted"] <= p["detected"] + FAILOVER_STEPS * TICK_S
        # Believed only on the next once-a-second INFO poll of the promoted replica.
        assert p["promoted"] < p["confirmed"] <= p["detected"] + 1.0 + TICK_S
        assert p["confirmed"] <= p["clients_switched"] <= p["confirmed"] + 0.1
        # No write is acknowledged between the crash and the first polling client's switch.
        outage = s["write_outage_ms"]["max"] / 1e3
        assert p["confirmed"] <= outage <= p["clients_switched"] + 0.05
        assert s["failover_duration_ms"]["mean"] == pytest.approx(1e3 * p["promoted"])


def test_the_outage_grows_with_down_after():
    def mean_outage(down_after: float) -> float:
        return statistics.fmean(
            _run({"run.seed": seed, "run.duration": 6.0,
                  "faults.sentinel_down_after": down_after}).summary["write_outage_ms"]["mean"]
            for seed in range(4))

    short, long = mean_outage(0.5), mean_outage(2.0)
    # Every phase after detection is the same; detection moves by the difference, give or
    # take the timer ticks.
    assert 1e3 * (1.5 - 4 * TICK_S) <= long - short <= 1e3 * (1.5 + 4 * TICK_S)


def test_pubsub_clients_wait_for_switch_master_after_the_confirmation():
    for seed in range(3):
        poll = _run({"run.seed": seed}).summary
        pubsub = _run({"run.seed": seed, "faults.client_discovery": "pubsub"}).summary
        assert pubsub["failover_phases_ms"]["confirmed"] == poll["failover_phases_ms"]["confirmed"]
        # +switch-master waits for the other replica's reconfiguration, seen on a later poll.
        assert pubsub["write_outage_ms"]["mean"] > poll["write_outage_ms"]["mean"] + 500


def test_failover_timeout_overrides_the_timeline_exactly():
    s = _run({"faults.failover_timeout": "0.3s"}).summary
    assert s["failover_duration_ms"]["mean"] == pytest.approx(300.0)
    assert s["failover_phases_ms"]["detected"] is None


# -- restart and persistence --------------------------------------------------------------------


def test_an_empty_restarted_master_is_believed_and_its_writes_are_lost():
    """Restarted 0.7 s after the kill without persistence, once Sentinel has counted it down
    (down-after 0.5 s; a restart before that, found by a probe, cancels the failover:
    below): clients that reconnect to it write to it until Sentinel demotes it (seconds
    later), and every write it acknowledged is discarded; a replica that resyncs from it
    before Sentinel reconfigures it takes its emptiness, losing its keys."""
    runs = [_run({"run.duration": 15.0, "faults.master_recover_after": "0.7s",
                  "run.seed": seed}).summary for seed in range(4)]
    for s in runs:
        assert s["failovers"] == 1
        assert s["restart_lost_writes"] > 1000  # ~1000 writes/s for the seconds until demotion
        assert s["lost_writes"] >= s["restart_lost_writes"]
    assert any(s["keys_wiped"] > 0 for s in runs)
    # Restarted only once every client follows the new master: nobody writes to it.
    late = _run({"run.duration": 8.0, "faults.master_recover_after": "3s"}).summary
    assert late["restart_lost_writes"] == 0


def test_a_restart_before_detection_cancels_the_failover_and_keeps_only_what_was_persisted():
    """down_after 3 s, restart after 0.2 s: Sentinel's next reconnect finds it up. Without
    persistence it comes back empty and its replicas take its emptiness; with an AOF fsynced
    on every write nothing is lost."""
    cancel = {"run.duration": 4.0, "faults.sentinel_down_after": "3s",
              "faults.master_recover_after": "0.2s"}
    empty = _run(cancel).summary
    assert empty["failovers"] == 0
    assert empty["lost_writes"] > 0.8 * 1000 * (1.0 - 0.1)  # every write acknowledged so far
    assert empty["keys_wiped"] > 0
    kept = _run({**cancel, "server.persistence": "aof", "server.fsync_interval": 0}).summary
    assert kept["failovers"] == 0
    assert kept["lost_writes"] == 0 and kept["keys_wiped"] == 0


def test_a_snapshot_keeps_what_it_saw():
    """With rdb, a restart loses what was committed since the last snapshot, fewer writes
    than without persistence."""
    cancel = {"run.duration": 4.0, "faults.sentinel_down_after": "3s",
              "faults.master_recover_after": "0.2s"}
    none = _run(cancel).summary
    rdb = _run({**cancel, "server.persistence": "rdb", "server.snapshot_interval": "0.5s"}).summary
    assert 0 < rdb["lost_writes"] < none["lost_writes"]
    # Snapshots at 0.5 s intervals: at most the last 0.5 s of writes (at 1000 writes/s).
    assert rdb["lost_writes"] <= 1000 * 0.5 * 1.5


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, key", [
    ({"faults.crash_mode": "host"}, "faults.crash_mode"),
    ({"faults.client_discovery": "push"}, "faults.client_discovery"),
    ({"faults.failover_timeout": "soon"}, "faults.failover_timeout"),
    ({"faults.sentinel_down_after": "0s"}, "faults.sentinel_down_after"),
    ({"server.persistence": "disk"}, "server.persistence"),
    ({"replication.stream_bandwidth": -1}, "replication.stream_bandwidth"),
])
def test_bad_failover_settings_name_the_key(overrides, key):
    with pytest.raises(ConfigError) as err:
        config(overrides)
    assert err.value.key == key


def test_the_new_keys_round_trip():
    cfg = config({"faults.crash_mode": "network", "faults.client_discovery": "pubsub",
                  "faults.sentinel_down_after": "250ms", "server.persistence": "rdb"})
    assert type(cfg).from_dict(cfg.to_dict()) == cfg
    assert cfg.faults.failover_timeout == "sentinel" and cfg.faults.sentinel
