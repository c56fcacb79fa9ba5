"""The command line: bad input gives one line and exit 2; good input prints the summary.

The engine is replaced by a fake here, so these tests check the command line alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types

import pytest

from sim.cli import app as cli
from sim.config.schema import Config


def fake_summary(config: Config) -> dict:
    """A summary with every key of docs/design.md section 5, plus a non-finite value."""
    stats = {"mean": 0.5, "p50": 0.4, "p95": 0.9, "p99": 1.2, "p999": 2.0, "max": 3.0}
    return {
        "reads": 900, "writes": 100, "stale_reads": 45, "stale_read_rate": 0.05,
        "stale_read_rate_ci95": [0.04, 0.06], "staleness_versions_mean": 1.1,
        "staleness_age_ms": {"mean": 0.8, "p99": 4.0}, "cache_hit_rate": None,
        "ryw_violations": 3, "monotonic_violations": 0,
        "read_latency_ms": stats, "write_latency_ms": stats, "throughput_ops_s": 1000.0,
        "replication_lag_ms": {"mean": 1.0, "p99": 5.0, "max": float("inf")},
        "t_visibility": [{"t_ms": 1.0, "p_fresh": 0.9, "n": 10}],
        "sim_events": 12345, "wall_seconds": 0.01, "config": config.to_dict(),
    }


@pytest.fixture
def engine(monkeypatch):
    """Replace sim.engine with a fake that records the configs it was given."""
    calls: list[Config] = []

    def simulate(config, progress=None):
        calls.append(config)
        return types.SimpleNamespace(summary=fake_summary(config))

    monkeypatch.setitem(sys.modules, "sim.engine", types.SimpleNamespace(simulate=simulate))
    return calls


def run_bad(argv, capsys, engine):
    """Run main with bad input; check the contract for errors and return the message."""
    status = cli.main(argv)
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("repsim: error: ")
    assert "Traceback" not in err
    assert engine == []  # stopped before simulating
    return err


def toml_file(tmp_path, text, name="exp.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# (arguments, fragments the one-line message must contain: key, value, what is allowed)
BAD_SETS = [
    (["--set", "nosuch.key=1"], ["section", "'nosuch'", "allowed sections"]),
    (["--set", "run.sed=1"], ["run.sed", "= 1", "duration, warmup, seed"]),
    (["--set", "workload.clients=many"], ["workload.clients", "'many'", "an integer"]),
    (["--set", "cache.enabled=yes"], ["cache.enabled", "'yes'", "true or false"]),
    (["--set", "workload.write_rate=-5"], ["workload.write_rate", "-5", ">= 0"]),
    (["--set", "workload.read_rate=0", "--set", "workload.write_rate=0"],
     ["workload.read_rate", "0", "open mode needs"]),
    (["--set", "run.duration=5parsecs"], ["run.duration", "'5parsecs'", "a duration"]),
    (["--set", "replication.delay=exp:soon"], ["replication.delay", "'exp:soon'", "exp:MEAN"]),
    (["--set", "replication.delay=uniform:1ms"], ["replication.delay", "uniform:LOW,HIGH"]),
    (["--set", "network.client_latency=gauss:1ms"],
     ["network.client_latency", "'gauss:1ms'", "unknown distribution kind"]),
    (["--set", "replication.read_policy=nearest"],
     ["replication.read_policy", "'nearest'", "'read-your-writes'"]),
    (["--set", "replication.replicas=0"], ["replication.read_policy", "'replicas'", "replicas >= 1"]),
    (["--set", "replication.wait_replicas=3"], ["replication.wait_replicas", "3", "at most"]),
    (["--set", "run.warmup=30s"], ["run.warmup", "'30s'", "less than run.duration"]),
    (["--set", "run.seed"], ["override", "'run.seed'", "SECTION.KEY=VALUE"]),
    (["--set", "seed=2"], ["override", "'seed=2'", "SECTION.KEY=VALUE"]),
    (["--set", "workload.read_fraction=2"], ["workload.read_fraction", "between 0 and 1"]),
    (["--set", "faults.crash=true"], ["faults.crash", "unknown key"]),
    # Hostile magnitudes (issue: overload named instead of simulated into the ground).
    (["--set", "workload.write_rate=1e300"], ["workload.write_rate", "1e+300", "<= 1e9"]),
    (["--set", "workload.write_rate=1e6"], ["workload.write_rate", "overloads the master",
                                            "utilisation", "would be 15"]),
    (["--set", "workload.write_rate=1e6", "--set", "cache.enabled=false"],
     ["overloads the master"]),
    (["--set", "workload.keys=1000000000"], ["workload.keys", "<= 10,000,000"]),
    (["--set", "workload.keys=" + "9" * 5000], ["workload.keys", "(5,002 characters)"]),
    (["--set", "workload.mode=" + "x" * 100_000], ["workload.mode", "(100,002 characters)"]),
    (["--set", "server.service_time=pareto:scale=1ms,alpha=0.5"],
     ["server.service_time", "finite mean"]),
    (["--set", "network.client_latency=empirical:/dev/zero"],
     ["network.client_latency", "larger than 16 MiB"]),
]


@pytest.mark.parametrize(("args", "fragments"), BAD_SETS)
def test_bad_overrides(args, fragments, capsys, engine):
    err = run_bad(["run", *args], capsys, engine)
    for fragment in fragments:
        assert fragment in err


def test_missing_config_file(tmp_path, capsys, engine):
    err = run_bad(["run", str(tmp_path / "absent.toml")], capsys, engine)
    assert "config file" in err and "absent.toml" in err and "cannot read" in err


def test_invalid_toml(tmp_path, capsys, engine):
    path = toml_file(tmp_path, "[run]\nseed = = 1\n")
    err = run_bad(["run", path], capsys, engine)
    assert "config file" in err and path in err and "invalid TOML" in err


def test_unknown_section_in_file(tmp_path, capsys, engine):
    err = run_bad(["run", toml_file(tmp_path, "[replica]\nreplicas = 1\n")], capsys, engine)
    assert "'replica'" in err and "allowed sections" in err


def test_wrong_type_in_file(tmp_path, capsys, engine):
    err = run_bad(["run", toml_file(tmp_path, '[workload]\nclients = "8"\n')], capsys, engine)
    assert "workload.clients = '8'" in err and "an integer" in err


def test_empirical_file_without_samples(tmp_path, capsys, engine):
    (tmp_path / "lat.txt").write_text("# nothing measured yet\n\n")
    path = toml_file(tmp_path, '[network]\nclient_latency = "empirical:lat.txt"\n')
    err = run_bad(["run", path], capsys, engine)
    assert "network.client_latency" in err and "'empirical:lat.txt'" in err and "no samples" in err


def test_override_applies_on_top_of_a_bad_file_value(tmp_path, capsys, engine):
    # the file is fine; the override breaks it and is the one named
    path = toml_file(tmp_path, "[replication]\nreplicas = 1\n")
    err = run_bad(["run", path, "--set", "replication.wait_replicas=2"], capsys, engine)
    assert "replication.wait_replicas = 2" in err and "at most replication.replicas (1)" in err


@pytest.mark.parametrize("argv", [[], ["nosuch"], ["run", "--nosuch"], ["run", "a.toml", "b.toml"]])
def test_usage_errors_exit_2(argv, capsys, engine):
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage:" not in err and err.count("\n") == 1
    assert engine == []


def test_help_exits_0(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "run" in out and "demo" in out


def test_run_json(tmp_path, capsys, engine):
    path = toml_file(tmp_path, '[replication]\ndelay = "exp:3ms"\n')
    assert cli.main(["run", path, "--set", "run.seed=5", "--set", "run.duration=5s", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    summary = json.loads(out)  # strict JSON: the fake's infinity became null
    assert summary["replication_lag_ms"]["max"] is None
    assert summary["stale_read_rate_ci95"] == [0.04, 0.06]
    assert summary["config"]["replication"]["delay"] == "exp:3ms"
    (config,) = engine
    assert config.run.seed == 5 and config.run.duration == 5.0
    assert config.replication.delay.mean == 0.003


def test_run_table(capsys, engine):
    assert cli.main(["run"]) == 0
    out = capsys.readouterr().out
    assert engine == [Config.default()]
    for heading in ("Workload", "Staleness", "Cache", "Session guarantees", "Latency (ms)",
                    "Replication lag (ms)"):
        assert heading in out
    assert "5.00 %" in out  # the stale-read rate as a percentage
    hit_rate_line = next(line for line in out.splitlines() if "hit rate" in line)
    assert hit_rate_line.split()[-1] == "-"  # None is shown as "-"


def test_demo_is_the_sweep_main_job():
    from sim.cli import sweep as sweep_cli

    args = cli.build_parser().parse_args(["demo"])
    assert args.handler is sweep_cli.cmd_demo


def test_python_dash_m_is_the_same_program():
    # A real process: no traceback for bad input, exit status 2, nothing on stdout.
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--set", "workload.clients=0"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "repsim: error: workload.clients = 0: an integer >= 1 and <= 100,000\n"


def test_output_piped_into_a_closed_reader_ends_quietly(monkeypatch, tmp_path):
    # `repsim sweep ... | head`: the reader goes away and the next write raises.
    def closed_pipe(args):
        raise BrokenPipeError

    monkeypatch.setattr(cli.sys, "stdout", open(tmp_path / "out", "w"))  # noqa: SIM115
    parser = cli.build_parser()
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(handler=closed_pipe))
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["run"]) == 141
