"""Run every ``benchmarks/bench_*.py`` script in turn, each in its own subprocess.

Uses the project's virtual environment (``.venv`` at the repository root) when there is one,
otherwise the running interpreter. Exits 1 when any benchmark exits non-zero (each does when
one of its PASS/FAIL verdicts is FAIL).

    python benchmarks/run_all.py [NAME ...]   # e.g. `core` runs only bench_core.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def venv_python() -> str:
    """The virtual environment's interpreter, or this one when there is no ``.venv``."""
    for candidate in (ROOT / ".venv" / "bin" / "python", ROOT / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


def scripts(names: list[str], directory: Path = HERE) -> list[Path]:
    """The benchmark scripts in name order, restricted to ``names`` when any are given."""
    found = sorted(directory.glob("bench_*.py"))
    if names:
        wanted = {n.removeprefix("bench_").removesuffix(".py") for n in names}
        found = [p for p in found if p.stem.removeprefix("bench_") in wanted]
    return found


def main(argv: list[str] | None = None, directory: Path = HERE) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    selected = scripts(args.names, directory)
    if not selected:
        print(f"run_all: no benchmark matches {' '.join(args.names)!r}", file=sys.stderr)
        return 2
    python = venv_python()
    failed: list[str] = []
    for path in selected:
        print(f"=== {path.name} ===", flush=True)
        start = time.perf_counter()
        status = subprocess.run([python, str(path)], cwd=ROOT).returncode
        outcome = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"=== {path.name}: {outcome} in {time.perf_counter() - start:.1f} s ===\n",
              flush=True)
        if status != 0:
            failed.append(path.name)
    if failed:
        print(f"run_all: {len(failed)} of {len(selected)} failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    print(f"run_all: all {len(selected)} benchmarks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
