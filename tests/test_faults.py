"""The fault model: crash and failover, lost writes, WAIT, disconnects and resync, partitions,
min-replicas-to-write. Each test states the behaviour that would break it."""

from __future__ import annotations

import math
import statistics

import pytest

from sim import simulate
from sim.analysis import analytic
from tests.helpers import Z_CHECK, config

QUIET = {"cache.enabled": False, "workload.read_rate": 0.0}  # writes only: fast and exact


def _run(overrides: dict, trace=None, keep_model: bool = False):
    return simulate(config(overrides), trace=trace, keep_model=keep_model)


def _strip(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_seconds"}


# -- without faults -----------------------------------------------------------------------


def test_without_faults_nothing_is_lost_and_fault_metrics_are_zero_or_null():
    s = _run({"run.duration": 1.0}).summary
    assert s["writes"] > 0
    assert s["lost_writes"] == 0 and s["lost_write_rate"] == 0.0
    for key in ("unavailable_writes", "unavailable_reads", "refused_writes", "failovers",
                "resyncs_partial", "resyncs_full", "lost_unacknowledged_writes"):
        assert s[key] == 0, key
    assert s["data_loss_window_ms"] is None
    assert s["failover_duration_ms"] == {"mean": None, "max": None}


def test_min_replicas_without_faults_never_refuses():
    s = _run({"run.duration": 1.0, "replication.min_replicas_to_write": 2}).summary
    assert s["refused_writes"] == 0 and s["writes"] > 0


def test_a_run_with_faults_is_reproducible():
    cfg = {"run.duration": 3.0, "faults.master_crash_at": 1.0, "faults.failover_timeout": "0.5s",
           "faults.master_recover_after": "1s",
           "faults.replica_disconnects": [{"replica": 1, "start": 0.5, "duration": 0.2}]}
    assert _strip(_run(cfg).summary) == _strip(_run(cfg).summary)


# -- crash and failover -------------------------------------------------------------------


def test_crash_makes_writes_unavailable_until_the_failover():
    s = _run({"run.duration": 3.0, "run.warmup": 0.5, "faults.master_crash_at": 1.0,
              "faults.failover_timeout": "0.5s", "cache.enabled": False}).summary
    assert s["failovers"] == 1
    assert s["failover_duration_ms"] == {"mean": 500.0, "max": 500.0}
    # Poisson writes at 1000/s during the 0.5 s outage; 4 standard deviations of slack.
    assert abs(s["unavailable_writes"] - 500) < 4 * math.sqrt(500)
    # Replicas keep serving (serve_stale_data = true), so no read fails.
    assert s["unavailable_reads"] == 0


def test_reads_at_the_master_in_office_are_never_stale_across_a_failover():
    s = _run({"run.duration": 3.0, "run.warmup": 0.5, "faults.master_crash_at": 1.0,
              "faults.failover_timeout": "0.5s", "cache.enabled": False,
              "replication.read_policy": "master", "replication.delay": "exp:5ms"}).summary
    assert s["unavailable_reads"] > 0  # reads sent to the dead master fail
    assert s["stale_reads"] == 0


def test_versions_continue_from_the_promoted_replica():
    """After the failover the new master numbers each key's writes from what it holds, so
    versions the old master had given to lost writes are given again."""
    events = []  # commits and the failover, in time order

    def timed(kind, t, **f):
        if kind == "commit":
            events.append((t, f["key"], f["version"]))
        elif kind == "failover":
            events.append((t, "failover", f["offset"]))

    _run({**QUIET, "run.duration": 2.0, "workload.write_rate": 3000.0, "workload.keys": 20,
          "faults.master_crash_at": 1.0, "faults.failover_timeout": "0.2s",
          "faults.crash_mode": "network", "replication.delay": "20ms"}, trace=timed)
    split = next(i for i, e in enumerate(events) if e[1] == "failover")
    before, after = events[:split], events[split + 1:]
    old_last: dict[int, int] = {}
    for _, key, version in before:
        old_last[key] = version
    new_seq: dict[int, list[int]] = {}
    for _, key, version in after:
        new_seq.setdefault(key, []).append(version)
    reused = 0
    for key, versions in new_seq.items():
        assert versions == list(range(versions[0], versions[0] + len(versions)))
        assert versions[0] <= old_last.get(key, 0) + 1
        reused += versions[0] <= old_last.get(key, 0)
    assert reused > 0  # some lost write's version number was given again


def test_recovered_master_rejoins_with_a_full_resync_and_the_other_replica_partially():
    s = _run({**QUIET, "run.duration": 3.0, "faults.master_crash_at": 1.0,
              "faults.failover_timeout": "0.2s", "faults.master_recover_after": "1s"}).summary
    assert s["failovers"] == 1
    assert s["resyncs_partial"] == 1  # the replica not promoted follows the new master
    assert s["resyncs_full"] == 1  # the old master's host comes back


def test_lost_writes_at_a_crash_average_write_rate_times_delay():
    """A crash that cuts the host off (``crash_mode = "network"``), constant replication delay
    d, client latency L: the writes committed in the last d before the crash never reach a
    replica (W d of them), and those committed more than L
    before it were acknowledged (W (d - L)). Checked as a mean over seeds, with a tolerance
    from the spread over those seeds."""
    w, d, latency = 1000.0, 0.02, 250e-6
    lost, total = [], []
    for seed in range(40):
        s = _run({**QUIET, "run.duration": 1.3, "run.warmup": 0.1, "run.seed": seed,
                  "workload.write_rate": w, "replication.delay": f"{d}s",
                  "network.client_latency": f"{latency}s", "faults.master_crash_at": 1.0,
                  "faults.failover_timeout": "0.1s", "faults.crash_mode": "network"}).summary
        lost.append(s["lost_writes"])
        total.append(s["lost_writes"] + s["lost_unacknowledged_writes"])
        assert s["data_loss_window_ms"] is None or s["data_loss_window_ms"] <= 1e3 * d
    for sample, theory in ((lost, analytic.expected_lost_writes(w, d, reply_latency_s=latency)),
                           (total, analytic.expected_lost_writes(w, d))):
        mean = statistics.fmean(sample)
        se = statistics.stdev(sample) / math.sqrt(len(sample))
        assert abs(mean - theory) <= Z_CHECK * se, (mean, theory, se)


def test_wait_for_every_replica_loses_no_acknowledged_write():
    base = {**QUIET, "run.duration": 1.5, "run.warmup": 0.1, "workload.write_rate": 2000.0,
            "replication.delay": "exp:10ms", "faults.master_crash_at": 1.0,
            "faults.failover_timeout": "0.1s", "faults.crash_mode": "network"}
    for seed in range(5):
        asynchronous = _run({**base, "run.seed": seed}).summary
        synchronous = _run({**base, "run.seed": seed, "replication.wait_replicas": 2}).summary
        assert asynchronous["lost_writes"] > 0  # the crash does destroy acknowledged writes
        assert synchronous["lost_writes"] == 0
        assert synchronous["lost_unacknowledged_writes"] > 0  # ...but none it acknowledged


# -- disconnects and resync ---------------------------------------------------------------


def _resyncs(overrides: dict) -> tuple[dict, dict]:
    kinds = {}

    def trace(kind, t, **f):
        if kind == "resync":
            kinds[f["node"]] = f["resync"]

    return _run(overrides, trace=trace, keep_model=True), kinds


def test_a_disconnect_within_the_backlog_resyncs_partially_and_a_longer_one_fully():
    # 1000 writes/s of 100 bytes; a 64 kB backlog holds 655 writes (0.66 s of writes).
    base = {**QUIET, "run.duration": 3.0, "replication.backlog_size": "64kb",
            "faults.replica_disconnects": [{"replica": 0, "start": 0.5, "duration": 0.2},
                                           {"replica": 1, "start": 0.5, "duration": 1.5}]}
    result, kinds = _resyncs(base)
    assert kinds == {"replica0": "partial", "replica1": "full"}
    s = result.summary
    assert (s["resyncs_partial"], s["resyncs_full"]) == (1, 1)
    # A full resync carries 1000 keys x 100 bytes at 125 MB/s plus a 1 ms load: >= 1.8 ms.
    assert s["resync_duration_ms"]["full"]["mean"] >= 1e3 * (1e5 / 125e6 + 1e-3)
    # Both caught up again: every version committed well before the end reached them.
    model = result.model
    for replica in model.replicas:
        for key, rec in model.master.committed.items():
            if rec.commit_s < 2.9:
                assert replica.store[key].number >= rec.number
    _, kinds = _resyncs({**base, "replication.backlog_size": "1mb"})
    assert kinds == {"replica0": "partial", "replica1": "partial"}


def test_serve_stale_data_off_refuses_reads_while_the_link_is_down():
    base = {"run.duration": 1.5, "cache.enabled": False, "replication.read_policy": "replicas",
            "faults.replica_disconnects": [{"replica": 0, "start": 0.5, "duration": 0.3}]}
    assert _run(base).summary["unavailable_reads"] == 0
    refused = _run({**base, "replication.serve_stale_data": False}).summary["unavailable_reads"]
    # Half the reads (9000/s) go to replica 0 during the 0.3 s it is cut off.
    assert abs(refused - 1350) < 5 * math.sqrt(1350)


def test_lag_of_a_cut_off_replica_grows_until_it_resyncs():
    s = _run({**QUIET, "run.duration": 2.0, "faults.replica_disconnects": [
        {"replica": 0, "start": 0.5, "duration": 1.0}]}).summary
    assert 1000 - 5 <= s["replication_lag_ms"]["max"] <= 1000 + 20


# -- min_replicas_to_write and partitions -------------------------------------------------


def test_min_replicas_refuses_writes_once_replicas_lag_too_long():
    s = _run({**QUIET, "run.duration": 2.0, "replication.replicas": 1,
              "replication.min_replicas_to_write": 1, "replication.min_replicas_max_lag": "0.2s",
              "faults.replica_disconnects": [{"replica": 0, "start": 0.5, "duration": 1.0}]}
             ).summary
    # Refused from 0.2 s into the disconnect until it resyncs: 0.8 s of 1000 writes/s.
    assert abs(s["refused_writes"] - 800) < 5 * math.sqrt(800)


SPLIT = {**QUIET, "run.duration": 4.0, "run.warmup": 0.5, "replication.delay": "1ms",
         "faults.failover_timeout": "0.5s",
         "faults.partitions": [{"start": 1.0, "duration": 2.0, "nodes": ["master"],
                                "clients": [0, 1]}]}


def test_partition_split_brain_loses_what_the_isolated_master_accepted():
    events = []

    def trace(kind, t, **f):
        if kind in ("failover", "rejoin", "resync"):
            events.append((kind, f["node"]))

    s = _run(SPLIT, trace=trace).summary
    assert s["failovers"] == 1
    # The minority's clients (2 of 8: 250 writes/s) wrote to the old master for 2 s.
    assert abs(s["lost_writes"] - 500) < 5 * math.sqrt(500)
    assert s["data_loss_window_ms"] > 1900
    # The majority's writes failed during detection (6 of 8 clients for 0.5 s).
    assert abs(s["unavailable_writes"] - 375) < 5 * math.sqrt(375)
    assert ("failover", "replica0") in events
    assert ("rejoin", "master") in events and ("resync", "master") in events


def test_min_replicas_bounds_the_writes_lost_in_a_partition():
    lag = 0.3
    s = _run({**SPLIT, "replication.min_replicas_to_write": 1,
              "replication.min_replicas_max_lag": f"{lag}s"}).summary
    assert s["refused_writes"] > 0
    # Only writes accepted within the max lag of the cut (plus those in flight on the 1 ms
    # link when it broke) can be lost.
    assert 0 < s["data_loss_window_ms"] <= 1e3 * (lag + 0.001) + 0.1
    assert s["lost_writes"] < 250 * lag + 5 * math.sqrt(250 * lag)


def test_a_partition_that_heals_before_detection_causes_no_failover():
    s = _run({**SPLIT, "faults.failover_timeout": "5s"}).summary
    assert s["failovers"] == 0 and s["lost_writes"] == 0
    assert s["unavailable_writes"] > 0  # the majority could not reach the master meanwhile


@pytest.mark.parametrize("policy", ["replicas", "any", "sticky", "read-your-writes", "master"])
def test_every_read_policy_survives_a_failover(policy):
    s = _run({"run.duration": 2.0, "replication.read_policy": policy,
              "faults.master_crash_at": 0.8, "faults.failover_timeout": "0.3s",
              "faults.master_recover_after": "0.5s"}).summary
    assert s["failovers"] == 1 and s["reads"] > 0 and s["writes"] > 0


def test_the_readme_fault_study_functions():
    from sim.experiment.failover_study import lost_at_crash, lost_in_partition

    assert lost_at_crash([0.02], wait_replicas=1, seeds=2) == [0.0]
    assert lost_at_crash([0.02], wait_replicas=0, seeds=2)[0] > 0
    bounded, unbounded = lost_in_partition([0.5, None], seeds=1, partition_s=7.0)
    assert 0 < bounded < unbounded


def test_a_crash_whose_failover_falls_after_the_end_still_counts_its_lost_writes():
    s = _run({**QUIET, "run.duration": 1.5, "replication.delay": "20ms",
              "faults.crash_mode": "network",
              "faults.master_crash_at": 1.0, "faults.failover_timeout": "5s"}).summary
    assert s["failovers"] == 0
    assert s["lost_writes"] + s["lost_unacknowledged_writes"] > 0


def test_wait_is_released_once_a_disconnected_replica_resyncs():
    """Redis WAIT counts a replica once its acknowledged offset reaches the write's: writes a
    replica missed while cut off and received in its resync are acknowledged by it then, so
    WAIT for every replica (no timeout) blocks only while the link is down."""
    base = {**QUIET, "run.duration": 2.0, "run.warmup": 0.1, "replication.wait_replicas": 2}
    for kind, backlog in (("partial", "1mb"), ("full", 100)):
        s = _run({**base, "replication.backlog_size": backlog, "faults.replica_disconnects": [
            {"replica": 0, "start": 0.5, "duration": 0.2}]}).summary
        assert s[f"resyncs_{kind}"] == 1
        # Writes go on after the resync: about 1000/s for the 1.7 s the link is up.
        assert s["writes"] > 1500, (kind, s["writes"])


def test_min_replicas_max_lag_zero_disables_the_check_as_in_redis():
    """redis.conf: setting min-replicas-to-write or min-replicas-max-lag to 0 disables it."""
    s = _run({**QUIET, "run.duration": 2.0, "run.warmup": 0.1, "replication.replicas": 1,
              "replication.min_replicas_to_write": 1, "replication.min_replicas_max_lag": "0s",
              "faults.replica_disconnects": [{"replica": 0, "start": 0.5, "duration": 1.0}]}
             ).summary
    assert s["refused_writes"] == 0 and s["writes"] > 1500


def test_a_master_without_replicas_keeps_no_log_of_its_writes():
    """Memory must not grow with the operations: once the only replica is promoted, no
    failover can lose the new master's writes, so it logs none of them for long."""
    r = _run({**QUIET, "run.duration": 8.0, "run.warmup": 0.1, "replication.replicas": 1,
              "faults.master_crash_at": 1.0, "faults.failover_timeout": "0.1s"},
             keep_model=True)
    assert r.summary["writes"] > 6000
    assert len(r.model.cluster.office.log) < 4096


def test_a_host_that_has_not_resynced_after_a_split_brain_is_never_promoted():
    """The deposed master rejoins at the heal holding its own divergent history; its offset
    counts in that history, not its new master's, so until its full resync lands it is no
    candidate: the new master crashing right then promotes the other replica."""
    promoted = []

    def trace(kind, t, **f):
        if kind == "failover":
            promoted.append(f["node"])

    _run({**SPLIT, "faults.master_crash_at": 3.0, "faults.partitions": [
        {"start": 1.0, "duration": 2.0, "nodes": ["master"], "clients": [0, 1, 2, 3, 4, 5]}]},
        trace=trace)
    assert promoted == ["replica0", "replica1"]
