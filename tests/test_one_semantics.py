"""One semantics: the run you measure is the run you watch (docs/design.md section 1,
"Simultaneous events").

A trace, visibility probes, or a fault that strikes after the last measured operation only
observe or act: the summary of ordinary metrics is the same, byte for byte, with them and
without, including configurations with constant delays, where events tie. And the delivery
rule itself, worked out by hand on a few events: the kernel's inbox, a replica, the master.
"""

from __future__ import annotations

import json

import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import Config, simulate
from sim.measure.faults import FaultStats
from sim.model.kernel import Inbox, Link, QueueLimit, Thread, scheduler
from sim.model.lag import LagMonitor
from sim.model.master import Master, WriteRules
from sim.model.records import Host, Keyspace, Op, Version
from sim.model.replica import Replica

# The configuration a teacher types first: every delay constant, so deliveries tie.
TIES = {
    "workload.mode": "closed", "workload.clients": 6, "workload.read_fraction": 0.7,
    "workload.keys": 2, "cache.latency": "100us", "cache.ttl": "300us",
    "replication.delay": "100us", "server.service_time": "0s", "server.batch_overhead": "0s",
    "server.replica_apply_time": "0s", "network.client_latency": "250us",
    "run.duration": 1.0, "run.warmup": 0.1,
}
CASES = {
    "closed-ties": TIES,
    # Open loop, lone cache hits completed when answered, pipelined misses.
    "open-cached-constant": {
        "network.client_latency": "200us", "replication.delay": "100us",
        "server.service_time": "10us", "server.batch_overhead": "0s",
        "server.replica_apply_time": "10us", "cache.latency": "100us", "cache.ttl": "2ms",
        "workload.keys": 5, "run.duration": 1.0, "run.warmup": 0.1},
    "open-pipelined-linger": {
        "pipeline.batch_size": 4, "pipeline.linger": "100us", "cache.enabled": False,
        "replication.read_policy": "replicas", "network.client_latency": "100us",
        "replication.delay": "100us", "server.service_time": "0s",
        "server.batch_overhead": "0s", "server.replica_apply_time": "0s",
        "workload.keys": 3, "run.duration": 1.0, "run.warmup": 0.1},
    "wait-one": {
        "cache.enabled": False, "replication.wait_replicas": 1,
        "replication.read_policy": "any", "network.client_latency": "100us",
        "replication.delay": "100us", "server.service_time": "10us",
        "server.batch_overhead": "0s", "server.replica_apply_time": "10us",
        "workload.keys": 3, "run.duration": 1.0, "run.warmup": 0.1},
    "quorum": {
        "replication.mode": "quorum", "replication.replicas": 3, "quorum.read": 1,
        "quorum.write": 1, "cache.enabled": False, "network.client_latency": "100us",
        "server.service_time": "10us", "server.batch_overhead": "0s",
        "workload.keys": 3, "run.duration": 1.0, "run.warmup": 0.1},
}
# Keys that say how the run was made or what only an observer adds, not what it measured.
NOT_MEASURED = {"wall_seconds", "sim_events", "config", "visibility"}
FAULT_KEYS = set(FaultStats(0.0).summary())


def measured(summary: dict, drop: set = frozenset()) -> str:
    return json.dumps({k: v for k, v in summary.items()
                       if k not in NOT_MEASURED and k not in drop}, sort_keys=True)


def config(name: str, **extra) -> Config:
    return Config.default().with_overrides({**CASES[name], **extra})


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_trace_changes_nothing_not_even_the_events(name):
    cfg = config(name)
    plain = simulate(cfg).summary
    traced = simulate(cfg, trace=lambda kind, t, **fields: None).summary
    assert measured(traced) == measured(plain)
    assert traced["sim_events"] == plain["sim_events"]  # a trace is a hook, not events


@pytest.mark.parametrize("name", sorted(CASES))
def test_visibility_probes_leave_ordinary_results_alone(name):
    plain = simulate(config(name)).summary
    probed = simulate(config(name, **{"metrics.visibility_probes": True})).summary
    assert probed["visibility"]["probes"] > 0
    assert measured(probed) == measured(plain)


def test_the_tie_configuration_counts_the_same_stale_reads_however_it_is_watched():
    plain = simulate(config("closed-ties")).summary
    probed = simulate(config("closed-ties", **{"metrics.visibility_probes": True})).summary
    late = simulate(config("closed-ties", **{"faults.replica_disconnects": [
        {"replica": 0, "start": 0.9999, "duration": 0.5}]})).summary
    assert plain["stale_reads"] > 0
    assert probed["stale_reads"] == late["stale_reads"] == plain["stale_reads"]


LEADER_CASES = sorted(n for n in CASES if n != "quorum")
ONE_WAY_S = 100e-6  # the shortest one-way client latency among LEADER_CASES


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(LEADER_CASES),
       before_end=st.floats(0.0, ONE_WAY_S * 0.999),
       kind=st.sampled_from(["disconnect", "partition", "crash"]))
def test_a_fault_after_the_last_measured_operation_changes_nothing(name, before_end, kind):
    # Any operation the fault could touch is served at or after it and its reply needs at
    # least one client link's delay to come back: after the horizon, so not measured.
    start = 1.0 - before_end
    fault = {
        "disconnect": {"faults.replica_disconnects": [
            {"replica": 0, "start": start, "duration": 1.0}]},
        "partition": {"faults.partitions": [
            {"start": start, "duration": 1.0, "nodes": ["replica0"], "clients": [0]}]},
        "crash": {"faults.master_crash_at": [start], "faults.crash_mode": "network"},
    }[kind]
    plain = simulate(config(name)).summary
    faulty = simulate(config(name, **fault)).summary
    # Replication lag is a measure of time up to the horizon itself (the lag still growing at
    # the end counts), so a replica cut off before the end lags by that much more: it is the
    # one measure a late fault may change, and only upwards.
    assert faulty["replication_lag_ms"]["max"] >= plain["replication_lag_ms"]["max"]
    drop = FAULT_KEYS | {"replication_lag_ms"}
    assert measured(faulty, drop) == measured(plain, drop)


# -- the delivery rule by hand --------------------------------------------------------------


def test_the_inbox_takes_in_what_has_arrived_oldest_first_and_wakes_only_when_asked():
    env = simpy.Environment()
    at = scheduler(env)
    inbox = Inbox(at)
    taken = []
    inbox.put(1.0, lambda p, t: taken.append((p, t, env.now)), "a")
    inbox.put(2.0, lambda p, t: taken.append((p, t, env.now)), "b")
    inbox.put_waking(3.0, lambda p, t: taken.append((p, t, env.now)), "c")
    inbox.take_in(0.5)
    assert taken == []
    inbox.take_in(1.0)  # arrived at exactly 1.0: taken
    assert taken == [("a", 1.0, 0.0)]
    inbox.take_in(1.999)  # "b" has not arrived yet: left
    assert taken == [("a", 1.0, 0.0)]
    env.run()  # only "c" scheduled an event; it takes in "b" as well, in order
    assert taken == [("a", 1.0, 0.0), ("b", 2.0, 3.0), ("c", 3.0, 3.0)]
    assert env.now == 3.0


class Reader:
    """A client that records the replies it gets: (arrival, [(key, version), ...])."""

    index = 0

    def __init__(self, env):
        self.env = env
        self.replies = []

    def on_reply(self, ev):
        self.replies.append((self.env.now, [(op.key, op.result.number) for op in ev._value]))


def _host(env, node_id, name, overhead=0.0, service=0.0, apply=0.0, down=0.0):
    return Host(node_id, name, [Link(lambda: down, env)], lambda: overhead, lambda: service,
                lambda: apply, Thread(name, QueueLimit.none()))


def _group(wait_replicas=0, delay=1.0, apply=0.5, service=0.25):
    env = simpy.Environment()
    at = scheduler(env)
    master = Master(env, at, _host(env, 0, "master", service=service), Keyspace({}), 0,
                    WriteRules(wait_replicas=wait_replicas))
    lag = LagMonitor(env, at, [], 0.0, 100.0, lambda lag_s: None)
    replica = Replica(env, at, _host(env, 1, "replica0", service=service, apply=apply),
                      master, master.committed.copy(), Link(lambda: delay, env), lag)
    return env, at, master, replica


def test_a_write_arriving_with_a_read_is_applied_before_the_read_is_served():
    env, at, master, replica = _group(delay=1.0, apply=0.5, service=0.25)
    reader = Reader(env)
    rec = Version(7, 1, 0.0, 1)
    at(0.0, lambda ev: master.commit(rec), None)  # reaches the replica at 1.0
    at(1.0, replica.on_message, [Op(reader, 7, False, 1.0, rec, 0, 0)])  # the same instant
    env.run()
    # The write is taken in first: applied on [1.0, 1.5], the read served on [1.5, 1.75].
    assert reader.replies == [(1.75, [(7, 1)])]


def test_a_read_arriving_just_before_the_write_misses_it_and_delays_its_apply():
    env, at, master, replica = _group(delay=1.0, apply=0.5, service=0.25)
    reader = Reader(env)
    rec = Version(7, 1, 0.0, 1)
    at(0.0, lambda ev: master.commit(rec), None)
    at(0.9, replica.on_message, [Op(reader, 7, False, 0.9, rec, 0, 0)])
    env.run()
    assert reader.replies == [(1.15, [(7, 0)])]
    # Asked in time order, as the run asks: applied on [1.15, 1.65], so at 1.5 the replica
    # still lags by the write committed at 0.
    assert replica.applied_offset(1.5) == 0
    assert replica.lag(1.5) == pytest.approx(1.5)
    assert replica.applied_offset(1.65) == 1
    assert replica.lag(1.65) == 0.0


def test_wait_acknowledges_when_the_replica_has_applied_though_nothing_read_it():
    env, at, master, replica = _group(wait_replicas=1, delay=1.0, apply=0.5, service=0.25)
    writer = Reader(env)
    at(0.0, master.on_message, [Op(writer, 3, True, 0.0, Version(3, 0, 0.0, 0), 0, 0)])
    env.run()
    # Served on [0, 0.25] and committed then; at the replica at 1.25, applied by 1.75; the
    # acknowledgement releases the reply at 1.75 (the link back takes no time here).
    assert writer.replies == [(1.75, [(3, 1)])]


def test_the_master_serves_a_message_back_to_back_and_commits_each_set_when_served():
    env, at, master, _ = _group(service=0.25)
    client = Reader(env)
    commits = []
    master.on_commit = lambda rec, now: commits.append((rec.key, rec.number, now))
    ops = [Op(client, 1, True, 0.0, Version(1, 0, 0.0, 0), 0, 0),
           Op(client, 1, False, 0.0, Version(1, 0, 0.0, 0), 0, 0),
           Op(client, 1, True, 0.0, Version(1, 0, 0.0, 0), 0, 0)]
    at(0.0, master.on_message, ops)
    at(0.5, master.on_message, [Op(client, 1, False, 0.5, Version(1, 0, 0.0, 0), 0, 0)])
    env.run()
    # 0.25: SET -> v1; 0.5: GET sees v1; 0.75: SET -> v2 (the reply's own event); the second
    # message queues behind the first: served on [0.75, 1.0], it reads v2.
    assert commits == [(1, 1, 0.25), (1, 2, 0.75)]
    assert client.replies == [(0.75, [(1, 1), (1, 1), (1, 2)]), (1.0, [(1, 2)])]
