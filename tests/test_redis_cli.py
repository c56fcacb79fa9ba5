"""The calibrate and validate subcommands: argument errors without a server, and a run."""

from __future__ import annotations

import argparse
import json

import pytest

from sim.cli.redis import parse_address, register
from tests.redis_servers import free_port, master_and_replica, requires_redis


def run_cli(argv: list[str]) -> int:
    """Parse and run like ``repsim`` does; the exit status (argparse errors give 2)."""
    parser = argparse.ArgumentParser(prog="repsim")
    register(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code)
    return args.handler(args)


def test_parse_address():
    assert parse_address("127.0.0.1:6379") == ("127.0.0.1", 6379)
    assert parse_address("[::1]:7000") == ("::1", 7000)
    for bad in ("6379", "host:", ":80", "host:0", "host:http"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_address(bad)


@pytest.mark.parametrize("argv, fragment", [
    (["calibrate", "--redis", "localhost"], "'localhost' is not HOST:PORT"),
    (["calibrate", "--redis", "h:99999"], "is not HOST:PORT"),
    (["calibrate", "--redis", "h:1", "--clients", "1"], "'1' is not an integer >= 2"),
    (["calibrate", "--redis", "h:1", "--seconds", "0.5"], "the budget must be at least 1s"),
    (["validate", "--master", "h:1", "--replica", "h:2", "--seconds", "2", "--warmup", "3"],
     "warmup_s = 3.0 with duration_s = 2.0"),
    (["validate", "--master", "h:1", "--replica", "h:2", "--delay", "soon"],
     "'soon' is not a delay"),
    (["validate", "--master", "h:1", "--replica", "h:2", "--write-rate", "50,-1"],
     "'-1' is not a number > 0"),
    (["validate", "--master", "h:1", "--replica", "h:2", "--seconds", "0"],
     "the duration must be > 0"),
])
def test_bad_arguments_name_the_option_and_what_is_allowed(argv, fragment, capsys):
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err


def test_unreachable_server_is_one_line(capsys):
    port = free_port()  # nothing listens there
    assert run_cli(["calibrate", "--redis", f"127.0.0.1:{port}", "--seconds", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("repsim: error:") and f"127.0.0.1:{port}" in err
    assert err.count("\n") == 1


@pytest.mark.redis
@requires_redis
def test_validate_command_prints_both_sides_and_a_verdict(capsys, tmp_path):
    config = tmp_path / "calibrated.toml"
    config.write_text('[network]\nclient_latency = "30us"\n[server]\nservice_time = "2us"\n')
    with master_and_replica() as (master, replica):
        argv = ["validate", "--master", "{}:{}".format(*master.address),
                "--replica", "{}:{}".format(*replica.address), "--delay", "none,5ms",
                "--write-rate", "100", "--keys", "5", "--read-rate", "300", "--seconds", "2",
                "--warmup", "0.3s", "--sim-seconds", "5", "--config", str(config)]
        assert run_cli(argv) == 0
        text = capsys.readouterr().out
        assert run_cli(argv[:-2] + ["--json", "--delay", "3ms"]) == 0
        report = json.loads(capsys.readouterr().out)
    assert "real Redis" in text and "simulator" in text and "verdict:" in text
    assert "| delay |" in text  # the summary table of a multi-run
    (only,) = report["comparisons"]
    assert only["delay_target_ms"] == pytest.approx(3.0)
    assert only["delay_mean_ms"] >= 3.0  # the proxy never forwards early
    assert "no --config" in report["note"]
    for side in ("real", "sim"):
        assert 0.0 <= only[side]["stale_read_rate"] <= 1.0


def test_an_output_folder_that_does_not_exist_is_refused_before_measuring(tmp_path, capsys):
    port = free_port()  # nothing listens: the check must come before any measurement
    for option in ("--out", "--plot"):
        missing = tmp_path / "no-such-folder" / "calibrated.toml"
        assert run_cli(["calibrate", "--redis", f"127.0.0.1:{port}", option, str(missing)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and option in err and "does not exist" in err


def test_calibrate_budget_takes_a_duration():
    parser = argparse.ArgumentParser(prog="repsim")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["calibrate", "--redis", "h:1", "--seconds", "20s"])
    assert args.seconds == 20.0
