"""The trace view: what sim.experiment.trace records, its bounds, the diagram and `repsim trace`."""

from __future__ import annotations

import argparse

import matplotlib
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

import sim
import sim.experiment.trace as trace_module
from sim import Config, ConfigError
from sim.cli.trace import register
from sim.experiment.trace import StaleWindow, _stale_intervals, estimate_events, trace
from sim.plot.trace import STALE

matplotlib.use("Agg")

# One hot key, slow links: a handful of every kind of event in a 40 ms window.
SMALL = {
    "workload.keys": 1, "workload.read_rate": 300, "workload.write_rate": 60,
    "workload.clients": 2, "network.client_latency": "1ms", "cache.latency": "500us",
    "replication.delay": "exp:4ms", "cache.ttl": "6ms", "run.duration": 2.0, "run.warmup": 0.5,
}
WINDOW = (1.0, 1.04)


def small(**overrides) -> Config:
    return Config.default().with_overrides({**SMALL, **overrides})


@pytest.fixture(scope="module")
def recorded():
    return trace(small(), keys=[0], window=WINDOW)


def test_records_only_the_chosen_keys_inside_the_window():
    config = small(**{"workload.keys": 5, "workload.key_distribution": "uniform",
                      "workload.read_rate": 1500, "workload.write_rate": 300})
    got = trace(config, keys=[1, 3], window=WINDOW)
    assert {e.key for e in got.events} == {1, 3}
    t0, t1 = WINDOW
    for e in got.events:
        inside = t0 <= e.time_s <= t1 or (e.kind == "apply" and e["arrived"] <= t1)
        assert inside, e
    assert [e.time_s for e in got.events] == sorted(e.time_s for e in got.events)


def test_events_are_those_of_the_full_run():
    """Stopping the run at t1 changes nothing before t1: same events as a full-length run."""
    config = small()
    full = []

    def hook(kind, time_s, **fields):
        if fields["key"] == 0 and WINDOW[0] <= time_s <= WINDOW[1]:
            full.append((kind, time_s, fields["node"]))

    sim.simulate(config, trace=hook)
    got = trace(config, keys=[0], window=WINDOW)
    mine = [(e.kind, e.time_s, e.node) for e in got.events if e.time_s <= WINDOW[1]]
    assert sorted(mine) == sorted(full)
    assert len(mine) > 20


def test_every_kind_of_event_shows_up(recorded):
    kinds = {e.kind for e in recorded.events}
    assert {"issue", "commit", "apply", "read", "written", "fill"} <= kinds
    assert recorded.nodes[-3:] == ["master", "replica0", "replica1"]
    assert "cache" in recorded.nodes and recorded.nodes[0].startswith("client")


def test_a_stale_read_is_served_inside_a_stale_window_of_its_server(recorded):
    stale = recorded.stale_reads()
    assert stale, "the small config should produce stale reads in 40 ms"
    windows = recorded.stale_windows()
    for read in stale:
        assert read["version"] < read["newest"]
        server = read["server"]
        # The server handled the read between its issue and its receipt, while behind.
        assert any(w.node == server and w.start_s <= read.time_s and w.end_s >= read["issued"]
                   for w in windows), read


def test_replica_stale_windows_run_from_a_commit_to_an_apply():
    config = small(**{"replication.delay": "3ms", "server.replica_apply_time": "0s",
                      "cache.enabled": False})
    got = trace(config, keys=[0], window=WINDOW)
    commits = {e.time_s for e in got.of("commit")}
    applies = {(e.node, e.time_s) for e in got.of("apply")}
    windows = [w for w in got.stale_windows() if w.node.startswith("replica")]
    assert windows
    for w in windows:
        assert w.start_s in commits or w.start_s == WINDOW[0]
        assert (w.node, w.end_s) in applies or w.end_s == WINDOW[1]
        # A constant delay: each version reaches the replica 3 ms after its commit.
        clipped = w.start_s == WINDOW[0] or w.end_s == WINDOW[1]
        assert w.end_s - w.start_s >= 3e-3 - 1e-12 or clipped


def test_stale_intervals_of_step_functions():
    master = [(0.0, 1), (1.0, 2), (3.0, 3)]
    held = [(0.0, 1), (2.0, 2), (3.5, 3)]
    assert _stale_intervals("r", 0, master, held, 10.0) == [
        StaleWindow("r", 0, 1.0, 2.0), StaleWindow("r", 0, 3.0, 3.5)]
    # A cache holding nothing is never stale; an entry older than the master is.
    assert _stale_intervals("cache", 0, master, [(0.0, None), (1.5, 1), (2.5, None)], 10.0) == [
        StaleWindow("cache", 0, 1.5, 2.5)]


def test_cache_entries_end_at_their_expiry(recorded):
    ttl = recorded.config.cache.ttl
    steps = recorded.cache_holdings(0)
    for (start, version), (end, _) in zip(steps, steps[1:], strict=False):
        if version is not None and start > WINDOW[0]:
            assert end - start <= ttl + 1e-12


def test_refuses_a_window_expected_to_hold_too_many_events():
    with pytest.raises(ConfigError) as error:
        trace(Config.default(), keys=[0], window=(0.0, 10.0))
    assert error.value.key == "window"
    text = str(error.value)
    assert "limit of 5000" in text and "ms for these keys" in text


def test_estimate_is_close_to_what_is_recorded():
    config = small(**{"workload.read_rate": 3000, "workload.write_rate": 300})
    window = (0.5, 0.9)
    expected = estimate_events(config, [0], window)
    got = trace(config, keys=[0], window=window)
    assert 0.7 * expected <= len(got) <= 1.3 * expected


def test_recording_stops_at_the_bound(monkeypatch):
    monkeypatch.setattr(trace_module, "estimate_events", lambda *args: 0.0)
    got = trace(small(), keys=[0], window=WINDOW, max_events=25)
    assert got.truncated and len(got) == 25


@pytest.mark.parametrize("kwargs, key, allowed", [
    ({"keys": [1]}, "keys", "0..0"),
    ({"keys": []}, "keys", "at least one key"),
    ({"window": (0.5, 0.2)}, "window", "t0 < t1"),
    ({"window": (0.0, 5.0)}, "window", "run.duration"),
    ({"window": "soon"}, "window", "two times"),
    ({"max_events": 0}, "max_events", "integer >= 1"),
])
def test_bad_requests_name_the_argument(kwargs, key, allowed):
    with pytest.raises(ConfigError) as error:
        trace(small(), **{"keys": [0], "window": WINDOW, **kwargs})
    assert error.value.key == key and allowed in str(error.value)


def test_sim_trace_is_callable_as_a_function():
    assert isinstance(sim.trace(small(), keys=0, window=WINDOW), trace_module.Trace)


def test_plot_draws_one_line_per_node_and_stale_reads_in_red(recorded):
    fig = recorded.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == recorded.nodes
    red = [p for p in ax.patches if isinstance(p, FancyArrowPatch)
           and matplotlib.colors.same_color(p.get_edgecolor(), STALE)]
    assert len(red) == 2 * len(recorded.stale_reads())  # out to the server and back
    assert ax.get_legend() is not None
    assert f"{len(recorded.stale_reads())} stale" in ax.get_title(loc="left")


def test_stale_reads_are_dashed_and_edge_labels_stay_inside(recorded):
    fig = recorded.plot(labels=True)
    ax = fig.axes[0]
    stale = [p for p in ax.patches if isinstance(p, FancyArrowPatch)
             and matplotlib.colors.same_color(p.get_edgecolor(), STALE)]
    assert stale and all(p.get_linestyle() != "-" for p in stale)  # not colour alone
    t0, t1 = (t * 1e3 for t in recorded.window)
    gap = (t1 - t0) / 30
    for text in ax.texts:
        x = text.get_position()[0]
        if x - t0 < gap:
            assert text.get_horizontalalignment() == "left", text.get_text()
        elif t1 - x < gap:
            assert text.get_horizontalalignment() == "right", text.get_text()


def test_plot_of_several_keys_labels_them():
    config = small(**{"workload.keys": 2, "workload.key_distribution": "uniform"})
    fig = trace(config, keys=[0, 1], window=WINDOW).plot(labels=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("k0 ") for t in texts) and any(t.startswith("k1 ") for t in texts)


# -- repsim trace ------------------------------------------------------------------------


def run_cli(argv):
    parser = argparse.ArgumentParser(prog="repsim")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def cli_settings():
    return [arg for key, value in SMALL.items() for arg in ("--set", f"{key}={value}")]


def test_cli_writes_the_picture(tmp_path, capsys):
    out = tmp_path / "sub" / "trace.png"
    status = run_cli(["trace", *cli_settings(), "--key", "0", "--from", "1s", "--to", "1040ms",
                      "--out", str(out)])
    assert status == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    line = capsys.readouterr().out
    assert "events" in line and "stale" in line


@pytest.mark.parametrize("argv, needle", [
    (["--key", "3", "--from", "1s", "--to", "1.04s"], "--key = 3"),
    (["--key", "0", "--from", "1s", "--to", "9s"], "--from/--to"),
    (["--key", "0", "--from", "soon", "--to", "1s"], "--from = 'soon'"),
    (["--key", "0", "--from", "0s", "--to", "1.9s", "--max-events", "10"], "limit of 10"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, argv, needle):
    status = run_cli(["trace", *cli_settings(), *argv, "--out", str(tmp_path / "t.png")])
    err = capsys.readouterr().err
    assert status == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "t.png").exists()


def test_cli_refuses_an_unknown_image_format(tmp_path, capsys):
    status = run_cli(["trace", "--key", "0", "--from", "0s", "--to", "1ms",
                      "--out", str(tmp_path / "t.txt")])
    assert status == 2 and "--out" in capsys.readouterr().err
