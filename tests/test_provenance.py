"""Provenance: version and git commit in run output, sweep meta.json and figure files; the
resolved configuration written back as TOML (`config show`, `run --out`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import sim
from sim.cli.app import main
from sim.config.schema import Config
from sim.provenance import creator, git_commit, provenance

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["--set", "run.duration=0.5s", "--set", "run.warmup=0.1s"]


def _head() -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def test_commit_is_the_checkouts_head_when_in_git():
    head = _head()
    if head is None:
        pytest.skip("the project is not a git checkout here")
    assert git_commit() in (head, f"{head}-dirty")
    assert provenance() == {"version": sim.__version__, "git_commit": git_commit()}


def test_commit_is_none_outside_a_checkout(tmp_path):
    shutil.copytree(ROOT / "sim", tmp_path / "sim",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = "from sim.provenance import git_commit, provenance; print(provenance())"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "'git_commit': None" in out and f"'version': '{sim.__version__}'" in out


def test_commit_is_none_without_git_binary(monkeypatch):
    git_commit.cache_clear()
    monkeypatch.setenv("PATH", "")
    try:
        assert git_commit() is None
    finally:
        git_commit.cache_clear()


def test_version_flag(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(rf"repsim {re.escape(sim.__version__)}( \(git [0-9a-f]{{40}}(-dirty)?\))?\n",
                        out)


def test_run_json_names_version_and_commit_after_the_metrics(capsys):
    assert main(["run", "--json", *SHORT]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == sim.__version__ and out["git_commit"] == git_commit()
    keys = list(out)
    assert keys.index("version") > keys.index("config")  # existing keys keep their places


def test_run_out_writes_summary_and_resolved_config(tmp_path, capsys):
    out = tmp_path / "run1"
    assert main(["run", *SHORT, "--set", "replication.delay=exp:3ms", "--out", str(out)]) == 0
    assert "stale-read rate" in capsys.readouterr().out  # the table still goes to stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["version"] == sim.__version__
    config = Config.load(out / "config.toml")
    assert config.to_dict() == summary["config"]
    assert str(config.replication.delay) == "exp:3ms"
    assert sorted(p.name for p in out.iterdir()) == ["config.toml", "summary.json"]  # no temps


def test_run_out_refuses_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["run", *SHORT, "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "directory" in err and target.read_text() == "x"


def test_config_show_prints_the_resolved_config(capsys, tmp_path):
    assert main(["config", "show", "--set", "cache.ttl=250ms", "--set", "replication.replicas=3"]
                ) == 0
    text = capsys.readouterr().out
    data = tomllib.loads(text)
    assert data["cache"]["ttl"] == 0.25 and data["replication"]["replicas"] == 3
    assert set(data) == set(Config.default().to_dict())
    path = tmp_path / "shown.toml"
    path.write_text(text)
    assert Config.load(path) == Config.load(None, ["cache.ttl=250ms", "replication.replicas=3"])


def test_config_show_bad_key_is_one_line(capsys):
    assert main(["config", "show", "--set", "cache.tll=1s"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cache.tll" in err


def test_sweep_meta_names_version_and_commit(tmp_path):
    sim.sweep(None, {"replication.delay": "1ms,2ms"}, out=tmp_path, executor="serial",
              progress=False, run_fn=_fake_run)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["version"] == sim.__version__ and meta["git_commit"] == git_commit()
    assert meta["runs"][-1]["git_commit"] == git_commit()


def _fake_run(config):
    return {"stale_read_rate": 0.1, "read_latency_ms": {"p99": 1.0}}


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_saved_figures_carry_version_and_commit(tmp_path, fmt):
    from matplotlib.figure import Figure

    from sim.plot.style import save_figure

    fig = Figure()
    fig.subplots().plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / f"f.{fmt}")
    if fmt == "png":
        from PIL import Image

        assert Image.open(path).text["Creator"] == creator()
    elif fmt == "svg":
        assert re.search(rf"<dc:creator>\s*<cc:Agent>\s*<dc:title>{re.escape(creator())}<",
                         path.read_text())
    else:  # the PDF Info dictionary is uncompressed; a PDF string escapes its parentheses
        escaped = creator().replace("(", r"\(").replace(")", r"\)")
        assert f"/Creator ({escaped})".encode() in path.read_bytes()
    assert creator().startswith(f"repsim {sim.__version__}")
