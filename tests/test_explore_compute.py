"""The explore page's computation without the web part: settings, closed forms, one rerun,
the newest-request-only runner."""

from __future__ import annotations

import math
import threading

import pytest

import sim
from sim.analysis import analytic
from sim.explore import theory
from sim.explore.compute import Cancelled, CancelToken, evaluate, trace_window
from sim.explore.presets import PRESETS
from sim.explore.runner import LatestRunner
from sim.explore.settings import DELAY_KINDS, TARGET_REL_CI, Settings, delay_string


def test_default_settings_are_repsims_defaults_but_the_run_length():
    run_keys = {"run.duration", "run.warmup", "run.target_rel_ci", "run.max_duration"}
    page = {k: v for k, v in Settings.default().config().flat().items() if k not in run_keys}
    default = {k: v for k, v in sim.Config.default().flat().items() if k not in run_keys}
    assert page == default


@pytest.mark.parametrize("kind", DELAY_KINDS)
def test_every_delay_kind_has_the_mean_of_the_slider(kind):
    config = Settings.default().replace(delay_kind=kind, delay_ms=7.0).config()
    assert config.replication.delay.kind == kind
    assert config.replication.delay.mean == pytest.approx(7e-3, rel=1e-5)
    assert delay_string(kind, 7.0) == Settings.default().replace(
        delay_kind=kind, delay_ms=7.0).delay


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_a_valid_experiment_that_round_trips(name):
    settings = PRESETS[name].settings()
    config = settings.config()
    assert Settings.from_config(config, failover_ms=settings.failover_ms,
                                crash_at_s=settings.crash_at_s) == settings


def test_run_length_follows_the_precision_within_a_budget_that_covers_a_crash():
    base = Settings.default()
    busy = base.replace(read_rate=200_000.0, write_rate=50_000.0)
    assert busy.run_seconds()[1] < base.run_seconds()[1]
    config = base.config()
    assert config.run.target_rel_ci == TARGET_REL_CI
    assert (config.run.duration, config.run.max_duration) == base.run_seconds()
    crash = busy.replace(crash=True, crash_at_s=2.0, failover_ms=1000.0)
    assert crash.run_seconds()[0] > crash.crash_at_s + crash.failover_ms / 1e3


def test_stale_closed_form_is_one_minus_exp_per_key_for_uniform_keys():
    settings = PRESETS["A replica read right after a write"].settings()
    config = settings.config()
    form = theory.stale_rate_fn(config)
    assert form.applies
    lam = 2000.0 / settings.keys
    d, offset = settings.delay_ms / 1e3, config.network.client_latency.mean
    assert form.fn(2000.0) == pytest.approx(-math.expm1(-lam * (d - offset)))
    # Half the reads at the master (policy "any" with one replica) halve it.
    any_policy = settings.replace(read_policy="any", replicas=1).config()
    assert theory.stale_rate_fn(any_policy).fn(2000.0) == pytest.approx(form.fn(2000.0) / 2)


@pytest.mark.parametrize("changes, reason", [
    ({"cache": True}, "cache"),
    ({"read_policy": "read-your-writes"}, "read-your-writes"),
    ({"delay_kind": "pareto"}, "pareto"),
    ({"crash": True}, "crash"),
    ({"mode": "closed"}, "open-mode"),
])
def test_stale_closed_form_says_why_it_does_not_apply(changes, reason):
    settings = PRESETS["A replica read right after a write"].settings().replace(**changes)
    form = theory.stale_rate_fn(settings.config())
    assert not form.applies and reason in form.why_not


def test_hit_rate_and_lost_writes_closed_forms():
    config = Settings.default().config()
    assert theory.hit_rate(config).value == pytest.approx(analytic.ttl_hit_ratio_zipf(
        9000.0, 1000, 0.99, 1.0))
    assert not theory.hit_rate(Settings.default().replace(on_write="update").config()).applies
    crash = PRESETS["The crash that loses acknowledged writes"].settings()
    lost = theory.lost_writes(crash.config())
    assert lost.value == pytest.approx(1000.0 * (0.020 - 250e-6))
    assert theory.lost_writes(crash.replace(wait_replicas=1).config()).value == 0.0


def test_a_rerun_shows_simulation_beside_theory():
    settings = PRESETS["A replica read right after a write"].settings()
    outcome = evaluate(settings)
    assert not outcome.error
    assert outcome.summary["reads"] > 0 and outcome.summary["stale_read_rate"] > 0
    assert outcome.theory["stale_value"].value > 0
    assert set(outcome.images) == {"stale", "tvis", "trace"}
    assert all(image.startswith(b"\x89PNG") for image in outcome.images.values())
    assert "reads" in outcome.trace_note


def test_a_rerun_of_bad_settings_is_one_line_naming_the_key():
    outcome = evaluate(Settings.default().replace(replicas=1, wait_replicas=2))
    assert "replication.wait_replicas" in outcome.error and "\n" not in outcome.error
    assert not outcome.summary and not outcome.images


def test_a_cancelled_rerun_stops():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        evaluate(Settings.default(), token)


def test_the_trace_window_shows_the_crash():
    config = PRESETS["The crash that loses acknowledged writes"].settings().config()
    t0, t1 = trace_window(config)
    assert t0 < config.faults.master_crash_at[0] < t1 <= config.run.duration


def test_runner_delivers_only_the_newest_request_and_cancels_the_older_run():
    release = threading.Event()
    started: list[int] = []
    tokens: list[CancelToken] = []
    delivered: list[int] = []
    failures: list[BaseException] = []

    def work(request, token):
        started.append(request)
        tokens.append(token)
        while not release.wait(0.01):
            token.check()
        return request

    runner = LatestRunner(work, delivered.append, failures.append)
    runner.submit(1)
    while not started:  # request 1 is running
        release.wait(0.01)
    runner.submit(2)
    runner.submit(3)  # replaces 2 before it starts
    release.set()
    assert runner.wait(10)
    runner.close()
    assert delivered == [3] and not failures
    assert started == [1, 3] and tokens[0].cancelled and not tokens[1].cancelled
    assert runner.superseded == 2


def test_runner_reports_a_failure_of_the_newest_request():
    failures: list[BaseException] = []

    def work(request, token):
        raise ValueError(request)

    runner = LatestRunner(work, lambda result: None, failures.append)
    runner.submit("boom")
    assert runner.wait(10)
    runner.close()
    assert [str(f) for f in failures] == ["boom"]


def test_explore_without_panel_is_one_line(monkeypatch, capsys):
    import importlib.util

    from sim.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "panel" else real(name, *args))
    assert main(["explore", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "repsim: error: explore needs Panel: pip install 'repsim[explore]' (make demo installs it)"]


def test_a_zero_delay_draws_its_closed_forms():
    outcome = evaluate(Settings.default().replace(delay_kind="exp", delay_ms=0.0, cache=False))
    assert not outcome.error and outcome.summary["stale_read_rate"] == 0.0
    assert outcome.theory["tvis"].applies and "tvis" in outcome.images


def test_a_window_too_busy_to_trace_is_halved_until_it_fits(monkeypatch):
    from sim.explore import compute

    settings = Settings.default()
    whole_run = (0.0, 3.0)
    config = settings.config().with_overrides({"run.duration": whole_run[1],
                                               "run.target_rel_ci": 0.0})
    with pytest.raises(sim.ConfigError):
        sim.trace(config, keys=[0], window=whole_run)
    monkeypatch.setattr(compute, "trace_window", lambda config: whole_run)
    outcome = evaluate(settings, draw=False)
    assert not outcome.error and outcome.trace_note.startswith("key 0, 0 to ")
