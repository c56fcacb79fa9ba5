"""Runs that cannot progress in simulated time stop instead of hanging: refused by the
configuration where the rate of round trips is known, and stopped while running otherwise."""

from __future__ import annotations

import dataclasses

import pytest

from sim import engine
from sim.cli import app as cli
from sim.config.distributions import Constant
from sim.config.schema import MAX_RATE, Config
from sim.errors import ConfigError, StalledError

INSTANT = {"workload.mode": "closed", "network.client_latency": 0, "server.service_time": 0,
           "server.batch_overhead": 0, "cache.enabled": False, "run.duration": 1,
           "run.warmup": 0.5}


@pytest.mark.parametrize("extra", [
    {"workload.think_time": "1e-300s"},
    {"workload.think_time": "exp:1e-12s", "workload.clients": 8},
    {"workload.think_time": "1ns", "workload.clients": 100_000},
    {"workload.think_time": "1e-300s", "cache.enabled": True, "cache.latency": "1e-300s",
     "network.client_latency": "1ms"},
    {"workload.think_time": "1e-300s", "replication.mode": "quorum",
     "replication.replicas": 3, "quorum.read_delay": 0, "quorum.response_delay": 0},
])
def test_a_closed_loop_faster_than_the_rate_bound_is_refused(extra):
    with pytest.raises(ConfigError, match="round trips per simulated second") as info:
        Config.default().with_overrides({**INSTANT, **extra})
    assert info.value.key == "workload.think_time" and "\n" not in str(info.value)


def test_a_closed_loop_just_inside_the_bound_is_accepted():
    clients = 1000
    trip = clients / MAX_RATE * 1.01  # seconds: just under MAX_RATE round trips per second
    config = Config.default().with_overrides(
        {**INSTANT, "workload.clients": clients, "workload.think_time": f"{trip!r}s"})
    assert config.workload.think_time.mean == pytest.approx(trip)


def _unchecked(**workload):
    """A configuration that skips validation, as a notebook building dataclasses might."""
    base = Config.default().with_overrides({**INSTANT, "workload.think_time": "1ms"})
    return dataclasses.replace(base, workload=dataclasses.replace(base.workload, **workload))


def test_a_run_whose_time_stands_still_stops_naming_the_cause(monkeypatch):
    monkeypatch.setattr(engine, "EVENTS_PER_CHECK", 4096)
    config = _unchecked(think_time=Constant(1e-300))
    with pytest.raises(StalledError) as info:
        engine.simulate(config)
    text = str(info.value)
    assert "cannot progress in simulated time" in text and "workload.think_time" in text
    assert info.value.events == 4096 and info.value.span_s < 4096 / engine.MAX_EVENTS_PER_S


def test_the_guard_leaves_an_ordinary_run_alone_and_changes_nothing(monkeypatch):
    config = Config.default().with_overrides({"run.duration": 0.3, "run.warmup": 0.1})
    first = engine.simulate(config).summary
    monkeypatch.setattr(engine, "EVENTS_PER_CHECK", 100)  # many chunks, same run
    second = engine.simulate(config).summary
    for key in ("reads", "writes", "stale_reads", "sim_events", "read_latency_ms"):
        assert first[key] == second[key]
    assert first["sim_events"] > 10 * 100


def test_a_stalled_run_is_one_line_from_the_command_line(monkeypatch, capsys):
    monkeypatch.setattr(engine, "EVENTS_PER_CHECK", 4096)
    monkeypatch.setattr(cli.Config, "load", lambda *a, **k: _unchecked(think_time=Constant(0.0)))
    assert cli.main(["run", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "cannot progress" in err
