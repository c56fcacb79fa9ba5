"""Speed of visibility measurement: the probes' overhead, the PBS LNKD-DISK reproduction and
a sweep run to a precision target.

Prints, in one run:

1. probe overhead: CPU seconds of one run without probes and of the same run with a probe of
   every commit (``metrics.visibility_share = 1``), alternating, best of ``--repeats`` each,
   for leader mode (the default configuration), quorum mode (the default workload on N = 3
   peers) and the PBS LNKD-DISK example (``examples/pbs-lnkd-disk.toml``: a read for every
   write, the dearest case per commit, with its 81-point grid);
2. PBS LNKD-DISK, R = W = 1: the CPU time and t(99.9%) with its 95% interval, from the
   example as shipped (FIFO links, 200 clients) and with ``quorum.link_order =
   "independent"`` and 8 clients, beside the paper's 45.5 ms (Bailis et al., VLDB 2012,
   sections 1 and 5.6);
3. a 12-point sweep of the default model (write rate x replication delay), each run with
   ``run.target_rel_ci = 0.02``, on the processes executor with 2 workers: its wall time and
   how many runs stopped because they reached the target.

Then PASS/FAIL for each overhead (at most 1.5x) and exit 1 when one fails. CPU time, not
wall time, because the machine may be shared; the sweep's time is wall time, the figure a
user waits for.

    python benchmarks/bench_visibility.py [--repeats N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sim import Config, simulate
from sim.experiment.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent
PBS = ROOT / "examples" / "pbs-lnkd-disk.toml"
PAPER_T999_MS = 45.5  # PBS, LNKD-DISK, N = 3, R = W = 1
TARGET_OVERHEAD = 1.5
SWEEP_GRID = {"workload.write_rate": "log:100:10000:3", "replication.delay": "1ms,2ms,5ms,10ms"}
SWEEP_WORKERS = 2


def overhead_cases() -> dict[str, Config]:
    every = {"metrics.visibility_share": 1.0}
    return {
        "leader (default, 10 s)": Config.default().with_overrides(
            {**every, "run.duration": 10.0}),
        "quorum (default workload, N=3, 10 s)": Config.default().with_overrides(
            {**every, "replication.mode": "quorum", "replication.replicas": 3,
             "run.duration": 10.0}),
        "PBS LNKD-DISK (1 read a write, 81 points, 100 s)": Config.from_toml(PBS)
        .with_overrides({**every, "run.duration": 100.0}),
    }


def cpu_seconds(config: Config) -> float:
    start = time.process_time()
    simulate(config)
    return time.process_time() - start


def overhead(config: Config, repeats: int) -> dict[str, float]:
    """Best CPU seconds without and with probes of every commit, runs alternating."""
    plain = config.with_overrides({"metrics.visibility_probes": False})
    probed = config.with_overrides({"metrics.visibility_probes": True})
    without, with_ = [], []
    for _ in range(repeats):
        without.append(cpu_seconds(plain))
        with_.append(cpu_seconds(probed))
    return {"without_s": min(without), "with_s": min(with_),
            "ratio": min(with_) / min(without)}


def pbs(overrides: dict) -> dict:
    config = Config.from_toml(PBS).with_overrides(overrides)
    start = time.process_time()
    vis = simulate(config).summary["visibility"]
    return {"cpu_s": time.process_time() - start, "t_999_ms": vis["t_999_ms"],
            "t_999_ms_ci95": vis["t_999_ms_ci95"], "probes": vis["probes"],
            "simulated_s": config.run.duration}


def precise_sweep() -> dict:
    base = Config.default().with_overrides({"run.duration": 5.0, "run.warmup": 0.5,
                                            "run.target_rel_ci": 0.02})
    start = time.perf_counter()
    frame = sweep(base, SWEEP_GRID, executor="processes", workers=SWEEP_WORKERS,
                  progress=False)
    seconds = time.perf_counter() - start
    reached = frame["precision.stopped_by"] == "precision"
    short = frame.loc[~reached, list(SWEEP_GRID)]
    return {"points": len(frame), "workers": SWEEP_WORKERS, "wall_s": seconds,
            "reached_target": int(reached.sum()),
            "not_reached": [{k: str(v) for k, v in row.items()} for row in
                            short.to_dict("records")],
            "failed_runs": int((frame["error"] != "").sum())}


def fmt_interval(lo, hi) -> str:
    return f"[{'-' if lo is None else f'{lo:.1f}'}, {'-' if hi is None else f'{hi:.1f}'}]"


def measure(repeats: int) -> dict:
    return {
        "overhead": {name: overhead(cfg, repeats) for name, cfg in overhead_cases().items()},
        "pbs_lnkd_disk": {
            "as shipped (fifo, 200 clients)": pbs({}),
            "independent links, 8 clients": pbs({"quorum.link_order": "independent",
                                                 "workload.clients": 8}),
        },
        "sweep": precise_sweep(),
    }


def report(result: dict, repeats: int) -> None:
    print(f"probe overhead (CPU s, best of {repeats}, same run without and with probes of "
          "every commit)")
    for name, row in result["overhead"].items():
        print(f"  {name:<50} {row['without_s']:7.2f} {row['with_s']:7.2f} {row['ratio']:6.2f}x")
    print(f"PBS LNKD-DISK, R = W = 1, t(99.9%) (paper: {PAPER_T999_MS} ms)")
    for name, row in result["pbs_lnkd_disk"].items():
        print(f"  {name:<32} {row['simulated_s']:.0f} s simulated, {row['cpu_s']:.2f} CPU s, "
              f"{row['probes']} probes: t_999 = {row['t_999_ms']:.1f} ms, 95% "
              f"{fmt_interval(*row['t_999_ms_ci95'])}")
    sw = result["sweep"]
    print(f"sweep of {sw['points']} points to +-2% (run.target_rel_ci = 0.02), "
          f"{sw['workers']} workers: {sw['wall_s']:.1f} s wall, {sw['reached_target']} "
          f"reached the target, {sw['failed_runs']} failed")
    for point in sw["not_reached"]:
        print(f"  stopped at run.max_duration: {point}")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each kind per overhead case (default 3)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    result = measure(args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result, args.repeats)
    ok = {name: row["ratio"] <= TARGET_OVERHEAD for name, row in result["overhead"].items()}
    for name, passed in ok.items():
        print(f"{'PASS' if passed else 'FAIL'}: probe overhead {name} "
              f"{result['overhead'][name]['ratio']:.2f}x (target <= {TARGET_OVERHEAD}x)")
    return 0 if all(ok.values()) and not result["sweep"]["failed_runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
