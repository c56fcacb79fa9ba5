"""`repsim run --json` emits every key of docs/design.md section 5, with the promised shapes."""

from __future__ import annotations

import json

from sim.cli.app import main

LATENCY = {"mean", "p50", "p95", "p99", "p999", "max"}


def test_run_json_has_every_contract_key(capsys):
    code = main(["run", "--json", "--set", "run.duration=1s", "--set", "run.warmup=0.2s"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("reads", "writes", "stale_reads", "stale_read_rate", "stale_read_rate_ci95",
                "staleness_versions_mean", "staleness_age_ms", "cache_hit_rate",
                "ryw_violations", "monotonic_violations", "read_latency_ms", "write_latency_ms",
                "throughput_ops_s", "replication_lag_ms", "t_visibility", "sim_events",
                "wall_seconds", "config"):
        assert key in out, key
    assert len(out["stale_read_rate_ci95"]) == 2
    assert set(out["staleness_age_ms"]) == {"mean", "p99"}
    assert set(out["read_latency_ms"]) == LATENCY == set(out["write_latency_ms"])
    assert set(out["replication_lag_ms"]) == {"mean", "p99", "max"}
    assert out["t_visibility"] and set(out["t_visibility"][0]) == {"t_ms", "p_fresh", "n"}
    assert out["config"]["run"]["duration"] == 1.0
    assert set(out["config"]) >= {"run", "workload", "network", "server", "replication",
                                  "cache", "pipeline"}
    # Times are in milliseconds: a read costs at least two 100 us cache trips = 0.2 ms.
    assert out["read_latency_ms"]["p50"] >= 0.2 * (1 - 1 / 128)


def test_cache_hit_rate_is_null_without_a_cache(capsys):
    assert main(["run", "--json", "--set", "run.duration=0.5s", "--set", "run.warmup=0.1s",
                 "--set", "cache.enabled=false"]) == 0
    assert json.loads(capsys.readouterr().out)["cache_hit_rate"] is None
