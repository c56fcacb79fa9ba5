"""``repsim sweep``, ``repsim plot`` and ``repsim demo`` (sim.cli.sweep)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from sim.cli import sweep as sweep_cli
from sim.errors import ConfigError
from sim.experiment.store import read_results

SHORT = ["--set", "run.duration=0.3", "--set", "run.warmup=0.1",
         "--set", "workload.read_rate=2000", "--set", "workload.write_rate=200"]


def run(argv: list[str]) -> int:
    """Parse ``argv`` with the sweep subcommands alone and run the handler."""
    parser = argparse.ArgumentParser(prog="repsim")
    subparsers = parser.add_subparsers(dest="command", required=True)
    sweep_cli.register(subparsers)
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "x"
    code = run(["sweep", *SHORT, "--vary", "workload.write_rate=log:10:1000:3",
                "--vary", "replication.delay=1ms,5ms", "--reps", "2", "--out", str(out),
                "--executor", "serial", "--quiet"])
    assert code == 0
    return out


def test_sweep_writes_rows_meta_and_a_default_plot(swept):
    df = read_results(swept)
    assert len(df) == 12
    assert sorted(df["workload.write_rate"].unique()) == [10.0, 100.0, 1000.0]
    assert list(df["replication.delay"].unique()) == ["1ms", "5ms"]
    meta = json.loads((swept / "meta.json").read_text())
    assert meta["base_config"]["run"]["duration"] == 0.3
    stem = "stale_read_rate_vs_workload.write_rate_by_replication.delay"
    assert (swept / f"{stem}.png").stat().st_size > 0
    assert (swept / f"{stem}.svg").stat().st_size > 0


def test_sweep_prints_where_results_are_and_is_quiet_on_stderr(tmp_path, capsys):
    out = tmp_path / "y"
    assert run(["sweep", *SHORT, "--vary", "replication.replicas=1,2", "--out", str(out),
                "--executor", "serial", "--quiet", "--no-plot"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"results: {out / 'results.csv'}" in captured.out
    assert "2 runs (2 points x 1 repetition), 0 failed" in captured.out
    assert not list(out.glob("*.png"))


def test_rerun_resumes_and_a_changed_base_is_refused(swept, capsys):
    before = (swept / "results.csv").read_bytes()
    assert run(["sweep", *SHORT, "--vary", "workload.write_rate=log:10:1000:3",
                "--vary", "replication.delay=1ms,5ms", "--reps", "2", "--out", str(swept),
                "--executor", "serial", "--no-plot"]) == 0
    assert (swept / "results.csv").read_bytes() == before
    assert "sweep: 12/12" not in capsys.readouterr().err  # nothing left to run
    with pytest.raises(ConfigError, match="run.seed"):
        run(["sweep", *SHORT, "--set", "run.seed=7", "--vary",
             "workload.write_rate=log:10:1000:3", "--vary", "replication.delay=1ms,5ms",
             "--reps", "2", "--out", str(swept), "--executor", "serial"])


def test_default_out_depends_on_the_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["sweep", *SHORT, "--vary", "replication.replicas=1,2", "--executor", "serial",
            "--quiet", "--no-plot"]
    assert run(argv) == 0
    assert run([*argv, "--reps", "2"]) == 0
    dirs = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert len(dirs) == 2 and all(d.startswith("sweep-") for d in dirs)


@pytest.mark.parametrize("vary, match", [
    ("workload.write_rate", "--vary"),
    ("workload.write_rate=", "--vary"),
    ("nosuch.key=1,2", "nosuch"),
    ("workload.write_rate=log:0:10:3", "workload.write_rate"),
    ("workload.write_rate=-1,5", "workload.write_rate"),
    ("workload.write_rate=10,10,100", "10 and 10 are the same value"),
    ("replication.delay=1ms,0.001s", "'1ms' and '0.001s' are the same value"),
    ("workload.write_rate=[]", "at least one value"),
    ("workload.write_rate=lin:1:1000:1000000000", "a COUNT of at most 100,000"),
    ("workload.keys=1," + "9" * 5000, "(5,002 characters)"),
])
def test_bad_vary_is_one_clear_error(tmp_path, vary, match):
    with pytest.raises(ConfigError, match=match) as err:
        run(["sweep", "--vary", vary, "--out", str(tmp_path / "z"), "--executor", "serial"])
    assert "\n" not in str(err.value)
    assert not (tmp_path / "z").exists()


def test_zip_from_the_command_line(tmp_path):
    out = tmp_path / "zip"
    assert run(["sweep", *SHORT, "--vary", "workload.write_rate=10,100",
                "--vary", "replication.delay=1ms,5ms", "--zip",
                "workload.write_rate,replication.delay", "--out", str(out),
                "--executor", "serial", "--quiet", "--no-plot"]) == 0
    df = read_results(out)
    assert list(zip(df["workload.write_rate"], df["replication.delay"], strict=True)) == \
        [(10.0, "1ms"), (100.0, "5ms")]


def test_failed_runs_give_exit_status_1(tmp_path, monkeypatch, capsys):
    def broken(config):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr("sim.experiment.task.engine_run", broken)
    assert run(["sweep", *SHORT, "--vary", "replication.replicas=1,2", "--out",
                str(tmp_path / "f"), "--executor", "serial", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "2 runs failed" in err and "RuntimeError: engine exploded" in err


def test_plot_writes_png_and_svg_into_the_directory(swept, capsys):
    assert run(["plot", str(swept), "--x", "workload.write_rate", "--y", "read_latency_ms.p99",
                "--hue", "replication.delay"]) == 0
    stem = "read_latency_ms.p99_vs_workload.write_rate_by_replication.delay"
    out = capsys.readouterr().out
    for suffix in ("png", "svg"):
        assert (swept / f"{stem}.{suffix}").stat().st_size > 0
        assert f"{stem}.{suffix}" in out


def test_plot_kinds_and_single_file_output(swept, tmp_path):
    target = tmp_path / "fig.svg"
    assert run(["plot", str(swept), "--x", "workload.write_rate", "--out", str(target)]) == 0
    assert target.read_bytes().lstrip().startswith(b"<?xml")
    assert run(["plot", str(swept), "--kind", "heatmap", "--x", "workload.write_rate",
                "--hue", "replication.delay", "--format", "png"]) == 0
    assert list(swept.glob("heatmap_*.png")) and not list(swept.glob("heatmap_*.svg"))
    assert run(["plot", str(swept), "--kind", "tradeoff", "--format", "png"]) == 0
    assert list(swept.glob("tradeoff_*.png"))


def test_plot_of_a_run_summary_is_the_t_visibility_curve(tmp_path):
    summary = {"t_visibility": [{"t_ms": t, "p_fresh": min(1.0, t / 4), "n": 100}
                                for t in (0.5, 1.0, 2.0, 4.0, 8.0)]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(summary))
    assert run(["plot", str(path), "--kind", "tvis", "--format", "png"]) == 0
    assert (tmp_path / "run_t_visibility.png").stat().st_size > 0


@pytest.mark.parametrize("argv, match", [
    (["--y", "nosuch_metric"], "--y = 'nosuch_metric': a column of results.csv"),
    (["--x", "workload.nokey"], "--x"),
    (["--y", "replication.delay"], "numeric"),
    (["--kind", "heatmap"], "--hue"),
    (["--hue", "workload.write_rate"], "--hue"),
])
def test_bad_plot_options_are_one_clear_error(swept, argv, match):
    with pytest.raises(ConfigError, match=match):
        run(["plot", str(swept), *argv])


def test_plot_of_a_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="a sweep directory"):
        run(["plot", str(tmp_path / "nothing")])


def test_demo_writes_its_results_and_plots(tmp_path, monkeypatch, capsys):
    # The real demo takes a minute; the same code on a tiny grid checks its wiring.
    monkeypatch.setattr(sweep_cli, "DEMO_RUN", {"run.duration": 0.3, "run.warmup": 0.1})
    monkeypatch.setattr(sweep_cli, "DEMO_GRID", {"workload.write_rate": "log:10:1000:2",
                                                 "replication.delay": "1ms,5ms",
                                                 "cache.enabled": "true,false"})
    monkeypatch.setattr(sweep_cli, "DEMO_TRADEOFF_GRID", {
        "replication.read_policy": "master,replicas", "cache.enabled": "false,true",
        "cache.ttl": "1s,100ms"})
    monkeypatch.setattr(sweep_cli, "DEMO_PIPELINE_GRID", {"pipeline.batch_size": "1,4"})
    monkeypatch.setattr(sweep_cli, "DEMO_LOAD_GRID", {"workload.read_rate": "1000,3000",
                                                      "replication.read_policy": "master"})
    monkeypatch.setattr(sweep_cli, "DEMO_PIPELINE_BASE", {
        **sweep_cli.DEMO_PIPELINE_BASE, "run.duration": 0.1, "run.warmup": 0.02})
    monkeypatch.setattr(sweep_cli, "DEMO_REPS", 2)
    # Left-overs of an older demo are replaced, not resumed (this one would be refused).
    (tmp_path / "demo" / "pipeline").mkdir(parents=True)
    (tmp_path / "demo" / "pipeline" / "results.csv").write_text("stale\n")
    assert sweep_cli.demo(out=tmp_path / "demo", executor="serial", quiet=True) == 0
    out = capsys.readouterr().out
    for name in ("stale_read_rate_vs_write_rate", "read_p99_vs_write_rate",
                 "read_p99_vs_read_rate", "latency_vs_batch_size", "latency_staleness_tradeoff",
                 "latency_staleness_tradeoff_mean"):
        for fmt in ("png", "svg", "pdf"):
            assert (tmp_path / "demo" / f"{name}.{fmt}").exists()
        assert f"{name}.png" in out
    assert len(pd.read_csv(tmp_path / "demo" / "load" / "results.csv")) == 4
    assert "* master" in out or "* replicas" in out  # the design table marks the front
    assert len(pd.read_csv(tmp_path / "demo" / "staleness" / "results.csv")) == 16
    assert len(pd.read_csv(tmp_path / "demo" / "tradeoff" / "results.csv")) == 8
    assert len(pd.read_csv(tmp_path / "demo" / "pipeline" / "results.csv")) == 4
    assert "results:" in out


def test_wired_into_the_repsim_command(tmp_path, capsys):
    from sim.cli import app as cli

    commands = cli.build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    assert {"sweep", "plot", "demo"} <= set(commands)
    code = cli.main(["sweep", "--vary", "nosuch.key=1", "--out", str(tmp_path / "w")])
    assert code == 2
    assert "nosuch" in capsys.readouterr().err


def test_the_summary_table_shows_varied_numbers_as_given():
    df = pd.DataFrame({"workload.write_rate": [10.0, 31.6228, 10000.0], "stale_read_rate": 0.5,
                       "error": ""})
    df["cache_hit_rate"] = np.nan  # no cache anywhere: no column of NaN in the table
    lines = sweep_cli._point_table(df, ["workload.write_rate"]).splitlines()
    assert "cache_hit_rate" not in lines[0]
    assert [row.split()[0] for row in lines[2:]] == ["10", "31.6228", "10000"]


@pytest.mark.parametrize("frame, base_mode, metric", [
    ({"visibility.p_consistent_at_commit": [0.5, 0.9]}, "quorum",
     "visibility.p_consistent_at_commit"),
    ({"visibility.p_consistent_at_commit": [0.5, 0.9]}, "leader", "stale_read_rate"),
    ({"visibility.p_consistent_at_commit": [None, None]}, "quorum", "stale_read_rate"),
    ({}, "quorum", "stale_read_rate"),  # no probes: nothing else to show
    ({"replication.mode": ["quorum", "quorum"], "visibility.p_consistent_at_commit": [0.5, 1]},
     "leader", "visibility.p_consistent_at_commit"),
    ({"replication.mode": ["leader", "quorum"], "visibility.p_consistent_at_commit": [0.5, 1]},
     "quorum", "stale_read_rate"),
])
def test_the_default_metric_follows_the_mode(frame, base_mode, metric):
    df = pd.DataFrame({"stale_read_rate": [0.0, 0.0], **frame})
    assert sweep_cli.default_metric(df, base_mode) == metric


def test_a_quorum_sweep_plots_consistency_at_commit_by_default(tmp_path, capsys):
    from sim.cli import app as cli

    out = tmp_path / "q"
    argv = ["sweep", "--set", "replication.mode=quorum", "--set", "replication.replicas=3",
            "--set", "metrics.visibility_probes=true", "--set", "run.duration=0.3",
            "--set", "run.warmup=0.1", "--set", "cache.enabled=false",
            "--vary", "quorum.write=1,3", "--executor", "serial", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    name = "visibility.p_consistent_at_commit_vs_quorum.write"
    assert (out / f"{name}.png").exists() and not list(out.glob("stale_read_rate*"))
    capsys.readouterr()
    assert cli.main(["plot", str(out), "--format", "png"]) == 0
    assert f"{name}.png" in capsys.readouterr().out
