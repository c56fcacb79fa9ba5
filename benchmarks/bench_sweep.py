"""Speed of sweeps: 16 points on serial, processes and a Dask LocalCluster.

Prints points per second and the speed-up over serial for each executor, checks that every
executor produced the same rows (apart from wall_seconds), and prints PASS or FAIL for each
speed target (processes >= 1.7x serial, dask >= 1.5x on 2 cores; the Dask time includes starting
and closing its LocalCluster, as ``--executor dask`` without a scheduler does). It exits 1 when
any verdict is FAIL, the executors disagree or a run failed (speed depends on how busy the
machine is: a FAIL on a busy machine says to rerun it on an idle one).

    python benchmarks/bench_sweep.py [--duration SECONDS] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd
from verdicts import exit_status, verdict

from sim.config.schema import Config
from sim.experiment.executors import default_workers
from sim.experiment.sweep import sweep

GRID = {"workload.write_rate": "log:100:10000:4", "replication.delay": "1ms,2ms,5ms,10ms"}
TARGETS = {"processes": 1.7, "dask": 1.5}


def measure(duration_s: float) -> dict[str, object]:
    """Run the 16-point sweep on each executor; return timings and speed-ups."""
    base = Config.default().with_overrides({"run.duration": duration_s,
                                            "run.warmup": min(0.5, duration_s / 4)})
    frames: dict[str, pd.DataFrame] = {}
    seconds: dict[str, float] = {}
    for executor in ("serial", "processes", "dask"):
        start = time.perf_counter()
        frames[executor] = sweep(base, GRID, executor=executor, progress=False)
        seconds[executor] = time.perf_counter() - start
    points = len(frames["serial"])
    reference = frames["serial"].drop(columns="wall_seconds")
    same = all(reference.equals(df.drop(columns="wall_seconds")) for df in frames.values())
    return {
        "points": points, "cores": default_workers(), "run_duration_s": duration_s,
        "seconds": seconds,
        "points_per_s": {k: points / v for k, v in seconds.items()},
        "speedup": {k: seconds["serial"] / v for k, v in seconds.items()},
        # Sum of the runs' own wall times: equal across executors unless workers are slower.
        "run_seconds": {k: float(df["wall_seconds"].sum()) for k, df in frames.items()},
        "identical_rows": same,
        "failed_runs": int(sum((df["error"] != "").sum() for df in frames.values())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 10 simulated seconds make a run take about 2 s of wall time: long enough that starting
    # workers (and a Dask cluster) is a small part of the sweep, as it is in real sweeps.
    parser.add_argument("--duration", type=float, default=10.0,
                        help="simulated seconds per run (default 10)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = measure(args.duration)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"sweep of {result['points']} points, {args.duration} s simulated each, "
              f"{result['cores']} cores")
        print(f"{'executor':<10} {'seconds':>8} {'points/s':>9} {'speed-up':>9} "
              f"{'run-s sum':>9}  target")
        for executor, secs in result["seconds"].items():
            target = TARGETS.get(executor)
            print(f"{executor:<10} {secs:8.2f} {result['points_per_s'][executor]:9.2f} "
                  f"{result['speedup'][executor]:8.2f}x {result['run_seconds'][executor]:9.2f}  "
                  + (f">= {target}x" if target else ""))
        print(f"identical rows across executors: {result['identical_rows']}")
    verdicts = [f"{verdict(result['speedup'][executor] >= target)}: {executor} speed-up "
                f"{result['speedup'][executor]:.2f}x (target >= {target}x on 2 cores)"
                for executor, target in TARGETS.items()]
    if not args.json:
        print("\n".join(verdicts))
    if not result["identical_rows"] or result["failed_runs"]:
        return 1
    return exit_status(verdicts)


if __name__ == "__main__":
    sys.exit(main())
