"""Quorum mode: validation, the quorum rules, invariants and what probes must not change."""

from __future__ import annotations

import csv
import json

import pytest
from helpers import assert_agrees, config

from sim import ConfigError, simulate
from sim.cli.app import main
from sim.config.distributions import Constant, Exponential
from sim.measure.visibility import crossing

QUORUM = {"replication.mode": "quorum", "replication.replicas": 3, "run.duration": 3.0,
          "run.warmup": 0.5}


def quorum(**overrides) -> dict:
    return {**QUORUM, **{key.replace("__", "."): value for key, value in overrides.items()}}


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "key", "hint"), [
    ({"quorum.read": 4}, "quorum.read", "between 1 and replication.replicas (3)"),
    ({"quorum.write": 5}, "quorum.write", "between 1 and replication.replicas (3)"),
    ({"quorum.read": 0}, "quorum.read", "an integer >= 1"),
    ({"replication.replicas": 0, "quorum.read": 1, "quorum.write": 1,
      "replication.read_policy": "master"}, "replication.replicas", "at least 1 peer"),
    ({"replication.wait_replicas": 1}, "replication.wait_replicas", "must be 0 in quorum"),
    ({"faults.master_crash_at": [1.0]}, "replication.mode", "faults are not modelled"),
    ({"quorum.write_delay": "exp:"}, "quorum.write_delay", "'network' for"),
    ({"replication.mode": "leaderless"}, "replication.mode", "'leader', 'quorum'"),
])
def test_bad_quorum_settings_are_one_line_errors(overrides, key, hint):
    with pytest.raises(ConfigError) as info:
        config({**QUORUM, **overrides})
    message = str(info.value)
    assert message.startswith(key + " = ") and hint in message and "\n" not in message


def test_probes_with_faults_are_refused():
    with pytest.raises(ConfigError, match="metrics.visibility_probes = True: probes are not"):
        config({"metrics.visibility_probes": True, "faults.master_crash_at": [1.0]})


def test_delays_default_to_the_network_latency():
    cfg = config({**QUORUM, "network.client_latency": "exp:1ms", "quorum.ack_delay": "2ms"})
    net = cfg.network.client_latency
    assert cfg.quorum.delay("write", net) == Exponential(1e-3)
    assert cfg.quorum.delay("ack", net) == Constant(2e-3)
    assert cfg.to_dict()["quorum"]["write_delay"] == "network"
    assert type(cfg).from_dict(cfg.to_dict()) == cfg


def test_cli_refuses_faults_in_quorum_mode(capsys):
    code = main(["run", "--set", "replication.mode=quorum", "--set",
                 "faults.master_crash_at=[1]"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "replication.mode" in err


# -- the quorum rules ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "r", "w"), [(3, 2, 2), (3, 1, 3), (3, 3, 1), (5, 3, 3)])
@pytest.mark.parametrize("repair", [False, True])
def test_strict_quorums_are_never_stale(n, r, w, repair):
    """R + W > N, FIFO links, no faults, no cache: every read quorum meets every committed
    write's quorum, so no read (and no probe) is stale, whatever the delays."""
    result = simulate(config(quorum(
        replication__replicas=n, quorum__read=r, quorum__write=w, quorum__read_repair=repair,
        cache__enabled=False, quorum__write_delay="exp:2ms", quorum__read_delay="exp:1ms",
        quorum__ack_delay="mix:0.9*exp:100us+0.1*exp:5ms", workload__keys=20,
        metrics__visibility_probes=True, metrics__visibility_share=0.2)))
    assert result["reads"] > 1000
    assert result["stale_reads"] == 0
    assert result["k_staleness"]["k1"] == 1.0
    assert result["visibility"]["p_consistent_at_commit"] == 1.0


def test_partial_quorums_are_sometimes_stale_and_read_repair_helps():
    base = quorum(quorum__read=1, quorum__write=1, cache__enabled=False,
                  quorum__write_delay="exp:5ms", workload__keys=50, run__duration=6.0)
    plain = simulate(config(base))
    repaired = simulate(config({**base, "quorum.read_repair": True}))
    assert plain["stale_reads"] > 100
    assert repaired["stale_read_rate_ci95"][1] < plain["stale_read_rate_ci95"][0]


def test_write_latency_waits_for_the_w_th_ack():
    """With constant delays and no service time a write takes exactly one round trip, a
    read likewise; W and R change nothing then."""
    zero = {"server.service_time": "0s", "server.batch_overhead": "0s",
            "quorum.write_delay": "1ms", "quorum.ack_delay": "2ms",
            "quorum.read_delay": "3ms", "quorum.response_delay": "4ms",
            "cache.enabled": False, "workload.read_rate": 300, "workload.write_rate": 100}
    for w in (1, 3):
        result = simulate(config({**QUORUM, **zero, "quorum.write": w, "quorum.read": w}))
        assert result["write_latency_ms"]["max"] == pytest.approx(3.0)
        assert result["read_latency_ms"]["max"] == pytest.approx(7.0)


@pytest.mark.parametrize(("w", "order_statistic_ms"), [(1, 2 / 3), (2, 2 / 3 + 1),
                                                       (3, 2 / 3 + 1 + 2)])
def test_the_w_th_ack_decides_write_latency(w, order_statistic_ms):
    """Exponential write delays (mean 2 ms), constant 0.25 ms acks, no service time: a write
    takes the W-th smallest of 3 exponentials plus the ack (E = 2 (1/3 + ... ) ms)."""
    result = simulate(config(quorum(
        quorum__write=w, quorum__write_delay="exp:2ms", cache__enabled=False,
        server__service_time="0s", server__batch_overhead="0s", workload__write_rate=100,
        workload__read_rate=10, run__duration=20.0, run__warmup=1.0)))
    # A FIFO link holds a message behind an earlier slower one: at 12.5 writes/s per link
    # and 2 ms delays that adds well under 1%, the floor.
    expected = 0.25 + order_statistic_ms
    assert_agrees(result["write_latency_ms"]["mean"], result["write_latency_mean_ci95_ms"],
                  expected, floor=0.01 * expected)


@pytest.mark.parametrize("extra", [
    {"workload.mode": "closed", "pipeline.batch_size": 4, "workload.think_time": "1ms"},
    {"pipeline.batch_size": 8, "pipeline.linger": "200us"},
    {"cache.on_write": "invalidate", "cache.invalidation_delay": "1ms"},
    {"cache.on_write": "update"},
    {"workload.key_distribution": "uniform", "quorum.read_repair": True},
])
def test_pipelining_cache_and_closed_loops_work_in_quorum_mode(extra):
    result = simulate(config({**QUORUM, **extra}))
    assert result["reads"] > 0 and result["writes"] > 0
    # The summary's measures agree: a read older than one read before is older than V(k, i).
    assert result["stale_reads"] <= result["reads"]
    assert result["k_staleness"]["k1"] == pytest.approx(1 - result["stale_read_rate"])
    assert result["monotonic_violations"] <= result["stale_reads"]
    assert result["replication_lag_ms"] == {"mean": None, "p99": None, "max": None}


def test_quorum_runs_are_deterministic():
    cfg = config(quorum(metrics__visibility_probes=True, quorum__write_delay="exp:1ms"))
    a, b = simulate(cfg).summary, simulate(cfg).summary
    for summary in (a, b):
        summary.pop("wall_seconds")
    assert a == b


@pytest.mark.parametrize("mode", ["leader", "quorum"])
def test_probes_change_nothing_that_ordinary_commands_see(mode):
    base = {**QUORUM, "replication.mode": mode, "quorum.write_delay": "exp:1ms",
            "pipeline.batch_size": 4, "pipeline.linger": "100us",
            "replication.read_policy": "read-your-writes" if mode == "leader" else "replicas"}
    plain = simulate(config(base)).summary
    probed = simulate(config({**base, "metrics.visibility_probes": True,
                              "metrics.visibility_share": 0.5})).summary
    assert "visibility" not in plain and probed["visibility"]["probes"] > 1000
    for summary in (plain, probed):
        for key in ("wall_seconds", "sim_events", "config", "visibility"):
            summary.pop(key, None)
    assert plain == probed


# -- k-staleness and the visibility summary --------------------------------------------------


def test_k_staleness_is_monotone_and_matches_the_stale_rate():
    result = simulate(config(quorum(quorum__write_delay="exp:20ms", workload__keys=5,
                                    cache__enabled=False)))
    ks = result["k_staleness"]
    assert list(ks) == ["k1", "k2", "k3", "k4", "k5"]
    values = list(ks.values())
    assert values == sorted(values) and values[-1] <= 1.0
    assert ks["k1"] == pytest.approx(1 - result["stale_read_rate"])
    assert ks["k1"] < ks["k2"]  # several writes of a key are in flight at once


def test_crossing_interpolates_between_grid_points():
    ts = [0.0, 1.0, 2.0, 3.0]
    assert crossing(ts, [0.5, 0.9, 0.995, 1.0], 0.99) == pytest.approx(1 + 0.09 / 0.095)
    assert crossing(ts, [0.999, 1.0, 1.0, 1.0], 0.99) == 0.0
    assert crossing(ts, [0.5, None, 0.98, 0.985], 0.99) is None
    assert crossing(ts, [0.5, None, 1.0, 1.0], 0.99) == pytest.approx(2 * 0.49 / 0.5)


def test_run_prints_a_visibility_object(capsys):
    code = main(["run", "--json", "--set", "replication.mode=quorum", "--set",
                 "replication.replicas=3", "--set", "quorum.read=1", "--set", "quorum.write=1",
                 "--set", "metrics.visibility_probes=true", "--set", "run.duration=2s",
                 "--set", "run.warmup=0.5s", "--set",
                 "quorum.write_delay=mix:0.9122*pareto:scale=0.235ms,alpha=10"
                 "+0.0878*exp:0.6024ms"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    vis = out["visibility"]
    assert {"p_consistent_at_commit", "p_consistent_at_commit_ci95", "t_99_ms", "t_99_ms_ci95",
            "t_999_ms", "t_999_ms_ci95", "curve"} <= set(vis)
    assert 0.0 < vis["p_consistent_at_commit"] < 1.0
    ps = [row["p_consistent"] for row in vis["curve"]]
    assert ps[-1] == pytest.approx(1.0, abs=0.01)


def test_sweep_varies_the_read_quorum(tmp_path):
    out = tmp_path / "sweep"
    code = main(["sweep", "--vary", "quorum.read=1,2,3", "--set", "replication.mode=quorum",
                 "--set", "replication.replicas=3", "--set", "run.duration=1s", "--set",
                 "run.warmup=0.2s", "--set", "cache.enabled=false", "--set",
                 "quorum.write_delay=exp:2ms", "--out", str(out)])
    assert code == 0

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [row["quorum.read"] for row in rows] == ["1", "2", "3"]
    stale = [float(row["stale_read_rate"]) for row in rows]
    assert stale[0] > stale[2] == 0.0
    assert "k_staleness.k1" in rows[0]


def test_trace_view_refuses_quorum_mode(capsys, tmp_path):
    code = main(["trace", "--set", "replication.mode=quorum", "--key", "0", "--from", "1s",
                 "--to", "1.01s", "--out", str(tmp_path / "t.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith("the trace view draws leader mode only (not yet quorum mode)")
    assert not (tmp_path / "t.png").exists()


@pytest.mark.parametrize(("w", "expected_ms"), [(1, 2.0), (2, 22.0), (3, 22.0)])
def test_remote_peers_add_their_delay_both_ways(w, expected_ms):
    """Three datacenters, a client in its home peer's: W = 1 is answered locally, W >= 2
    needs a remote peer (10 ms more each way)."""
    result = simulate(config({
        **QUORUM, "quorum.write": w, "quorum.write_delay": "1ms", "quorum.ack_delay": "1ms",
        "quorum.remote_delay": "10ms", "server.service_time": "0s",
        "server.batch_overhead": "0s", "cache.enabled": False}))
    assert result["write_latency_ms"]["max"] == pytest.approx(expected_ms)
    assert result["write_latency_ms"]["p50"] == pytest.approx(expected_ms, rel=0.01)


def test_text_summary_shows_visibility_and_k_staleness():
    from sim.analysis.report import format_summary
    with_probes = simulate(config(quorum(metrics__visibility_probes=True,
                                         quorum__write_delay="exp:1ms"))).summary
    text = format_summary(with_probes)
    assert "Visibility (probe reads)" in text and "k-staleness" in text
    assert "t at 99.9% consistent (ms)" in text
    no_writes = simulate(config(quorum(metrics__visibility_probes=True,
                                       workload__write_rate=0))).summary
    lines = format_summary(no_writes).splitlines()
    assert [line.split()[-1] for line in lines if line.strip().startswith("t at")] == ["-", "-"]
    assert "Visibility" not in format_summary(simulate(config(quorum())).summary)


def test_a_closed_loop_with_instant_quorum_trips_is_refused():
    instant = {**QUORUM, "workload.mode": "closed", "network.client_latency": "0s",
               "server.service_time": "0s", "server.batch_overhead": "0s",
               "cache.enabled": False}
    with pytest.raises(ConfigError, match="workload.think_time"):
        config(instant)
    with pytest.raises(ConfigError, match="workload.think_time"):
        config({**instant, "quorum.read_delay": "1us"})  # a batch of writes only is instant
    both = config({**instant, "quorum.read_delay": "1us", "quorum.ack_delay": "1us"})
    assert both.quorum.read_delay == Constant(1e-6)


def test_events_per_operation_are_bounded():
    """A guard on the quorum path that does not time anything: one event to reach the
    coordinator, one per peer out and one per peer back (2N + 1), plus the arrival
    processes' own events."""
    s = simulate(config(quorum(cache__enabled=False, run__duration=2.0,
                               run__warmup=0.01))).summary
    ops = s["reads"] + s["writes"]  # issued after the (short) warm-up
    assert s["sim_events"] / ops < 2 * 3 + 2.5
