"""Sweep results for analysis: numeric seconds beside each duration, Parquet, query."""

from __future__ import annotations

import pandas as pd
import pytest

import sim
from sim.cli.app import main
from sim.experiment.sweep import add_seconds_columns


def fake_run(config):
    """Stale rate proportional to the mean replication delay, so twins can be checked."""
    delay = config.replication.delay.mean
    return {"stale_read_rate": delay * 10, "read_latency_ms": {"p99": 1.0 + delay}}


VARY = {"replication.delay": ["1ms", "exp:5ms", 0.02], "cache.ttl": "100ms,1s"}


def test_every_duration_column_gets_a_seconds_twin_after_it():
    df = sim.sweep(None, VARY, reps=2, executor="serial", progress=False, run_fn=fake_run)
    cols = list(df.columns)
    assert cols[cols.index("replication.delay") + 1] == "replication.delay_s"
    assert cols[cols.index("cache.ttl") + 1] == "cache.ttl_s"
    assert pd.api.types.is_float_dtype(df["replication.delay_s"])
    by_value = dict(zip(df["replication.delay"].astype(str), df["replication.delay_s"],
                        strict=True))
    assert by_value == {"1ms": 0.001, "exp:5ms": 0.005, "0.02": 0.02}
    assert set(df["cache.ttl_s"]) == {0.1, 1.0}
    assert df["stale_read_rate"].tolist() == pytest.approx((df["replication.delay_s"] * 10).tolist())


def test_load_sweep_and_query_with_backticks(tmp_path):
    sim.sweep(None, VARY, out=tmp_path, executor="serial", progress=False, run_fn=fake_run)
    df = sim.load_sweep(tmp_path)
    assert pd.api.types.is_numeric_dtype(df["replication.delay_s"])
    picked = df.query("`replication.delay_s` >= 0.005 and `cache.ttl_s` < 0.5")
    assert sorted(picked["replication.delay"].astype(str)) == ["0.02", "exp:5ms"]
    # Twins are computed, not stored: the results file keeps one column per key.
    assert "replication.delay_s" not in (tmp_path / "results.csv").read_text().splitlines()[0]


def test_twins_are_not_taken_for_varied_keys():
    from sim.plot.labels import varied_keys

    df = add_seconds_columns(pd.DataFrame({"replication.delay": ["1ms"], "stale_read_rate": [0.1]}))
    assert varied_keys(df) == ["replication.delay"]


def test_parquet_holds_the_same_frame(tmp_path):
    pytest.importorskip("pyarrow")
    df = sim.sweep(None, VARY, reps=2, out=tmp_path, executor="serial", progress=False,
                   run_fn=fake_run, formats=["csv", "parquet"])
    back = pd.read_parquet(tmp_path / "results.parquet")
    pd.testing.assert_frame_equal(back.reset_index(drop=True), df.reset_index(drop=True),
                                  check_dtype=False)
    assert back["replication.delay_s"].dtype.kind == "f"
    assert not list(tmp_path.glob(".*.tmp"))


def test_sweep_cli_format_parquet(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    out = tmp_path / "s"
    assert main(["sweep", "--set", "run.duration=0.3s", "--set", "run.warmup=0.05s",
                 "--vary", "replication.delay=1ms,5ms", "--executor", "serial", "--quiet",
                 "--no-plot", "--out", str(out), "--format", "parquet"]) == 0
    assert f"results: {out / 'results.parquet'}" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "results.parquet")) == 2


def test_unknown_format_is_refused_before_running(tmp_path):
    with pytest.raises(sim.ConfigError, match="format"):
        sim.sweep(None, VARY, out=tmp_path / "x", executor="serial", progress=False,
                  run_fn=fake_run, formats=["xlsx"])
    assert not (tmp_path / "x").exists()
