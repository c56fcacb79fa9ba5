"""Read routing over the live roles (sim.model.routing)."""

from __future__ import annotations

import pytest

from sim.model.routing import POLICIES, make_router


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


class Draws:
    """A uniform sampler that replays fixed values and counts the draws."""

    def __init__(self, *values):
        self.values = list(values)
        self.count = 0

    def __call__(self):
        self.count += 1
        return self.values.pop(0)


def test_master_policy_reads_the_clients_own_master_and_draws_nothing():
    draws = Draws()
    route = make_router("master", [Node("r0")], draws)
    a, b = Client(0), Client(1)
    assert route(a, 0, 0.0) is a.master and route(b, 0, 0.0) is b.master
    assert draws.count == 0


def test_replicas_policy_maps_uniform_draws_onto_the_live_list():
    replicas = [Node("r0"), Node("r1")]
    route = make_router("replicas", replicas, Draws(0.1, 0.9, 0.6))
    c = Client()
    assert [route(c, 0, 0.0).name for _ in range(2)] == ["r0", "r1"]
    replicas.append(Node("r2"))  # a host rejoined: the same router sees it
    assert route(c, 0, 0.0).name == "r1"  # int(0.6 * 3) = 1


def test_with_no_replica_left_reads_go_to_the_master_but_still_draw():
    draws = Draws(0.5)
    c = Client()
    assert make_router("replicas", [], draws)(c, 0, 0.0) is c.master
    assert draws.count == 1  # one draw per read whatever the roles: common random numbers


def test_any_spreads_over_replicas_and_the_master():
    replicas = [Node("r0"), Node("r1")]
    c = Client()
    route = make_router("any", replicas, Draws(0.0, 0.4, 0.9))
    assert [route(c, 0, 0.0) for _ in range(3)] == [replicas[0], replicas[1], c.master]


def test_sticky_pins_a_client_to_one_replica():
    replicas = [Node("r0"), Node("r1"), Node("r2")]
    route = make_router("sticky", replicas, Draws())
    assert [route(Client(i), 0, 0.0).name for i in range(5)] == ["r0", "r1", "r2", "r0", "r1"]


def test_read_your_writes_falls_back_to_the_master_until_the_replica_applied_the_write():
    replica = Node("r0", applied=4)
    c = Client()
    route = make_router("read-your-writes", [replica], Draws(0.0, 0.0, 0.0))
    assert route(c, 7, 0.0) is replica  # never wrote the key
    c.acked_offset[7] = 5
    assert route(c, 7, 0.0) is c.master  # the replica has applied only up to offset 4
    replica.applied = 5
    assert route(c, 7, 0.0) is replica


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_builds(policy):
    assert callable(make_router(policy, [Node("r0")], Draws(0.0)))


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="nearest"):
        make_router("nearest", [], Draws())
