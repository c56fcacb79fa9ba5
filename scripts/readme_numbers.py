"""Rewrite the numbers the README quotes from runs, from those runs.

    python scripts/readme_numbers.py           # rerun, rewrite README.md in place
    python scripts/readme_numbers.py --check   # exit 1 and name what differs, change nothing

Each quoted figure is found by the words around it (a pattern that must match exactly once)
and recomputed from the run the README shows: the worked example's three runs, the crash of
the Faults section and its restart, and the Redis calibration that ``make figures`` wrote to
docs/redis-calibrated.toml. The printed tables below ``repsim run`` commands are
rewritten line by line from what that command prints. ``tests/test_readme_numbers.py`` checks
that the README is what this script would write, so a change of the model that moves a number
fails the suite until the script is rerun. Durations of commands ("about 40 s") are measured
on a machine, not computed here.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

WORKED = ["--set", "run.duration=10s"]
CRASH = ["--set", "run.duration=20s", "--set", "replication.delay=20ms",
         "--set", "faults.master_crash_at=10s", "--set", "faults.sentinel_down_after=500ms"]
RESTART = [*CRASH, "--set", "faults.master_recover_after=200ms", "--set", "run.duration=30s"]
RUNS = {"cached": WORKED, "invalidated": [*WORKED, "--set", "cache.on_write=invalidate"],
        "uncached": [*WORKED, "--set", "cache.enabled=false"], "crash": CRASH,
        "restart": RESTART}

N = r"([\d,.]+)"  # one quoted number
Runs = dict[str, dict[str, Any]]


def _phase_s(runs: Runs, phase: str) -> str:
    return f"{runs['crash']['failover_phases_ms'][phase] / 1e3:.2f}"


def _lost_theory(runs: Runs) -> str:
    from sim.analysis.analytic import expected_lost_writes

    return f"{expected_lost_writes(1000.0, 0.020, reply_latency_s=250e-6):.2f}"


# (pattern with one group per number, the numbers from the runs)
QUOTES: list[tuple[str, Callable[[Runs], tuple[str, ...]]]] = [
    (rf"falls to {N} %", lambda r: (f"{100 * r['invalidated']['stale_read_rate']:.1f}",)),
    (rf"only replication lag is left: {N} % stale",
     lambda r: (f"{100 * r['uncached']['stale_read_rate']:.2f}",)),
    (rf"on average {N} ms out of date",
     lambda r: (f"{r['uncached']['staleness_age_ms']['mean']:.2f}",)),
    (rf"\({N} ms instead of {N} ms\)",
     lambda r: (f"{r['uncached']['read_latency_ms']['mean']:.3f}",
                f"{r['cached']['read_latency_ms']['mean']:.3f}")),
    (rf"its p99 \({N} ms\) is \*above\* the p99 without it \({N} ms\)",
     lambda r: (f"{r['cached']['read_latency_ms']['p99']:.3f}",
                f"{r['uncached']['read_latency_ms']['p99']:.3f}")),
    (rf"counted the master\s+down {N} s after the kill and made replica0 writable at {N} s, "
     rf"but believed it only on\s+its INFO poll at {N} s; the polling clients switched by "
     rf"{N} s, and the writes of those\s+{N} s failed",
     lambda r: (*(_phase_s(r, p) for p in ("detected", "promoted", "confirmed",
                                            "clients_switched")),
                f"{r['crash']['write_outage_ms']['mean'] / 1e3:.1f}")),
    (rf"W \(d - L\) = {N} on average", lambda r: (_lost_theory(r),)),
    (rf"wrote to it for {N} s until Sentinel demoted\s+it; all {N} acknowledged writes were "
     rf"discarded, and replica1 resynced from the empty\s+master first, losing {N} keys",
     lambda r: (f"{r['restart']['data_loss_window_ms'] / 1e3:.0f}",
                f"{r['restart']['restart_lost_writes']:,}", f"{r['restart']['keys_wiped']:,}")),
]

CALIBRATED = ROOT / "docs" / "redis-calibrated.toml"
UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(ns|us|ms|s)", text).groups()
    return float(number) * UNITS[unit]


@functools.cache
def calibration() -> dict[str, float]:
    """The fit ``make figures`` wrote to docs/redis-calibrated.toml: L, o and s per command
    (seconds) and the fit's errors (%), from the lines ``repsim calibrate`` writes there."""
    text = CALIBRATED.read_text()
    per = re.search(r"per message: GET (\S+) \+ (\S+) per command, SET (\S+) \+ (\S+) per "
                    r"command", text).groups()
    errors = re.search(r"rms error ([\d.]+)%, max ([\d.]+)%", text).groups()
    latency = re.search(r'client_latency = "(\S+)"', text).group(1)
    return {"L": _seconds(latency), "o_get": _seconds(per[0]), "s_get": _seconds(per[1]),
            "o_set": _seconds(per[2]), "s_set": _seconds(per[3]),
            "rms": float(errors[0]), "max": float(errors[1])}


def _us(seconds: float) -> str:
    from sim.plot.style import format_number

    return format_number(seconds * 1e6, 2)


def _one_client(cmd: str, depth: int, unit: float, digits: int) -> str:
    """The fitted model's throughput of one closed-loop client, B / (2L + o + B s)."""
    c = calibration()
    rate = depth / (2 * c["L"] + c[f"o_{cmd}"] + depth * c[f"s_{cmd}"])
    return f"{rate / unit:.{digits}f}"


CALIBRATION_QUOTES: list[tuple[str, Callable[[], tuple[str, ...]]]] = [
    (rf"the fit gave L = {N} µs, o = {N} µs \(GET\) / {N} µs \(SET\) per message and "
     rf"s = {N} µs\s+\(GET\) / {N} µs \(SET\) per command",
     lambda: tuple(_us(calibration()[k]) for k in ("L", "o_get", "o_set", "s_get", "s_set"))),
    (rf"one client gets {N}k \(GET\) / {N}k \(SET\) commands/s unpipelined and\s+{N}M "
     rf"\(GET\) / {N}M \(SET\) at depth 128",
     lambda: (_one_client("get", 1, 1e3, 0), _one_client("set", 1, 1e3, 0),
              _one_client("get", 128, 1e6, 2), _one_client("set", 128, 1e6, 2))),
    (rf"The fitted curves are within {N}% of every measured\s+point \(rms {N}%\)",
     lambda: (f"{calibration()['max']:.0f}", f"{calibration()['rms']:.1f}")),
]

# Printed tables: (the text just before the block, the run whose report it shows).
BLOCKS = [("repsim run --set run.duration=10s\n```\n\n", "cached"),
          ("--set faults.master_crash_at=10s --set faults.sentinel_down_after=500ms\n```\n\n",
           "crash"),
          ("the old master comes back empty 0.2 s after the kill, before anyone switched:\n\n",
           "restart")]
LABELLED = re.compile(r"^(\s*)(\S.*?\S)(\s{2,})(\S.*)$")


def _cli(*args: str) -> str:
    from sim.cli.app import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(list(args))
    if status != 0:
        raise SystemExit(f"readme_numbers: repsim {' '.join(args)} exited {status}")
    return buffer.getvalue()


@functools.cache
def runs() -> tuple[Runs, dict[str, str]]:
    """Every run's ``--json`` summary and its printed report, by name."""
    from sim.analysis.report import format_summary

    # What `repsim run` prints is format_summary of what `repsim run --json` prints.
    summaries = {name: json.loads(_cli("run", "--json", "--quiet", *args))
                 for name, args in RUNS.items()}
    return summaries, {name: format_summary(s) for name, s in summaries.items()}


def _rewrite_block(text: str, anchor: str, report: str) -> str:
    start = text.index(anchor) + len(anchor)
    assert text.startswith("```\n", start), f"no printed block after {anchor!r}"
    body_start = start + len("```\n")
    body_end = text.index("```\n", body_start)
    printed = {}
    for line in report.splitlines():
        match = LABELLED.match(line)
        if match:
            printed[match.group(2)] = line.rstrip()
    lines = []
    for line in text[body_start:body_end].splitlines():
        match = LABELLED.match(line)
        label = match.group(2) if match else None
        lines.append(printed.get(label, line) if label else line)
    return text[:body_start] + "\n".join(lines) + "\n" + text[body_end:]


def _substitute(text: str, pattern: str, values: tuple[str, ...]) -> str:
    """``text`` with the numbers of the one match of ``pattern`` replaced by ``values``."""
    found = list(re.finditer(pattern, text))
    if len(found) != 1:
        raise SystemExit(f"readme_numbers: {pattern!r} matches {len(found)} times in the "
                         "README; it should match once")
    match = found[0]
    for i in range(len(values), 0, -1):  # from the end: earlier spans stay valid
        text = text[:match.start(i)] + values[i - 1] + text[match.end(i):]
    return text


def rewrite(text: str) -> str:
    """``text`` (the README) with every quoted number recomputed."""
    summaries, reports = runs()
    for pattern, numbers in QUOTES:
        text = _substitute(text, pattern, numbers(summaries))
    for pattern, numbers in CALIBRATION_QUOTES:
        text = _substitute(text, pattern, numbers())
    for anchor, name in BLOCKS:
        text = _rewrite_block(text, anchor, reports[name])
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="only say whether the README is up to date (exit 1 if not)")
    args = parser.parse_args(argv)
    before = README.read_text()
    after = rewrite(before)
    if args.check:
        if after != before:
            changed = [line for line in after.splitlines() if line not in before.splitlines()]
            print("readme_numbers: the README quotes other numbers than the runs give; "
                  "run python scripts/readme_numbers.py. New lines:\n  " + "\n  ".join(changed),
                  file=sys.stderr)
            return 1
        return 0
    if after != before:
        from sim.experiment.store import write_atomic

        write_atomic(README, after.encode())
        print("readme_numbers: README.md rewritten")
    else:
        print("readme_numbers: README.md already quotes what the runs give")
    return 0


if __name__ == "__main__":
    sys.exit(main())
