"""Each story of the explore page shows what it says: its readouts (the numbers and figures
the page draws from an :class:`~sim.explore.compute.Outcome`) bear out every claim of its
caption, and the changes it invites have the effect it promises."""

from __future__ import annotations

import functools
import math

import pytest

from sim.explore.compute import evaluate
from sim.explore.presets import PRESETS


def _story(words: str):
    """The preset whose name holds ``words`` (stories are found by name, not by position)."""
    (preset,) = [p for name, p in PRESETS.items() if words in name]
    return preset


DEFAULTS, REPLICA, TOKEN = _story("defaults"), _story("replica read"), _story("Token store")
CACHE, CRASH, HERD = _story("cache that hides"), _story("crash"), _story("herd")
Z = 3.5  # standard errors a run may differ from its closed form (as tests/test_analytic.py)


@functools.cache
def run(name: str, **changes):
    outcome = evaluate(PRESETS[name].settings().replace(**changes), draw=not changes)
    assert not outcome.error, outcome.error
    return outcome


def stale(outcome) -> tuple[float, float]:
    """The stale-read rate and its standard error (from the 95% interval)."""
    s = outcome.summary
    lo, hi = s["stale_read_rate_ci95"]
    return s["stale_read_rate"], (hi - lo) / (2 * 1.96)


def differ(a, b) -> float:
    """How many combined standard errors two runs' stale-read rates are apart."""
    (x, sx), (y, sy) = stale(a), stale(b)
    return abs(x - y) / math.hypot(sx, sy)


def no_start_up_reads(outcome) -> bool:
    """The trace shows no cache hit of version 0 of a key written since: an entry filled at
    the run's empty start, not the cache's steady state."""
    return not [e for e in outcome.trace.of("read")
                if e["path"] == 1 and e["version"] == 0 < e["newest"]]


@pytest.mark.parametrize("preset", list(PRESETS.values()), ids=list(PRESETS))
def test_every_story_draws_its_figures_at_the_page_precision(preset):
    outcome = run(preset.name)
    assert set(outcome.images) == {"stale", "tvis", "trace"}
    assert outcome.summary["precision"]["stopped_by"] in ("precision", "max_duration")
    if outcome.settings.write_rate > 0 or outcome.settings.mode == "closed":
        assert outcome.trace.of("commit"), "the trace should show what a write does"
    assert no_start_up_reads(outcome)
    # Captions name colours, never "red" or "green" (not in the house palette).
    for word in ("red ", "green "):
        assert f" {word}" not in f" {preset.story} "


def test_defaults_most_stale_reads_are_the_caches():
    cached, uncached = run(DEFAULTS.name), run(DEFAULTS.name, cache=False)
    assert stale(uncached)[0] < 0.2 * stale(cached)[0]
    # "falls to what replication alone costs": the closed form of the cache-less page.
    theory = uncached.theory["stale_value"].value
    assert abs(stale(uncached)[0] - theory) <= Z * stale(uncached)[1] + 0.02 * theory
    # An entry lives its whole TTL: the hot key's traced reads are hits of one old version.
    reads = run(DEFAULTS.name).trace.of("read")
    assert len({e["version"] for e in reads if e["path"] == 1}) <= 2


def test_replica_read_follows_one_minus_exp_and_delay_trades_for_write_rate():
    base = run(REPLICA.name)
    rate, se = stale(base)
    theory = base.theory["stale_value"].value
    assert abs(rate - theory) <= Z * se
    settings = REPLICA.settings()
    doubled_delay = run(REPLICA.name, delay_ms=2 * settings.delay_ms)
    doubled_writes = run(REPLICA.name, write_rate=2 * settings.write_rate)
    assert stale(doubled_delay)[0] > 1.6 * rate
    assert differ(doubled_delay, doubled_writes) <= Z
    assert run(REPLICA.name, read_policy="read-your-writes").summary["ryw_violations"] == 0


def test_token_store_accepts_revoked_tokens_until_the_master_is_read():
    tokens = run(TOKEN.name)
    rate, se = stale(tokens)
    assert rate > 0 and abs(rate - tokens.theory["stale_value"].value) <= Z * se
    curve = [p["p_fresh"] for p in tokens.summary["t_visibility"] if p["n"] >= 10]
    assert curve[0] < 0.9 < curve[-1]  # a check right after the logout often accepts it
    assert run(TOKEN.name, read_policy="master").summary["stale_read_rate"] == 0.0
    assert run(TOKEN.name, wait_replicas=2).summary["ryw_violations"] == 0


def test_the_cache_hides_the_lag_from_latency_not_from_staleness():
    cached, off = run(CACHE.name), run(CACHE.name, cache=False)
    assert cached.summary["cache_hit_rate"] > 0.5  # "most reads hit the cache"
    assert cached.summary["read_latency_ms"]["mean"] < 0.8 * off.summary["read_latency_ms"]["mean"]
    assert stale(cached)[0] - stale(off)[0] > Z * math.hypot(stale(cached)[1], stale(off)[1])
    assert stale(run(CACHE.name, on_write="update"))[0] < 0.1 * stale(cached)[0]


def test_the_cache_story_trace_shows_the_race():
    trace = run(CACHE.name).trace
    events = trace.events
    invalidations = [e.time_s for e in events if e.kind == "invalidate"]
    assert invalidations
    newest, refilled_old = 0, False
    for e in events:
        if e.kind == "commit":
            newest = e["version"]
        elif e.kind == "fill" and e.time_s > invalidations[0] and e["version"] < newest:
            refilled_old = True  # a lagging replica's old value put back after the invalidation
    assert refilled_old


def test_the_crash_story_loses_acknowledged_writes_and_its_changes_lose_none():
    crash = run(CRASH.name)
    assert CRASH.settings().crash_mode == "network"
    lost, theory = crash.summary["lost_writes"], crash.theory["lost"].value
    assert theory > 5 and lost > 0
    assert abs(lost - theory) <= Z * math.sqrt(theory)  # about Poisson: the writes in d - L
    assert crash.summary["unavailable_writes"] > 0  # "until the failover every write fails"
    t0, t1 = crash.trace.window
    assert t0 < CRASH.settings().crash_at_s < t1
    process = run(CRASH.name, crash_mode="process")
    assert process.summary["lost_writes"] == 0 and process.theory["lost"].value == 0
    assert run(CRASH.name, wait_replicas=1).summary["lost_writes"] == 0


def test_the_herd_story_recomputes_one_plus_lambda_d_per_expiry_and_a_cure_one():
    # Ten keys read 200 times a second each, a 50 ms recompute: 1 + 200 x 0.05 = 11.
    plain = run(HERD.name).summary
    lo, hi = plain["recomputes_per_expiry_ci95"]
    se = (hi - lo) / (2 * 1.96)
    assert abs(plain["recomputes_per_expiry"] - 11.0) <= Z * se
    for cure in ("single_flight", "lease", "stale_while_revalidate"):
        assert run(HERD.name, stampede=cure).summary["recomputes_per_expiry"] == 1.0, cure
    assert run(HERD.name, stampede="xfetch").summary["recomputes_per_expiry"] < 0.5 * 11.0
