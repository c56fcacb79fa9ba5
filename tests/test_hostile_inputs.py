"""Input a hostile or careless user gives: one test per class of defect, each refused in one
line or handled correctly (resumes that meet edited files, grids that are too large or
repeat themselves, overload, files from elsewhere, a full disk, runs with nothing to show)."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import sys
import types

import pandas as pd
import pytest

from sim.cli import app as cli
from sim.config.load import utilisation
from sim.config.schema import Config
from sim.errors import ConfigError
from sim.experiment import store
from sim.experiment.store import QUARANTINE_NAME, REASON_COLUMN
from sim.experiment.sweep import load_sweep, plan_sweep, sweep

BASE = {"run.duration": 0.3, "run.warmup": 0.1}
VARY = {"workload.write_rate": [10, 100, 1000], "replication.delay": ["1ms", "5ms"]}
CALLS: list[tuple[float, int]] = []


def fake_run(config):
    """A deterministic stand-in for the engine: the same config gives the same row."""
    rate, seed = config.get("workload.write_rate"), config.get("run.seed")
    CALLS.append((rate, seed))
    return {"reads": 100, "stale_read_rate": rate / 1000 + seed % 7 / 100,
            "cache_hit_rate": None if rate == 10 else 0.5, "latency_ms": {"p99": 1.5},
            "wall_seconds": 0.0}


def run_sweep(out, **kwargs):
    CALLS.clear()
    return sweep(Config.default().with_overrides(BASE), VARY, reps=2, out=out,
                 executor="serial", run_fn=fake_run, progress=False, **kwargs)


def edit(path, change):
    rows = list(csv.reader(io.StringIO(path.read_text())))
    rows = change(rows[0], rows) or rows
    path.write_text("".join(f"{','.join(r)}\n" for r in rows))


def _set(row_index, column, value):
    def change(header, rows):
        rows[row_index][header.index(column)] = value
    return change


def _drop(column):
    def change(header, rows):
        i = header.index(column)
        return [r[:i] + r[i + 1:] for r in rows]
    return change


def _append(make):
    def change(header, rows):
        rows.append(make(header, list(rows[3])))
    return change


def _with(column, value):
    def make(header, row):
        row[header.index(column)] = value
        return row
    return make


# (edit of results.csv, rows set aside, runs computed again, words of the reason)
EDITS = {
    "metric column deleted": (_drop("stale_read_rate"), 12, 12, "missing a metric column"),
    "row appended twice": (_append(lambda h, r: r), 1, 0, "duplicate"),
    "row of point 99": (_append(lambda h, r: _with("point", "99")(h, r)), 1, 0,
                        "not in the grid"),
    "varied value changed": (_set(2, "workload.write_rate", "100"), 1, 1,
                             "differing from the plan"),
    "seed changed": (_set(2, "seed", "7"), 1, 1, "differing from the plan"),
    "metric set to abc": (_set(4, "stale_read_rate", "abc"), 1, 1,
                          "with a metric of the wrong type"),
    "metric emptied": (_set(4, "reads", ""), 1, 1, "with an empty metric"),
    "disagreeing copy": (_append(lambda h, r: _with("reads", "5")(h, r)), 2, 1,
                         "disagreeing copies"),
    "line of another width": (lambda h, rows: rows.append(["1", "2", "3"]), 1, 0,
                              "of the wrong width"),
    "rep not a number": (_set(3, "rep", "x"), 1, 1, "not in the grid"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_a_resume_keeps_only_rows_that_match_the_plan(tmp_path, capsys, name):
    change, aside, recomputed, reason = EDITS[name]
    reference = tmp_path / "reference"
    run_sweep(reference)
    out = tmp_path / "edited"
    run_sweep(out)
    edit(out / "results.csv", change)
    capsys.readouterr()
    df = run_sweep(out)
    err = capsys.readouterr().err
    # The file is exactly what an untouched sweep wrote, and so is what the sweep returns.
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
    pd.testing.assert_frame_equal(df, load_sweep(reference))
    assert len(CALLS) == recomputed
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("repsim sweep: ")
    assert f"{aside} row" in lines[0] and reason in lines[0] and QUARANTINE_NAME in lines[0]
    # Nothing is deleted: what was set aside is in the quarantine file, with the reason.
    kept = pd.read_csv(out / QUARANTINE_NAME, dtype=str)
    assert len(kept) == aside and kept[REASON_COLUMN].str.startswith(reason).all()
    # A second resume finds nothing to set aside and computes nothing.
    run_sweep(out)
    assert CALLS == [] and capsys.readouterr().err == ""
    assert len(pd.read_csv(out / QUARANTINE_NAME)) == aside


def test_plot_refuses_an_edited_directory_until_a_resume_sets_rows_aside(tmp_path, capsys):
    out = tmp_path / "s"
    run_sweep(out)
    edit(out / "results.csv", _append(lambda h, r: _with("point", "99")(h, r)))
    assert cli.main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 not in the grid (point 99 rep 0)" in err
    assert not list(out.glob("*.png"))
    run_sweep(out)
    assert cli.main(["plot", str(out), "--y", "stale_read_rate"]) == 0


# -- grids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vary, words", [
    ({"workload.write_rate": "10,10,100"}, "(10 and 10 are the same value)"),
    ({"replication.delay": "1ms,0.001s"}, "('1ms' and '0.001s' are the same value)"),
    ({"replication.delay": ["exp:1ms", "exp:0.001s"]}, "are the same value"),
    ({"workload.write_rate": "[]"}, "at least one value"),
    ({"workload.write_rate": []}, "at least one value"),
    ({"workload.write_rate": "lin:1:1000:1000", "workload.read_rate": "lin:1:1000:1000",
      "replication.delay": "lin:1ms:2ms:1000"}, "1,000,000,000 runs"),
    ({"workload.write_rate": "lin:1:10:1000000000"}, "a COUNT of at most 100,000"),
])
def test_grids_that_repeat_are_empty_or_too_large_are_refused(tmp_path, vary, words):
    with pytest.raises(ConfigError) as caught:
        sweep(None, vary, out=tmp_path / "s", executor="serial", run_fn=fake_run,
              progress=False)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "s").exists()


def test_zipped_keys_may_repeat_a_value_but_not_a_pair():
    plan = plan_sweep(None, {"cache.enabled": [False, True, True], "cache.ttl": [1, 1, 2]},
                      zip=["cache.enabled", "cache.ttl"])
    assert len(plan.points) == 3
    with pytest.raises(ConfigError, match=r"\(True, 1\) and \(True, 1\)"):
        plan_sweep(None, {"cache.enabled": [False, True, True], "cache.ttl": [1, 1, 1]},
                   zip=["cache.enabled", "cache.ttl"])


def test_the_run_limit_can_be_raised_and_large_grids_report_progress(capsys):
    vary = {"workload.write_rate": "lin:1:100:100", "replication.delay": "lin:1ms:2ms:60"}
    with pytest.raises(ConfigError, match="sweep.max_runs = 5000: exceeded by this sweep's "
                                          "6,000 runs"):
        plan_sweep(None, vary, max_runs=5000)
    plan = plan_sweep(None, vary, max_runs=6000, progress=True)
    assert len(plan.tasks) == 6000
    err = capsys.readouterr().err
    assert "checking points: 6000 points to do" in err and "6000/6000 points done" in err


def test_ctrl_c_while_planning_names_no_directory(tmp_path, capsys, monkeypatch):
    from sim.cli import sweep as sweep_cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_cli, "plan_sweep", interrupted)
    out = tmp_path / "never"
    status = cli.main(["sweep", "--vary", "workload.write_rate=10,100", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 130 and str(out) not in err and "nothing was run or written" in err
    assert not out.exists()


# -- overload --------------------------------------------------------------------------------


def config(**flat):
    return Config.default().with_overrides({"workload.mode": "closed", **flat})


def test_utilisation_per_node_follows_the_read_policy():
    # 1000 writes/s and 9000 reads/s, 10 us per command + 5 us per message, apply 5 us.
    base = {"cache.enabled": False}
    write = 1000 * 15e-6
    apply = 1000 * 5e-6
    reads = 9000 * 15e-6
    u = utilisation(config(**base, **{"replication.read_policy": "master"}))
    assert u == pytest.approx({"master": write + reads, "replica0": apply, "replica1": apply})
    u = utilisation(config(**base))  # replicas
    assert u["replica0"] == pytest.approx(apply + reads / 2) and u["master"] == pytest.approx(write)
    u = utilisation(config(**base, **{"replication.read_policy": "any"}))
    assert u["master"] == pytest.approx(write + reads / 3)
    u = utilisation(config(**base, **{"replication.read_policy": "sticky",
                                      "replication.replicas": 3, "workload.clients": 4}))
    assert u["replica0"] == pytest.approx(apply + reads / 2)  # clients 0 and 3
    assert u["replica1"] == pytest.approx(apply + reads / 4)
    # A full batch of 8 shares one message overhead (with a linger, in open mode).
    u = utilisation(config(**base, **{"pipeline.batch_size": 8, "pipeline.linger": "1ms"}))
    assert u["master"] == pytest.approx(1000 * (10e-6 + 5e-6 / 8))


def test_the_cache_bound_is_never_above_a_simulated_miss_rate():
    """The least possible misses (one per TTL per key) bound what the model measures."""
    from sim.engine import simulate

    flat = {"workload.mode": "open", "workload.keys": 50, "workload.read_rate": 5000.0,
            "cache.ttl": "20ms", "run.duration": 2.0, "run.warmup": 0.2}
    cfg = Config.default().with_overrides(flat)
    summary = simulate(cfg).summary
    server_reads = (1 - summary["cache_hit_rate"]) * 5000.0
    no_cache = utilisation(cfg.with_overrides({"cache.enabled": False}))["replica0"]
    bound = utilisation(cfg)["replica0"]
    apply = 1000 * 5e-6
    measured = apply + server_reads * 15e-6 / 2
    assert apply < bound <= measured < no_cache


@pytest.mark.parametrize("flat, node", [
    ({"workload.write_rate": 1e6}, "the master"),
    ({"workload.write_rate": 1e6, "cache.enabled": False}, "the master"),
    ({"workload.read_rate": 1e6, "cache.enabled": False}, "replica0"),
    ({"workload.read_rate": 2e5, "cache.enabled": False,
      "replication.read_policy": "read-your-writes"}, "the master"),
])
def test_an_overloaded_open_loop_is_refused_naming_the_busiest_node(flat, node):
    with pytest.raises(ConfigError) as caught:
        Config.default().with_overrides(flat)
    text = str(caught.value)
    assert f"overloads {node}: its utilisation" in text and "\n" not in text
    busiest = float(text.split("would be ")[1].split(",")[0])
    assert busiest >= 1
    # Closed mode cannot overload: the same numbers are accepted there.
    Config.default().with_overrides({**flat, "workload.mode": "closed"})


def test_just_below_saturation_is_accepted():
    cfg = Config.default().with_overrides({"cache.enabled": False,
                                           "workload.write_rate": 60000.0,
                                           "workload.read_rate": 0.0})
    assert max(utilisation(cfg).values()) == pytest.approx(0.9)


def test_numbers_too_long_to_read_are_one_line_in_a_file_and_on_the_command_line(
        tmp_path, capsys):
    digits = "9" * 5000
    path = tmp_path / "long.toml"
    path.write_text(f"[workload]\nkeys = {digits}\n")
    for argv in (["run", str(path)], ["run", "--set", f"workload.keys={digits}"]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and len(err) < 400 and "Traceback" not in err
    assert "(5,002 characters)" in err  # the echoed value is cut, its length said


# -- files from elsewhere ---------------------------------------------------------------------


@pytest.mark.parametrize("make, words", [
    (lambda p: "/dev/zero", "is larger than 16 MiB"),
    (lambda p: (p.write_bytes(b"\x00\x01\x02ELF" * 100), p)[1], "is not UTF-8 text"),
    (lambda p: (p.write_bytes(b"0.001\n\xff\xfe\n"), p)[1], "is not UTF-8 text"),
    (lambda p: (os.truncate(p.write_text("") or p, 17 * 2**20), p)[1], "larger than 16 MiB"),
])
def test_empirical_files_are_read_boundedly(tmp_path, make, words):
    target = make(tmp_path / "samples.txt")
    with pytest.raises(ConfigError) as caught:
        Config.default().with_overrides({"network.client_latency": f"empirical:{target}"})
    assert words in str(caught.value) and "\n" not in str(caught.value)


def _sweep_dir(tmp_path, results: bytes | None):
    path = tmp_path / "d"
    path.mkdir()
    if results is not None:
        (path / "results.csv").write_bytes(results)
    return path


@pytest.mark.parametrize("results, words", [
    (b"a,b,c\n1,2,3\n", "it has no point column; its columns are a, b, c"),
    (b"", "it is empty"),
    (b"point,rep,seed,error\n", "holds only its header"),
    (bytes(range(256)) * 8, "it is binary"),
])
def test_plot_refuses_results_it_cannot_plot(tmp_path, capsys, results, words):
    path = _sweep_dir(tmp_path, results)
    assert cli.main(["plot", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert sorted(p.name for p in path.iterdir()) == ["results.csv"]  # no plot written


@pytest.mark.parametrize("content, words", [
    (bytes(range(256)) * 8, "JSON from `repsim run --json`"),
    (b"[1, 2]", "a run summary with a t_visibility curve"),
])
def test_plot_refuses_a_run_summary_it_cannot_read(tmp_path, capsys, content, words):
    path = tmp_path / "run.json"
    path.write_bytes(content)
    assert cli.main(["plot", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_plot_of_a_sweep_whose_every_run_failed_says_so(tmp_path, capsys):
    def broken(config):
        raise RuntimeError("engine exploded")

    out = tmp_path / "s"
    sweep(None, {"workload.write_rate": [10, 100]}, out=out, executor="serial",
          run_fn=broken, progress=False)
    assert cli.main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "every one of its 2 runs failed" in err and "engine exploded" in err
    assert "varied none" not in err and not list(out.glob("*.png"))


# -- a full disk --------------------------------------------------------------------------------


def test_a_full_disk_is_one_line_and_leaves_no_partial_row(tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    run_sweep(reference)
    real_write = os.write
    appended = []

    def full_after_three(fd, data):
        if appended and len(appended) >= 3:
            real_write(fd, data[: len(data) // 2])  # part of the line goes in
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        appended.append(data)
        return real_write(fd, data)

    out = tmp_path / "s"
    monkeypatch.setattr(store.os, "write", full_after_three)
    with pytest.raises(ConfigError) as caught:
        run_sweep(out)
    text = str(caught.value)
    assert "No space left on device" in text and "free some space" in text
    assert "\n" not in text and caught.value.__cause__ is None
    data = (out / "results.csv").read_bytes()
    assert data.endswith(b"\n") and len(data.splitlines()) == 1 + 3  # header and whole rows
    monkeypatch.setattr(store.os, "write", real_write)  # space freed
    run_sweep(out)
    assert len(CALLS) == 12 - 3
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()


def test_a_full_disk_in_the_command_line_is_one_line(tmp_path, monkeypatch, capsys):
    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setitem(sys.modules, "sim.engine", types.SimpleNamespace(
        simulate=lambda c: types.SimpleNamespace(summary={"reads": 1, "writes": 1})))
    monkeypatch.setattr(store.os, "write", no_space)
    status = cli.main(["sweep", "--vary", "workload.write_rate=10,100", "--executor", "serial",
                       "--quiet", "--no-plot", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "No space left on device" in err


# -- silent or misleading ---------------------------------------------------------------------


def test_an_infinite_mean_server_time_is_refused():
    for key in ("server.service_time", "server.batch_overhead", "server.replica_apply_time"):
        with pytest.raises(ConfigError, match="finite mean"):
            Config.default().with_overrides({key: "pareto:scale=1us,alpha=0.5"})
    # Where only the samples matter (a network delay), a heavy tail stays allowed.
    Config.default().with_overrides({"network.client_latency": "pareto:scale=1us,alpha=0.9"})


def test_a_run_that_completes_no_operation_says_so(monkeypatch, capsys):
    from tests.test_cli import fake_summary

    def simulate(cfg):
        summary = fake_summary(cfg)
        summary.update(reads=0, writes=0, stale_reads=0, stale_read_rate=None)
        return types.SimpleNamespace(summary=summary)

    monkeypatch.setitem(sys.modules, "sim.engine", types.SimpleNamespace(simulate=simulate))
    assert cli.main(["run", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["reads"] == 0
    assert err.startswith("repsim run: no operation completed") and err.count("\n") == 1
    monkeypatch.setitem(sys.modules, "sim.engine", types.SimpleNamespace(
        simulate=lambda cfg: types.SimpleNamespace(summary=fake_summary(cfg))))
    assert cli.main(["run", "--json"]) == 0
    assert capsys.readouterr().err == ""


def test_long_values_are_echoed_cut():
    error = ConfigError("workload.mode", "x" * 100_000, "one of 'open', 'closed'")
    assert len(str(error)) < 200 and "(100,002 characters)" in str(error)
