"""The client-side cache (CLIENT TRACKING, docs/design.md section 10): closed forms, the
rules of redis src/tracking.c, the placeholder race, and what a disabled cache leaves alone."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim import Config, ConfigError, simulate
from sim.analysis import analytic
from tests.helpers import Log, assert_agrees, config, configs, long_run

# Constant delays (ties), tiny constant service: the closed forms' setting.
CONSTANT = {
    "cache.enabled": False, "client_cache.enabled": True,
    "server.service_time": "1us", "server.batch_overhead": "0s",
    "server.replica_apply_time": "0s", "workload.key_distribution": "uniform",
}


def summary(overrides: dict, trace=None) -> dict:
    return simulate(config(overrides), trace=trace).summary


@pytest.mark.heavy
@pytest.mark.parametrize(("latency", "delay", "policy", "write_rate"), [
    ("5ms", "0s", "master", 200.0),      # lambda L = 0.05
    ("5ms", "0s", "master", 1000.0),     # lambda L = 0.25
    ("2ms", "8ms", "replicas", 400.0),   # lambda (L + d) = 0.2
])
def test_stale_share_of_local_hits_closed_form(latency, delay, policy, write_rate):
    """Constant L server -> client, constant replication delay d, Poisson writes at lambda
    per key: the stale share of local hits is 1 - exp(-lambda (L + d))."""
    keys = 20
    s = summary({**CONSTANT, "network.client_latency": latency, "replication.delay": delay,
                 "replication.replicas": 0 if policy == "master" else 1,
                 "replication.read_policy": policy, "workload.keys": keys,
                 "workload.clients": 4, "workload.read_rate": 6000.0,
                 "workload.write_rate": write_rate, "run.duration": long_run(20),
                 "run.warmup": 1})
    theory = analytic.client_cache_stale_share(
        write_rate / keys, float(latency[:-2]) / 1e3,
        replication_delay_s=float(delay[:-2]) / 1e3 if delay != "0s" else 0.0)
    assert s["client_cache_hits"] > 20000
    assert_agrees(s["client_cache_stale_read_rate"], s["client_cache_stale_read_rate_ci95"],
                  theory)


def test_local_hits_count_in_every_read_measure():
    s = summary({**CONSTANT, "network.client_latency": "exp:2ms", "replication.delay": "exp:3ms",
                 "workload.keys": 10, "workload.write_rate": 500.0, "workload.read_rate": 4000.0,
                 "run.duration": 3})
    assert 0 < s["client_cache_stale_reads"] < s["stale_reads"]
    assert s["client_cache_hits"] < s["reads"]
    assert s["client_cache_hit_rate"] == pytest.approx(s["client_cache_hits"] / s["reads"])
    assert s["client_cache_stale_read_rate"] == pytest.approx(
        s["client_cache_stale_reads"] / s["client_cache_hits"])
    assert s["client_cache_stale_age_ms"]["mean"] > 0
    assert s["invalidations"] > 0 and s["invalidations_per_s"] > 0


def _invalidations(log: Log) -> list[tuple[float, float, str, str, int]]:
    """(sent, arrival, server, client, key) of every invalidation message, by send time."""
    return sorted((f["sent"], t, f["server"], f["node"], f["key"])
                  for t, f in log.events["invalidation"])


@pytest.mark.parametrize("latency", ["1ms", "exp:1ms"])
def test_default_mode_is_one_shot(latency):
    """Between two invalidations of a key from one server to one client, that client read
    the key from that server (the first dropped its tracking): writes far outnumber reads,
    so tracking that was not dropped would send many with no read between."""
    log = Log()
    s = summary({**CONSTANT, "network.client_latency": latency, "replication.delay": latency,
                 "workload.keys": 3, "workload.clients": 2, "workload.read_rate": 300.0,
                 "workload.write_rate": 3000.0, "run.duration": 2}, trace=log)
    reads = defaultdict(list)  # (server, client, key) -> (issued, received) of reads it served
    for t, f in log.events["read"]:
        reads[(f["server"], f["node"], f["key"])].append((f["issued"], t))
    last: dict[tuple, float] = {}
    checked = 0
    for sent, _, server, client, key in _invalidations(log):
        slot = (server, client, key)
        if sent > 1.98:  # the reply of the read between may arrive after the run
            break
        if slot in last:
            assert any(issued < sent and received > last[slot]
                       for issued, received in reads[slot]), (slot, last[slot], sent)
            checked += 1
        last[slot] = sent
    assert checked > 50 and s["writes"] > 10 * checked


RACE = {**CONSTANT, "network.client_latency": "exp:1ms", "replication.replicas": 0,
        "replication.read_policy": "master", "client_cache.connection": "redirect",
        "workload.keys": 5, "workload.clients": 4, "workload.read_rate": 2000.0,
        "workload.write_rate": 500.0, "run.duration": 3}


def test_without_placeholder_a_redirected_invalidation_can_leave_a_value_stale_for_good():
    """The documented race: the reply carrying the old value comes after the invalidation
    of it (another link, no FIFO between them); one-shot tracking sends nothing later."""
    s = summary({**RACE, "client_cache.placeholder": False})
    assert s["stale_forever"] > 0


@pytest.mark.parametrize("extra", [
    {},
    {"client_cache.connection": "same", "client_cache.placeholder": False},
    {"replication.replicas": 2, "replication.read_policy": "replicas",
     "replication.delay": "exp:2ms"},
])
def test_the_placeholder_or_one_connection_leaves_nothing_stale_for_good(extra):
    s = summary({**RACE, **extra})
    assert s["invalidations"] > 1000 and s["stale_forever"] == 0


@pytest.mark.parametrize("latency", ["1ms", "exp:1ms"])
def test_bcast_sends_one_message_per_write_to_every_subscribed_client(latency):
    clients = 3
    log = Log()
    summary({**CONSTANT, "client_cache.mode": "bcast", "network.client_latency": latency,
             "replication.replicas": 0, "replication.read_policy": "master",
             "workload.keys": 50, "workload.clients": clients, "workload.read_rate": 3000.0,
             "workload.write_rate": 300.0, "run.duration": 1, "run.warmup": 0.1}, trace=log)
    first_read = {}
    for _, f in log.events["read"]:
        if f["server"] == "master":
            first_read.setdefault(f["node"], f["issued"])
    assert len(first_read) == clients
    subscribed = max(first_read.values()) + 0.01  # every client's first read has arrived
    sent = defaultdict(list)
    for _, f in log.events["invalidation"]:
        sent[f["sent"]].append((f["node"], f["key"]))
    commits = [(t, f["key"]) for t, f in log.events["commit"] if t > subscribed]
    assert len(commits) > 100
    for t, key in commits:
        assert sorted(sent[t]) == sorted((f"client{c}", key) for c in range(clients))


def test_the_table_bound_evicts_random_keys_and_invalidates_them():
    s = summary({**CONSTANT, "network.client_latency": "1ms", "replication.replicas": 0,
                 "replication.read_policy": "master", "workload.keys": 40,
                 "workload.clients": 1, "workload.write_rate": 0.0,
                 "workload.read_rate": 2000.0, "client_cache.tracking_table_max_keys": 5,
                 "run.duration": 2})
    assert s["tracking_table_keys"] == 5
    # No writes: every invalidation is an eviction's, each key read by one client.
    assert s["invalidations"] > 100
    assert s["tracking_table_evictions"] >= s["invalidations"]
    assert s["stale_reads"] == 0
    unbounded = summary({**CONSTANT, "network.client_latency": "1ms", "replication.replicas": 0,
                         "replication.read_policy": "master", "workload.keys": 40,
                         "workload.clients": 1, "workload.write_rate": 0.0,
                         "workload.read_rate": 2000.0, "run.duration": 2})
    assert unbounded["tracking_table_keys"] == 40 and unbounded["invalidations"] == 0
    assert unbounded["client_cache_hit_rate"] > s["client_cache_hit_rate"]


def test_optin_tracks_only_the_reads_sent_with_caching_yes():
    base = {**CONSTANT, "client_cache.mode": "optin", "network.client_latency": "1ms",
            "workload.keys": 20, "workload.write_rate": 0.0, "workload.read_rate": 2000.0,
            "run.duration": 2}
    none = summary({**base, "client_cache.optin_share": 0.0})
    assert none["client_cache_hits"] == 0 and none["tracking_table_keys"] == 0
    half = summary({**base, "client_cache.optin_share": 0.5})
    every = summary({**base, "client_cache.optin_share": 1.0})
    assert 0 < half["client_cache_hit_rate"] < every["client_cache_hit_rate"]


def test_max_ttl_and_capacity_bound_what_a_client_keeps():
    base = {**CONSTANT, "network.client_latency": "1ms", "workload.keys": 50,
            "workload.write_rate": 0.0, "workload.read_rate": 3000.0, "run.duration": 2}
    free = summary(base)
    assert summary({**base, "client_cache.max_ttl": "5ms"})["client_cache_hit_rate"] < \
        free["client_cache_hit_rate"]
    assert summary({**base, "client_cache.capacity": 5})["client_cache_hit_rate"] < \
        free["client_cache_hit_rate"]


def test_a_max_ttl_bounds_what_the_race_left_stale():
    """What the Redis docs advise against the race: a stale entry lives at most max_ttl."""
    raced = summary({**RACE, "client_cache.placeholder": False})
    bounded = summary({**RACE, "client_cache.placeholder": False, "client_cache.max_ttl": "20ms"})
    assert bounded["stale_forever"] < raced["stale_forever"]
    assert bounded["client_cache_stale_read_rate"] < raced["client_cache_stale_read_rate"] / 2


def test_disabled_settings_change_nothing():
    """With enabled = false the other keys are inert: the same run, event for event, and
    no client-cache key in the summary."""
    base = {"run.duration": 0.5, "replication.delay": "exp:1ms"}
    plain = simulate(config(base)).summary
    other = simulate(config({**base, "client_cache.mode": "bcast",
                             "client_cache.capacity": 3,
                             "client_cache.connection": "redirect"})).summary
    for s in (plain, other):
        s.pop("wall_seconds")
        s.pop("config")
    assert json.dumps(plain, sort_keys=True) == json.dumps(other, sort_keys=True)
    assert not any(k.startswith(("client_cache", "invalidation", "tracking", "stale_forever"))
                   for k in plain)


@pytest.mark.parametrize(("overrides", "needle"), [
    ({"client_cache.mode": "broadcast"}, "client_cache.mode"),
    ({"client_cache.connection": "pubsub"}, "client_cache.connection"),
    ({"client_cache.optin_share": 1.5}, "client_cache.optin_share"),
    ({"client_cache.capacity": -1}, "client_cache.capacity"),
    ({"client_cache.enabled": True, "workload.mode": "closed"}, "open loop"),
    ({"client_cache.enabled": True, "replication.mode": "quorum"}, "leader mode"),
])
def test_bad_settings_are_refused_in_one_line(overrides, needle):
    with pytest.raises(ConfigError) as err:
        Config.default().with_overrides(overrides)
    assert needle in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), mode=st.sampled_from(["default", "bcast", "optin"]),
       connection=st.sampled_from(["same", "redirect"]), capacity=st.sampled_from([0, 3]),
       table=st.sampled_from([0, 2]))
def test_with_the_placeholder_nothing_is_stale_for_good(cfg, mode, connection, capacity, table):
    """Any small open-loop configuration (shared cache, pipelining, WAIT, every read policy):
    with the placeholder an entry is never left stale with nothing coming to tell it, and
    local hits are a part of the reads, their stale ones a part of the stale reads."""
    assume(cfg.workload.mode == "open")
    s = simulate(cfg.with_overrides({
        "client_cache.enabled": True, "client_cache.mode": mode,
        "client_cache.connection": connection, "client_cache.capacity": capacity,
        "client_cache.tracking_table_max_keys": table, "client_cache.optin_share": 0.5})).summary
    assert s["stale_forever"] == 0
    assert s["client_cache_hits"] <= s["reads"]
    assert s["client_cache_stale_reads"] <= s["stale_reads"]
    if cfg.replication.read_policy == "master" and not cfg.cache.enabled:
        assert s["stale_reads"] == s["client_cache_stale_reads"]  # only local hits can be
