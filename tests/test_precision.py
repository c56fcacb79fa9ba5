"""Precision-driven runs (run.target_rel_ci): batch doubling, stopping rules, coverage."""

from __future__ import annotations

import math

import pytest

from sim import simulate
from sim.analysis import analytic
from sim.measure.metrics import RatioBatchMeans
from tests.helpers import ZERO, config


def test_doubling_merges_adjacent_batches_in_place_and_extends_the_window():
    rb = RatioBatchMeans(0.0, 4.0, n_batches=4)
    num, den = rb.num, rb.den
    for t in (0.5, 1.5, 1.6, 2.5, 3.5):
        rb.add(t, 1.0)
    rb.double()
    assert rb.num is num and rb.den is den  # hot-path aliases stay valid
    assert (rb.t1, den) == (8.0, [3.0, 2.0, 0.0, 0.0])
    rb.add(6.0, 1.0)  # lands in the third batch of the doubled window [4, 6) ... [6, 8)
    assert den == [3.0, 2.0, 0.0, 1.0]


def test_a_reachable_target_stops_the_run_early_and_deterministically():
    cfg = config({"cache.enabled": False, "run.duration": 1.0, "run.warmup": 0.2,
                  "run.target_rel_ci": 0.1, "run.max_duration": 64.0})
    a, b = simulate(cfg).summary, simulate(cfg).summary
    p = a["precision"]
    assert p["stopped_by"] == "precision"
    assert 1.0 <= p["simulated_duration_s"] < 64.0
    assert p["stale_read_rate_rel_ci"] <= 0.1 and p["read_latency_mean_rel_ci"] <= 0.1
    lo, hi = a["stale_read_rate_ci95"]
    assert (hi - lo) / 2 <= 0.1 * a["stale_read_rate"] * (1 + 1e-9)
    drop = ("wall_seconds",)
    assert {k: v for k, v in a.items() if k not in drop} == {
        k: v for k, v in b.items() if k not in drop}


def test_an_unreachable_target_stops_at_the_cap():
    cfg = config({"cache.enabled": False, "run.duration": 0.5, "run.warmup": 0.1,
                  "run.target_rel_ci": 1e-6, "run.max_duration": 2.0})
    s = simulate(cfg).summary
    assert s["precision"]["stopped_by"] == "max_duration"
    assert s["precision"]["simulated_duration_s"] == 2.0
    # Throughput is measured over the window actually simulated.
    assert s["throughput_ops_s"] == pytest.approx(10000, rel=0.05)


def test_without_a_target_the_summary_is_unchanged():
    s = simulate(config({"run.duration": 0.5, "run.warmup": 0.1})).summary
    assert "precision" not in s


@pytest.mark.heavy
def test_the_interval_reached_covers_the_closed_form_at_the_promised_rate():
    """Constant delay d, Poisson writes at lambda per key: 1 - exp(-lambda d). Over many
    seeds, the 95% interval at the stop covers the closed form in about 95% of runs; the
    check fails only if the misses are beyond what Binomial(n, 0.05) gives with p < 0.001."""
    seeds = 40
    write_rate, keys, delay = 100.0, 4, 0.02
    theory = analytic.stale_read_rate_constant_delay(write_rate / keys, delay)
    misses = 0
    for seed in range(seeds):
        cfg = config({**ZERO, "cache.enabled": False, "replication.delay": f"{delay}s",
                      "workload.keys": keys, "workload.key_distribution": "uniform",
                      "workload.write_rate": write_rate, "workload.read_rate": 1000.0,
                      "run.duration": 2.0, "run.warmup": 0.5, "run.seed": seed,
                      "run.target_rel_ci": 0.05, "run.max_duration": 64.0})
        s = simulate(cfg).summary
        assert s["precision"]["stopped_by"] == "precision"
        lo, hi = s["stale_read_rate_ci95"]
        misses += not lo <= theory <= hi
    # P(Binomial(40, 0.05) >= 8) < 0.001.
    tail = sum(math.comb(seeds, k) * 0.05**k * 0.95 ** (seeds - k) for k in range(8, seeds + 1))
    assert tail < 0.001
    assert misses < 8, f"{misses} of {seeds} intervals missed {theory:.4f}"


def test_progress_hears_simulated_time_rising_to_the_end():
    seen = []
    simulate(config({"run.duration": 0.5, "run.warmup": 0.1}),
             progress=lambda now, horizon: seen.append((now, horizon)))
    times = [now for now, _ in seen]
    assert len(seen) >= 50 and times == sorted(times)
    assert times[-1] == 0.5 and {h for _, h in seen} == {0.5}


def test_repsim_run_shows_progress_on_a_terminal_only(monkeypatch, capsys):
    from sim.cli import app

    argv = ["run", "--set", "run.duration=0.3s", "--set", "run.warmup=0.1s"]
    monkeypatch.setattr(app.sys.stderr, "isatty", lambda: True)
    assert app.main(argv) == 0
    assert "s simulated" in capsys.readouterr().err
    assert app.main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_the_text_report_says_which_stop_applied():
    from sim.analysis.report import format_summary

    cfg = config({"cache.enabled": False, "run.duration": 0.5, "run.warmup": 0.1,
                  "run.target_rel_ci": 1e-6, "run.max_duration": 1.0})
    text = format_summary(simulate(cfg).summary)
    assert "Precision" in text and "max duration" in text
