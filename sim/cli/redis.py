"""``repsim calibrate`` and ``repsim validate``: the simulator against a real Redis.

``register(subparsers)`` adds both subcommands to the ``repsim`` parser; each sets
``handler`` to a function of the parsed arguments that returns the exit status. A server
that cannot be reached or measured is one line on stderr and exit status 1; bad
arguments are argparse's one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.report import format_number, format_percent
from sim.cli.args import number
from sim.config.distributions import format_duration, parse_duration
from sim.config.schema import Config, ConfigError

__all__ = ["parse_address", "register"]

#: A fit within this relative error at every point reproduces the curve's shape.
SHAPE_TOLERANCE = 0.25
#: Seconds of the --seconds budget kept for the fit, the config and the plot at the end
#: (drawing and saving it took 1.5-2 s on a busy machine).
FINISH_S = 2.5
FINISH_NO_PLOT_S = 0.3



def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _fail(message: str, status: int = 1) -> int:
    sys.stderr.write(f"repsim: error: {message}\n")
    return status


# -- argument types: one clear line naming the value and what is allowed ---------------------


def parse_address(text: str) -> tuple[str, int]:
    """``(host, port)`` from ``"HOST:PORT"`` (``[::1]:6379`` for IPv6); ``ValueError`` else."""
    host, sep, port = str(text).rpartition(":")
    if sep and host and port.isascii() and port.isdigit() and 0 < int(port) < 65536:
        return host.strip("[]"), int(port)
    raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:6379, port 1..65535)")


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _number(minimum: float, integer: bool = False, inclusive: bool = True) -> Callable[[str], Any]:
    return number(minimum, integer=integer, inclusive=inclusive)


_fraction = number(0.0, 1.0, what=" (a fraction)")


def _rates(text: str) -> list[float]:
    """Comma-separated rates per second, each > 0."""
    parse = _number(0.0, inclusive=False)
    return [parse(part) for part in text.split(",")]


def _duration(text: str) -> float:
    """A duration >= 0 in seconds ("500ms", "10s", "2")."""
    try:
        return parse_duration(text, "duration")
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (seconds, or a number with a unit: 500ms, 10s)") from None


def _seconds(text: str) -> float:
    """A duration > 0 in seconds."""
    value = _duration(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the duration must be > 0")
    return value


def _budget(text: str) -> float:
    """A measurement budget: a duration of at least one second."""
    value = _duration(text)
    if value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: the budget must be at least 1s")
    return value


def _delays(text: str) -> list[float | None]:
    """Comma-separated delays for the proxy; ``none`` means the replica links directly."""
    out: list[float | None] = []
    for part in text.split(","):
        if part.strip().lower() in ("none", "direct"):
            out.append(None)
            continue
        try:
            out.append(parse_duration(part.strip(), "delay"))
        except ConfigError:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not a delay: a duration such as 2ms or 10ms, or 'none' for no proxy"
            ) from None
    return out


# -- calibrate -------------------------------------------------------------------------------


def _need_redis_py() -> str | None:
    """None when redis-py is importable, else what to install."""
    try:
        import redis  # noqa: F401  (only checking that it is there)
    except ImportError:
        return "redis-py is not installed: pip install 'repsim[redis]' (or pip install redis)"
    return None


def _cmd_calibrate(args: argparse.Namespace) -> int:
    # --seconds bounds the whole command: from the start of the process when it was started
    # to run this command (see sim.cli.app.main), else from here.
    started = getattr(args, "started", None) or time.perf_counter()
    if (missing := _need_redis_py()) is not None:
        return _fail(missing)
    # Late imports: `repsim run` and friends need neither redis-py nor the fit. They come
    # before the deadline is set, so the time they take (matplotlib's, mostly) is counted.
    from sim.redis.calibrate import config_toml, error_table, fit_closed_loop, plot_calibration
    from sim.redis.measure import (
        BudgetError,
        MeasureError,
        measure_curve,
        measure_ping,
        pipeline_depths,
        server_version,
    )

    out_path = Path(args.out) if args.out else None
    plot_path = Path(args.plot) if args.plot else (out_path.with_suffix(".png") if out_path else None)
    for option, path in (("--out", out_path), ("--plot", plot_path)):
        if path is not None and not path.parent.is_dir():  # say so before measuring, not after
            return _fail(f"{option} {path}: folder {path.parent} does not exist", 2)
    address = args.redis
    depths = pipeline_depths(args.max_depth)
    client_counts = (1, args.clients)
    # The measurements end by this time; the rest of the budget is for the fit, the config
    # and the plot (drawing it takes about a second where matplotlib is not yet loaded).
    finish_s = FINISH_S if plot_path is not None else FINISH_NO_PLOT_S
    deadline = started + args.seconds - finish_s
    spent_s = time.perf_counter() - started
    try:
        version = server_version(address)
        ping = measure_ping(address, seconds=min(0.5, 0.05 * args.seconds))
        points = measure_curve(address, depths, client_counts, ("SET", "GET"),
                               rounds=args.rounds, deadline=deadline)
    except BudgetError as error:
        enough = math.ceil(1.2 * error.needed_s + spent_s + 0.5 + finish_s)  # 0.5: the PING
        return _fail(f"--seconds {args.seconds:g}: {error}; give --seconds {enough} or more, "
                     "or measure fewer points (--rounds 1, a smaller --max-depth or --clients)")
    except MeasureError as error:
        hint = ("; on a busy machine give more --seconds or measure fewer points (--rounds 1, "
                "a smaller --max-depth)" if "completed within" in str(error) else "")
        return _fail(f"{error}{hint}")
    fit = fit_closed_loop(points, args.read_fraction)
    where = f"{address[0]}:{address[1]}"
    header = [f"calibrated by repsim calibrate against Redis {version} at {where}",
              f"PING round trip p50 {ping.rtt_p50_s * 1e6:.1f} us over {ping.n} pings; "
              f"closed loop, depths 1..{args.max_depth}, 1 and {args.clients} clients, "
              f"{args.seconds:g}s"]
    try:  # a folder checked above can still be unwritable or vanish
        if out_path is not None:
            out_path.write_text(config_toml(fit, header))
        if plot_path is not None:
            plot_calibration(points, fit, plot_path)
    except OSError as error:
        return _fail(f"cannot write {error.filename or 'the output'}: {error.strerror or error}")
    rows = error_table(points, fit)
    if args.json:
        _write(json.dumps(_calibration_json(where, version, ping, fit, rows, out_path, plot_path),
                          indent=2))
    else:
        _write(_calibration_text(where, version, ping, fit, rows, out_path, plot_path))
    return 0


def _fit_dict(fit: Any) -> dict[str, Any]:
    return {"client_latency_us": fit.client_latency_s * 1e6,
            "batch_overhead_us": fit.batch_overhead_s * 1e6,
            "service_time_us": fit.service_time_s * 1e6,
            "service_time_by_command_us": {c: t * 1e6 for c, t in fit.service_times_s.items()},
            "batch_overhead_by_command_us": {c: t * 1e6 for c, t in fit.batch_overheads_s.items()},
            "read_fraction": fit.read_fraction,
            "rms_error": fit.rms_error, "max_error": fit.max_error,
            "within_tolerance": fit.max_error <= SHAPE_TOLERANCE}


def _calibration_json(where: str, version: str, ping: Any, fit: Any, rows: list[dict],
                      out: Path | None, plot: Path | None) -> dict[str, Any]:
    return {"redis": where, "redis_version": version,
            "ping_rtt_ms": {"p50": ping.rtt_p50_s * 1e3, "mean": ping.rtt_mean_s * 1e3, "n": ping.n},
            "fit": _fit_dict(fit), "points": rows,
            "config": None if out is None else str(out), "plot": None if plot is None else str(plot)}


def _by_command(times: dict[str, float]) -> str:
    return ", ".join(f"{c} {format_duration(float(f'{t:.3g}'))}" for c, t in times.items())


def _calibration_text(where: str, version: str, ping: Any, fit: Any, rows: list[dict],
                      out: Path | None, plot: Path | None) -> str:
    lines = [f"Redis {version} at {where}: PING round trip p50 "
             f"{format_number(ping.rtt_p50_s * 1e6, 3)} us, mean "
             f"{format_number(ping.rtt_mean_s * 1e6, 3)} us ({ping.n} pings)",
             "",
             f"  {'cmd':<4}{'clients':>8}{'depth':>6}{'measured ops/s':>16}{'model ops/s':>14}"
             f"{'error':>8}{'p50 ms':>9}{'model ms':>10}"]
    for r in rows:
        lines.append(f"  {r['command']:<4}{r['clients']:>8}{r['depth']:>6}"
                     f"{format_number(round(r['measured_ops_s'])):>16}"
                     f"{format_number(round(r['model_ops_s'])):>14}{r['throughput_error']:>+8.0%}"
                     f"{r['measured_p50_ms']:>9.3f}{r['model_mean_ms']:>10.3f}")
    errors = np.abs(fit.throughput_errors)
    verdict = "within" if fit.max_error <= SHAPE_TOLERANCE else "NOT within"
    lines += [
        "",
        "fitted (least squares on log throughput, closed-loop model):",
        f"  network.client_latency = {format_duration(float(f'{fit.client_latency_s:.3g}'))}"
        "  (one way)",
        f"  server.batch_overhead  = {format_duration(float(f'{fit.batch_overhead_s:.3g}'))}"
        f"  (per message, {_by_command(fit.batch_overheads_s)})",
        f"  server.service_time    = {format_duration(float(f'{fit.service_time_s:.3g}'))}"
        f"  (per command, {_by_command(fit.service_times_s)})",
        f"  (the mix of {fit.read_fraction:g} GET and {1 - fit.read_fraction:g} SET; "
        "--read-fraction changes it)",
        f"fit error on throughput: rms {format_percent(fit.rms_error)}, median "
        f"{format_percent(float(np.median(errors)))}, max {format_percent(fit.max_error)} "
        f"({verdict} {SHAPE_TOLERANCE:.0%} at every point)",
    ]
    if out is not None:
        lines.append(f"config written to {out}")
    if plot is not None:
        lines.append(f"plot written to {plot}")
    if out is None:
        from sim.redis.calibrate import config_toml

        lines += ["", "config (use --out FILE.toml to save it):", config_toml(fit)]
    return "\n".join(lines)


def _add_calibrate(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="fit network and server parameters to a running Redis",
        description="Measure a running Redis (PING round trip; closed-loop SET and GET "
                    "throughput for pipeline depths 1, 2, 4, ... with one and several clients), "
                    "fit network.client_latency, server.batch_overhead and server.service_time "
                    "by least squares, and write them as a config file.")
    parser.add_argument("--redis", required=True, type=_address, metavar="HOST:PORT",
                        help="the Redis to measure (keys repsim:cal:* are written and deleted)")
    parser.add_argument("--out", metavar="FILE.toml", help="write the fitted config here "
                        "(and the plot beside it as FILE.png)")
    parser.add_argument("--plot", metavar="FILE.png", help="write the calibration plot here")
    parser.add_argument("--seconds", type=_budget, default=10.0,
                        help="time budget of the whole command, >= 1s: seconds or a duration "
                             "such as 20s (default 10); too short for the points asked for "
                             "is an error that says what to change")
    parser.add_argument("--clients", type=_number(2, integer=True), default=8,
                        help="most connections open at once, >= 2 (default 8)")
    parser.add_argument("--max-depth", type=_number(1, integer=True), default=128,
                        help="largest pipeline depth (default 128)")
    parser.add_argument("--rounds", type=_number(1, integer=True), default=3,
                        help="interleaved slices per point; each point reports their median "
                             "(default 3)")
    parser.add_argument("--read-fraction", type=_fraction, default=0.9,
                        help="share of GETs in the workload the config is for: server."
                             "service_time is this mix of the GET and SET times (default 0.9)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_cmd_calibrate)


# -- validate --------------------------------------------------------------------------------


def _validation_config(args: argparse.Namespace) -> tuple[Config, str]:
    """The simulator's config and a note on where its network latency came from."""
    config = Config.load(args.config, args.overrides)
    if args.config:
        return config, f"config {args.config}"
    from sim.redis.measure import measure_ping

    ping = measure_ping(args.replica, seconds=0.3)
    latency = float(f"{ping.rtt_p50_s / 2:.3g}")
    note = (f"no --config: network.client_latency = half the PING round trip to the replica "
            f"= {format_duration(latency)}; run repsim calibrate for the server times")
    return config.with_overrides({"network.client_latency": latency}), note


def _cmd_validate(args: argparse.Namespace) -> int:
    if (missing := _need_redis_py()) is not None:
        return _fail(missing)
    from sim.redis.measure import MeasureError
    from sim.redis.validate import Workload, validate

    if args.client_cache:
        from sim.cli import client_cache

        try:
            return client_cache.run(args, _write)
        except MeasureError as error:
            return _fail(str(error))
        except (ValueError, ConfigError) as error:
            return _fail(str(error), 2)
    if args.cluster or args.failover:
        from sim.cli import cluster, failover

        try:
            return (cluster if args.cluster else failover).run(args, _write)
        except MeasureError as error:
            return _fail(str(error))
        except ValueError as error:  # a case's own check
            return _fail(str(error), 2)
    if args.master is None or args.replica is None:
        return _fail("validate needs --master and --replica (or --failover, which starts "
                     "its own servers)", 2)
    args.write_rate = args.write_rate or [50.0]

    try:  # every argument is checked before any server is contacted
        workloads = [Workload(args.read_rate, write_rate, args.keys, args.seconds, args.warmup,
                              args.seed) for write_rate in args.write_rate]
    except ValueError as error:  # the workload's own check (e.g. warm-up >= duration)
        return _fail(str(error), 2)
    try:
        config, note = _validation_config(args)
        comparisons = [validate(args.master, args.replica, workload, config, delay,
                                args.sim_seconds, args.proxy_host)
                       for workload in workloads for delay in args.delay]
    except MeasureError as error:
        return _fail(str(error))
    except ConfigError as error:
        return _fail(str(error), 2)
    if args.json:
        _write(json.dumps({"note": note, "comparisons": [c.to_dict() for c in comparisons]},
                          indent=2, default=_json_default))
    else:
        _write(note)
        for comparison in comparisons:
            _write("")
            _write(format_comparison(comparison))
        if len(comparisons) > 1:
            _write("")
            _write(format_table(comparisons))
    disagree = sum(not c.agree for c in comparisons)
    return 1 if args.strict and disagree else 0


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _rate_ci(summary: dict[str, Any]) -> str:
    lo, hi = summary["stale_read_rate_ci95"]
    interval = "" if lo is None else f" [{format_percent(lo)}, {format_percent(hi)}]"
    return f"{format_percent(summary['stale_read_rate'])}{interval}"


def _delay_text(comparison: Any) -> str:
    if comparison.delay_target_s is None:
        return "direct (no proxy)"
    return (f"proxy {format_duration(comparison.delay_target_s)}, realised mean "
            f"{format_number(comparison.delay_mean_s * 1e3, 3)} ms")


def format_comparison(c: Any) -> str:
    """One validation as a side-by-side block: real Redis, simulator, verdict."""
    w, real, sim = c.workload, c.real, c.sim
    width = 34

    def row(label: str, a: str, b: str) -> str:
        return f"  {label:<32}{a:<{width}}{b}".rstrip()

    def latency(summary: dict[str, Any]) -> str:
        lat = summary["read_latency_ms"]
        return " / ".join(format_number(lat[q], 3) for q in ("p50", "p99", "mean"))

    lines = [
        f"writes {format_number(w.write_rate)}/s over {w.keys} key{'s' if w.keys > 1 else ''} "
        f"at the master, reads "
        f"{format_number(w.read_rate)}/s at the replica, {format_duration(w.duration_s)} "
        f"({format_duration(w.warmup_s)} warm-up); replication {_delay_text(c)}",
        row("", "real Redis", "simulator"),
        row("stale-read rate (95% CI)", _rate_ci(real), _rate_ci(sim)),
        row("stale reads / reads", f"{real['stale_reads']:,} / {real['reads']:,}",
            f"{sim['stale_reads']:,} / {sim['reads']:,}"),
        row("staleness, versions (mean)", format_number(real["staleness_versions_mean"], 3),
            format_number(sim["staleness_versions_mean"], 3)),
        row("read latency ms p50/p99/mean", latency(real), latency(sim)),
        row("possibly stale (upper bound)", format_percent(real["stale_read_rate_upper"]), ""),
        row("newer than acknowledged", f"{real['newer_than_acked']:,} reads", ""),
        row("theory 1 - E[exp(-λ(D-δ))]", format_percent(c.theory_stale_rate), ""),
        f"  verdict: {c.verdict}",
    ]
    return "\n".join(lines)


def format_table(comparisons: Sequence[Any]) -> str:
    """One line per validation (markdown table): delays, write rates, both rates, verdict."""
    lines = ["| delay | writes/s (keys) | realised delay ms | real stale-read rate (95% CI) "
             "| simulated (95% CI) | theory | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in comparisons:
        delay = "none" if c.delay_target_s is None else format_duration(c.delay_target_s)
        lines.append(
            f"| {delay} | {format_number(c.workload.write_rate)} ({c.workload.keys}) "
            f"| {format_number(c.delay_mean_s * 1e3, 3)} | {_rate_ci(c.real)} | {_rate_ci(c.sim)} "
            f"| {format_percent(c.theory_stale_rate)} | {'agree' if c.agree else 'differ'} |")
    return "\n".join(lines)


def _add_validate(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate", help="compare stale reads of a real master and replica with the simulator",
        description="Drive a real master (Poisson writes of increasing per-key versions) and "
                    "its replica (Poisson reads), measure the stale-read rate, staleness and "
                    "read latency, simulate the same workload and print both with a verdict. "
                    "--delay puts a TCP delay proxy between master and replica (the replica is "
                    "re-pointed at it for the run and back afterwards).")
    parser.add_argument("--master", type=_address, metavar="HOST:PORT",
                        help="the master (required without --failover)")
    parser.add_argument("--replica", type=_address, metavar="HOST:PORT",
                        help="a replica of --master; reads go here (required without "
                             "--failover)")
    parser.add_argument("--delay", type=_delays, default=[None], metavar="DELAY[,DELAY...]",
                        help="one-way master-to-replica delay added by the proxy, e.g. 10ms; "
                             "'none' (default) links directly; a list runs each")
    parser.add_argument("--config", metavar="CONFIG.toml",
                        help="simulator config, e.g. from repsim calibrate (default: defaults, "
                             "with the network latency from PING)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="override one simulator key (repeatable)")
    parser.add_argument("--read-rate", type=_number(0.0, inclusive=False), default=1000.0,
                        help="reads per second at the replica (default 1000)")
    parser.add_argument("--write-rate", type=_rates, default=None, metavar="RATE[,RATE...]",
                        help="writes per second at the master (default 50; 500,1000 with "
                             "--failover); a list runs each")
    parser.add_argument("--keys", type=_number(1, integer=True), default=10,
                        help="keys, chosen uniformly (default 10)")
    parser.add_argument("--seconds", type=_seconds, default=10.0,
                        help="length of each real run (default 10s)")
    parser.add_argument("--warmup", type=_duration, default=1.0,
                        help="start of each run not measured (default 1s)")
    parser.add_argument("--sim-seconds", type=_seconds, default=60.0,
                        help="simulated seconds per comparison (default 60s)")
    parser.add_argument("--seed", type=_number(0, integer=True), default=1)
    parser.add_argument("--proxy-host", default="127.0.0.1",
                        help="address the delay proxy listens on; the replica must reach it")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when any comparison differs")
    parser.add_argument("--json", action="store_true", help="print the comparisons as JSON")
    parser.add_argument("--client-cache", action="store_true",
                        help="measure redis-py's client-side cache (CLIENT TRACKING) against "
                             "a real redis-server (--master, or one it starts on 127.0.0.1) "
                             "behind the delay proxy, beside the simulator; --delay defaults "
                             "to 2ms,10ms, --write-rate to 50,200")
    failover = parser.add_argument_group(
        "failover", "--failover starts its own master, two replicas behind delay proxies and "
                    "Sentinels on loopback, kills the master (SIGKILL) under a paced writer, and "
                    "compares lost writes, loss window and outage with the simulator; --delay "
                    "defaults to 0,20ms,50ms")
    failover.add_argument("--failover", action="store_true",
                          help="run the failover experiment instead of the stale-read one")
    failover.add_argument("--crash-mode", type=_crash_modes, default=["process", "network"],
                          metavar="MODE[,MODE]",
                          help="process (kill redis-server), network (kill the proxies too); "
                               "default both")
    failover.add_argument("--down-after", type=_seconds, default=0.5,
                          help="Sentinel's down-after-milliseconds (default 500ms)")
    failover.add_argument("--sentinels", type=_number(1, integer=True), choices=(1, 3), default=1,
                          help="Sentinels (quorum 1 or 2; default 1)")
    failover.add_argument("--restart", type=_seconds, default=None, metavar="DURATION",
                          help="also restart the killed master (empty) this long after the "
                               "kill, one case per write rate")
    failover.add_argument("--after", type=_seconds, default=4.0,
                          help="writes after the kill (default 4s; 16s with a restart)")
    failover.add_argument("--poll", type=_seconds, default=0.1,
                          help="the writer asks Sentinel for the master at most this often "
                               "while writes fail (default 100ms)")
    failover.add_argument("--base-port", type=_number(0, integer=True), default=0,
                          help="servers listen on BASE, BASE+1, ... (default: free ports)")
    failover.add_argument("--sim-seeds", type=_number(1, integer=True), default=5,
                          help="simulated runs per case (default 5)")
    failover.add_argument("--figure", metavar="PATH.png",
                          help="also draw real against simulated to this PNG")
    cluster = parser.add_argument_group(
        "cluster", "--cluster starts a Redis Cluster of three masters and three replicas on "
                   "loopback, kills a master (SIGKILL) under a paced writer that follows its "
                   "slot map, and compares the shard's outage with the simulator; it shares "
                   "--write-rate (default 1000), --after, --poll, --sim-seeds and --json")
    cluster.add_argument("--cluster", action="store_true",
                         help="run the Redis Cluster failover experiment")
    cluster.add_argument("--node-timeout", type=_seconds_list, default=[1.0],
                         metavar="DURATION[,DURATION...]",
                         help="cluster-node-timeout (default 1s); a list runs each")
    parser.set_defaults(handler=_cmd_validate)


def _seconds_list(text: str) -> list[float]:
    return [_seconds(part.strip()) for part in text.split(",")]


def _crash_modes(text: str) -> list[str]:
    modes = [part.strip() for part in text.split(",")]
    for mode in modes:
        if mode not in ("process", "network"):
            raise argparse.ArgumentTypeError(f"{mode!r}: a crash mode is 'process' or 'network'")
    return modes


def register(subparsers: Any) -> None:
    """Add ``calibrate`` and ``validate`` to a ``repsim`` subparsers object."""
    _add_calibrate(subparsers)
    _add_validate(subparsers)
