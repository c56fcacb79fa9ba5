"""``repsim sweep``, ``repsim plot`` and ``repsim demo`` (docs/design.md section 5).

:func:`register` adds the ``sweep`` and ``plot`` subcommands to the ``repsim`` parser; each
sets ``handler`` to a function of the parsed arguments that returns the exit status. Bad input
raises ConfigError, which the command line turns into one line and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from sim.cli.args import add_config_arguments, number
from sim.errors import ConfigError, echo
from sim.experiment.executors import EXECUTORS
from sim.experiment.store import META_NAME, PARQUET_NAME, RESULTS_NAME, read_json
from sim.experiment.sweep import (
    DEFAULT_MAX_RUNS,
    FORMATS,
    check_formats,
    foreign_rows,
    load_sweep,
    plan_sweep,
    run_plan,
    sweep,
)

__all__ = ["register", "demo", "cmd_demo", "parse_vary", "default_plots"]

PLOT_KINDS = ("line", "heatmap", "batch", "tradeoff", "tvis")
IMAGE_FORMATS = ["png", "svg", "pdf"]
DEFAULT_METRIC = "stale_read_rate"
# In quorum mode stale reads are rare at the loads PBS studies (the rate is 0 on most
# points); the consistency of a read at the instant of commit is what the mode is about.
QUORUM_METRIC = "visibility.p_consistent_at_commit"
SUMMARY_MAX_BYTES = 64 * 2**20


def _write(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def parse_vary(items: list[str]) -> dict[str, str]:
    """``["k=v1,v2", "j=log:1:10:3"]`` -> ``{"k": "v1,v2", "j": "log:1:10:3"}``."""
    vary: dict[str, str] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError("--vary", item,
                              "SECTION.KEY=V1,V2,... or SECTION.KEY=log:START:STOP:COUNT")
        if key in vary:
            raise ConfigError("--vary", item, f"each key once ({key} is given twice)")
        vary[key] = values
    return vary


_positive_int = number(1, integer=True)  # 100000 or 1e6


def _default_out(identity: dict[str, Any]) -> Path:
    """``results/sweep-<hash>``: the same sweep resumes there, another one goes elsewhere."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return Path("results") / f"sweep-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _point_table(df: pd.DataFrame, keys: list[str]) -> str:
    """Means over repetitions of a few headline metrics, one line per point."""
    ok = df[df["error"] == ""] if "error" in df.columns else df
    # Metrics this sweep has (no cache hit rate when every point ran without a cache).
    metrics = [m for m in ("stale_read_rate", "cache_hit_rate", "read_latency_ms.p99",
                           "throughput_ops_s") if m in ok.columns and ok[m].notna().any()]
    if ok.empty or not metrics:
        return ""
    table = ok.groupby(keys, sort=False)[metrics].mean() if keys else \
        ok[metrics].mean().to_frame("mean").T
    # float_format leaves the index alone, which would show 10 as "10.0000" next to "31.6228".
    table = table.rename(index=lambda v: f"{v:g}" if isinstance(v, float) else v)
    return table.to_string(float_format=lambda v: f"{v:.4g}", max_rows=40)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim.config.schema import Config

    base = Config.load(args.config, args.overrides)
    vary = parse_vary(args.vary)
    formats = ["csv"] if args.format == "csv" else ["csv", args.format]
    check_formats(formats)
    try:
        plan = plan_sweep(base, vary, args.reps, args.zip or None, max_runs=args.max_runs,
                          progress=not args.quiet)
    except KeyboardInterrupt:  # nothing was written yet
        sys.stderr.write("repsim sweep: interrupted while checking the grid; nothing was "
                         "run or written\n")
        return 130
    out = Path(args.out) if args.out else _default_out(plan.identity)
    try:
        df = run_plan(plan, out=out, executor=args.executor, scheduler=args.scheduler,
                      workers=args.workers, progress=not args.quiet, formats=formats)
    except KeyboardInterrupt:
        where = (f"the runs finished so far are in {out}; rerun the same command to resume"
                 if (out / META_NAME).exists() else "nothing was written")
        sys.stderr.write(f"repsim sweep: interrupted; {where}\n")
        return 130
    failed = df[df["error"] != ""]
    _write(f"repsim sweep: {len(df)} runs ({len(plan.points)} points x {args.reps} "
           f"repetition{'s' if args.reps != 1 else ''}), {len(failed)} failed")
    table = _point_table(df, list(plan.keys))
    if table:
        _write(table)
    _write(f"results: {out / RESULTS_NAME}")
    if "parquet" in formats:
        _write(f"results: {out / PARQUET_NAME}")
    _write(f"meta:    {out / META_NAME}")
    if not args.no_plot:
        mode = plan.identity["base_config"]["replication"]["mode"]
        for path in default_plots(df, out, list(plan.keys), mode):
            _write(f"plot:    {path}")
    if len(failed):
        first = failed.iloc[0]
        sys.stderr.write(f"repsim sweep: {len(failed)} runs failed (point {first['point']}: "
                         f"{first['error']}); rerun the same command to retry them\n")
        return 1
    return 0


def default_metric(df: pd.DataFrame, base_mode: str = "leader") -> str:
    """The metric a sweep plots unless told: the consistency at commit when every run was in
    quorum mode with visibility probes (``base_mode`` is the base configuration's
    ``replication.mode``, overridden by a varied one), else the stale-read rate."""
    modes = set(df["replication.mode"]) if "replication.mode" in df.columns else {base_mode}
    if modes == {"quorum"} and QUORUM_METRIC in df.columns and df[QUORUM_METRIC].notna().any():
        return QUORUM_METRIC
    return DEFAULT_METRIC


def default_plots(df: pd.DataFrame, out: Path, keys: list[str],
                  base_mode: str = "leader") -> list[Path]:
    """The plots a sweep leaves in ``out``: :func:`default_metric` against the first varied
    key (one line per value of the second, one panel per value of the third), and latency
    against the pipeline batch size when that was varied. Returns the files written."""
    from sim.plot import figures as plots

    varied = [k for k in keys if df[k].nunique() > 1]
    ok = df[df["error"] == ""] if "error" in df.columns else df
    metric = default_metric(ok, base_mode)
    if not varied or ok.empty or metric not in ok.columns:
        return []
    x, hue, col = (varied + [None, None])[:3]
    written = plots.save(plots.line(ok, x, metric, hue=hue, col=col),
                         out / _plot_name(metric, x, hue, col))
    if "pipeline.batch_size" in varied and "read_latency_ms.p99" in ok.columns:
        written += plots.save(plots.latency_vs_batch(ok), out / "latency_vs_batch_size")
    return written


def _plot_name(y: str, x: str | None, hue: str | None = None, col: str | None = None) -> str:
    name = f"{y}_vs_{x}" if x else y
    name = f"{name}_by_{hue}" if hue else name
    return f"{name}_per_{col}" if col else name


def add_sweep(subparsers: Any) -> None:
    """Declare ``repsim sweep``."""
    parser = subparsers.add_parser(
        "sweep", help="run a grid of configurations, each with several seeds",
        description="Run every point of a grid (the cartesian product of the --vary lists) "
        "--reps times and write DIR/results.csv (one row per run), DIR/meta.json and a plot. "
        "Rerunning the same command resumes an interrupted sweep.")
    add_config_arguments(parser, "base experiment")
    parser.add_argument("--vary", action="append", default=[], metavar="SECTION.KEY=VALUES",
                        help="values of one key: a comma list (1ms,5ms,20ms), "
                        "log:START:STOP:COUNT or lin:START:STOP:COUNT (repeatable)")
    parser.add_argument("--zip", action="append", default=[], metavar="KEY,KEY",
                        help="vary these --vary keys together instead of across (repeatable)")
    parser.add_argument("--reps", type=_positive_int, default=1, metavar="N",
                        help="repetitions of each point, with seeds derived from run.seed "
                        "(default 1)")
    parser.add_argument("--out", metavar="DIR",
                        help="output directory (default results/sweep-<hash of the sweep>)")
    parser.add_argument("--max-runs", type=_positive_int, default=DEFAULT_MAX_RUNS,
                        metavar="N", help="refuse a sweep of more than N runs (points x "
                        f"repetitions), before anything is written (default {DEFAULT_MAX_RUNS:,})")
    parser.add_argument("--executor", choices=EXECUTORS, default="processes",
                        help="where runs execute (default processes: one worker per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler to join, e.g. tcp://host:8786 (with --executor "
                        "dask; without it a local cluster is started)")
    parser.add_argument("--workers", type=_positive_int, metavar="N",
                        help="worker processes (default: one per core)")
    parser.add_argument("--format", choices=FORMATS, default="csv",
                        help="csv (default): DIR/results.csv only; parquet: also "
                        "DIR/results.parquet, with a numeric seconds column beside each "
                        "duration (needs pyarrow: pip install 'repsim[parquet]')")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--no-plot", action="store_true", help="do not write the default plot")
    parser.set_defaults(handler=_cmd_sweep)


def _load_for_plot(path: Path) -> pd.DataFrame:
    """The runs of a sweep directory that can be plotted; ConfigError saying in one line why
    there are none (a file from elsewhere, empty, unreadable, edited, or every run failed)."""
    results = path / RESULTS_NAME
    if not results.is_file():
        raise ConfigError("DIR", str(path), f"a sweep directory holding {RESULTS_NAME}")
    with results.open("rb") as stream:
        start = stream.read(1 << 16)
    not_ours = f"a sweep directory whose {RESULTS_NAME} was written by repsim sweep"
    if not start.strip():
        raise ConfigError("DIR", str(path), f"{not_ours} (it is empty: no run has finished)")
    if b"\0" in start:
        raise ConfigError("DIR", str(path), f"{not_ours} (it is binary, not CSV)")
    header = next(csv.reader([start.split(b"\n", 1)[0].decode(errors="replace")]), [])
    vary = []
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        vary = list(json.loads((path / META_NAME).read_text())["grid"]["vary"])
    missing = [c for c in ("point", "rep", "seed", "error", *vary) if c not in header]
    if missing:
        shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
        raise ConfigError("DIR", str(path), f"{not_ours} (it has no {missing[0]} column; its "
                          f"columns are {echo(shown, 100)[1:-1]})")
    try:
        df = load_sweep(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ConfigError("DIR", str(path), f"{not_ours} (it cannot be read as one: "
                          f"{echo(str(exc), 100)[1:-1]})") from None
    if df.empty:
        raise ConfigError("DIR", str(path), f"a sweep with finished runs ({RESULTS_NAME} "
                          "holds only its header: rerun the sweep to compute them)")
    bad = df[df["error"] != ""]
    if len(bad) == len(df):
        first = bad.iloc[0]
        raise ConfigError("DIR", str(path), f"a sweep with successful runs (every one of its "
                          f"{len(df)} runs failed; point {first['point']}: "
                          f"{echo(first['error'], 120)[1:-1]}); nothing to plot")
    foreign = foreign_rows(path)
    if foreign:
        raise ConfigError("DIR", str(path), f"a sweep whose rows all match its {META_NAME} "
                          f"(not so: {foreign}); rerun the same sweep to move them to "
                          "quarantine.csv")
    return df


def _warn_if_partial(path: Path, df: pd.DataFrame) -> None:
    """One line on stderr when the sweep has fewer successful runs than its grid: the figure
    then shows means over fewer repetitions at some points (its title gives the range)."""
    meta_path = path / META_NAME
    try:
        meta = json.loads(meta_path.read_text())
        expected = int(meta["grid"]["points"]) * int(meta["grid"]["reps"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # no usable meta.json: nothing to compare with
    ok = int((df["error"] == "").sum()) if "error" in df.columns else len(df)
    if ok < expected:
        status = meta.get("status", "unknown")
        sys.stderr.write(f"repsim plot: warning: {path} is a partial sweep ({ok} of {expected} "
                         f"runs succeeded; status {status}); some points are means of fewer "
                         "repetitions (rerun the sweep command to complete it)\n")


def _base_mode(path: Path) -> str:
    """``replication.mode`` of a sweep directory's base configuration (its meta.json)."""
    try:
        return str(read_json(path / META_NAME)["base_config"]["replication"]["mode"])
    except (OSError, ValueError, KeyError, TypeError):  # an older or foreign meta.json
        return "leader"


def _check_column(df: pd.DataFrame, option: str, name: str | None, numeric: bool) -> None:
    if name is None or name in df.columns:
        if name is not None and numeric and not pd.api.types.is_numeric_dtype(df[name]):
            raise ConfigError(option, name, "a numeric metric column")
        return
    choices = [c for c in df.columns if c not in ("point", "rep", "seed", "error")]
    if numeric:
        choices = [c for c in choices if pd.api.types.is_numeric_dtype(df[c])]
    shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    raise ConfigError(option, name, f"a column of {RESULTS_NAME}: {shown}")


def _cmd_plot(args: argparse.Namespace) -> int:
    from sim.plot import figures as plots

    path = Path(args.dir)
    if args.kind == "tvis" or path.suffix == ".json":
        if not path.is_file():
            raise ConfigError("FILE", str(path), "a run summary from `repsim run --json`")
        with path.open("rb") as stream:  # bounded: a summary is kilobytes, not a disk
            data = stream.read(SUMMARY_MAX_BYTES + 1)
        if len(data) > SUMMARY_MAX_BYTES:
            raise ConfigError("FILE", str(path), f"a run summary from `repsim run --json` "
                              f"(this file is larger than {SUMMARY_MAX_BYTES // 2**20} MiB)")
        try:
            summary = json.loads(data.decode("utf-8"))
        except ValueError as exc:  # not JSON, or not UTF-8 text
            raise ConfigError("FILE", str(path), f"JSON from `repsim run --json` "
                              f"({echo(str(exc), 100)[1:-1]})") from None
        if not isinstance(summary, dict) or "t_visibility" not in summary:
            raise ConfigError("FILE", str(path), "a run summary with a t_visibility curve")
        fig, stem = plots.t_visibility(summary), path.with_suffix("").with_name(
            f"{path.stem}_t_visibility")
    else:
        df = _load_for_plot(path)
        _warn_if_partial(path, df)
        keys = list(df.attrs.get("vary", []))
        kind = args.kind
        x = args.x or {"batch": "pipeline.batch_size", "tradeoff": "stale_read_rate"}.get(
            kind, keys[0] if keys else None)
        y = args.y or {"batch": "read_latency_ms", "tradeoff": "read_latency_ms.p99"}.get(
            kind) or default_metric(df, _base_mode(path))
        _check_column(df, "--x", x, numeric=kind == "tradeoff")
        _check_column(df, "--hue", args.hue, numeric=False)
        _check_column(df, "--col", args.col, numeric=False)
        if kind == "batch":
            _check_column(df, "--y", f"{y}.p99", numeric=True)
        else:
            _check_column(df, "--y", y, numeric=True)
        if x is None:
            raise ConfigError("--x", None, "a varied key (this sweep varied none)")
        chosen = [k for k in (x, args.hue, args.col) if k]
        if len(set(chosen)) != len(chosen):
            raise ConfigError("--hue", args.hue, "a key other than --x and --col")
        if kind == "heatmap":
            if not args.hue:
                raise ConfigError("--hue", None, "the second key of the heatmap (its rows)")
            fig = plots.heatmap(df, x, y, args.hue)
        elif kind == "batch":
            fig = plots.latency_vs_batch(df, x, y, hue=args.hue)
        elif kind == "tradeoff":
            fig = plots.tradeoff(df, staleness=x, latency=y, hue=args.hue)
        else:
            fig = plots.line(df, x, y, hue=args.hue, col=args.col, logy=args.logy)
        prefix = "" if kind == "line" else f"{kind}_"
        stem = path / f"{prefix}{_plot_name(y, x, args.hue, args.col)}"
    if args.out:
        out = Path(args.out)
        fmt = args.format or out.suffix.lstrip(".") or "png"
        if fmt not in IMAGE_FORMATS:
            raise ConfigError("--out", str(out), "a file name ending in "
                              + ", ".join(f".{f}" for f in IMAGE_FORMATS))
        written = plots.save(fig, out.with_suffix(""), formats=[fmt])
    else:
        written = plots.save(fig, stem, formats=[args.format] if args.format else IMAGE_FORMATS)
    for path_written in written:
        _write(f"plot: {path_written}")
    return 0


def add_plot(subparsers: Any) -> None:
    """Declare ``repsim plot``."""
    parser = subparsers.add_parser(
        "plot", help="plot the results of a sweep",
        description="Plot a sweep directory: a metric against a varied key, one line per "
        "--hue value, mean over repetitions with a 95% band. Writes PNG, SVG and PDF into DIR "
        "unless --out is given.")
    parser.add_argument("dir", metavar="DIR",
                        help="sweep directory (or, with --kind tvis, a `repsim run --json` file)")
    parser.add_argument("--x", metavar="KEY", help="varied key on the x axis (default: the "
                        "first varied key; tradeoff: the staleness metric)")
    parser.add_argument("--y", metavar="METRIC", help=f"metric column (default {DEFAULT_METRIC}, or "
                        f"{QUORUM_METRIC} for a quorum-mode sweep with visibility probes; "
                        "batch: read_latency_ms; tradeoff: read_latency_ms.p99)")
    parser.add_argument("--hue", metavar="KEY", help="one line per value of this key "
                        "(heatmap: the key of the rows)")
    parser.add_argument("--col", metavar="KEY", help="one panel per value of this key")
    parser.add_argument("--kind", choices=PLOT_KINDS, default="line",
                        help="line (default), heatmap, batch (latency p50/p99 vs batch size), "
                        "tradeoff (latency vs staleness with the Pareto front), tvis "
                        "(t-visibility of one run)")
    parser.add_argument("--logy", action="store_true", help="log scale on the y axis")
    parser.add_argument("--out", metavar="FILE", help="write this one file (.png, .svg or .pdf)")
    parser.add_argument("--format", choices=IMAGE_FORMATS, help="only this format")
    parser.set_defaults(handler=_cmd_plot)


def register(subparsers: Any) -> None:
    """Add ``sweep`` and ``plot`` to the ``repsim`` subcommands."""
    add_sweep(subparsers)
    add_plot(subparsers)


# --- repsim demo --------------------------------------------------------------------------

# Short runs keep the demo well under two minutes on two cores (measured: see the README).
DEMO_RUN = {"run.duration": 2.0, "run.warmup": 0.5}
DEMO_GRID = {"workload.write_rate": "log:10:10000:7", "replication.delay": "1ms,5ms,20ms",
             "cache.enabled": "false,true"}  # panels: cache off on the left, on on the right
DEMO_PIPELINE_BASE = {"run.duration": 0.5, "run.warmup": 0.1, "workload.mode": "closed",
                      "cache.enabled": False}
DEMO_PIPELINE_GRID = {"pipeline.batch_size": "log:1:64:7"}
# A busier server for the latency questions: at the default 10 us per command the master is
# never busy, so reading from it is both fresher and faster and nothing is traded. At 50 us
# (plus 5 us per message) the master is (reads + writes) x 55 us busy when it serves every
# read: 11 % at 2,000 ops/s, 83 % at 15,000.
DEMO_BUSY = {"server.service_time": "exp:50us", "workload.write_rate": 1000.0}
SERVER_SECONDS_PER_OP = 55e-6  # mean service time + overhead per message, unpipelined
DEMO_LOAD_GRID = {"workload.read_rate": "2000,6000,10000,14000",
                  "replication.read_policy": "master,replicas"}
# Design choices at the busiest load, for the latency-staleness trade-off: read routing x
# (cache off, or on with two TTLs; the two cache keys vary together).
DEMO_TRADEOFF_BASE = {**DEMO_BUSY, "workload.read_rate": 14000.0}
DEMO_TRADEOFF_GRID = {"replication.read_policy": "master,replicas,sticky,read-your-writes",
                      "cache.enabled": "false,true,true",
                      "cache.ttl": "1s,10ms,100ms"}
DEMO_TRADEOFF_ZIP = ["cache.enabled,cache.ttl"]
DEMO_REPS = 3
# Why the cache raises p99 in read_p99_vs_write_rate (checked by tests/test_demo.py).
CACHE_P99_NOTE = ("With the cache, p99 is a miss: 1 % of reads or more miss, and a miss pays "
                  "the cache round trip (2 x 0.1 ms) before the store round trip; "
                  "hits (0.2 ms) lower the mean, not the tail.")


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["error"] == ""]


def demo(out: str | Path = "results/demo", executor: str = "processes",
         quiet: bool = False) -> int:
    """The main job in small, each part a sweep of 3 repetitions with its CSV and figures in
    ``out``: stale reads against write rate x replication delay x cache on/off; read latency
    against load when reads go to the master or to replicas; the latency-staleness trade-off
    of read routing x cache TTL on a busy server; latency against pipeline batch size."""
    from sim.config.schema import Config
    from sim.plot import figures as plots
    from sim.plot.style import format_number, round_number

    def round_text(value: float) -> str:  # 31.6228 -> "32", as on the figures' axes
        return format_number(round_number(value))

    out = Path(out)
    base = Config.default()
    parts = ("staleness", "load", "tradeoff", "pipeline")
    # The demo shows what this version computes: start afresh rather than resume old runs.
    for part in parts:
        shutil.rmtree(out / part, ignore_errors=True)
    _write(f"repsim demo: sweeping write rate x replication delay x cache on/off, "
           f"{DEMO_REPS} repetitions, {DEMO_RUN['run.duration']} s simulated each")
    grid = sweep(base.with_overrides(DEMO_RUN), DEMO_GRID, reps=DEMO_REPS,
                 out=out / "staleness", executor=executor, progress=not quiet)
    ok = _ok(grid)
    written = plots.save(plots.line(ok, "workload.write_rate", "stale_read_rate",
                                    hue="replication.delay", col="cache.enabled"),
                         out / "stale_read_rate_vs_write_rate")
    fig = plots.line(ok, "workload.write_rate", "read_latency_ms.p99",
                     hue="replication.delay", col="cache.enabled")
    cache_on = [ax for ax in fig.axes if ax.get_title() == "cache on"]
    if cache_on:  # the empty space under the flat lines says why they sit where they do
        cache_on[0].text(0.04, 0.05, textwrap.fill(CACHE_P99_NOTE, 52), fontsize=10,
                         transform=cache_on[0].transAxes, va="bottom",
                         bbox={"facecolor": "white", "edgecolor": "grey", "alpha": 0.9})
    written += plots.save(fig, out / "read_p99_vs_write_rate")

    busy = base.with_overrides({**DEMO_RUN, **DEMO_BUSY, "cache.enabled": False})
    _write("repsim demo: sweeping read rate x read policy on a busy server (50 us per command, "
           "no cache)")
    load = sweep(busy, DEMO_LOAD_GRID, reps=DEMO_REPS, out=out / "load", executor=executor,
                 progress=not quiet)
    written += plots.save(plots.line(_ok(load), "workload.read_rate", "read_latency_ms.p99",
                                     hue="replication.read_policy"),
                          out / "read_p99_vs_read_rate")

    _write("repsim demo: sweeping read policy x cache TTL at 14,000 reads/s on the busy server")
    design = sweep(base.with_overrides({**DEMO_RUN, **DEMO_TRADEOFF_BASE}), DEMO_TRADEOFF_GRID,
                   reps=DEMO_REPS, zip=DEMO_TRADEOFF_ZIP, out=out / "tradeoff",
                   executor=executor, progress=not quiet)
    for latency, name in (("read_latency_ms.p99", "latency_staleness_tradeoff"),
                          ("read_latency_ms.mean", "latency_staleness_tradeoff_mean")):
        written += plots.save(plots.tradeoff(_ok(design), latency=latency,
                                             hue="replication.read_policy"), out / name)

    _write("repsim demo: sweeping pipeline batch size (closed loop, no cache)")
    batch = sweep(base.with_overrides(DEMO_PIPELINE_BASE), DEMO_PIPELINE_GRID, reps=DEMO_REPS,
                  out=out / "pipeline", executor=executor, progress=not quiet)
    written += plots.save(plots.latency_vs_batch(_ok(batch)), out / "latency_vs_batch_size")

    for cache, rows in ok.groupby("cache.enabled", sort=False):
        _write(f"stale-read rate, cache {'on' if cache else 'off'} (mean of {DEMO_REPS} "
               "repetitions; rows: write rate ops/s, columns: replication delay):")
        table = rows.pivot_table(index="workload.write_rate", columns="replication.delay",
                                 values="stale_read_rate", sort=False)
        table.index = [round_text(v) for v in table.index]
        _write(table.to_string(float_format=lambda v: f"{v:.4f}"))
    _write(_load_table(_ok(load)))
    _write(_design_table(_ok(design)))
    failed = sum(int((df["error"] != "").sum()) for df in (grid, load, design, batch))
    for part in parts:
        _write(f"results: {out / part / RESULTS_NAME}")
    for path in written:
        _write(f"plot:    {path}")
    return 1 if failed else 0


def _load_table(load: pd.DataFrame) -> str:
    """Read p99 by read rate and policy, with the master's utilisation when it serves all."""
    table = load.pivot_table(index="workload.read_rate", columns="replication.read_policy",
                             values="read_latency_ms.p99", sort=False)
    writes = DEMO_BUSY["workload.write_rate"]
    table.insert(0, "master busy", [f"{(r + writes) * SERVER_SECONDS_PER_OP:.0%}"
                                    for r in table.index])
    table.index = [f"{v:,.0f}" for v in table.index]
    return (f"read latency p99 (ms) on the busy server (mean of {DEMO_REPS} repetitions; rows: "
            "read rate ops/s; 'master busy': its utilisation when it serves every read):\n"
            + table.to_string(float_format=lambda v: f"{v:.3f}"))


def _design_table(design: pd.DataFrame) -> str:
    """Stale-read rate and read latency of each design choice, the Pareto front marked."""
    from sim.plot.figures import pareto_front, setting_text

    keys = ["replication.read_policy", "cache.enabled", "cache.ttl"]
    means = design.groupby(keys, sort=False)[
        ["stale_read_rate", "read_latency_ms.mean", "read_latency_ms.p99"]].mean().reset_index()
    front = set(pareto_front(list(means["stale_read_rate"]), list(means["read_latency_ms.p99"])))
    lines = [f"design choices at 14,000 reads/s (mean of {DEMO_REPS} repetitions; * = on the "
             "Pareto front of stale-read rate and p99):",
             f"  {'read policy':<18}{'cache':<16}{'stale':>8}{'mean ms':>10}{'p99 ms':>9}"]
    for i, row in means.iterrows():
        mark = "*" if i in front else " "
        lines.append(f"{mark} {row['replication.read_policy']:<18}"
                     f"{setting_text(row, ['cache.enabled', 'cache.ttl']):<16}"
                     f"{row['stale_read_rate']:>8.4f}{row['read_latency_ms.mean']:>10.3f}"
                     f"{row['read_latency_ms.p99']:>9.3f}")
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    """``repsim demo`` handler."""
    return demo(quiet=getattr(args, "quiet", False))
