"""``repsim validate --client-cache``: redis-py's own client-side cache against a real
redis-server, behind the delay proxy, beside the simulator (sim/redis/client_cache.py).

Without ``--master`` it starts a redis-server of its own on 127.0.0.1 and stops it after.
One point per write rate x delay; the output is a markdown table of the stale share of local
hits (real: certainly stale, below the version acknowledged before the read, and possibly
stale, below the version sent; simulated; closed form) and the invalidations per second on
both sides.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

from sim.analysis.report import format_number, format_percent
from sim.config.distributions import format_duration

DEFAULT_DELAYS = [0.002, 0.01]
DEFAULT_WRITE_RATES = [50.0, 200.0]


def _share(summary: dict[str, Any]) -> str:
    lo, hi = summary["client_cache_stale_read_rate_ci95"]
    value = summary["client_cache_stale_read_rate"]
    if value is None:
        return "-"
    interval = "" if lo is None else f" [{format_percent(lo)}, {format_percent(hi)}]"
    return f"{format_percent(value)}{interval}"


def _possible(summary: dict[str, Any]) -> str:
    value = summary["client_cache_stale_read_rate_upper"]
    return "-" if value is None else format_percent(value)


def format_table(comparisons: list) -> str:
    """One row per point: delays, rates, both stale shares, the closed form, invalidations."""
    lines = ["| delay | writes/s (keys) | realised delay ms | local hits real | stale share of "
             "hits, real: certain (95% CI) | possible | simulated (95% CI) | 1 - E[exp(-λD)] "
             "| invalidations/s real | simulated | verdict |",
             "| --- | --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | --- |"]
    for c in comparisons:
        real, sim = c.real, c.sim
        lines.append(
            f"| {format_duration(c.delay_target_s)} | {format_number(c.workload.write_rate)} "
            f"({c.workload.keys}) | {format_number(c.delay_mean_s * 1e3, 3)} "
            f"| {real['client_cache_hits']:,} | {_share(real)} | {_possible(real)} "
            f"| {_share(sim)} "
            f"| {format_percent(c.theory)} | {format_number(real['invalidations_per_s'], 3)} "
            f"| {format_number(sim['invalidations_per_s'], 3)} "
            f"| {'agree' if c.agree else 'differ'} |")
    return "\n".join(lines)


def run(args: argparse.Namespace, write) -> int:
    """The ``--client-cache`` handler (``write`` prints a line); returns the exit status."""
    from sim.config.schema import Config
    from sim.redis.client_cache import loopback_server, validate_client_cache
    from sim.redis.measure import measure_ping
    from sim.redis.validate import Workload

    delays = [d for d in args.delay if d is not None] or DEFAULT_DELAYS
    rates = args.write_rate or DEFAULT_WRITE_RATES
    workloads = [Workload(args.read_rate, rate, args.keys, args.seconds, args.warmup, args.seed)
                 for rate in rates]
    config = Config.load(args.config, args.overrides)
    with contextlib.ExitStack() as stack:
        master = args.master or stack.enter_context(loopback_server())
        if not args.config:
            ping = measure_ping(master, seconds=0.3)
            config = config.with_overrides(
                {"network.client_latency": float(f"{ping.rtt_p50_s / 2:.3g}")})
        grid = [(w, d) for w in workloads for d in delays]
        comparisons = []
        for i, (workload, delay) in enumerate(grid):
            if not args.json:
                write(f"[{i + 1}/{len(grid)}] {format_number(workload.write_rate)} writes/s, "
                      f"delay {format_duration(delay)} ...")
            comparisons.append(validate_client_cache(master, workload, config, delay,
                                                     args.sim_seconds, args.proxy_host))
    if args.json:
        write(json.dumps([c.to_dict() for c in comparisons], indent=2))
    else:
        real = comparisons[0].real
        write("")
        write(f"redis-server {real['server_version']}, redis-py's client-side cache "
              f"(protocol 3, CacheConfig()) reading the master through the delay proxy, "
              f"{format_number(args.read_rate)} reads/s scheduled, {args.keys} keys, "
              f"{format_duration(args.seconds)} per point; simulated: "
              f"{format_duration(args.sim_seconds)}, a constant delay: the proxy's realised mean + "
              f"2 loopback hops ({format_duration(config.network.client_latency.mean)} each)")
        if real["gate_lowered"]:
            write("note: redis-py allows its cache from Redis 7.4 on; it was allowed for this "
                  f"server ({real['server_version']}), whose CLIENT TRACKING it uses")
        write(format_table(comparisons))
    disagree = sum(not c.agree for c in comparisons)
    return 1 if args.strict and disagree else 0
