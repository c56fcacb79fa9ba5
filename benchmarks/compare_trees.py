"""Fault-free speed of this checkout against another checkout of repsim, measured side by side.

Runs the same scenarios with each tree's ``sim`` package in a fresh subprocess, alternating
the trees, and prints simulated operations per CPU second of the run (median of the
repetitions; CPU time, so that other work on the machine disturbs the comparison less) and
SimPy events per operation for each. Use it before and after a change to the nodes:

    git worktree add /tmp/before HEAD~1
    python benchmarks/compare_trees.py /tmp/before [--reps 3] [--duration 10]

It is a report, not a test: it exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

SCENARIOS = {
    "default": {},
    "closed, batch 16": {"workload.mode": "closed", "pipeline.batch_size": 16,
                         "workload.clients": 8},
    "no cache, WAIT 1": {"cache.enabled": False, "replication.wait_replicas": 1},
    # The same run watched: a trace is a hook that must cost little and change nothing.
    "default, traced": {"_trace": True},
    "closed, batch 16, traced": {"workload.mode": "closed", "pipeline.batch_size": 16,
                                 "workload.clients": 8, "_trace": True},
}

RUN = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import sim
over = json.loads(sys.argv[2])
trace = (lambda kind, t, **fields: None) if over.pop("_trace", False) else None
over.update({"run.duration": float(sys.argv[3]), "run.warmup": 0.0})
cfg = sim.Config.default().with_overrides(over)
simulate = sim.simulate  # imported before the clock starts: the run is timed, not imports
t = time.process_time()
s = simulate(cfg, trace=trace).summary
wall = time.process_time() - t
ops = s["reads"] + s["writes"]
print(json.dumps({"ops_per_s": ops / wall, "events_per_op": s["sim_events"] / ops}))
"""


def measure(tree: Path, overrides: dict, duration: float) -> dict:
    out = subprocess.run([sys.executable, "-c", RUN, str(tree), json.dumps(overrides),
                          str(duration)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (its top folder)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="simulated seconds")
    args = parser.parse_args()
    trees = {"other": args.other.resolve(), "this": HERE}
    print(f"{'scenario':<20} {'tree':<6} {'ops/CPU s (med)':>15} {'events/op':>10}")
    for name, overrides in SCENARIOS.items():
        results: dict[str, list[dict]] = {k: [] for k in trees}
        for _ in range(args.reps):
            for label, tree in trees.items():
                results[label].append(measure(tree, overrides, args.duration))
        medians = {}
        for label in trees:
            rate = statistics.median(r["ops_per_s"] for r in results[label])
            medians[label] = rate
            print(f"{name:<20} {label:<6} {rate:>15,.0f} {results[label][0]['events_per_op']:>10.2f}")
        print(f"{name:<20} {'ratio':<6} {medians['this'] / medians['other']:>15.3f}  (this / other)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
