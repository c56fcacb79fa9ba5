"""Human-readable and JSON renderings of a run summary (docs/design.md section 5).

Used by the command line, the demo and notebooks. A summary is the plain dict of
``Result.summary``: times in milliseconds, rates as fractions, ``None`` where a metric
does not apply (shown as "-"). Missing keys are shown as "-" too, so a partial summary
still renders.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from sim.config.distributions import format_duration
from sim.config.schema import Config

__all__ = ["describe_config", "format_number", "format_percent", "format_summary", "to_json"]

LABEL_WIDTH = 30
PERCENTILES = (("mean", "mean"), ("p50", "p50"), ("p95", "p95"), ("p99", "p99"),
               ("p999", "p99.9"), ("max", "max"))
MISSING = "-"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def format_number(value: Any, significant: int = 4) -> str:
    """A number for a table: integers with thousands separators, floats to about
    ``significant`` digits without exponent for everyday magnitudes; None -> "-"."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not _is_number(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, significant - 1 - magnitude)
    if decimals > 9:  # tiny: exponent form reads better than a row of zeros
        return f"{value:.{significant - 1}e}"
    return f"{value:,.{decimals}f}"


def format_percent(fraction: Any, significant: int = 3) -> str:
    """A fraction as a percentage ("1.23 %"); None -> "-"."""
    if not _is_number(fraction):
        return MISSING
    return f"{format_number(100 * fraction, significant)} %"


def _get(summary: Mapping[str, Any], *path: str) -> Any:
    """summary[a][b]..., or None when any level is missing."""
    value: Any = summary
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _row(label: str, value: str) -> str:
    return f"  {label:<{LABEL_WIDTH}}{value}"


def _ci_text(interval: Any) -> str:
    if isinstance(interval, list | tuple) and len(interval) == 2 and all(map(_is_number, interval)):
        return f"  (95% CI {format_percent(interval[0])} .. {format_percent(interval[1])})"
    return ""


def _percentile_table(title: str, rows: list[tuple[str, Any]], columns: tuple[tuple[str, str], ...]
                      ) -> list[str]:
    """A small table: one row per name, one right-aligned column per statistic."""
    width = 10
    lines = [f"{title:<{LABEL_WIDTH + 2}}" + "".join(f"{head:>{width}}" for _, head in columns)]
    for name, stats in rows:
        cells = "".join(f"{format_number(_get(stats or {}, key), 3):>{width}}" for key, _ in columns)
        lines.append(f"  {name:<{LABEL_WIDTH}}{cells}")
    return lines


def format_summary(summary: Mapping[str, Any]) -> str:
    """An aligned plain-text table of a run summary, one section per concern."""
    g = summary.get
    lines = ["Workload"]
    lines.append(_row("reads", format_number(g("reads"))))
    lines.append(_row("writes", format_number(g("writes"))))
    lines.append(_row("throughput (ops/s)", format_number(g("throughput_ops_s"))))
    lines.append(_row("simulation events", format_number(g("sim_events"))))
    lines.append(_row("wall time (s)", format_number(g("wall_seconds"), 3)))

    lines.append("Staleness")
    lines.append(_row("stale reads", format_number(g("stale_reads"))))
    lines.append(_row("stale-read rate",
                      format_percent(g("stale_read_rate")) + _ci_text(g("stale_read_rate_ci95"))))
    lines.append(_row("staleness (versions, mean)", format_number(g("staleness_versions_mean"), 3)))
    lines.append(_row("staleness age (ms, mean)", format_number(_get(summary, "staleness_age_ms", "mean"), 3)))
    lines.append(_row("staleness age (ms, p99)", format_number(_get(summary, "staleness_age_ms", "p99"), 3)))

    lines.append("Cache")
    lines.append(_row("hit rate", format_percent(g("cache_hit_rate")) + _ci_text(g("cache_hit_rate_ci95"))))
    if "client_cache_hit_rate" in summary:
        lines += _client_cache_lines(summary)

    lines.append("Session guarantees")
    lines.append(_row("read-your-writes violations", format_number(g("ryw_violations"))))
    lines.append(_row("monotonic-read violations", format_number(g("monotonic_violations"))))

    lines += _percentile_table(
        "Latency (ms)",
        [("read", g("read_latency_ms")), ("write", g("write_latency_ms"))],
        PERCENTILES,
    )
    lines += _percentile_table(
        "Replication lag (ms)",
        [("replicas", g("replication_lag_ms"))],
        (("mean", "mean"), ("p99", "p99"), ("max", "max")),
    )
    ks = g("k_staleness")
    if isinstance(ks, Mapping) and ks:
        lines.append("k-staleness (share of reads within k versions)")
        lines.append(_row("k = " + " / ".join(key[1:] for key in ks),
                          " / ".join(format_percent(value) for value in ks.values())))
    if g("expired_read_rate") is not None:  # only a store with TTLs (workload.key_ttl)
        lines.append("Expiry (the store's TTL)")
        lines.append(_row("expired-read rate", format_percent(g("expired_read_rate"))
                          + _ci_text(g("expired_read_rate_ci95"))))
        for stat in ("mean", "p99"):
            lines.append(_row(f"expired-read age (ms, {stat})",
                              format_number(_get(summary, "expired_read_age_ms", stat), 3)))
        lines.append(_row("hidden-live rate", format_percent(g("hidden_live_rate"))
                          + _ci_text(g("hidden_live_rate_ci95"))))
        lines.append(_row("expired keys held (peak)", format_number(g("expired_keys_held"))))
    if isinstance(g("visibility"), Mapping):
        lines += _visibility_lines(g("visibility"))
    if isinstance(g("shards"), list):
        lines += _shard_lines(summary)
    if _faults_configured(summary):
        lines += _fault_lines(summary)
    if "origin_recomputes" in summary:
        lines += _origin_lines(summary)
    precision = g("precision")
    if precision:
        lines.append("Precision")
        lines.append(_row("target (95% CI, relative)", format_percent(precision["target_rel_ci"])))
        lines.append(_row("stopped by", str(precision["stopped_by"]).replace("_", " ")))
        lines.append(_row("simulated (s)", format_number(precision["simulated_duration_s"], 4)))
        for label, key in (("stale-read rate (+-)", "stale_read_rate_rel_ci"),
                           ("mean read latency (+-)", "read_latency_mean_rel_ci")):
            lines.append(_row(label, format_percent(precision[key])))
    return "\n".join(lines)


def _shard_lines(summary: Mapping[str, Any]) -> list[str]:
    """The Shards section of a sharded run: one row per shard, in slot order."""
    lines = ["Shards",
             _row("hottest / mean load", format_number(summary["hottest_shard_load_ratio"], 3)),
             _row("MOVED redirects", format_number(summary["moved_redirects"])),
             f"  {'shard':<6}{'ops/s':>10}{'util.':>8}{'stale':>9}{'lag p99 ms':>12}"
             f"{'outage ms':>11}{'lost':>7}"]
    for i, row in enumerate(summary["shards"]):
        lines.append(f"  {i:<6}{format_number(row['ops_s']):>10}"
                     f"{format_number(row['utilisation'], 3):>8}"
                     f"{format_percent(row['stale_read_rate']):>9}"
                     f"{format_number(row['replication_lag_ms']['p99'], 3):>12}"
                     f"{format_number(row['write_outage_ms']):>11}"
                     f"{format_number(row['lost_writes']):>7}")
    return lines
def _client_cache_lines(summary: Mapping[str, Any]) -> list[str]:
    """The client-side cache's section (docs/design.md section 10)."""
    g = summary.get
    return [
        "Client-side cache",
        _row("local hit rate", format_percent(g("client_cache_hit_rate"))
             + _ci_text(g("client_cache_hit_rate_ci95"))),
        _row("stale share of local hits", format_percent(g("client_cache_stale_read_rate"))
             + _ci_text(g("client_cache_stale_read_rate_ci95"))),
        _row("invalidations (per s)", f"{format_number(g('invalidations'))} "
             f"({format_number(g('invalidations_per_s'))})"),
        _row("tracking table (keys, peak)", format_number(g("tracking_table_keys"))),
        _row("stale for good at the end", format_number(g("stale_forever"))),
    ]


def _ms_interval(interval: Any) -> str:
    if isinstance(interval, list | tuple) and len(interval) == 2:
        lo, hi = (format_number(v, 3) if _is_number(v) else "beyond horizon" for v in interval)
        return f"  (95% CI {lo} .. {hi})"
    return ""


def _visibility_lines(vis: Mapping[str, Any]) -> list[str]:
    """The Visibility section: what the probe reads measured (metrics.visibility_probes)."""
    lines = ["Visibility (probe reads)"]
    lines.append(_row("probed commits / probes", f"{format_number(vis.get('probed_commits'))}"
                      f" / {format_number(vis.get('probes'))}"))
    lines.append(_row("consistent at commit",
                      format_percent(vis.get("p_consistent_at_commit"))
                      + _ci_text(vis.get("p_consistent_at_commit_ci95"))))
    for key, label in (("t_99_ms", "t at 99% consistent (ms)"),
                       ("t_999_ms", "t at 99.9% consistent (ms)")):
        value = vis.get(key)
        if not vis.get("probes"):
            lines.append(_row(label, MISSING))
            continue
        text = format_number(value, 3) if _is_number(value) else \
            f"beyond the horizon ({format_number(vis.get('horizon_ms'), 3)} ms)"
        lines.append(_row(label, text + _ms_interval(vis.get(key + "_ci95"))))
    return lines


def _origin_lines(summary: Mapping[str, Any]) -> list[str]:
    """The origin behind the cache (docs/design.md section 9)."""
    g = summary.get
    interval = g("recomputes_per_expiry_ci95")
    ci = (f"  (95% CI {format_number(interval[0], 3)} .. {format_number(interval[1], 3)})"
          if isinstance(interval, list) and all(map(_is_number, interval)) else "")
    return [
        "Origin",
        _row("recomputes", format_number(g("origin_recomputes"))),
        _row("recomputes per expiry", format_number(g("recomputes_per_expiry"), 3) + ci),
        _row("expiries / early refreshes", f"{format_number(g('cache_expiries'))} / "
             f"{format_number(g('early_refreshes'))}"),
        _row("load (recomputes/s, mean)", format_number(_get(summary, "origin_load", "mean"))),
        _row("load (recomputes/s, peak)", format_number(_get(summary, "origin_load", "peak"))),
        _row("queue wait (ms, mean)", format_number(_get(summary, "origin_queue_ms", "mean"), 3)),
        _row("queue wait (ms, p99)", format_number(_get(summary, "origin_queue_ms", "p99"), 3)),
        _row("most at the origin at once", format_number(g("origin_in_flight_max"))),
        _row("leases issued", format_number(g("leases_issued"))),
        _row("stale values served", format_number(g("stale_served"))),
    ]


def _faults_configured(summary: Mapping[str, Any]) -> bool:
    faults = _get(summary, "config", "faults") or {}
    return any(faults.get(key) for key in ("master_crash_at", "replica_disconnects", "partitions"))


def _fault_lines(summary: Mapping[str, Any]) -> list[str]:
    """The Faults section, shown when the run scheduled a fault."""
    g = summary.get
    lines = ["Faults"]
    lines.append(_row("lost acknowledged writes", format_number(g("lost_writes"))
                      + f"  ({format_percent(g('lost_write_rate'))} of acknowledged)"))
    lines.append(_row("data-loss window (ms)", format_number(g("data_loss_window_ms"), 3)))
    lines.append(_row("unavailable writes / reads", f"{format_number(g('unavailable_writes'))}"
                      f" / {format_number(g('unavailable_reads'))}"))
    lines.append(_row("refused writes (min-replicas)", format_number(g("refused_writes"))))
    lines.append(_row("failovers", format_number(g("failovers"))
                      + f"  (mean {format_number(_get(summary, 'failover_duration_ms', 'mean'), 3)}"
                      " ms)"))
    outage = g("write_outage_ms") or {}
    if outage.get("mean") is not None:
        lines.append(_row("write outage (ms)", f"mean {format_number(outage['mean'], 3)}, "
                          f"max {format_number(outage['max'], 3)}"))
    phases = g("failover_phases_ms") or {}
    if phases.get("detected") is not None:
        lines.append(_row("failover phases (ms)", ", ".join(
            f"{name.replace('_', ' ')} {format_number(phases[name], 3)}"
            for name in ("detected", "promoted", "confirmed", "clients_switched"))))
    if g("restart_lost_writes") or g("keys_wiped"):
        lines.append(_row("lost by a restarted master", format_number(g("restart_lost_writes"))
                          + f"  ({format_number(g('keys_wiped'))} replica keys wiped)"))
    lines.append(_row("resyncs partial / full", f"{format_number(g('resyncs_partial'))}"
                      f" / {format_number(g('resyncs_full'))}"))
    return lines


def describe_config(config: Config) -> str:
    """One line saying what a configuration simulates (for the demo and logs)."""
    run, work, rep, cache = config.run, config.workload, config.replication, config.cache
    if work.mode == "open":
        load = (f"open workload of {work.read_rate:g} reads/s + {work.write_rate:g} writes/s "
                f"from {work.clients} clients")
    else:
        load = (f"closed workload of {work.clients} clients, read fraction {work.read_fraction:g}, "
                f"think time {work.think_time}")
    cache_text = f"cache ttl {format_duration(cache.ttl)}" if cache.enabled else "no cache"
    if rep.mode == "quorum":
        q = config.quorum
        store = (f"{rep.replicas} quorum peers, R={q.read} W={q.write}, write delay "
                 f"{q.write_delay}")
    else:
        store = f"{rep.replicas} replicas, delay {rep.delay}, reads from {rep.read_policy}"
    return (
        f"{load} on {work.keys} {work.key_distribution} keys; {store}; {cache_text}; "
        f"batch {config.pipeline.batch_size}; {format_duration(run.duration)} simulated "
        f"(warmup {format_duration(run.warmup)}), seed {run.seed}"
    )


def _json_ready(value: Any) -> Any:
    """Strict-JSON data: non-finite floats become null (JSON has no NaN or Infinity),
    numpy scalars become Python numbers, tuples become lists."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def to_json(summary: Mapping[str, Any]) -> str:
    """The summary as indented, strictly valid JSON."""
    return json.dumps(_json_ready(summary), indent=2, allow_nan=False)
