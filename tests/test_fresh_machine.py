"""``make test`` on a machine without ``redis-server``: the real-Redis tests skip with the
reason, and none of them fails (docs: README, "Does the simulator match a real Redis?")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REAL_REDIS_MODULES = sorted(str(p) for p in TESTS.glob("test_redis_*.py"))


def path_without_redis(folder: Path) -> str:
    """A PATH of one folder holding links to every program of this one's usual folders but
    ``redis-*``: the machine as it is, minus Redis."""
    folder.mkdir()
    sources = [Path(sys.executable).parent, Path("/usr/local/bin"), Path("/usr/bin"),
               Path("/bin")]
    for source in sources:
        if not source.is_dir():
            continue
        for program in source.iterdir():
            link = folder / program.name
            if program.name.startswith("redis-") or link.exists() or link.is_symlink():
                continue
            link.symlink_to(program)
    return str(folder)


def test_real_redis_tests_skip_without_a_redis_server(tmp_path):
    path = path_without_redis(tmp_path / "bin")
    assert shutil.which("redis-server", path=path) is None
    env = {k: v for k, v in os.environ.items() if k != "CI"}  # CI makes a missing server fail
    env["PATH"] = path
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-rs", "-p", "no:cacheprovider",
         *REAL_REDIS_MODULES],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=600)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-3000:]
    assert " failed" not in report and " error" not in report, report[-3000:]
    # Every test that starts a server is reported as skipped, with the reason.
    assert "skipped" in report and "no redis-server binary on PATH" in report
    assert "test_calibrate_command_against_a_real_redis SKIPPED" in report
