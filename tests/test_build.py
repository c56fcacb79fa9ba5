"""The builder makes every node complete (sim.model.build), and role changes reuse it."""

from __future__ import annotations

import simpy

from sim.measure.faults import FaultStats
from sim.measure.recorder import Recorder
from sim.model.build import Builder
from sim.model.kernel import scheduler
from sim.model.master import Master
from sim.model.replica import Replica
from sim.model.streams import Streams
from tests.helpers import config


def build(overrides=None):
    cfg = config({"run.duration": 1.0, **(overrides or {})})
    env = simpy.Environment()
    builder = Builder(cfg, env, scheduler(env), Streams(cfg.run.seed),
                      Recorder(cfg.run.warmup, cfg.run.duration, cfg.cache.enabled),
                      FaultStats(cfg.run.warmup))
    return cfg, builder, builder.build()


def test_every_node_has_a_link_to_and_from_every_client_made_when_first_used():
    cfg, _, nodes = build({"workload.clients": 3, "replication.replicas": 2})
    servers = [nodes.master, *nodes.replicas, nodes.cache]
    assert [n.node_id for n in servers] == [0, 1, 2, 3]
    for node in servers:
        assert len(node.down) == 0  # nothing built before a message needs it
        links = [node.down[c] for c in range(3)]
        assert len({id(link) for link in links}) == 3 and node.down[1] is links[1]
    for client in nodes.clients:
        assert client.master is nodes.master and client.cache is nodes.cache
        links = {node.node_id: client.up[node.node_id] for node in servers}
        assert len({id(link) for link in links.values()}) == len(servers)
        assert all(client.up[i] is link for i, link in links.items())


def test_a_link_draws_the_same_delays_whenever_it_is_first_used():
    # Each link has a stream of its own, named after its ends: made late, it samples alike.
    cfg, _, early = build({"workload.clients": 50, "network.client_latency": "exp:1ms"})
    _, _, late = build({"workload.clients": 50, "network.client_latency": "exp:1ms"})
    first = [early.clients[c].up[0].delay() for c in range(50)]
    later = [late.clients[c].up[0].delay() for c in reversed(range(50))][::-1]
    assert first == later and len(set(first)) == 50


def test_replicas_follow_the_master_and_share_one_lag_monitor():
    _, _, nodes = build({"replication.replicas": 3})
    assert nodes.master.replicas == nodes.replicas
    assert all(r.master is nodes.master for r in nodes.replicas)
    assert {id(r.lag_monitor) for r in nodes.replicas} == {id(nodes.lag)}
    assert nodes.lag.replicas is nodes.replicas  # the live list, not a copy


def test_no_cluster_without_faults_and_one_shared_by_every_node_with_them():
    _, _, plain = build()
    assert plain.cluster is None and plain.master.cluster is None
    _, _, faulty = build({"faults.master_crash_at": "0.5s"})
    assert faulty.cluster is not None
    assert all(n.cluster is faulty.cluster for n in [faulty.master, *faulty.replicas])


def test_the_master_hears_of_commits_only_when_the_cache_must_act_on_them():
    _, _, nodes = build({"cache.on_write": "none"})
    assert nodes.master.cache is None
    _, _, nodes = build({"cache.on_write": "invalidate"})
    assert nodes.master.cache is nodes.cache


def test_a_promoted_master_keeps_the_replicas_host_data_and_thread():
    _, builder, nodes = build({"faults.master_crash_at": "0.5s"})
    replica = nodes.replicas[0]
    new = builder.promoted(replica, nodes.master)
    assert isinstance(new, Master)
    assert (new.node_id, new.name, new.down) == (replica.node_id, replica.name, replica.down)
    assert new.committed == replica.store and new.committed is not replica.store
    assert new.cluster is nodes.cluster and new.replicas == []


def test_a_rejoining_host_starts_cut_off_and_needs_a_full_resync():
    _, builder, nodes = build({"faults.master_crash_at": "0.5s"})
    office = builder.promoted(nodes.replicas[0], nodes.master)
    replica = builder.rejoined(nodes.master, office, 0.25)
    assert isinstance(replica, Replica)
    assert (replica.node_id, replica.name) == (0, "master")
    assert replica.master is office and office.replicas == [replica]
    assert not replica.linked and not replica.synced and replica.force_full
    assert replica.missing_since == 0.25 and replica.arrived_offset == 0
