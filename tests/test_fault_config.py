"""Fault settings: parsing, sweepable overrides, and one clear line for each bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim.cli import app as cli
from sim.config.faults import DisconnectSpec, PartitionSpec
from sim.config.schema import Config, ConfigError

PARTITION = '[{start="5s", duration="10s", nodes=["master"], clients=[0, 1]}]'


def test_fault_keys_parse_units_and_lists():
    cfg = Config.default().with_overrides([
        "faults.master_crash_at=['25s', 2]", "faults.failover_timeout=uniform:1s,2s",
        "faults.master_recover_after=3s", f"faults.partitions={PARTITION}",
        "faults.replica_disconnects=[{replica=1, start='2s', duration='500ms'}]",
        "replication.backlog_size=64kb", "replication.bandwidth=10mb",
        "replication.serve_stale_data=false", "replication.min_replicas_to_write=1",
        "replication.min_replicas_max_lag=2s", "replication.snapshot_load_time=5ms"])
    assert cfg.faults.master_crash_at == (2.0, 25.0)
    assert cfg.faults.partitions == (PartitionSpec(5.0, 10.0, ("master",), (0, 1)),)
    assert cfg.faults.replica_disconnects == (DisconnectSpec(1, 2.0, 0.5),)
    assert cfg.replication.backlog_size == 65536
    assert cfg.replication.bandwidth == 10 * 1024**2
    assert cfg.faults.active
    assert not Config.default().faults.active
    assert Config.default().with_overrides({"faults.master_crash_at": 10}).faults.active


def test_every_fault_key_is_sweepable_and_round_trips():
    cfg = Config.default().with_overrides({
        "faults.master_crash_at": [10.0], "faults.failover_timeout": "2s",
        "faults.master_recover_after": "5s",
        "faults.partitions": [{"start": 20, "duration": 2, "nodes": ["replica1"], "clients": [3]}],
        "faults.replica_disconnects": [{"replica": 0, "start": 1, "duration": 2}],
        "replication.min_replicas_to_write": 2, "replication.backlog_size": 4096})
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.default().with_overrides(cfg.flat()) == cfg
    assert json.loads(json.dumps(cfg.to_dict())) == cfg.to_dict()
    # One table stands for a list of one, so a sweep can list partitions as its values.
    one = {"start": 5, "duration": 1, "nodes": ["master"]}
    assert cfg.with_overrides({"faults.partitions": one}).faults.partitions == (
        PartitionSpec(5.0, 1.0, ("master",), ()),)
    # A sweep varies one key at a time on top of a base.
    for crash in (5.0, 15.0):
        assert cfg.with_overrides({"faults.master_crash_at": crash}).faults.master_crash_at == (
            crash,)


BAD = [
    ({"faults.master_crash_at": "soon"}, "faults.master_crash_at", "duration"),
    ({"faults.master_crash_at": 5, "replication.replicas": 0, "replication.read_policy": "master"},
     "faults.master_crash_at", "replicas >= 1"),
    ({"faults.replica_disconnects": [{"replica": 2, "start": 1, "duration": 1}]},
     "faults.replica_disconnects.replica", "no such replica"),
    ({"faults.replica_disconnects": [{"replica": 0, "start": 1, "duration": 5},
                                     {"replica": 0, "start": 3, "duration": 1}]},
     "faults.replica_disconnects", "overlaps"),
    ({"faults.replica_disconnects": [{"replica": 0, "start": 1, "duration": "-1s"}]},
     "faults.replica_disconnects[0].duration", "duration"),
    ({"faults.replica_disconnects": [{"replica": 0, "start": 1}]},
     "faults.replica_disconnects[0]", "missing key 'duration'"),
    ({"faults.partitions": [{"start": 1, "duration": 5}, {"start": 3, "duration": 1}]},
     "faults.partitions", "must not overlap"),
    ({"faults.partitions": [{"start": 1, "duration": 5, "nodes": ["replica7"]}]},
     "faults.partitions.nodes", "a node name"),
    ({"faults.partitions": [{"start": 1, "duration": 5, "clients": [8]}]},
     "faults.partitions.clients", "below workload.clients"),
    ({"faults.partitions": [{"start": 1, "duration": 5, "side": "left"}]},
     "faults.partitions[0].side", "unknown key"),
    ({"faults.partitions": "5s"}, "faults.partitions", "a list of tables"),
    ({"faults.partitions": {"start": 1}}, "faults.partitions[0]", "missing key 'duration'"),
    ({"faults.partitions": [{"start": 1, "duration": 5}], "faults.master_crash_at": 2},
     "faults.master_crash_at", "inside the partition"),
    ({"replication.min_replicas_to_write": 3}, "replication.min_replicas_to_write", "at most"),
    ({"replication.backlog_size": "1xb"}, "replication.backlog_size", "size in bytes"),
    ({"replication.backlog_size": 0}, "replication.backlog_size", "size in bytes"),
    ({"replication.bandwidth": -5}, "replication.bandwidth", "bytes per second"),
    ({"faults.master_crash_at": 5, "workload.mode": "closed", "network.client_latency": 0},
     "workload.think_time", "closed mode with faults"),
    ({"faults.master_recover_after": "-1s"}, "faults.master_recover_after", "duration"),
]


@pytest.mark.parametrize(("overrides", "key", "hint"), BAD)
def test_bad_fault_settings_name_the_key_and_what_is_allowed(overrides, key, hint):
    with pytest.raises(ConfigError) as info:
        Config.default().with_overrides(overrides)
    assert info.value.key == key
    assert hint in str(info.value)
    assert "\n" not in str(info.value)


def test_cli_rejects_a_crash_without_replicas_in_one_line(capsys):
    status = cli.main(["run", "--set", "replication.replicas=0", "--set",
                       "replication.read_policy=master", "--set", "faults.master_crash_at=12s"])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "faults.master_crash_at" in err and "12s" in err


def test_cli_runs_a_partition_given_with_set():
    out = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--json", "--set", "run.duration=2s",
         "--set", "run.warmup=0.2s", "--set", "faults.failover_timeout=0.3s",
         "--set", 'faults.partitions=[{start="0.5s",duration="1s",nodes=["master"],clients=[0]}]'],
        capture_output=True, text=True, check=True).stdout
    summary = json.loads(out)
    assert summary["failovers"] == 1 and summary["lost_writes"] > 0
    assert summary["config"]["faults"]["partitions"][0]["nodes"] == ["master"]
