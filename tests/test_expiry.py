"""The store's TTL (sim.model.expiry): hand-timed on a tiny timeline, the active cycle's
rules and effort bound, what a run without TTLs keeps, and properties over random runs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import Config, ConfigError, simulate
from sim.model.expiry import Clock, Deleted, MasterExpiry, ReplicaExpiry
from sim.model.kernel import Link, QueueLimit, Thread, scheduler
from sim.model.lag import LagMonitor
from sim.model.master import Master, WriteRules
from sim.model.records import Host, Keyspace, Op, Version
from sim.model.replica import Replica
from tests.helpers import ZERO, delays

# -- a tiny timeline by hand -----------------------------------------------------------------


def Reader(env):
    """A client (index 0) whose ``replies`` are (arrival, [(key, version, missing), ...]);
    missing is None for a SET."""
    replies = []

    def on_reply(ev):
        replies.append((env.now, [(op.key, op.result.number, getattr(op, "missing", None))
                                  for op in ev._value]))

    return SimpleNamespace(index=0, replies=replies, on_reply=on_reply)


def _host(env, node_id, name, service=0.0):
    return Host(node_id, name, [Link(lambda: 0.0, env)], lambda: 0.0, lambda: service,
                lambda: 0.0, Thread(name, QueueLimit.none()))


def _group(mode="clock", replica_offset=0.0, ttl=1.0, hz=1, service=0.25, delay=1.0,
           master_clock=None):
    """A master (service ``service`` s per command, ``hz`` cycles a second) and one replica
    ``delay`` s down the stream, its clock ``replica_offset`` s off."""
    env = simpy.Environment()
    at = scheduler(env)
    held = []
    expiry = MasterExpiry(at, master_clock or Clock(), ttl, lambda: True, lambda: 0.0, 0.0, hz,
                          lambda n, t: held.append((t, n)), 100.0)
    master = Master(env, at, _host(env, 0, "master", service), Keyspace({}), 0, WriteRules(),
                    expiry=expiry)
    lag = LagMonitor(env, at, [], 0.0, 100.0, lambda lag_s: None)
    replica = Replica(env, at, _host(env, 1, "replica0"), master, master.committed.copy(),
                      Link(lambda: delay, env), lag,
                      expiry=ReplicaExpiry(Clock(replica_offset), mode))
    return env, at, master, replica, held


def _op(client, key, write, t):
    return Op(client, key, write, t, Version(key, 0, 0.0, 0), 0, 0)


def test_a_replica_clock_behind_serves_the_expired_key_then_hides_it():
    env, at, master, replica, _ = _group(replica_offset=-0.5)
    client = Reader(env)
    at(0.0, master.on_message, [_op(client, 7, True, 0.0)])  # committed 0.25, PXAT 1.25
    at(1.5, replica.on_message, [_op(client, 7, False, 1.5)])  # its clock reads 1.0
    at(1.8, replica.on_message, [_op(client, 7, False, 1.8)])  # 1.3: past the PXAT
    env.run(until=1.9)
    assert client.replies == [(0.25, [(7, 1, None)]), (1.5, [(7, 1, False)]),
                              (1.8, [(7, 1, True)])]


def test_master_del_serves_until_the_del_and_a_del_arriving_with_a_read_is_taken_in_first():
    env, at, master, replica, held = _group(mode="master_del")
    client = Reader(env)
    at(0.0, master.on_message, [_op(client, 7, True, 0.0)])
    # Cycles at 1.0 (not expired yet) and 2.0: DEL v2 committed at 2.0, at the replica at 3.0.
    at(2.9, replica.on_message, [_op(client, 7, False, 2.9)])
    at(3.0, replica.on_message, [_op(client, 7, False, 3.0)])  # the same instant as the DEL
    env.run(until=3.5)
    assert [r for r in client.replies if r[0] > 1] == [(2.9, [(7, 1, False)]),
                                                      (3.0, [(7, 2, True)])]
    assert master.committed[7].__class__ is Deleted and master.committed[7].commit_s == 2.0
    assert (2.0, 1) in held  # one expired key held just before the cycle deleted it


def test_the_master_expires_a_key_on_access_and_ships_the_del():
    env, at, master, replica, _ = _group(mode="master_del", hz=1)
    client = Reader(env)
    at(0.0, master.on_message, [_op(client, 7, True, 0.0)])  # PXAT 1.25
    at(1.25, master.on_message, [_op(client, 7, False, 1.25)])  # served at 1.5: expired
    at(2.6, replica.on_message, [_op(client, 7, False, 2.6)])
    env.run(until=2.7)
    # The GET finds it expired when served: a DEL (v2) at 1.5, missing, at the replica by 2.5;
    # the cycle at 2.0 finds no key with a TTL.
    assert client.replies[1:] == [(1.5, [(7, 2, True)]), (2.6, [(7, 2, True)])]
    assert master.commit_offset == 2 and master.expiry.index.keys == []


def test_a_master_clock_ahead_deletes_early_and_its_del_hides_a_live_key():
    # The master's clock runs twice as fast: a 1 s TTL ends after 0.5 s of true time.
    env, at, master, replica, _ = _group(mode="clock", delay=0.0, master_clock=Clock(0.0, 1.0))
    client = Reader(env)
    at(0.0, master.on_message, [_op(client, 7, True, 0.0)])  # at 0.25 reads 0.5: PXAT 1.5
    at(1.2, replica.on_message, [_op(client, 7, False, 1.2)])
    env.run(until=1.3)
    # The cycle at 1.0 reads 2.0 >= 1.5: DEL at 1.0, though the key lives until 1.25.
    assert client.replies[1] == (1.2, [(7, 2, True)])


# -- the active cycle's rules ------------------------------------------------------------------


class _Master:
    """What the cycle uses of a master: ``latest`` and ``offset``."""

    def __init__(self, keys, expired):
        self.latest = Keyspace({})
        self.offset = 0
        self.expiry = None
        for k in range(keys):
            rec = self.latest[k] = Version(k, 1, 0.0, k + 1)
            rec.expire_at = 0.5 if k < expired else 10.0


def _cycle(keys, expired, key_cost_s=0.0, hz=10, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    expiry = MasterExpiry(None, Clock(), 1.0, lambda: True, rng.random, key_cost_s, hz,
                          lambda n, t: None, 100.0)
    master = _Master(keys, expired)
    expiry.master = master
    for k in range(keys):
        expiry.index.add(k, master.latest[k].expire_at, 0.0)
    return expiry, master


@pytest.mark.parametrize(("expired", "checked"), [(2, 20), (3, 20 + 17), (20, 20 + 0)])
def test_the_cycle_repeats_only_while_more_than_ten_percent_of_its_sample_expired(
        expired, checked):
    expiry, _ = _cycle(20, expired)
    deleted, _ = expiry.cycle(1.0)
    assert len(deleted) == expired
    # 20 keys with a TTL: each loop checks them all; 2 of 20 is 10%, not more: it stops.
    # After 20 of 20 none is left to check.
    assert expiry.max_checked == checked


def test_the_cycle_stays_within_its_time_budget():
    cost = 10e-6  # s per key checked
    expiry, master = _cycle(20_000, 20_000, key_cost_s=cost)
    deleted, busy = expiry.cycle(1.0)
    budget = 0.25 / 10
    # Redis reads its clock every 16 loops of 20 keys: it may overrun by up to that much.
    assert budget < busy <= budget + 16 * 20 * cost
    assert len(deleted) == expiry.max_checked == round(busy / cost)
    assert len(expiry.index.keys) == 20_000 - len(deleted)  # the rest waits for later cycles
    assert sum(master.latest[k].__class__ is Deleted for k in range(20_000)) == len(deleted)


class _Counting(Keyspace):
    """A keyspace that counts the lookups of each key (the keys a cycle checks)."""

    def __init__(self, other):
        super().__init__(other.initial, other)
        self.looked = {}

    def __getitem__(self, key):
        self.looked[key] = self.looked.get(key, 0) + 1
        return super().__getitem__(key)


def test_the_cycle_samples_uniformly_over_the_keys_with_a_ttl():
    expiry, master = _cycle(200, 0, seed=5)  # nothing expired: one loop of 20 per cycle
    master.latest = _Counting(master.latest)
    for _ in range(2000):
        expiry.cycle(1.0)
    counts = [master.latest.looked.get(k, 0) for k in range(200)]
    assert sum(counts) == 2000 * 20
    # Chi-square over 200 keys, 200 expected each (199 degrees of freedom, sd about 20;
    # sampling without replacement only narrows it): a biased sampler lands far above.
    chi2 = sum((c - 200) ** 2 / 200 for c in counts)
    assert chi2 < 199 + 5 * 20


def test_the_cycle_deletes_only_expired_keys_and_keeps_its_index_whole():
    expiry, master = _cycle(1000, 500, seed=3)  # half the keys expired: many loops
    deleted, _ = expiry.cycle(1.0)
    assert all(gone.of.expire_at == 0.5 for gone in deleted)
    assert set(expiry.index.keys) == set(expiry.index.pos)
    assert len(expiry.index.keys) == 1000 - len(deleted)
    # It stops once a sample holds at most 2 expired keys of 20, so most are gone by then.
    assert len(deleted) > 300


def test_the_ttl_index_holds_only_the_keys_that_have_a_ttl():
    cfg = Config.default().with_overrides({
        **ZERO, "cache.enabled": False, "workload.key_ttl": "50ms", "workload.ttl_share": 0.5,
        "workload.keys": 200, "run.duration": 1.0, "run.warmup": 0.1})
    from sim.engine import Model

    model = Model(cfg)
    model.run()
    expiry, latest = model.master.expiry, model.master.latest
    with_ttl = {k for k, rec in latest.items()
                if rec.__class__ is not Deleted and rec.number and rec.expire_at is not None}
    assert set(expiry.index.keys) == with_ttl
    assert set(expiry.index.pending) | expiry.index.expired == with_ttl


# -- a run without TTLs, and the cost of one with them -----------------------------------------


def _measured(summary):
    return json.dumps({k: v for k, v in summary.items()
                       if k not in ("wall_seconds", "config")}, sort_keys=True)


@pytest.mark.parametrize("extra", [{}, {"cache.enabled": False, "workload.mode": "closed",
                                        "replication.delay": "100us", **ZERO,
                                        "network.client_latency": "250us"}])
def test_without_a_key_ttl_clocks_and_replica_expiry_change_nothing(extra):
    base = {"run.duration": 1.0, "run.warmup": 0.1, **extra}
    plain = simulate(Config.default().with_overrides(base)).summary
    skewed = simulate(Config.default().with_overrides({
        **base, "clocks.offsets": [0.0, -0.5, 0.5], "clocks.drift_ppm": [100, -50, 0],
        "replication.replica_expiry": "master_del", "server.hz": 100})).summary
    assert _measured(plain) == _measured(skewed)  # sim_events included
    assert plain["expired_read_rate"] is None and plain["expired_keys_held"] is None


def test_the_active_cycle_is_one_event_a_period_however_many_keys():
    base = {**ZERO, "cache.enabled": False, "workload.keys": 5000, "workload.write_rate": 5000.0,
            "workload.key_distribution": "uniform", "run.duration": 2.0, "run.warmup": 0.5}
    from sim.engine import Model

    plain = simulate(Config.default().with_overrides(base)).summary
    model = Model(Config.default().with_overrides({**base, "workload.key_ttl": "100ms"}))
    s = model.run()
    expiry = model.master.expiry
    # Reads go to the replicas (no lazy expiry at the master) and the thread is free at
    # every cycle (zero service time), so the TTL adds exactly the cycles' own events.
    # Cycles at 0.1, 0.2, ... 1.9 s: the one at the horizon (2 s) is beyond the run.
    assert s["sim_events"] - plain["sim_events"] == expiry.cycles == 19
    assert expiry.max_checked > 20 and s["expired_keys_held"] > 0


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "fragments"), [
    ({"clocks.offsets": [0.0, 0.1]}, ["clocks.offsets = [0.0, 0.1]", "needs 3 values",
                                       "replication.replicas is 2"]),
    ({"clocks.drift_ppm": [1, 2, 3, 4]}, ["clocks.drift_ppm", "needs 3 values"]),
    ({"clocks.offsets": [0, "soon", 0]}, ["clocks.offsets", "item 1, 'soon'"]),
    ({"workload.key_ttl": "1s"}, ["workload.key_ttl = 1.0", "cache.enabled = false"]),
    ({"workload.key_ttl": "1s", "cache.enabled": False, "replication.mode": "quorum"},
     ["workload.key_ttl", "quorum"]),
    ({"workload.ttl_share": 1.5}, ["workload.ttl_share = 1.5", "between 0 and 1"]),
    ({"server.hz": 1000}, ["server.hz = 1000", "<= 500"]),
    ({"replication.replica_expiry": "never"}, ["replication.replica_expiry", "'master_del'"]),
])
def test_bad_expiry_settings_are_one_clear_line(overrides, fragments):
    with pytest.raises(ConfigError) as info:
        Config.default().with_overrides(overrides)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_signed_offsets_parse_and_round_trip():
    cfg = Config.default().with_overrides({"clocks.offsets": ["-20ms", 0, "1.5s"]})
    assert cfg.clocks.offsets == (-0.02, 0.0, 1.5)
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert cfg.clocks.clock(0) == (-0.02, 0.0) and cfg.clocks.clock(2) == (1.5, 0.0)


# -- properties ---------------------------------------------------------------------------------


@st.composite
def ttl_configs(draw):
    replicas = draw(st.integers(1, 3))
    offsets = [0.0] + [draw(st.sampled_from([0.0, -0.003, 0.003, -0.05])) for _ in range(replicas)]
    data = {
        "run": {"duration": 0.3, "warmup": 0.05, "seed": draw(st.integers(0, 2**31))},
        "workload": {"mode": draw(st.sampled_from(["open", "closed"])),
                     "clients": draw(st.integers(1, 4)), "read_rate": 3000.0,
                     "write_rate": draw(st.sampled_from([200.0, 1500.0])),
                     "read_fraction": 0.7, "think_time": "100us",
                     "keys": draw(st.integers(1, 30)),
                     "key_ttl": draw(st.sampled_from(["1ms", "5ms", "40ms"])),
                     "ttl_share": draw(st.sampled_from([1.0, 0.5]))},
        "network": {"client_latency": draw(delays)},
        "server": {"service_time": draw(st.sampled_from(["0s", "5us", "exp:10us"])),
                   "hz": draw(st.sampled_from([10, 100, 500]))},
        "replication": {"replicas": replicas, "delay": draw(delays),
                        "read_policy": draw(st.sampled_from(["master", "replicas", "any"])),
                        "replica_expiry": draw(st.sampled_from(["clock", "master_del"]))},
        "cache": {"enabled": False},
        "pipeline": {"batch_size": draw(st.integers(1, 3))},
        "clocks": {"offsets": offsets,
                   "drift_ppm": [draw(st.sampled_from([0.0, 500.0]))] + [0.0] * replicas},
    }
    return Config.from_dict(data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=ttl_configs())
def test_the_master_never_serves_an_expired_key_and_clocks_bound_both_errors(cfg):
    from sim.engine import Model

    model = Model(cfg)
    seen = []
    # The recorder sees every measured read: keep the master's, to judge them one by one.
    add = model.recorder.expiry.add

    def spy(ops, batches):
        seen.extend(op for op in ops if op.node is model.master)
        add(ops, batches)

    model.recorder.expiry.add = spy
    s = model.run()
    ttl = cfg.workload.key_ttl
    for op in seen:
        rec = op.result
        if not op.missing and rec.expire_at is not None:
            assert op.served_s < rec.commit_s + ttl  # its clock is right or fast
    offsets, policy = cfg.clocks.offsets, cfg.replication.read_policy
    if s["reads"] == 0:
        return
    if policy == "master":
        assert s["expired_read_rate"] == 0.0
    if all(o <= 0 for o in offsets) and cfg.clocks.drift_ppm[0] == 0:
        assert s["hidden_live_rate"] == 0.0  # no clock ahead: nothing live is hidden
    if (cfg.replication.replica_expiry == "clock" and all(o >= 0 for o in offsets)
            and cfg.clocks.drift_ppm[0] == 0):
        # No replica clock behind the master's (a fast master clock stamps its PXATs
        # later and later, which puts every replica behind): nothing expired is served.
        assert s["expired_read_rate"] == 0.0


def test_a_ttl_run_is_the_same_traced_and_untraced_with_ties():
    cfg = Config.default().with_overrides({
        **ZERO, "workload.mode": "closed", "workload.clients": 6, "workload.read_fraction": 0.7,
        "workload.keys": 3, "workload.think_time": "0s", "network.client_latency": "250us",
        "replication.delay": "100us", "cache.enabled": False, "workload.key_ttl": "1ms",
        "clocks.offsets": [0, "-300us", "250us"], "replication.read_policy": "any",
        "run.duration": 0.5, "run.warmup": 0.05})
    plain = simulate(cfg).summary
    traced = simulate(cfg, trace=lambda kind, t, **fields: None).summary
    assert _measured(plain) == _measured(traced)
    assert plain["expired_read_rate"] > 0 and plain["hidden_live_rate"] > 0
