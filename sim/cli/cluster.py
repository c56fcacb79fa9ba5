"""``repsim validate --cluster``: kill a master of a real Redis Cluster, simulate the same,
print both.

One case per ``--node-timeout`` and write rate asked for; each starts its own six servers on
loopback (:mod:`sim.redis.cluster`) and stops them, temporary folder included, before the
next. Output: a markdown table of the killed shard's write outage, FAIL and promotion times,
the other shards' longest gap, lost writes and redirects, real beside simulated.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sim.analysis.report import format_number


def cases(args: argparse.Namespace) -> list:
    """The cases the arguments ask for, in run order."""
    from sim.redis.cluster import ClusterCase

    rates = args.write_rate or [1000.0]
    return [ClusterCase(rate, timeout, after_s=max(args.after, 3 * timeout), poll_s=args.poll)
            for timeout in args.node_timeout for rate in rates]


def _v(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


COLUMNS = (("write_outage_ms", "shard outage ms"), ("detected_ms", "FAIL ms"),
           ("promoted_ms", "promoted ms"), ("other_shards_gap_ms", "other shards' gap ms"),
           ("lost_writes", "lost writes"), ("redirects", "redirects"))


def format_table(results: list[dict[str, Any]]) -> str:
    """One row per case, each measure as real / simulated."""
    head = "| node timeout ms | writes/s | " + " | ".join(
        f"{title} real / sim" for _, title in COLUMNS) + " |"
    lines = [head, "| ---: | ---: |" + " --- |" * len(COLUMNS)]
    for r in results:
        c, real, sim = r["case"], r["real"], r["sim"]
        lines.append(f"| {format_number(1e3 * c.node_timeout_s)} | {c.write_rate:g} | "
                     + " | ".join(f"{_v(real[key])} / {_v(sim[key])}" for key, _ in COLUMNS)
                     + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace, write) -> int:
    """The ``--cluster`` handler (``write`` prints a line); returns the exit status."""
    from sim.redis.cluster import compare_case

    grid = cases(args)
    results = []
    for i, case in enumerate(grid):
        if not args.json:
            write(f"[{i + 1}/{len(grid)}] {case.label} ...")
        results.append(compare_case(case, args.sim_seeds))
    if args.json:
        write(json.dumps([{"case": {n: getattr(r["case"], n)
                                    for n in r["case"].__dataclass_fields__},
                           "real": r["real"], "sim": r["sim"]} for r in results], indent=2))
        return 0
    write("")
    write("3 masters + 3 replicas, cluster-require-full-coverage yes; the master of slots "
          f"0-5460 killed (SIGKILL); simulated: mean of {args.sim_seeds} seeds; times from the "
          "kill (ms); redirects: MOVED replies and slot-map refreshes (simulated: MOVED)")
    write(format_table(results))
    return 0
