"""A queue that outgrows run.max_queue stops the run with one line instead of eating memory."""

from __future__ import annotations

import pytest

from sim import simulate
from sim.cli import app
from sim.errors import OverloadError
from tests.helpers import config

# The master at utilisation 0.7: its queue passes 20 commands within a second, but not 10^6.
# The replicas apply each write in 3 us (utilisation 0.06), so only the master can overflow,
# whatever the seed.
BUSY = {"workload.write_rate": 20000.0, "server.service_time": "exp:30us",
        "server.replica_apply_time": "3us", "run.duration": 2.0, "run.warmup": 0.1}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_queue_past_the_bound_raises_with_the_node_the_length_and_the_time(seed):
    with pytest.raises(OverloadError) as info:
        simulate(config({**BUSY, "run.max_queue": 20, "run.seed": seed}))
    err = info.value
    assert err.node == "master" and err.queue > 20 and 0 < err.time_s < 2.0
    assert "run.max_queue = 20" in str(err)


def test_the_same_load_under_the_default_bound_runs_to_the_end():
    s = simulate(config(BUSY)).summary
    assert s["writes"] > 30000


def test_a_replica_applying_too_slowly_is_named():
    with pytest.raises(OverloadError, match="replica0"):
        simulate(config({"workload.write_rate": 5000.0, "server.replica_apply_time": "exp:150us",
                         "workload.read_rate": 100.0, "run.max_queue": 20,
                         "run.duration": 2.0, "run.warmup": 0.1}))


def test_the_command_line_says_it_in_one_line(capsys):
    argv = ["run", *[f"--set={k}={v}" for k, v in {**BUSY, "run.max_queue": 20}.items()]]
    assert app.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "overloaded" in err


def test_the_cycle_collector_is_back_on_after_a_run_that_raised():
    import gc

    assert gc.isenabled()
    with pytest.raises(OverloadError):
        simulate(config({**BUSY, "run.max_queue": 20}))
    assert gc.isenabled()
    gc.disable()
    try:  # and left off when the caller had it off
        simulate(config({"run.duration": 0.2, "run.warmup": 0.05}))
        assert not gc.isenabled()
    finally:
        gc.enable()
