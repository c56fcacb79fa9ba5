"""The cache component on a tiny hand-driven timeline."""

from __future__ import annotations

import simpy

from sim.model.cache import Cache
from sim.model.kernel import Link, scheduler
from sim.model.records import Op, Version


class FakeClient:
    index = 0

    def __init__(self):
        self.replies = []

    def on_cache_reply(self, ev):
        self.replies.append([op.result for op in ev._value])


def _cache(capacity=0, on_write="invalidate", delay=0.0, ttl=1.0):
    env = simpy.Environment()
    at = scheduler(env)
    cache = Cache(env, at, 3, ttl, capacity, on_write, Link(lambda: delay, env),
                  [Link(lambda: 0.0, env)])
    return env, at, cache


def _lookup(env, at, cache, client, t, key):
    op = Op(client, key, False, t, None, 0, 0)
    at(t, cache.on_message, [op])


def _fill(at, cache, t, rec):
    at(t, cache.on_fill, [rec])


def test_entry_expires_ttl_after_its_fill_and_hits_do_not_extend_it():
    env, at, cache = _cache(ttl=1.0)
    client = FakeClient()
    v1 = Version(7, 1, 0.0, 1)
    _fill(at, cache, 0.5, v1)
    for t in (0.6, 1.4, 1.49, 1.5, 1.6):
        _lookup(env, at, cache, client, t, 7)
    env.run()
    assert client.replies == [[v1], [v1], [v1], [None], [None]]


def test_lru_evicts_the_least_recently_used_key():
    env, at, cache = _cache(capacity=2)
    client = FakeClient()
    a, b, c = Version(1, 1, 0, 1), Version(2, 1, 0, 2), Version(3, 1, 0, 3)
    _fill(at, cache, 0.1, a)
    _fill(at, cache, 0.2, b)
    _lookup(env, at, cache, client, 0.3, 1)  # a is now the most recent
    _fill(at, cache, 0.4, c)  # evicts b
    for key in (1, 2, 3):
        _lookup(env, at, cache, client, 0.5, key)
    env.run()
    assert client.replies == [[a], [a], [None], [c]]


def test_invalidation_deletes_after_its_delay():
    env, at, cache = _cache(on_write="invalidate", delay=0.01)
    client = FakeClient()
    old, new = Version(5, 1, 0.0, 1), Version(5, 2, 0.2, 2)
    _fill(at, cache, 0.1, old)
    at(0.2, lambda ev: cache.on_commit(new, 0.2), None)
    _lookup(env, at, cache, client, 0.205, 5)
    _lookup(env, at, cache, client, 0.215, 5)
    env.run()
    assert client.replies == [[old], [None]]


def test_update_sets_the_new_version_with_a_fresh_ttl():
    env, at, cache = _cache(on_write="update", ttl=1.0)
    client = FakeClient()
    old, new = Version(5, 1, 0.0, 1), Version(5, 2, 0.5, 2)
    _fill(at, cache, 0.1, old)
    at(0.5, lambda ev: cache.on_commit(new, 0.5), None)
    _lookup(env, at, cache, client, 1.2, 5)   # past the old entry's expiry, within the new one
    _lookup(env, at, cache, client, 1.6, 5)
    env.run()
    assert client.replies == [[new], [None]]




