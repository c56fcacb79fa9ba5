"""The client's pipelining on a hand-driven timeline (sim.model.client)."""

from __future__ import annotations

import simpy

from sim.model.client import Client
from sim.model.kernel import Link, scheduler
from sim.model.records import Version


class Node:
    """A node that records each message (a list of ops) it receives, and when."""

    def __init__(self, env, node_id):
        self.env = env
        self.node_id = node_id
        self.name = f"node{node_id}"
        self.committed = [Version(k, 0, 0.0, 0) for k in range(4)]
        self.messages = []

    def on_message(self, ev):
        self.messages.append((self.env.now, [op.key for op in ev._value]))


def client(pipeline, batch_size=3, linger_s=0.0, latency=0.001):
    env = simpy.Environment()
    at = scheduler(env)
    master, replica = Node(env, 0), Node(env, 1)
    c = Client(env, at, 0, master, None, lambda cl, key, now: replica,
               lambda cl, key, now: replica, None, None,
               [Link(lambda: latency, env), Link(lambda: latency, env)], batch_size, linger_s,
               pipeline)
    return env, at, c, master, replica


def test_without_pipelining_each_command_is_its_own_message():
    env, at, c, master, replica = client("now")
    c.read(1, 0.0)
    c.write(2, 0.0)
    env.run()
    assert replica.messages == [(0.001, [1])] and master.messages == [(0.001, [2])]


def test_linger_sends_a_full_batch_at_once_and_a_partial_one_after_the_linger():
    env, at, c, master, replica = client("linger", batch_size=3, linger_s=0.01)
    for key in (0, 1, 2, 3):
        at(0.0, lambda ev, k=key: c.read(k, env.now), None)
    env.run()
    # The first three fill a batch and leave at t=0; the fourth waits out its linger.
    assert replica.messages == [(0.001, [0, 1, 2]), (0.011, [3])]


def test_a_lingering_timer_of_a_batch_that_already_left_sends_nothing():
    env, at, c, master, replica = client("linger", batch_size=2, linger_s=0.01)
    at(0.0, lambda ev: c.read(0, env.now), None)
    at(0.0, lambda ev: c.read(1, env.now), None)  # full: leaves now
    at(0.005, lambda ev: c.read(2, env.now), None)  # a new batch with its own timer
    env.run()
    assert replica.messages == [(0.001, [0, 1]), (0.016, [2])]


def test_explicit_mode_sends_one_message_per_node_on_flush():
    env, at, c, master, replica = client("explicit")
    c.read(0, 0.0)
    c.write(1, 0.0)
    c.read(2, 0.0)
    assert replica.messages == [] and master.messages == []
    c.flush()
    env.run()
    assert replica.messages == [(0.001, [0, 2])] and master.messages == [(0.001, [1])]


def test_a_fifo_link_never_lets_a_message_overtake_an_earlier_one():
    delays = iter([0.010, 0.001])
    env = simpy.Environment()
    at = scheduler(env)
    master, replica = Node(env, 0), Node(env, 1)
    c = Client(env, at, 0, master, None, lambda cl, key, now: replica, None, None, None,
               [Link(lambda: 0.0, env), Link(lambda: next(delays), env)], 1, 0.0, "now")
    c.read(0, 0.0)
    at(0.002, lambda ev: c.read(1, env.now), None)
    env.run()
    assert replica.messages == [(0.010, [0]), (0.010, [1])]
