"""``repsim plot``: formats, help text, partial sweeps."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.cli.app import main
from sim.experiment.sweep import sweep


def fake_run(config):
    rate = config.workload.write_rate
    return {"stale_read_rate": rate / 1e4, "read_latency_ms": {"p50": 0.3, "p99": 0.6}}


@pytest.fixture
def partial(tmp_path):
    """A sweep of 3 points x 3 repetitions that lost its last run (as if killed)."""
    out = tmp_path / "s"
    sweep(None, {"workload.write_rate": "100,1000,5000"}, reps=3, out=out, executor="serial",
          progress=False, run_fn=fake_run)
    lines = (out / "results.csv").read_text().splitlines(keepends=True)
    (out / "results.csv").write_text("".join(lines[:-1]))
    meta = json.loads((out / "meta.json").read_text())
    meta["status"] = "interrupted"
    (out / "meta.json").write_text(json.dumps(meta))
    return out


def test_help_shows_a_plain_percent_sign(capsys):
    assert main(["plot", "--help"]) == 0
    text = capsys.readouterr().out
    assert "95% band" in text and "%%" not in text


def test_plot_writes_png_svg_and_pdf(partial, capsys):
    assert main(["plot", str(partial)]) == 0
    out = capsys.readouterr().out
    for suffix in ("png", "svg", "pdf"):
        path = partial / f"stale_read_rate_vs_workload.write_rate.{suffix}"
        assert path.stat().st_size > 0 and str(path) in out


def test_partial_sweep_warns_and_titles_the_real_counts(partial, capsys, monkeypatch):
    from sim.plot import figures

    drawn = []
    original = figures.line
    monkeypatch.setattr(figures, "line", lambda *a, **k: drawn.append(original(*a, **k))
                        or drawn[-1])
    assert main(["plot", str(partial), "--format", "png"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "partial sweep (8 of 9 runs succeeded; status interrupted)" in err
    assert drawn[0]._suptitle.get_text().startswith("stale-read rate: mean of 2\u20133 repetitions")


def test_complete_sweep_plots_without_warning(tmp_path, capsys):
    sweep(None, {"workload.write_rate": "100,1000"}, reps=2, out=tmp_path, executor="serial",
          progress=False, run_fn=fake_run)
    assert main(["plot", str(tmp_path), "--format", "png"]) == 0
    assert capsys.readouterr().err == ""
    assert len(pd.read_csv(tmp_path / "results.csv")) == 4
