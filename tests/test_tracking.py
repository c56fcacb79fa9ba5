"""CLIENT TRACKING worked out by hand on a few events (sim/model/tracking.py, local_cache.py):
when invalidations leave and arrive, one-shot tables, the offset stamp, the placeholder race."""

from __future__ import annotations

import simpy

from sim.measure.client_cache import ClientCacheStats
from sim.model.kernel import Link, QueueLimit, Thread, scheduler
from sim.model.lag import LagMonitor
from sim.model.local_cache import LocalCache
from sim.model.master import Master, WriteRules
from sim.model.records import Host, Keyspace, Op, Version
from sim.model.replica import Replica
from sim.model.tracking import Tracking


class Client:
    """Client 0: its local cache fills from the replies that reach it."""

    index = 0
    name = "client0"

    def __init__(self, env, placeholder=True):
        self.env = env
        self.local = LocalCache("client0", 0, 0.0, placeholder)
        self.replies = []

    def on_reply(self, ev):
        self.replies.append((self.env.now, [(op.key, op.result.number) for op in ev._value]))
        self.local.replied(ev._value, self.env.now)


def _host(env, node_id, name, service=0.25, apply=0.0, down=1.0):
    return Host(node_id, name, [Link(lambda: down, env)], lambda: 0.0, lambda: service,
                lambda: apply, Thread(name, QueueLimit.none()))


def _run(placeholder=True, redirect_s=None, replica=False):
    """A master (and a replica, delay 1.0, apply 0.5), service 0.25, replies taking 1.0;
    invalidations on the data link, or on a link of their own taking ``redirect_s``."""
    env = simpy.Environment()
    at = scheduler(env)
    stats = ClientCacheStats(0.0, 100.0)
    client = Client(env, placeholder)
    arrivals = []

    def tracking(host, name):
        links = host.down if redirect_s is None else [Link(lambda: redirect_s, env)]
        return Tracking(at, name, "default", 0, links, [client], None, stats,
                        trace=lambda kind, t, **f: kind == "invalidation" and arrivals.append(
                            (name, t, f["sent"])))

    host = _host(env, 0, "master")
    master = Master(env, at, host, Keyspace({}), 0, WriteRules(), tracking=tracking(host, "master"))
    nodes = [master]
    if replica:
        lag = LagMonitor(env, at, [], 0.0, 100.0, lambda lag_s: None)
        rhost = _host(env, 1, "replica0", apply=0.5)
        nodes.append(Replica(env, at, rhost, master, master.committed.copy(),
                             Link(lambda: 1.0, env), lag, tracking=tracking(rhost, "replica0")))
    return env, at, nodes, client, stats, arrivals


def _read(client, key, now):
    op = Op(client, key, False, now, Version(key, 0, 0.0, 0), 0, 0)
    client.local.sent(op)
    return [op]


def _write(client, key, now):
    return [Op(client, key, True, now, Version(key, 0, 0.0, 0), 0, 0)]


def test_an_invalidation_leaves_at_the_commit_and_tracking_is_one_shot():
    env, at, (master,), client, stats, arrivals = _run()
    at(0.0, master.on_message, _read(client, 7, 0.0))   # served by 0.25, reply at 1.25
    at(2.0, master.on_message, _write(client, 7, 2.0))  # commits at 2.25
    at(4.0, master.on_message, _write(client, 7, 4.0))  # commits at 4.25: nobody tracks 7
    held = []
    at(3.0, lambda ev: held.append(client.local.lookup(7, 3.0)), None)
    env.run()
    assert arrivals == [("master", 3.25, 2.25)]
    assert held[0].number == 0  # the local value at 3.0, stale since 2.25
    assert client.local.lookup(7, 5.0) is None and stats.invalidations == 1


def test_a_read_enqueued_after_a_write_saw_it_and_stays_tracked():
    env, at, (master,), client, stats, arrivals = _run()
    at(0.0, master.on_message, _write(client, 7, 0.0))  # offset 1, commits at 0.25
    at(0.1, master.on_message, _read(client, 7, 0.1))   # enqueued behind it: reads v1
    env.run()
    assert arrivals == [] and master.tracking.tracks(0, 7)
    assert client.local.lookup(7, 2.0).number == 1


def test_a_replica_invalidates_when_it_has_applied_the_write():
    env, at, (master, replica), client, stats, arrivals = _run(replica=True)
    at(0.0, replica.on_message, _read(client, 7, 0.0))  # stamped at offset 0
    at(0.5, master.on_message, _write(client, 7, 0.5))  # commits 0.75, at the replica 1.75
    env.run()
    # Applied on [1.75, 2.25]: the invalidation leaves then and takes 1.0.
    assert arrivals == [("replica0", 3.25, 2.25)]


def _race(placeholder):
    """Read at 0 (reply at 1.25 on the data link); a write commits at 0.55 and its
    invalidation takes 0.1 on the redirect link: it arrives at 0.65, before the reply."""
    env, at, (master,), client, stats, arrivals = _run(placeholder, redirect_s=0.1)
    at(0.0, master.on_message, _read(client, 7, 0.0))
    at(0.3, master.on_message, _write(client, 7, 0.3))
    at(3.0, master.on_message, _write(client, 7, 3.0))  # nobody tracks 7 any more
    env.run()
    stats.finish([client], master, [], env.now)
    return client, stats, arrivals


def test_the_placeholder_stops_a_reply_that_comes_after_its_invalidation():
    client, stats, arrivals = _race(placeholder=True)
    assert arrivals == [("master", 0.65, 0.55)]
    assert client.local.lookup(7, 5.0) is None and stats.stale_forever == 0


def test_without_the_placeholder_the_old_value_stays_for_good():
    client, stats, arrivals = _race(placeholder=False)
    assert arrivals == [("master", 0.65, 0.55)]
    assert client.local.lookup(7, 5.0).number == 0 and stats.stale_forever == 1


def _alone(mode, max_keys, pick):
    """A master alone, tracking in ``mode``; ``got`` collects (arrival, keys) at client 0."""
    env = simpy.Environment()
    at = scheduler(env)
    stats = ClientCacheStats(0.0, 100.0)
    client = Client(env)
    got = []
    client.local.on_invalidation = lambda ev: got.append((env.now, ev._value[0]))
    host = _host(env, 0, "master")
    master = Master(env, at, host, Keyspace({}), 0, WriteRules(), tracking=Tracking(
        at, "master", mode, max_keys, host.down, [client], pick, stats))
    return env, at, master, client, stats, got


def test_bcast_sends_at_the_end_of_the_pass_one_message_for_its_keys():
    env, at, master, client, stats, got = _alone("bcast", 0, None)
    at(0.0, master.on_message, _read(client, 1, 0.0))  # subscribes client 0
    at(1.0, master.on_message, _write(client, 2, 1.0) + _write(client, 3, 1.0))
    env.run()
    # SETs commit at 1.25 and 1.5; the pass ends with the message, at 1.5.
    assert got == [(2.5, (2, 3))] and stats.invalidations == 1


def test_the_table_bound_evicts_and_invalidates_as_if_changed():
    env, at, master, client, stats, got = _alone("default", 2, iter([0.0, 0.99]).__next__)
    for i, key in enumerate([5, 6, 7, 8]):
        at(float(i), master.on_message, _read(client, key, float(i)))
    env.run()
    # Table [5, 6] + 7: evict order[0] = 5 (7 takes its slot); + 8: evict order[-1] = 8.
    assert [keys for _, keys in got] == [(5,), (8,)] and stats.evicted == 2 and stats.table_peak == 2
    assert sorted(master.tracking.table) == [6, 7]
