"""The fault controller's jobs, each on its own: what a fault does to a node (the node methods
it acts through), and the hand-timed sequence of each job's events with constant delays."""

from __future__ import annotations

import pytest
import simpy

from sim import simulate
from sim.model.faults.persistence import Persistence
from sim.model.kernel import Link, QueueLimit, Thread, scheduler
from sim.model.lag import LagMonitor
from sim.model.master import Master, WriteRules
from sim.model.records import Host, Keyspace, Version
from sim.model.replica import Replica
from tests.helpers import config

FAULT_EVENTS = {"crash", "cut", "reconnect", "failover", "partition", "heal", "rejoin",
                "restart", "failover-cancelled", "demote", "reconfigure"}
# Writes only, no cache, every replication link 250 ms: each fault's times follow by hand.
CONSTANT = {"run.duration": 3.0, "cache.enabled": False, "workload.read_rate": 0.0,
            "workload.write_rate": 100.0, "replication.delay": "250ms"}


class Stub:
    """What a node asks of the cluster it runs under: nobody is cut off, nothing restarted."""

    minority_nodes = frozenset()
    restarted = ()
    crash_cuts_links = False

    def __init__(self, env=None, at=None):
        self.env = env
        self.at = at
        self.office = None

    def reachable(self, client_index, node_id):
        return True


def _host(env, node_id, name):
    return Host(node_id, name, [Link(lambda: 0.0, env)], lambda: 0.0, lambda: 0.0,
                lambda: 0.0, Thread(name, QueueLimit.none()))


def _master(env, at, cluster):
    return Master(env, at, _host(env, 0, "master"), Keyspace({}), 0, WriteRules(),
                  cluster=cluster)


def _commit_at(at, master, times):
    """Commit a write to key i at ``times[i]`` (offsets 1, 2, ...)."""
    for i, t in enumerate(times):
        at(t, lambda ev: master.commit(ev._value), Version(i, 1, t, i + 1))


def fault_events(overrides: dict) -> list[tuple]:
    """(kind, time s, node, resync kind or None) of the run's fault events, in order."""
    events = []

    def trace(kind, t, **fields):
        if kind in FAULT_EVENTS:
            events.append((kind, pytest.approx(t), fields["node"], fields.get("resync")))

    simulate(config({**CONSTANT, **overrides}), trace=trace)
    return events


# -- the nodes' fault methods ------------------------------------------------------------


def test_a_deposed_master_loses_its_logged_writes_above_the_successor_once():
    env = simpy.Environment()
    at = scheduler(env)
    master = _master(env, at, Stub())
    _commit_at(at, master, [0.25, 0.5, 0.75])
    env.run()
    assert master.alive and master.lost_from is None
    master.depose(1)  # the promoted replica had received offset 1
    assert [rec.offset for rec in master.take_lost_writes()] == [2, 3]
    assert master.take_lost_writes() == []  # counted once
    master.die()
    assert not master.alive


def _buffered_replica(env, at, master):
    """A replica whose writes take 0.5 s each to leave the master's buffer, then 1 s on the
    link."""
    lag = LagMonitor(env, at, [], 0.0, 100.0, lambda lag_s: None)
    return Replica(env, at, _host(env, 1, "replica0"), master, master.committed.copy(),
                   Link(lambda: 1.0, env), lag, cluster=Stub(), send_time=0.5)


@pytest.mark.parametrize(("killed_s", "received"), [(1.2, 2), (0.7, 1)])
def test_a_killed_master_delivers_only_what_had_left_its_output_buffer(killed_s, received):
    env = simpy.Environment()
    at = scheduler(env)
    master = _master(env, at, Stub())
    replica = _buffered_replica(env, at, master)
    _commit_at(at, master, [0.0, 0.1])  # leave at 0.5 and 1.0, arrive at 1.5 and 2.0
    closed = []
    at(killed_s, lambda ev: closed.append(replica.master_died(killed_s)), None)
    env.run()
    assert replica.received_offset(3.0) == received
    # The FIN, one link delay behind the kill (2.2), or behind the last write that left (1.5)
    # when the one still in the buffer never goes (it gives up its place on the link: 1.7).
    assert closed == [pytest.approx(2.2 if received == 2 else 1.7)]


def test_relink_cuts_or_leaves_a_link_and_an_unlinked_replica_has_nothing_to_close():
    env = simpy.Environment()
    at = scheduler(env)
    master = _master(env, at, Stub())
    replica = _buffered_replica(env, at, master)
    assert replica.relink(True, 0.0) is None  # already linked
    assert replica.relink(False, 0.0) == "cut" and not replica.linked
    assert replica.relink(False, 0.5) is None
    assert replica.master_died(0.5) is None


# -- persistence ---------------------------------------------------------------------------


def test_a_restart_keeps_the_last_snapshot_and_the_log_keeps_what_the_disk_lacks():
    env = simpy.Environment()
    at = scheduler(env)
    cluster = Stub(env, at)
    master = cluster.office = _master(env, at, cluster)
    lag = LagMonitor(env, at, [], 0.0, 100.0, lambda lag_s: None)
    Replica(env, at, _host(env, 1, "replica0"), master, master.committed.copy(),
            Link(lambda: 0.1, env), lag, cluster=cluster)  # has every write 0.1 s later
    disk = Persistence(cluster, "rdb", 0.6, restart_may_come=True)
    disk.keep_log(master)  # nothing on disk yet: the log keeps everything
    _commit_at(at, master, [0.25, 0.5, 0.75])
    logged = []

    def trim(ev):
        master.trim_log()
        logged.append([rec.offset for rec in master.log])

    at(0.55, trim, None)
    at(0.6, disk.on_persist, None)  # snapshots at 0.6 (offset 2) and 1.2 (offset 3)
    at(1.0, trim, None)
    env.run(until=1.1)
    # The replica had offset 1 at 0.55 and 3 at 1.0; the disk held nothing, then offset 2:
    # the log keeps every write above the lower of the two.
    assert logged == [[1, 2], [3]]
    data, offset = disk.restored(master)
    assert offset == 2 and sorted(data) == [0, 1]
    data[0] = Version(0, 9, 1.0, 9)  # a restarted host's writes do not touch the disk
    assert disk.restored(master)[0][0].number == 1
    empty = Persistence(cluster, "none", 0.0, restart_may_come=True)
    assert empty.restored(master) == ({}, 0)


# -- detection and failover ----------------------------------------------------------------


def test_a_process_crash_drains_the_links_then_the_failover_repoints_the_other_replica():
    events = fault_events({"faults.master_crash_at": 1.0, "faults.failover_timeout": "0.5s"})
    assert events == [
        ("crash", 1.0, "master", None),
        # The links close behind the last writes, one link delay after the kill.
        ("cut", 1.25, "replica0", None), ("cut", 1.25, "replica1", None),
        # Equal offsets: the lower host id is promoted; the other replica follows it.
        ("failover", 1.5, "replica0", None), ("reconnect", 1.5, "replica1", "partial")]


def test_a_network_crash_cuts_the_links_at_once():
    events = fault_events({"faults.master_crash_at": 1.0, "faults.failover_timeout": "0.5s",
                           "faults.crash_mode": "network"})
    assert events[:3] == [("crash", 1.0, "master", None), ("cut", 1.0, "replica0", None),
                          ("cut", 1.0, "replica1", None)]
    assert events[-2:] == [("failover", 1.5, "replica0", None),
                           ("reconnect", 1.5, "replica1", "partial")]


# -- partitions -----------------------------------------------------------------------------


def test_a_partitioned_master_is_replaced_and_rejoins_when_the_partition_heals():
    events = fault_events({"faults.failover_timeout": "0.5s", "faults.partitions": [
        {"start": 1.0, "duration": 1.0, "nodes": ["master"], "clients": [0]}]})
    assert events == [
        ("partition", 1.0, "network", None),
        ("cut", 1.0, "replica0", None), ("cut", 1.0, "replica1", None),
        ("failover", 1.5, "replica0", None), ("reconnect", 1.5, "replica1", "partial"),
        ("heal", 2.0, "network", None),
        # The deposed master becomes a replica of the new one: another history, a full sync.
        ("rejoin", 2.0, "master", None), ("reconnect", 2.0, "master", "full")]


def test_a_replica_disconnect_cuts_one_link_for_its_duration():
    events = fault_events({"faults.replica_disconnects": [
        {"replica": 1, "start": 0.5, "duration": 0.25}]})
    assert events == [("cut", 0.5, "replica1", None), ("reconnect", 0.75, "replica1", "partial")]


# -- restarts -------------------------------------------------------------------------------


@pytest.mark.parametrize(("recover_after", "rejoined_s"), [("0.2s", 1.5), ("1s", 2.0)])
def test_a_recovered_host_rejoins_once_a_master_is_in_office(recover_after, rejoined_s):
    events = fault_events({"faults.master_crash_at": 1.0, "faults.failover_timeout": "0.5s",
                           "faults.master_recover_after": recover_after})
    # Recovered during the outage, it waits for the promotion (1.5 s) to rejoin.
    assert [e for e in events if e[2] == "master"][1:] == [
        ("rejoin", rejoined_s, "master", None), ("reconnect", rejoined_s, "master", "full")]


def test_a_restart_before_sentinel_counts_the_master_down_cancels_the_failover():
    events = fault_events({"faults.master_crash_at": 1.0, "faults.master_recover_after": "0.2s"})
    assert ("restart", 1.2, "master", None) in events
    assert ("failover-cancelled", 1.2, "master", None) in events
    assert not [e for e in events if e[0] == "failover"]
