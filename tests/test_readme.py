"""The README runs as written: its Python examples, its shell commands that take under 30 s
(their printed output containing what the README shows), and the numbers its prose quotes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text()
# Commands the suite cannot run: servers, clusters, interactive tools, make itself.
NOT_HERE = ("redis-server", "redis-cli", "repsim calibrate", "repsim validate", "dask ",
            "SCHEDULER_HOST", "jupyter lab", "make ")
SLOW = re.compile(r"#.*(minute|about (\d+) s)")


PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def test_the_readme_shows_python_usage():
    assert PYTHON_BLOCKS


@pytest.mark.parametrize("block", PYTHON_BLOCKS,
                         ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_python_example_runs_in_a_fresh_interpreter(block, tmp_path):
    # From an empty folder, so that the example sees the installed package as a user would.
    out = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def _blocks() -> list[tuple[str, str, str | None]]:
    """(language, body, the output block right after it or None), in README order."""
    found = list(re.finditer(r"```(\w*)\n(.*?)```\n", TEXT, flags=re.S))
    out = []
    for i, match in enumerate(found):
        lang, body = match.group(1), match.group(2)
        following = found[i + 1] if i + 1 < len(found) else None
        output = None
        if lang == "sh" and following is not None and following.group(1) == "" and \
                TEXT[match.end():following.start()].strip() == "":
            output = following.group(2)
        out.append((lang, body, output))
    return out


def _is_slow(comment: str) -> bool:
    """A comment saying a minute or more, or about 30 s or more."""
    match = SLOW.search(comment)
    return bool(match) and (match.group(1) == "minute" or int(match.group(2) or 0) >= 30)


def _commands(body: str) -> list[tuple[str, bool]]:
    """Each command of a shell block (continuation lines joined) and whether it is slow: a
    comment line before the block's first command marks the whole block, a comment at the
    end of a command marks that command."""
    commands, block_slow, current = [], False, ""
    for line in body.splitlines():
        if not current and line.lstrip().startswith("#"):
            block_slow = block_slow or (not commands and _is_slow(line))
            continue
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            if current.strip():
                commands.append((current.strip(), block_slow or _is_slow(current)))
            current = ""
    return commands


def _runnable() -> list[tuple[str, str | None]]:
    """(command, expected output or None) for every README shell command the suite runs; a
    block's expected output goes with its last command."""
    out = []
    for lang, body, expected in _blocks():
        if lang == "sh":
            commands = [c for c, slow in _commands(body)
                        if not slow and not any(word in c for word in NOT_HERE)]
            out += [(c, expected if i == len(commands) - 1 else None)
                    for i, c in enumerate(commands)]
        elif lang == "" and body.startswith("$ "):  # a command shown with its output
            command, _, printed = body.partition("\n")
            out.append((command[2:], printed))
    return out


RUNNABLE = _runnable()


def test_one_way_to_invoke_the_cli():
    for lang, body, _ in _blocks():
        if lang == "sh":
            assert ".venv/bin/" not in body, f"write `repsim`, not `.venv/bin/repsim`: {body}"
    assert "source .venv/bin/activate" in TEXT


def test_the_readme_runs_the_commands_it_should():
    shown = " ".join(c for c, _ in RUNNABLE)
    for needed in ("repsim run", "repsim config show", "repsim plot results/my-example",
                   "repsim trace docs/trace-example.toml", "plot_fault_study",
                   "jupyter nbconvert --clear-output"):
        assert needed in shown, needed


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=readme", "-c", "user.email=readme@invalid",
                           *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A fresh clone, as a new user has it: every tracked file of the checkout (as it is now,
    edits included) committed into a new repository, so that a command writing over a
    tracked file shows in ``git status``; the project's interpreter first on PATH."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout, to copy the tracked files")
    root = tmp_path_factory.mktemp("readme")
    for name in _git(ROOT, "ls-files", "-z").split("\0"):
        if name and (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "the checkout as tested")
    # The example sweep is too slow to run here; what it writes is the committed example
    # (test_the_committed_example_is_the_readme_sweep_under_current_defaults), so its plot
    # command gets that.
    shutil.copytree(ROOT / "results" / "example", root / "results" / "my-example")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    return root, env


def _normal(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("command", "expected"), RUNNABLE,
                         ids=[c[:60] for c, _ in RUNNABLE])
def test_readme_command_runs_as_written(workdir, command, expected):
    root, env = workdir
    done = subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True,
                          text=True, timeout=180)
    printed = done.stdout + done.stderr
    if not command.startswith("repsim run --set replication.replicas=0"):
        assert done.returncode == 0, f"{command}\n{printed}"
    if expected:
        for line in expected.splitlines():
            if line.strip():
                assert _normal(line) in _normal(printed), f"{command}: {line!r} not printed"
    changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    assert not changed, f"{command} wrote over tracked files:\n{changed}"


def _example_sweep() -> str:
    """The README's example sweep command (the one whose plot is results/example's)."""
    commands = [c for _, body, _ in _blocks() for c, _ in _commands(body)
                if c.startswith("repsim sweep") and "workload.write_rate=log:10:10000:7" in c]
    assert len(commands) == 1, commands
    return commands[0]


def test_the_committed_example_is_the_readme_sweep_under_current_defaults(tmp_path):
    # Rerun into a copy of results/example, the README's sweep must resume with nothing left
    # to compute: same base configuration (today's defaults), same grid, every row there.
    copy = tmp_path / "example"
    shutil.copytree(ROOT / "results" / "example", copy)
    command = re.sub(r"--out \S+", f"--out {copy}", _example_sweep().split("#")[0])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run(["bash", "-c", command + " --quiet"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    meta = json.loads((copy / "meta.json").read_text())
    assert meta["runs"][-1]["computed"] == 0
    assert "grew_from" not in meta["runs"][-1]


def _run_json(*overrides: str) -> dict:
    import contextlib
    import io

    from sim.cli.app import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["run", "--json", "--set", "run.duration=10s", *overrides]) == 0
    return json.loads(buffer.getvalue())


def test_numbers_in_the_worked_example_are_what_the_runs_print():
    cached, invalidated = _run_json(), _run_json("--set", "cache.on_write=invalidate")
    uncached = _run_json("--set", "cache.enabled=false")
    quoted = {
        f"falls to {100 * invalidated['stale_read_rate']:.1f} %",
        f"only replication lag is left: {100 * uncached['stale_read_rate']:.2f} % stale",
        f"on average {uncached['staleness_age_ms']['mean']:.2f} ms out of date",
        f"({uncached['read_latency_ms']['mean']:.3f} ms instead of "
        f"{cached['read_latency_ms']['mean']:.3f} ms)",
        f"its p99 ({cached['read_latency_ms']['p99']:.3f} ms)",
        f"the p99 without it ({uncached['read_latency_ms']['p99']:.3f} ms)",
    }
    text = _normal(TEXT)
    for phrase in quoted:
        assert _normal(phrase) in text, f"the README should say {phrase!r}"
    assert 1 - cached["cache_hit_rate"] > 0.01  # "more than 1 % of reads miss"
