"""Invariants over random small configurations (hypothesis), constant delays (ties) among
them, checked on the event trace of a run that is the untraced run: the same summary, byte for
byte, and the same events (tests/test_one_semantics.py)."""

from __future__ import annotations

import json
from collections import defaultdict

from hypothesis import HealthCheck, given, settings

from sim import simulate
from tests.helpers import Log, configs

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(configs())
def test_invariants(cfg):
    log = Log()
    s = simulate(cfg, trace=log).summary
    untraced = simulate(cfg).summary
    assert _measured(s) == _measured(untraced)  # the trace below is of the run users run
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


def _measured(summary: dict) -> str:
    return json.dumps({k: v for k, v in summary.items() if k != "wall_seconds"},
                      sort_keys=True)


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
