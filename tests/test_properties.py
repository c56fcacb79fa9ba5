"""Invariants over random small configurations (hypothesis), checked on the event trace."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim import Config, ConfigError, simulate

delays = st.sampled_from(["0s", "50us", "exp:100us", "uniform:0s,300us", "lognormal:median=50us,sigma=1",
                          "pareto:scale=20us,alpha=2.5"])
small = st.sampled_from(["0s", "5us", "exp:10us"])


@st.composite
def configs(draw, cache=None):
    replicas = draw(st.integers(0, 3))
    policies = ["master", "any"] + (["replicas", "sticky", "read-your-writes"] if replicas else [])
    enabled = draw(st.booleans()) if cache is None else cache
    mode = draw(st.sampled_from(["open", "closed"]))
    data = {
        "run": {"duration": 0.3, "warmup": 0.05, "seed": draw(st.integers(0, 2**31))},
        "workload": {"mode": mode, "clients": draw(st.integers(1, 4)),
                     "read_rate": draw(st.sampled_from([0.0, 500.0, 3000.0])),
                     "write_rate": draw(st.sampled_from([200.0, 1500.0])),
                     "read_fraction": draw(st.sampled_from([0.0, 0.5, 0.9])),
                     "keys": draw(st.integers(1, 20)),
                     "key_distribution": draw(st.sampled_from(["zipf", "uniform"]))},
        "network": {"client_latency": draw(delays)},
        "server": {"service_time": draw(small), "batch_overhead": draw(small),
                   "replica_apply_time": draw(small)},
        "replication": {"replicas": replicas, "delay": draw(delays),
                        "read_policy": draw(st.sampled_from(policies)),
                        "wait_replicas": draw(st.integers(0, replicas)),
                        "wait_timeout": draw(st.sampled_from([0.0, 0.001]))},
        "cache": {"enabled": enabled, "ttl": draw(st.sampled_from([0.001, 0.05])),
                  "capacity": draw(st.integers(0, 5)), "latency": draw(delays),
                  "fill_from": draw(st.sampled_from(["read_policy", "master"])),
                  "on_write": draw(st.sampled_from(["none", "invalidate", "update"])),
                  "invalidation_delay": draw(st.sampled_from(["0s", "exp:100us"]))},
        "pipeline": {"batch_size": draw(st.integers(1, 4)),
                     "linger": draw(st.sampled_from([0.0, 0.0002]))},
    }
    try:
        return Config.from_dict(data)
    except ConfigError:
        # A closed loop whose round trip can take no time at all is refused by design.
        assume(False)


class Log:
    """Collects the trace of one run."""

    def __init__(self):
        self.events = defaultdict(list)

    def __call__(self, kind, t, **fields):
        self.events[kind].append((t, fields))


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(configs())
def test_invariants(cfg):
    log = Log()
    s = simulate(cfg, trace=log).summary
    commits = log.events["commit"]

    # Versions commit in order per key, one at a time, starting at 1.
    written = defaultdict(int)
    for _, f in commits:
        assert f["version"] == written[f["key"]] + 1
        written[f["key"]] = f["version"]

    # Each replica applies its stream in order: offsets increase by one, completion times
    # never decrease, and per key the versions increase.
    by_replica = defaultdict(list)
    for t, f in log.events["apply"]:
        by_replica[f["node"]].append((t, f))
    for applies in by_replica.values():
        offsets = [f["offset"] for _, f in applies]
        assert offsets == list(range(1, len(offsets) + 1))
        times = [t for t, _ in applies]
        assert times == sorted(times)
        last = defaultdict(int)
        for _, f in applies:
            assert f["version"] > last[f["key"]]
            last[f["key"]] = f["version"]

    for _, f in log.events["read"]:
        # A read never returns a version that was never written.
        assert 0 <= f["version"] <= written[f["key"]]
        # A read served by the master is never stale.
        if f["server"] == "master":
            assert f["version"] >= f["newest"]

    # Counts add up.
    assert s["stale_reads"] <= s["reads"]
    assert s["ryw_violations"] <= s["stale_reads"]
    if cfg.cache.enabled:
        assert s["cache_hits"] + s["cache_misses"] == s["reads"]
    else:
        assert s["cache_hit_rate"] is None
    if s["reads"]:
        assert 0.0 <= s["stale_read_rate"] <= 1.0
        assert s["stale_read_rate"] == s["stale_reads"] / s["reads"]
    assert sum(p["n"] for p in s["t_visibility"]) <= s["reads"]


@FAST
@given(configs(cache=False))
def test_zero_delays_without_a_cache_give_no_staleness(cfg):
    zero = {"network.client_latency": "0s", "server.service_time": "0s",
            "server.batch_overhead": "0s", "server.replica_apply_time": "0s",
            "replication.delay": "0s", "pipeline.linger": 0.0, "workload.mode": "open"}
    s = simulate(cfg.with_overrides(zero)).summary
    assert s["stale_reads"] == 0
    assert s["ryw_violations"] == 0
    assert s["monotonic_violations"] == 0
