"""Quorum mode over random small configurations (hypothesis): the invariants that hold
whatever the delays, loads and pipelining."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim import ConfigError, simulate
from tests.helpers import configs, delays

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def quorum_configs(draw, cache=None):
    base = draw(configs(cache=cache))
    n = draw(st.integers(1, 4))
    overrides = {
        "replication.mode": "quorum", "replication.replicas": n,
        "replication.wait_replicas": 0,
        "quorum.read": draw(st.integers(1, n)), "quorum.write": draw(st.integers(1, n)),
        "quorum.write_delay": draw(delays), "quorum.ack_delay": draw(delays),
        "quorum.read_delay": draw(delays), "quorum.response_delay": draw(delays),
        "quorum.read_repair": draw(st.booleans()),
        "quorum.remote_delay": draw(st.sampled_from(["0s", "100us"])),
        "metrics.visibility_probes": True, "metrics.visibility_share": 0.5,
        "metrics.visibility_horizon": "1ms", "metrics.visibility_points": 3}
    try:
        return base.with_overrides(overrides)
    except ConfigError:
        # A closed loop whose quorum round trip can take no time at all is refused by design.
        assume(False)


@FAST
@given(quorum_configs())
def test_counts_and_k_staleness(cfg):
    s = simulate(cfg).summary
    assert 0 <= s["stale_reads"] <= s["reads"]
    ks = list(s["k_staleness"].values())
    if s["reads"]:
        assert ks == sorted(ks) and 0.0 <= ks[0] and ks[-1] <= 1.0
        assert abs(ks[0] - (1 - s["stale_reads"] / s["reads"])) < 1e-12
    vis = s["visibility"]
    assert vis["probes"] == sum(row["n"] for row in vis["curve"])
    assert s["replication_lag_ms"]["max"] is None


@FAST
@given(quorum_configs(cache=False))
def test_strict_quorums_without_a_cache_are_never_stale(cfg):
    q, n = cfg.quorum, cfg.replication.replicas
    strict = cfg.with_overrides({"quorum.read": n + 1 - q.write}) if q.read + q.write <= n \
        else cfg
    s = simulate(strict).summary
    assert s["stale_reads"] == 0
    assert s["ryw_violations"] == 0  # the own write committed before the read was issued
    assert all(row["p_consistent"] == 1.0 for row in s["visibility"]["curve"])


@FAST
@given(quorum_configs())
def test_probes_leave_ordinary_results_alone(cfg):
    probed = simulate(cfg).summary
    plain = simulate(cfg.with_overrides({"metrics.visibility_probes": False})).summary
    for summary in (probed, plain):
        for key in ("wall_seconds", "sim_events", "config", "visibility"):
            summary.pop(key, None)
    assert probed == plain
