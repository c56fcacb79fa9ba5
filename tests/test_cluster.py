"""The cluster's failover logic, and faults that cost nothing until they happen."""

from __future__ import annotations

from sim import simulate
from tests.helpers import config

BASE = {"run.duration": 1.0, "run.warmup": 0.1, "replication.replicas": 2,
        "replication.delay": "exp:5ms", "workload.write_rate": 2000.0, "cache.enabled": False}


def without_wall(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("wall_seconds", "config")}


def test_a_fault_after_the_horizon_changes_nothing_byte_for_byte():
    plain = without_wall(simulate(config(BASE)).summary)
    for fault in ({"faults.master_crash_at": "5s"},
                  {"faults.replica_disconnects": [{"replica": 0, "start": 2.0, "duration": 1.0}]},
                  {"faults.partitions": [{"start": 3.0, "duration": 1.0, "nodes": ["master"]}]}):
        late = simulate(config({**BASE, **fault}), keep_model=True)
        assert late.model.cluster is None  # nothing strikes within the run: no fault machinery
        assert repr(without_wall(late.summary)) == repr(plain), fault


def test_runs_differing_only_in_a_fault_share_every_read_until_the_fault(trace_log):
    def reads(overrides, log):
        simulate(config({**BASE, **overrides}), trace=log)
        return [(t, f["key"], f["server"], f["version"]) for t, f in log.events["read"]]

    from tests.helpers import Log

    plain = reads({}, trace_log)
    faulty = reads({"faults.replica_disconnects": [
        {"replica": 0, "start": 0.6, "duration": 0.2}]}, Log())
    before = [r for r in plain if r[0] < 0.6]
    assert len(before) > 1000
    assert faulty[:len(before)] == before
    assert faulty != plain  # the disconnect did change what came after


def test_failover_promotes_the_most_advanced_replica_and_repoints_everyone():
    r = simulate(config({**BASE, "faults.master_crash_at": "0.5s", "faults.crash_mode": "network",
                         "faults.failover_timeout": "50ms"}), keep_model=True)
    cluster = r.model.cluster
    office = cluster.office
    assert office is not r.model.master and office.name in ("replica0", "replica1")
    assert r["failovers"] == 1
    assert all(c.master is office for c in r.model.clients)
    assert all(rep.master is office for rep in cluster.replicas)
    # The lost writes are the acknowledged ones above the promoted replica's offset.
    assert r.model.master.lost_from is not None
    assert 0 < r["lost_writes"] <= 2000 * 0.05


def test_a_recovered_master_rejoins_as_a_replica_of_the_new_master():
    r = simulate(config({**BASE, "faults.master_crash_at": "0.3s",
                         "faults.failover_timeout": "50ms",
                         "faults.master_recover_after": "0.1s"}), keep_model=True)
    cluster = r.model.cluster
    rejoined = [rep for rep in cluster.replicas if rep.name == "master"]
    assert len(rejoined) == 1 and rejoined[0].master is cluster.office
    assert rejoined[0].synced  # its full resync landed well before the end
    assert r["resyncs_full"] >= 1


def test_a_partition_of_the_master_deposes_it_and_heals_into_one_history():
    r = simulate(config({**BASE, "faults.partitions": [
        {"start": 0.3, "duration": 0.3, "nodes": ["master"], "clients": [0]}],
        "faults.failover_timeout": "50ms"}), keep_model=True)
    cluster = r.model.cluster
    assert r["failovers"] == 1 and cluster.deposed == []
    assert all(c.master is cluster.office for c in r.model.clients)
    assert r["lost_writes"] > 0  # client 0 kept writing to the deposed master
