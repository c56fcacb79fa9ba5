"""Sweep grids, seeds, rows and executors (sim.experiment.sweep, sim.experiment.task, sim.experiment.executors)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from sim.config.schema import Config
from sim.errors import ConfigError
from sim.experiment.sweep import expand_values, failed, plan_sweep, split_values, sweep
from sim.experiment.task import derive_seed, flatten_summary

# Short real runs: a fraction of a second of simulated time at a low rate.
SHORT = {"run.duration": 0.4, "run.warmup": 0.1, "workload.read_rate": 2000.0,
         "workload.write_rate": 200.0}


@pytest.fixture(scope="module")
def base() -> Config:
    return Config.default().with_overrides(SHORT)


def fake_run(config):
    """A stand-in engine: a summary that depends on the config and the seed only."""
    rate = config.get("workload.write_rate")
    if rate == 666.0:
        raise ValueError("the number of the beast\nsecond line")
    rng = np.random.default_rng(config.get("run.seed"))
    noise = float(rng.random())
    return {
        "reads": 100, "stale_read_rate": rate / 1e4 + noise / 100,
        "stale_read_rate_ci95": [0.0, 1.0],
        "read_latency_ms": {"p50": 1.0 + noise, "p99": 2.0 + noise},
        "cache_hit_rate": None,
        "t_visibility": [{"t_ms": 1.0, "p_fresh": 0.5, "n": 3}],
        "config": {"resolved": True}, "wall_seconds": 0.0,
    }


def without_wall(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["wall_seconds"]).reset_index(drop=True)


# --- values and grids -------------------------------------------------------------------


def test_log_range_has_both_ends_and_is_log_spaced():
    values = expand_values("workload.write_rate", "log:10:10000:7", 1000.0)
    assert values[0] == 10 and values[-1] == 10000 and len(values) == 7
    ratios = np.diff(np.log10(values))
    assert np.allclose(ratios, 0.5, atol=1e-5)
    assert all(isinstance(v, float) for v in values)


def test_ranges_on_an_int_key_give_ints():
    values = expand_values("pipeline.batch_size", "log:1:64:7", 1)
    assert values == [1, 2, 4, 8, 16, 32, 64]
    assert all(type(v) is int for v in values)
    assert expand_values("workload.clients", "lin:1:3:3", 8) == [1, 2, 3]


def test_duration_range_keeps_the_unit():
    assert expand_values("replication.delay", "log:1ms:100ms:3", None) == ["1ms", "10ms", "100ms"]


def test_comma_lists_are_typed_and_keep_distributions_whole():
    assert split_values("1ms,5ms,20ms") == ["1ms", "5ms", "20ms"]
    assert split_values("1,2.5,true") == [1, 2.5, True]
    assert split_values("uniform:1ms,9ms,exp:2ms") == ["uniform:1ms,9ms", "exp:2ms"]
    assert split_values("lognormal:median=5ms,sigma=0.8,1ms") == \
        ["lognormal:median=5ms,sigma=0.8", "1ms"]
    assert split_values('["a,b", "c"]') == ["a,b", "c"]


@pytest.mark.parametrize("spec", ["log:0:10:3", "log:1:10:x", "lin:1ms:2s:3", "1,,2", []])
def test_bad_value_specs_name_the_key(spec):
    with pytest.raises(ConfigError) as err:
        expand_values("workload.write_rate", spec, 1000.0)
    assert "workload.write_rate" in str(err.value)


@pytest.mark.parametrize("spec", ["log:10:1000", "lin:1:2:3:4"])
def test_a_range_with_a_missing_or_extra_part_says_what_a_range_is(spec):
    with pytest.raises(ConfigError, match="START:STOP:COUNT"):
        expand_values("workload.write_rate", spec, 1000.0)


def test_grid_is_the_cartesian_product_in_order(base):
    plan = plan_sweep(base, {"workload.write_rate": [10.0, 100.0, 1000.0],
                             "replication.delay": "1ms,5ms"}, reps=2)
    assert len(plan.points) == 6 and len(plan.tasks) == 12
    # The first key varies slowest; tasks are in (point, rep) order.
    assert [p["replication.delay"] for p in plan.points[:2]] == ["1ms", "5ms"]
    assert [p["workload.write_rate"] for p in plan.points[::2]] == [10.0, 100.0, 1000.0]
    assert [(t.point, t.rep) for t in plan.tasks] == [(p, r) for p in range(6) for r in range(2)]
    task = plan.tasks[5]
    assert task.config.get("workload.write_rate") == plan.points[2]["workload.write_rate"]
    assert task.config.get("run.seed") == task.seed


def test_zip_varies_keys_together(base):
    plan = plan_sweep(base, {"workload.write_rate": [10.0, 100.0],
                             "replication.delay": ["1ms", "5ms"],
                             "cache.enabled": [True, False]},
                      zip=["replication.delay", "workload.write_rate"])
    assert [(p["workload.write_rate"], p["replication.delay"]) for p in plan.points[::2]] == \
        [(10.0, "1ms"), (100.0, "5ms")]
    assert len(plan.points) == 4


def test_zip_errors_are_clear(base):
    with pytest.raises(ConfigError, match="as many values"):
        plan_sweep(base, {"workload.write_rate": [1.0, 2.0], "replication.delay": ["1ms"]},
                   zip="workload.write_rate,replication.delay")
    with pytest.raises(ConfigError, match="a key that is varied"):
        plan_sweep(base, {"workload.write_rate": [1.0]}, zip=["workload.write_rate", "x.y"])


def test_bad_key_or_value_stops_before_any_run(base):
    calls = []
    with pytest.raises(ConfigError, match="workload.write_rate"):
        sweep(base, {"workload.write_rate": [10.0, -5.0]}, executor="serial",
              run_fn=calls.append, progress=False)
    with pytest.raises(ConfigError, match="nosuch"):
        sweep(base, {"nosuch.key": [1]}, executor="serial", run_fn=calls.append, progress=False)
    with pytest.raises(ConfigError, match="reps"):
        sweep(base, {}, reps=0, executor="serial", run_fn=calls.append, progress=False)
    with pytest.raises(ConfigError, match="executor"):
        sweep(base, {}, executor="threads", run_fn=calls.append, progress=False)
    assert calls == []


# --- seeds ------------------------------------------------------------------------------


def test_seeds_derive_from_base_seed_and_rep():
    seeds = [derive_seed(1, r) for r in range(5)]
    assert len(set(seeds)) == 5
    assert seeds == [derive_seed(1, r) for r in range(5)]
    assert derive_seed(2, 0) != seeds[0]
    seq = np.random.SeedSequence(1, spawn_key=(3,))
    assert seeds[3] == int(seq.generate_state(1, dtype=np.uint32)[0])


def test_every_point_shares_the_seeds_of_its_reps(base):
    df = sweep(base, {"workload.write_rate": [10.0, 100.0, 1000.0]}, reps=3,
               executor="serial", run_fn=fake_run, progress=False)
    by_point = df.pivot(index="rep", columns="point", values="seed")
    assert (by_point.nunique(axis=1) == 1).all()
    assert by_point[0].nunique() == 3
    # More repetitions later keep the earlier ones.
    more = sweep(base, {"workload.write_rate": [10.0, 100.0, 1000.0]}, reps=4,
                 executor="serial", run_fn=fake_run, progress=False)
    assert more[more.rep < 3]["seed"].tolist() == df["seed"].tolist()


# --- rows -------------------------------------------------------------------------------


def test_flatten_summary_dots_nested_scalars_and_drops_curves():
    flat = flatten_summary(fake_run(Config.default()))
    assert flat["read_latency_ms.p99"] > flat["read_latency_ms.p50"]
    assert (flat["stale_read_rate_ci95.lo"], flat["stale_read_rate_ci95.hi"]) == (0.0, 1.0)
    assert "t_visibility" not in flat and "config" not in flat
    assert not any(k.startswith(("t_visibility", "config")) for k in flat)
    assert flat["cache_hit_rate"] is None


def test_a_null_interval_gives_the_same_columns_as_a_pair():
    with_cache = flatten_summary({"cache_hit_rate": 0.5, "cache_hit_rate_ci95": [0.4, 0.6]})
    without = flatten_summary({"cache_hit_rate": None, "cache_hit_rate_ci95": None})
    assert list(without) == list(with_cache)
    assert without["cache_hit_rate_ci95.lo"] is None and without["cache_hit_rate_ci95.hi"] is None


def test_rows_of_a_real_sweep(base):
    df = sweep(base, {"workload.write_rate": [50.0, 500.0], "replication.delay": ["1ms"]},
               reps=2, executor="serial", progress=False)
    assert list(df.columns[:5]) == ["point", "rep", "seed", "workload.write_rate",
                                    "replication.delay"]
    assert len(df) == 4 and (df["error"] == "").all()
    for column in ("stale_read_rate", "read_latency_ms.p99", "stale_read_rate_ci95.lo",
                   "replication_lag_ms.max", "throughput_ops_s", "wall_seconds"):
        assert column in df.columns
    assert not any(c.startswith(("t_visibility", "config")) for c in df.columns)
    # More writes, more writes counted: the varied value reached the engine.
    assert df.groupby("workload.write_rate")["writes"].mean().is_monotonic_increasing
    assert df.attrs["vary"] == ["workload.write_rate", "replication.delay"]


def test_same_sweep_reproduces_bit_for_bit(base):
    vary = {"replication.delay": ["1ms", "5ms"]}
    a = sweep(base, vary, reps=2, executor="serial", progress=False)
    b = sweep(base, vary, reps=2, executor="serial", progress=False)
    pd.testing.assert_frame_equal(without_wall(a), without_wall(b))


def test_a_failed_point_is_a_row_not_a_crash(base):
    vary = {"workload.write_rate": [10.0, 666.0, 100.0]}
    for executor in ("serial", "processes"):
        df = sweep(base, vary, reps=2, executor=executor, run_fn=fake_run, progress=False)
        assert len(df) == 6
        bad = failed(df)
        assert bad["point"].tolist() == [1, 1]
        assert bad["error"].iloc[0] == "ValueError: the number of the beast second line"
        assert df.loc[df.point != 1, "stale_read_rate"].notna().all()
        assert df.loc[df.point == 1, "stale_read_rate"].isna().all()


# --- executors --------------------------------------------------------------------------


def test_processes_give_the_same_rows_as_serial(base):
    vary = {"workload.write_rate": [20.0, 400.0], "replication.delay": ["1ms", "exp:3ms"]}
    serial = sweep(base, vary, reps=2, executor="serial", progress=False)
    procs = sweep(base, vary, reps=2, executor="processes", workers=2, progress=False)
    assert (serial["error"] == "").all()
    pd.testing.assert_frame_equal(without_wall(serial), without_wall(procs))


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.skipif(sys.platform == "win32", reason="LocalCluster on loopback only")
def test_dask_gives_the_same_rows_as_serial(base, dask_client):
    vary = {"workload.write_rate": [20.0, 400.0], "replication.delay": ["1ms", "exp:3ms"]}
    serial = sweep(base, vary, reps=2, executor="serial", progress=False)
    on_dask = sweep(base, vary, reps=2, executor="dask", scheduler=dask_client, progress=False)
    by_address = sweep(base, vary, reps=2, executor="dask",
                       scheduler=dask_client.scheduler.address, progress=False)
    pd.testing.assert_frame_equal(without_wall(serial), without_wall(on_dask))
    pd.testing.assert_frame_equal(without_wall(serial), without_wall(by_address))


def test_dask_without_scheduler_starts_and_closes_a_local_cluster(base):
    pytest.importorskip("distributed")
    df = sweep(base, {"replication.delay": ["1ms", "2ms"]}, executor="dask", workers=1,
               progress=False)
    assert len(df) == 2 and (df["error"] == "").all()


def test_unreachable_scheduler_is_a_config_error(base, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("sim.experiment.executors.CONNECT_TIMEOUT", "1s")
    with pytest.raises(ConfigError, match="scheduler"):
        # Port 9 on loopback: nothing listens there, the connection is refused at once.
        sweep(base, {}, executor="dask", scheduler="tcp://127.0.0.1:9", progress=False)


def test_the_sweep_module_does_not_import_simpy_or_matplotlib():
    import subprocess

    code = ("import sys, sim.experiment.sweep, sim.cli.sweep; "
            "sim.experiment.sweep.plan_sweep(None, {'workload.write_rate': [1.0]}); "
            "print(sorted({'simpy', 'matplotlib'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_processes_do_not_fork_a_multithreaded_parent(base):
    import threading

    from sim.experiment.executors import start_method

    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert start_method() in ("forkserver", "spawn")
        vary = {"replication.delay": ["1ms", "3ms"]}
        procs = sweep(base, vary, executor="processes", workers=2, progress=False)
    finally:
        stop.set()
        helper.join()
    serial = sweep(base, vary, executor="serial", progress=False)
    pd.testing.assert_frame_equal(without_wall(serial), without_wall(procs))
