"""Visibility probes answered in one pass: the cache's recorded changes decide a probe's
answer at its arrival instant, and the per-key logs they are answered from stay bounded."""

from __future__ import annotations

from helpers import config

from sim import simulate
from sim.model.probes import TRIM, Changes


def test_a_probe_reads_the_cached_entry_until_the_update_lands():
    """``cache.on_write = update`` 1.05 ms after each commit, a 10 s TTL and reads at the
    master: a probe reaching the cache (100 us after it starts) before the update finds
    what was cached at the commit (stale whenever the key was cached, fresh through the
    master otherwise), one reaching it after finds the new version."""
    vis = simulate(config({
        "cache.on_write": "update", "cache.invalidation_delay": "1.05ms", "cache.ttl": "10s",
        "cache.latency": "100us", "replication.read_policy": "master",
        "metrics.visibility_probes": True, "metrics.visibility_share": 0.5,
        "metrics.visibility_horizon": "2ms", "metrics.visibility_points": 21,
        "run.duration": 2.0}))["visibility"]
    early = [row for row in vis["curve"] if row["t_ms"] + 0.1 < 1.05]
    late = [row for row in vis["curve"] if row["t_ms"] + 0.1 > 1.05]
    assert early and late
    # The same commits' probes are fresh at every early offset (a probe near the run's end
    # may be missing from the later offsets: it would be answered after the end).
    fresh = {round(row["p_consistent"] * row["n"]) for row in early}
    assert len(fresh) == 1 and fresh.pop() < early[-1]["n"]
    assert all(row["p_consistent"] == 1.0 for row in late)


def test_a_keys_log_is_kept_only_from_its_oldest_open_window():
    changes = Changes()
    changes.add(7, ("before any window",))
    assert 7 not in changes.logs
    windows = []
    for i in range(10 * TRIM):
        windows.append(changes.open(7))
        changes.add(7, (i,))
        if len(windows) > 3:  # windows close in turn, three stay open
            changes.close(7, windows.pop(0))
        log = changes.logs[7]
        assert len(log.entries) <= TRIM + 4
        assert windows[0].since()[0] == (i - len(windows) + 1,)
    for window in windows:
        changes.close(7, window)
    assert changes.logs == {}
