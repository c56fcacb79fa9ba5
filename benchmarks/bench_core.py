"""Speed and memory of the core simulator against SimPy's own ceiling on this machine.

Prints, in one run:

1. SimPy's bare ceiling: a process yielding ``env.timeout(1e-6)`` in a loop, in events per
   wall-clock second (best of three runs of about a second each);
2. the default configuration with no warm-up (every simulated operation counts), its simulated
   duration scaled so that the run takes about ``--wall`` seconds: simulated client operations
   (reads + writes) per wall-clock second, SimPy events per operation, and the ratio of the
   operation rate to the bare event rate;
3. peak resident memory of a run at 1x and at 10x a simulated duration, each in a fresh
   subprocess, and the growth in MB and in bytes per extra operation.

Then one PASS/FAIL line per target of the core issue, and it exits 1 when any target failed
(the machine's speed varies: a FAIL on a busy machine says to rerun it on an idle one).

    python benchmarks/bench_core.py [--wall SECONDS] [--memory-duration SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import simpy
from verdicts import exit_status, verdict

import sim

BARE_STEP_S = 1e-6            # simulated time between the bare loop's events
BARE_CHUNK_S = 0.05           # simulated time per env.run call (50,000 events)
CALIBRATION_DURATION_S = 2.0  # simulated seconds of the short run that sets the scale

TARGET_BARE_FRACTION = 1.0 / 15   # of the bare env.timeout rate in the same run
TARGET_MEMORY_GROWTH_MB = 10.0    # peak RSS at 10x duration above 1x


def bare_events_per_s(seconds: float = 1.0, repeats: int = 3) -> float:
    """SimPy's ceiling: events per wall-clock second of a lone ``env.timeout`` loop, the best of
    ``repeats`` runs of about ``seconds`` wall-clock seconds each."""

    def ticker(env: simpy.Environment):
        timeout = env.timeout
        while True:
            yield timeout(BARE_STEP_S)

    best = 0.0
    for _ in range(repeats):
        env = simpy.Environment()
        env.process(ticker(env))
        start = time.perf_counter()
        # Run in chunks until the wall-clock budget is spent; one extra event per 50,000.
        while time.perf_counter() - start < seconds:
            env.run(until=env.now + BARE_CHUNK_S)
        elapsed = time.perf_counter() - start
        best = max(best, round(env.now / BARE_STEP_S) / elapsed)
    return best


def default_config(duration_s: float) -> sim.Config:
    """The default experiment lasting ``duration_s`` simulated seconds, with no warm-up."""
    return sim.Config.default().with_overrides({"run.duration": duration_s, "run.warmup": 0.0})


def timed_run(duration_s: float) -> dict[str, float]:
    """Run the default experiment for ``duration_s`` simulated seconds; return the operation
    count, SimPy events, the wall-clock seconds of ``sim.simulate`` (model build included) and
    those of the event loop alone (``loop_wall_s``, the part that scales with the duration)."""
    start = time.perf_counter()
    summary = sim.simulate(default_config(duration_s)).summary
    wall_s = time.perf_counter() - start
    return {"duration_s": duration_s, "ops": summary["reads"] + summary["writes"],
            "events": summary["sim_events"], "wall_s": wall_s,
            "loop_wall_s": summary["wall_seconds"]}


def speed(target_wall_s: float) -> dict[str, float]:
    """Calibrate on a short run, then run long enough to take about ``target_wall_s``."""
    # Scale by the event loop's time only: the first run also pays for lazy imports and every
    # run for building the model, which would make the long run too short.
    short = timed_run(CALIBRATION_DURATION_S)
    duration_s = round(CALIBRATION_DURATION_S * target_wall_s / short["loop_wall_s"], 1)
    run = timed_run(max(duration_s, CALIBRATION_DURATION_S))
    run["ops_per_s"] = run["ops"] / run["wall_s"]
    run["events_per_op"] = run["events"] / run["ops"]
    return run


def peak_rss_bytes() -> int:
    """Peak resident memory of this process in bytes (``ru_maxrss`` is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def child_memory(duration_s: float) -> None:
    """Subprocess side: run once and write the peak RSS and the operation count as JSON."""
    summary = sim.simulate(default_config(duration_s)).summary
    json.dump({"rss_bytes": peak_rss_bytes(), "ops": summary["reads"] + summary["writes"]},
              sys.stdout)


def memory(duration_s: float) -> dict[str, float]:
    """Peak RSS of a fresh process running ``duration_s`` simulated seconds, and its ops."""
    out = subprocess.run([sys.executable, __file__, "--child-memory", str(duration_s)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def report(bare: float, run: dict[str, float], small: dict, large: dict,
           memory_duration_s: float) -> str:
    """The aligned table and one PASS/FAIL line per target."""
    growth_b = large["rss_bytes"] - small["rss_bytes"]
    growth_mb = growth_b / 2**20
    extra_ops = large["ops"] - small["ops"]
    bytes_per_op = growth_b / extra_ops if extra_ops else float("nan")
    ratio = run["ops_per_s"] / bare
    rows = [
        ("SimPy bare env.timeout loop (events/s)", f"{bare:,.0f}", "best of 3 x 1 s"),
        ("default run: simulated duration (s)", f"{run['duration_s']:,.1f}", "warm-up 0"),
        ("default run: wall time (s)", f"{run['wall_s']:,.2f}", ""),
        ("default run: operations", f"{run['ops']:,}", "reads + writes"),
        ("operations per wall second", f"{run['ops_per_s']:,.0f}", ""),
        ("SimPy events per operation", f"{run['events_per_op']:.2f}", ""),
        ("ops/s : bare events/s", f"1 : {1 / ratio:.1f}", f"= {ratio:.4f}"),
        (f"peak RSS at {memory_duration_s:g} s simulated (MB)",
         f"{small['rss_bytes'] / 2**20:,.1f}", f"{small['ops']:,} ops"),
        (f"peak RSS at {10 * memory_duration_s:g} s simulated (MB)",
         f"{large['rss_bytes'] / 2**20:,.1f}", f"{large['ops']:,} ops"),
        ("growth 10x - 1x (MB)", f"{growth_mb:,.2f}", ""),
        ("growth per extra operation (bytes)", f"{bytes_per_op:,.2f}", ""),
    ]
    name_w = max(len(r[0]) for r in rows)
    value_w = max(len(r[1]) for r in rows)
    lines = [f"{name:<{name_w}}  {value:>{value_w}}  {note}".rstrip() for name, value, note in rows]
    lines.append("")
    lines.append(f"{verdict(ratio >= TARGET_BARE_FRACTION)}  ops/s >= 1/15 of bare events/s "
                 f"({run['ops_per_s']:,.0f} vs {bare * TARGET_BARE_FRACTION:,.0f})")
    lines.append(f"{verdict(growth_mb <= TARGET_MEMORY_GROWTH_MB)}  peak RSS at 10x duration "
                 f"<= {TARGET_MEMORY_GROWTH_MB:g} MB above 1x ({growth_mb:+.2f} MB)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wall", type=float, default=10.0,
                        help="wall-clock seconds the default run should take (default 10)")
    parser.add_argument("--memory-duration", type=float, default=5.0,
                        help="simulated seconds of the 1x memory run; 10x runs ten times "
                             "as long (default 5)")
    parser.add_argument("--child-memory", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory is not None:
        child_memory(args.child_memory)
        return 0

    start = time.perf_counter()
    bare = bare_events_per_s()
    run = speed(args.wall)
    small = memory(args.memory_duration)
    large = memory(10 * args.memory_duration)
    # The load average tells a reader whether other work shared the CPUs during the run.
    load_1min = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"core simulator benchmark (python {sys.version.split()[0]}, "
          f"simpy {simpy.__version__}, {os.cpu_count()} CPUs, load average {load_1min:.2f})")
    text = report(bare, run, small, large, args.memory_duration)
    print(text)
    print(f"\nbenchmark wall time {time.perf_counter() - start:.1f} s")
    return exit_status(text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
