"""Draw every committed figure from the current code: ``make figures``.

    python scripts/figures.py [NAME ...]     # default: all of them, in this order

Each figure is made by the command a user would run, into a temporary folder; only when
every requested one is done do they replace the committed files, so no command runs in a
checkout already made ``-dirty`` by an earlier figure, and the provenance in each file's
metadata (``repsim 0.1.0 (git <commit>)``) names the commit checked out. Run it from a clean
checkout (commit the code first), then commit the figures.

Names: ``example`` (results/example: the README's example sweep and its plot), ``trace``
(docs/trace-example.png), ``faults`` (docs/faults.png), ``explore`` (docs/explore.png, a
screenshot of the page in headless Chromium), ``calibration`` (docs/redis-calibration.png
and docs/redis-calibrated.toml, against a master and replica started here), ``failover``
(docs/failover-validation.png: ``repsim validate --failover``, about 4.5 minutes). The last
two need ``redis-server`` on PATH, ``explore`` Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLOT = "stale_read_rate_vs_workload.write_rate_by_replication.delay_per_cache.enabled"
# The README's example sweep (tests/test_readme.py checks the committed one is its result).
EXAMPLE = ["sweep", "--set", "run.duration=2", "--set", "run.warmup=0.5",
           "--vary", "workload.write_rate=log:10:10000:7",
           "--vary", "replication.delay=1ms,5ms,20ms", "--vary", "cache.enabled=false,true",
           "--reps", "3", "--quiet"]


def repsim(*args: str, cwd: Path = ROOT) -> None:
    """Run the command line as a user would (this interpreter's package)."""
    subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, check=True)


def example(tmp: Path) -> dict[Path, Path]:
    out = tmp / "example"
    repsim(*EXAMPLE, "--out", str(out))
    repsim("plot", str(out), "--x", "workload.write_rate", "--y", "stale_read_rate",
           "--hue", "replication.delay", "--col", "cache.enabled")
    names = ["results.csv", "meta.json", *(f"{EXAMPLE_PLOT}.{f}" for f in ("png", "svg", "pdf"))]
    return {out / name: ROOT / "results" / "example" / name for name in names}


def trace(tmp: Path) -> dict[Path, Path]:
    made = tmp / "trace-example.png"
    repsim("trace", "docs/trace-example.toml", "--key", "0", "--from", "1s", "--to", "1.04s",
           "--out", str(made))
    return {made: ROOT / "docs" / "trace-example.png"}


def faults(tmp: Path) -> dict[Path, Path]:
    made = tmp / "faults.png"
    subprocess.run([sys.executable, "-c", "from sim.experiment.failover_study import "
                    f"plot_fault_study as p; p({str(made)!r})"], cwd=ROOT, check=True)
    return {made: ROOT / "docs" / "faults.png"}


def explore(tmp: Path) -> dict[Path, Path]:
    made = tmp / "explore.png"
    env = {**os.environ, "REPSIM_EXPLORE_SCREENSHOT": str(made)}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "tests/test_explore_browser.py"], cwd=ROOT, env=env, check=True)
    if not made.exists():
        raise SystemExit("figures: the browser test skipped, so no screenshot was taken "
                         "(install Debian's chromium and chromium-driver)")
    return {made: ROOT / "docs" / "explore.png"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def calibration(tmp: Path) -> dict[Path, Path]:
    _need_redis()
    data = tmp / "redis"
    data.mkdir()
    master, replica = _free_port(), _free_port()
    common = ["--save", "", "--appendonly", "no", "--daemonize", "yes", "--dir", str(data)]
    subprocess.run(["redis-server", "--port", str(master), *common], check=True)
    try:
        subprocess.run(["redis-server", "--port", str(replica), *common, "--replicaof",
                        "127.0.0.1", str(master)], check=True)
        time.sleep(1.0)  # the replica's first sync
        repsim("calibrate", "--redis", f"127.0.0.1:{master}", "--out",
               str(tmp / "redis-calibrated.toml"), "--plot", str(tmp / "redis-calibration.png"))
    finally:
        for port in (replica, master):
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"],
                           capture_output=True, check=False)
    return {tmp / "redis-calibrated.toml": ROOT / "docs" / "redis-calibrated.toml",
            tmp / "redis-calibration.png": ROOT / "docs" / "redis-calibration.png"}


def failover(tmp: Path) -> dict[Path, Path]:
    _need_redis()
    made = tmp / "failover-validation.png"
    repsim("validate", "--failover", "--restart", "200ms", "--figure", str(made))
    return {made: ROOT / "docs" / "failover-validation.png"}


def _need_redis() -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise SystemExit("figures: redis-server and redis-cli are needed for this figure "
                         "(Debian: apt-get install redis-server); name the others to skip it")


FIGURES: dict[str, Callable[[Path], dict[Path, Path]]] = {
    "example": example, "trace": trace, "faults": faults, "explore": explore,
    "calibration": calibration, "failover": failover}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"figures to draw (default: all): {', '.join(FIGURES)}")
    names = parser.parse_args(argv).names or list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        print(f"figures: error: {unknown[0]!r}: one of {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    if dirty:
        print("figures: tracked files differ from the commit, so every figure's provenance "
              "will say -dirty; commit first for figures that name their commit",
              file=sys.stderr)
    made: dict[Path, Path] = {}
    with tempfile.TemporaryDirectory(prefix="repsim-figures-") as tmp:
        for name in names:
            start = time.perf_counter()
            part = Path(tmp) / name
            part.mkdir()
            made.update(FIGURES[name](part))
            print(f"figures: {name} in {time.perf_counter() - start:.0f} s", flush=True)
        for source, target in made.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            print(f"figures: wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
