"""Read routing over the live roles (sim.model.routing)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.routing import POLICIES, Router


class Node:
    def __init__(self, name, applied=0):
        self.name = name
        self.applied = applied

    def applied_offset(self, now):
        return self.applied


class Client:
    def __init__(self, index=0, master=None):
        self.index = index
        self.master = master or Node("master")
        self.acked_offset = {}


def make_router(policy, replicas, seed=0):
    return Router(policy, replicas, np.random.default_rng(seed))


def test_master_policy_reads_the_clients_own_master():
    route = make_router("master", [Node("r0")]).route
    a, b = Client(0), Client(1)
    assert route(a, 0, 0.0) is a.master and route(b, 0, 0.0) is b.master


def test_replicas_policy_spreads_reads_uniformly_over_the_live_list():
    replicas = [Node("r0"), Node("r1")]
    router = make_router("replicas", replicas)
    c = Client()
    names = [router.route(c, 0, 0.0).name for _ in range(4000)]
    assert abs(names.count("r0") - 2000) < 4 * 32  # 4 standard deviations of a binomial
    replicas.append(Node("r2"))  # a host rejoined: after resize the router spreads over 3
    router.resize()
    names = [router.route(c, 0, 0.0).name for _ in range(3000)]
    assert all(abs(names.count(n) - 1000) < 4 * 26 for n in ("r0", "r1", "r2"))


def test_a_resize_leaves_the_picks_made_before_it_alone():
    c = Client()
    steady = make_router("replicas", [Node("a"), Node("b")], seed=5)
    resized_list = [Node("a"), Node("b")]
    resized = make_router("replicas", resized_list, seed=5)
    before = [resized.route(c, 0, 0.0).name for _ in range(50)]
    resized_list.append(Node("c"))
    resized.resize()
    after = {resized.route(c, 0, 0.0).name for _ in range(200)}
    assert before == [steady.route(c, 0, 0.0).name for _ in range(50)]
    assert after == {"a", "b", "c"}  # the rejoined replica is picked from then on


def test_with_no_replica_left_reads_go_to_the_master():
    c = Client()
    for policy in ("replicas", "any", "sticky", "read-your-writes"):
        assert make_router(policy, []).route(c, 0, 0.0) is c.master


def test_any_spreads_over_replicas_and_the_master():
    replicas = [Node("r0"), Node("r1")]
    c = Client()
    route = make_router("any", replicas).route
    picks = [route(c, 0, 0.0) for _ in range(3000)]
    assert abs(picks.count(c.master) - 1000) < 4 * 26


def test_sticky_pins_a_client_to_one_replica():
    replicas = [Node("r0"), Node("r1"), Node("r2")]
    route = make_router("sticky", replicas).route
    assert [route(Client(i), 0, 0.0).name for i in range(5)] == ["r0", "r1", "r2", "r0", "r1"]


def test_read_your_writes_falls_back_to_the_master_until_the_replica_applied_the_write():
    replica = Node("r0", applied=4)
    c = Client()
    route = make_router("read-your-writes", [replica]).route
    assert route(c, 7, 0.0) is replica  # never wrote the key
    c.acked_offset[7] = 5
    assert route(c, 7, 0.0) is c.master  # the replica has applied only up to offset 4
    replica.applied = 5
    assert route(c, 7, 0.0) is replica


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_builds(policy):
    assert callable(make_router(policy, [Node("r0")]).route)


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="nearest"):
        make_router("nearest", [])
