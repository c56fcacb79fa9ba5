"""``repsim validate --failover``: the grid, the table and figure, the simulated twin, and a
short real run (a master killed under Sentinel) that must reproduce the findings' shape."""

from __future__ import annotations

import argparse
import subprocess

import pytest

from sim.cli import failover
from sim.cli.redis import register
from sim.redis import failover as real
from sim.redis.failover import FailoverCase, simulate_case, simulation_config
from tests.redis_servers import requires_redis


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="repsim")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_the_grid_is_modes_by_rates_by_delays_plus_one_restart_per_rate():
    args = _parse(["validate", "--failover", "--write-rate", "500,1000", "--delay", "0,20ms",
                   "--restart", "200ms"])
    grid = failover.cases(args)
    assert len(grid) == 2 * 2 * 2 + 2
    assert {(c.crash_mode, c.write_rate, c.delay_s) for c in grid[:8]} == {
        (m, w, d) for m in ("process", "network") for w in (500.0, 1000.0) for d in (0.0, 0.02)}
    restarts = grid[8:]
    assert all(c.restart_s == 0.2 and c.crash_mode == "process" for c in restarts)
    assert all(c.after_s >= failover.RESTART_AFTER_S for c in restarts)


@pytest.mark.parametrize("argv, fragment", [
    (["validate"], "needs --master and --replica (or --failover"),
    (["validate", "--failover", "--crash-mode", "host"], "a crash mode is 'process' or"),
])
def test_bad_failover_arguments_are_one_line(argv, fragment, capsys):
    try:
        args = _parse(argv)
        status = args.handler(args)
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    assert fragment in capsys.readouterr().err


def test_a_case_checks_itself():
    with pytest.raises(ValueError, match="crash_mode"):
        FailoverCase(100, 0.01, "host")
    with pytest.raises(ValueError, match="restart_s"):
        FailoverCase(100, 0.01, restart_s=10.0, after_s=4.0)


def test_the_simulated_twin_has_the_shape_of_the_findings():
    """Without a server: process loses nothing, network about W d, the restart case loses
    the restarted master's writes; the table and figure render both columns."""
    process = simulate_case(FailoverCase(1000, 0.02, "process"), seeds=2)
    network = simulate_case(FailoverCase(1000, 0.02, "network"), seeds=2)
    restart = simulate_case(FailoverCase(1000, 0.02, restart_s=0.2, after_s=14.0), seeds=2)
    assert process["lost_writes"] == 0 and network["lost_writes"] > 5
    assert restart["restart_lost_writes"] > 1000
    config = simulation_config(FailoverCase(500, 0.05, "network", down_after_s=0.25))
    assert config.faults.sentinel_down_after == 0.25 and config.faults.crash_mode == "network"
    rows = [{"case": FailoverCase(1000, 0.02, "process"), "real": process, "sim": process}]
    table = failover.format_table(rows)
    assert table.count("\n") == 2 and "| process | 1000 | 20 |" in table
    assert failover.figure_png(rows).startswith(b"\x89PNG")


def _our_servers() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "repsim-failover-"], capture_output=True, text=True)
    return {int(pid) for pid in out.stdout.split()}


@requires_redis
@pytest.mark.parametrize("mode", ["process", "network"])
def test_a_real_kill_under_sentinel(mode):
    """The findings on a real Redis: a killed process loses no acknowledged write, a host
    cut off loses some; the outage is longer than down-after (Sentinel confirms on INFO);
    every server, proxy and folder is gone afterwards."""
    case = FailoverCase(500, 0.02, mode, before_s=1.5, after_s=3.0)
    result = real.measure_case(case)
    assert result["acked_writes"] > 500
    if mode == "process":
        assert result["lost_writes"] == 0
    else:
        assert result["lost_writes"] > 0
        assert result["data_loss_window_ms"] <= 1e3 * case.delay_s + 10
    phases = result["phases_ms"]
    assert phases["detected"] >= 1e3 * case.down_after_s
    assert phases["detected"] <= phases["confirmed"] <= result["write_outage_ms"] + 100
    assert result["write_outage_ms"] > 1e3 * case.down_after_s
    assert not _our_servers()


def test_the_failover_figure_shows_a_zero_and_says_where_it_came_from():
    from PIL import Image

    from sim.provenance import creator

    zero = {"lost_writes": 0, "write_outage_ms": 1650.0}
    some = {"lost_writes": 20, "write_outage_ms": 1720.0}
    rows = [{"case": FailoverCase(1000, 0.02, "process"), "real": zero, "sim": zero},
            {"case": FailoverCase(1000, 0.02, "network"), "real": some, "sim": some}]
    fig = failover.figure(rows)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("0") == 2 and texts.count("20") == 2  # every bar says its value
    png = failover.figure_png(rows)
    import io

    assert Image.open(io.BytesIO(png)).info["Creator"] == creator()
