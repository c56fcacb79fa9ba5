"""The origin and the cache tier's stampede guard on tiny hand-driven timelines (constant
delays, so several things happen at one instant)."""

from __future__ import annotations

import math

import pytest
import simpy

from sim.errors import OverloadError
from sim.measure.origin import OriginStats
from sim.model.cache import Cache
from sim.model.kernel import Link, scheduler
from sim.model.origin import Origin
from sim.model.records import MISS, WAITED, Keyspace, Op, Version
from sim.model.stampede import Policy


class Master:
    def __init__(self):
        self.committed = Keyspace({})

    def commit(self, key, number, t):
        self.committed[key] = Version(key, number, t, number)


class FakeClient:
    """Records what reaches it: (time, kind, [version number or None per op])."""

    def __init__(self, env, index=0, master=None):
        self.env, self.index, self.master = env, index, master or Master()
        self.got = []

    def _log(self, kind, ops):
        self.got.append((self.env.now, kind, [None if op.result is None else op.result.number
                                              for op in ops]))

    def on_cache_reply(self, ev):
        self._log("reply", ev._value)

    def on_hot_miss(self, ev):
        ops, wait = ev._value
        self._log(f"wait {wait:g}", ops)

    def on_recomputed(self, ev):
        op, delta = ev._value
        self.got.append((self.env.now, "recomputed", op.result.number, delta))


class FakeOrigin:
    def __init__(self):
        self.asked = []

    def on_refresh(self, ev):
        self.asked.append(ev._value[0])


def _guarded(policy, ttl=1.0, uniform=lambda: 0.5, beta=1.0, interval=10.0, clients=1):
    env = simpy.Environment()
    at = scheduler(env)
    stats = OriginStats(0.0, 100.0)
    origin = FakeOrigin()
    cache = Cache(env, at, 3, ttl, 0, "none", Link(lambda: 0.0, env),
                  [Link(lambda: 0.0, env) for _ in range(clients)],
                  stampede=Policy(policy, interval, 0.01, beta, uniform, origin,
                                  Link(lambda: 0.0, env), stats))
    return env, at, cache, stats, origin


def _lookup(at, cache, client, t, key=7):
    op = Op(client, key, False, t, None, 0, 0)
    at(t, cache.on_message, [op])
    return op


def _fill(at, cache, t, number, delta=0.0, key=7):
    at(t, cache.guard.on_recomputed, (Version(key, number, 0.0, number), delta))


def test_plain_guard_lets_every_miss_recompute_and_counts_one_expiry_per_entry():
    env, at, cache, stats, _ = _guarded("none")
    client = FakeClient(env)
    _fill(at, cache, 0.0, 1)
    for t in (0.5, 1.0, 1.0, 1.2):
        _lookup(at, cache, client, t)
    env.run()
    assert [g[2] for g in client.got] == [[1], [None], [None], [None]]
    assert stats.expiries == 1  # found expired once, then absent


def test_single_flight_parks_the_herd_until_the_one_fill():
    env, at, cache, stats, _ = _guarded("single_flight")
    a, b = FakeClient(env, 0), FakeClient(env, 1)
    cache.down.append(Link(lambda: 0.0, env))
    first = _lookup(at, cache, a, 0.0)
    second = _lookup(at, cache, b, 0.1)
    third = _lookup(at, cache, a, 0.1)  # same instant, another client
    _fill(at, cache, 0.5, 4)
    _lookup(at, cache, b, 0.6)
    env.run()
    assert a.got == [(0.0, "reply", [None]), (0.5, "reply", [4])]
    assert b.got == [(0.5, "reply", [4]), (0.6, "reply", [4])]
    assert (second.path, third.path) == (WAITED, WAITED) and first.path != WAITED
    assert not cache.guard.waiters  # the fill released the key


def test_lease_tells_the_losers_to_wait_and_issues_one_token_per_interval():
    env, at, cache, stats, _ = _guarded("lease", ttl=1.0, interval=2.0)
    client = FakeClient(env)
    _lookup(at, cache, client, 0.0)   # token
    _lookup(at, cache, client, 0.1)   # wait
    _fill(at, cache, 0.3, 1)
    _lookup(at, cache, client, 0.4)   # hit
    _lookup(at, cache, client, 1.5)   # expired, but the last token is 1.5 s old: wait
    _lookup(at, cache, client, 2.0)   # 2 s since the token: a new one
    env.run()
    assert [(t, kind, got) for t, kind, got in client.got] == [
        (0.0, "reply", [None]), (0.1, "wait 0.01", [None]), (0.4, "reply", [1]),
        (1.5, "wait 0.01", [None]), (2.0, "reply", [None])]
    assert stats.leases == 2


def test_xfetch_recomputes_early_when_now_minus_delta_beta_ln_u_reaches_the_expiry():
    # -ln(U) = 2 and delta * beta = 0.25: a read recomputes from 0.5 s before its expiry
    # (the instant itself is left alone: 1 - u rounds).
    u = 1.0 - math.exp(-2.0)  # the guard takes ln(1 - u), u in [0, 1)
    env, at, cache, stats, _ = _guarded("xfetch", ttl=1.0, uniform=lambda: u, beta=0.5)
    client = FakeClient(env)
    _fill(at, cache, 0.0, 1, delta=0.5)
    for t in (0.49, 0.51, 0.6):
        _lookup(at, cache, client, t)
    env.run()
    assert [g[2] for g in client.got] == [[1], [None], [None]]
    assert (stats.early_refreshes, stats.expiries) == (1, 0)  # one cycle ended, once


def test_xfetch_never_recomputes_early_a_value_of_no_measured_cost():
    env, at, cache, stats, _ = _guarded("xfetch", uniform=lambda: 0.999999)
    client = FakeClient(env)
    _fill(at, cache, 0.0, 1, delta=0.0)
    _lookup(at, cache, client, 0.999)
    env.run()
    assert client.got[0][2] == [1]


def test_stale_while_revalidate_serves_the_old_value_and_refreshes_once():
    env, at, cache, stats, origin = _guarded("stale_while_revalidate")
    client = FakeClient(env)
    _fill(at, cache, 0.0, 1)
    for t in (1.0, 1.0, 1.1):
        _lookup(at, cache, client, t)
    at(1.2, cache.guard.on_refreshed, (Version(7, 2, 0.0, 2), 0.2))
    _lookup(at, cache, client, 1.3)
    env.run()
    assert [g[2] for g in client.got] == [[1], [1], [1], [2]]
    assert origin.asked == [7] and stats.stale == 3 and stats.expiries == 1


def test_ttl_jitter_offsets_each_set():
    env = simpy.Environment()
    at = scheduler(env)
    offsets = iter([0.25, -0.25])
    cache = Cache(env, at, 3, 1.0, 0, "none", Link(lambda: 0.0, env), [Link(lambda: 0.0, env)],
                  jitter=lambda: next(offsets))
    at(0.0, cache.on_fill, [Version(1, 1, 0.0, 1), Version(2, 1, 0.0, 2)])
    env.run()
    assert cache.entries[1][1] == 1.25 and cache.entries[2][1] == 0.75


def _origin(servers, recompute=1.0, max_queue=100):
    env = simpy.Environment()
    at = scheduler(env)
    stats = OriginStats(0.0, 100.0)
    origin = Origin(env, at, 4, servers, lambda: recompute, max_queue, [Link(lambda: 0.0, env)],
                    Link(lambda: 0.0, env), stats)
    return env, at, origin, stats


def test_origin_is_a_fifo_queue_in_front_of_its_workers_reading_the_version_at_start():
    env, at, origin, stats = _origin(servers=2)
    client = FakeClient(env)
    client.master.commit(7, 1, 0.0)
    ops = [Op(client, 7, False, 0.0, None, 0, 0, MISS) for _ in range(3)]
    at(0.0, origin.on_message, ops)
    at(0.5, lambda ev: client.master.commit(7, 2, 0.5), None)  # while two are recomputing
    env.run()
    # Two start at once with version 1; the third waits for a worker (1 s), starts after
    # the commit and reads version 2; delta is the wait plus the recompute.
    assert client.got == [(1.0, "recomputed", 1, 1.0), (1.0, "recomputed", 1, 1.0),
                          (2.0, "recomputed", 2, 2.0)]
    assert stats.in_flight_max == 3 and stats.queue_wait.max == 1.0


def test_origin_queue_past_run_max_queue_stops_the_run():
    env, at, origin, _ = _origin(servers=1, max_queue=2)
    client = FakeClient(env)
    at(0.0, origin.on_message, [Op(client, k, False, 0.0, None, 0, 0) for k in range(4)])
    with pytest.raises(OverloadError, match="origin is overloaded"):
        env.run()


def test_origin_load_peak_is_the_busiest_100ms_window():
    stats = OriginStats(1.0, 10.0)
    for t in (0.5, 1.0, 1.05, 1.099, 1.1, 1.25, 1.26):  # the first is in the warm-up
        stats.arrival(0, t, 0.0, 1)
    s = stats.summary(2.0)
    assert s["origin_recomputes"] == 6
    assert s["origin_load"] == {"mean": 6.0, "peak": pytest.approx(30.0)}
