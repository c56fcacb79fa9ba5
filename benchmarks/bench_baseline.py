"""repsim side by side with a straightforward SimPy model of the same scenarios.

For each scenario, repsim, ``benchmarks/baseline_simpy.py`` (a straightforward SimPy model)
and ``benchmarks/baseline_lean.py`` (a lean one, as a competent SimPy user writes when speed
matters) run the same configuration in fresh subprocesses, alternating, ``--reps`` times each;
the targets are against the lean model. It prints the median ratio of
simulated operations per wall second (and per CPU second, which other work on the machine
disturbs less), the SimPy events per operation of each, and both models' stale-read and cache
hit rates, which must agree (stale within 10%, hit within 3%) for the comparison to mean
anything. Then the time repsim takes to a stale-read rate known within +-2% on the headline
scenario (``run.target_rel_ci = 0.02``). Every figure is measured in this run; nothing is
compared with a number from elsewhere.

    python benchmarks/bench_baseline.py [--reps 3] [--scale 1.0] [--json]

It prints PASS or FAIL per target and exits 1 when any failed: a speed target missed, or the
two models disagreeing on the metrics (then the speed comparison would not be a like-for-like
one, and a FAIL line says so).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from verdicts import exit_status, verdict

HERE = Path(__file__).resolve().parent

# The scenario of the speed issue: 1 master, 3 replicas, 1,000 writes/s and 9,000 reads/s
# over 1,000 uniform keys, exp(5 ms) FIFO replication, 0.5 ms one-way network, exp(50 us)
# service, cache-aside with a 100 ms TTL filled from the replicas, reads from the replicas,
# no warm-up, 30 s simulated.
HEADLINE = {
    "replication.replicas": 3, "workload.write_rate": 1000, "workload.read_rate": 9000,
    "workload.keys": 1000, "workload.key_distribution": "uniform",
    "replication.delay": "exp:5ms", "network.client_latency": "0.5ms", "cache.latency": "0.5ms",
    "server.service_time": "exp:50us", "server.replica_apply_time": "exp:50us",
    "server.batch_overhead": "0s", "cache.ttl": "100ms", "cache.fill_from": "replicas",
    "replication.read_policy": "replicas", "run.warmup": 0, "run.duration": 30.0,
}
SCENARIOS = {
    "headline": (HEADLINE, 2.5),
    "default": ({"run.warmup": 0, "run.duration": 10.0}, 2.0),
    "closed, batch 16": ({"workload.mode": "closed", "pipeline.batch_size": 16,
                          "run.warmup": 0, "run.duration": 3.0}, 2.0),
}
AGREE = {"stale_read_rate": 0.10, "cache_hit_rate": 0.03}  # relative tolerances

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import sim
overrides = json.loads(sys.argv[3])
cfg = sim.Config.default().with_overrides(overrides)
wall, cpu = time.perf_counter(), time.process_time()
if sys.argv[2] == "baseline":
    import baseline_simpy
    s = baseline_simpy.simulate(cfg)
elif sys.argv[2] == "lean":
    import baseline_lean
    s = baseline_lean.simulate(cfg)
else:
    s = sim.simulate(cfg).summary
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
ops = s["reads"] + s["writes"]
print(json.dumps({"ops": ops, "wall_s": wall, "cpu_s": cpu, "events": s["sim_events"],
                  "stale_read_rate": s["stale_read_rate"], "cache_hit_rate": s["cache_hit_rate"],
                  "precision": s.get("precision")}))
"""


MODELS = ("repsim", "baseline", "lean")  # the baselines: straightforward and lean SimPy
TARGET_OF = "lean"  # the targets are against the lean model, the one a user would write


def child(model: str, overrides: dict) -> dict:
    """One run of ``model`` (one of MODELS) in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(HERE), model, json.dumps(overrides)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def compare(overrides: dict, reps: int) -> dict:
    runs: dict[str, list[dict]] = {model: [] for model in MODELS}
    for _ in range(reps):
        for model in runs:
            runs[model].append(child(model, overrides))
    row: dict = {}
    for model, results in runs.items():
        row[model] = {
            "ops_per_wall_s": statistics.median(r["ops"] / r["wall_s"] for r in results),
            "ops_per_cpu_s": statistics.median(r["ops"] / r["cpu_s"] for r in results),
            "events_per_op": results[0]["events"] / results[0]["ops"],
            "stale_read_rate": results[0]["stale_read_rate"],
            "cache_hit_rate": results[0]["cache_hit_rate"],
        }
    row["ratio_wall"], row["ratio_cpu"], row["agree"] = {}, {}, {}
    for base in MODELS[1:]:
        row["ratio_wall"][base] = row["repsim"]["ops_per_wall_s"] / row[base]["ops_per_wall_s"]
        row["ratio_cpu"][base] = row["repsim"]["ops_per_cpu_s"] / row[base]["ops_per_cpu_s"]
        for metric, tolerance in AGREE.items():
            a, b = row["repsim"][metric], row[base][metric]
            row["agree"][f"{metric} ({base})"] = (a is None and b is None) or (
                a is not None and b is not None
                and abs(a - b) <= tolerance * max(abs(b), 1e-12))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="runs of each model per scenario")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every simulated duration (e.g. 0.2 for a quick look)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"repsim against a straightforward SimPy model ({os.cpu_count()} CPUs, load average "
          f"{load:.2f} at the start; median of {args.reps} alternating runs each)")
    header = (f"{'scenario':<17} {'model':<9} {'ops/wall s':>11} {'ops/CPU s':>10} "
              f"{'events/op':>9} {'stale rate':>10} {'hit rate':>9}")
    print(header)
    print("-" * len(header))
    rows, verdicts = {}, []
    for name, (overrides, target) in SCENARIOS.items():
        overrides = {**overrides, "run.duration": overrides["run.duration"] * args.scale}
        row = rows[name] = compare(overrides, args.reps)
        for model in MODELS:
            r = row[model]
            hit = "-" if r["cache_hit_rate"] is None else f"{r['cache_hit_rate']:.4f}"
            print(f"{name:<17} {model:<9} {r['ops_per_wall_s']:>11,.0f} "
                  f"{r['ops_per_cpu_s']:>10,.0f} {r['events_per_op']:>9.2f} "
                  f"{r['stale_read_rate']:>10.4f} {hit:>9}")
        for base in MODELS[1:]:
            print(f"{name:<17} {'/ ' + base:<9} {row['ratio_wall'][base]:>11.2f} "
                  f"{row['ratio_cpu'][base]:>10.2f}")
        wall, cpu = row["ratio_wall"][TARGET_OF], row["ratio_cpu"][TARGET_OF]
        verdicts.append(f"{verdict(wall >= target)}  {name}: {wall:.2f}x the lean baseline's "
                        f"operations per wall second (target {target:g}x; per CPU second "
                        f"{cpu:.2f}x; {row['ratio_wall']['baseline']:.2f}x the "
                        "straightforward one's)")
        for metric, agrees in row["agree"].items():
            if not agrees:
                verdicts.append(f"FAIL  {name}: the models disagree on {metric} beyond "
                                f"{AGREE[metric.split(' ')[0]]:.0%}")
    # Time to an answer: the headline scenario until its stale-read rate is known to +-2%.
    precise = {**HEADLINE, "run.duration": 5.0 * args.scale, "run.target_rel_ci": 0.02,
               "run.max_duration": 600.0}
    start = time.perf_counter()
    answer = child("repsim", precise)
    took = time.perf_counter() - start
    p = answer["precision"]
    print(f"\ntime to a stale-read rate within +-2% (headline): {took:.1f} s wall, "
          f"{p['simulated_duration_s']:g} s simulated, stopped by {p['stopped_by']}; "
          f"stale rate {answer['stale_read_rate']:.4f} +- "
          f"{p['stale_read_rate_rel_ci']:.1%}")
    print()
    print("\n".join(verdicts))
    if args.json:
        print(json.dumps({"scenarios": rows, "time_to_2pct_s": took, "precision": p}, indent=1))
    return exit_status(verdicts)


if __name__ == "__main__":
    raise SystemExit(main())
