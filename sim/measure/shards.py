"""Per-shard measures of a sharded run (docs/design.md section 2, "Shards").

Each shard's clients record through a :class:`ShardTap`, which counts that shard's reads,
stale reads, completed commands and commands served by its master, then hands every read
and write on to the run's recorder, so every run-level metric keeps its meaning over all
shards. Each shard's fault costs go to a :class:`ShardFaultStats`, which passes every count
on to the run's :class:`~sim.measure.faults.FaultStats` except the write outage: only the
failed shard's next master ends it (another shard's writes go on throughout).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sim.measure.faults import FaultStats
from sim.measure.metrics import FLUSH_AT, LogHistogram


class ShardTap:
    """Stands in for the run's recorder at one shard's clients (same calls)."""

    def __init__(self, recorder, warmup_s: float, horizon_s: float) -> None:
        self.recorder = recorder
        self.t0 = warmup_s
        self.horizon_s = horizon_s
        self.flush_at = FLUSH_AT
        self._pending: list = []
        self.reads = 0  # reads issued after warm-up whose reply arrived before the end
        self.stale = 0
        self.completed = 0  # replies received in the measured window, reads and writes
        self.served: defaultdict[int, int] = defaultdict(int)  # of them, by serving host id

    def pending_reads(self) -> list:
        return self._pending

    def flush(self, until_s: float) -> None:
        """Count the reads kept so far and pass them to the run's recorder."""
        pending = self._pending
        t0, end = self.t0, self.horizon_s
        for op in pending:
            done = op.done_s
            if done >= end:
                continue
            if done >= t0:
                self.completed += 1
                self.served[op.node.node_id] += 1
            if op.issue_s >= t0:
                self.reads += 1
                if op.result.number < op.newest.number:
                    self.stale += 1
        main = self.recorder.pending_reads()
        main.extend(pending)
        pending.clear()  # in place: the clients hold this list
        if len(main) >= self.recorder.flush_at:
            self.recorder.flush(until_s)

    def write_done(self, op, now: float) -> None:
        if self.t0 <= now < self.horizon_s:
            self.completed += 1
            self.served[op.node.node_id] += 1
        self.recorder.write_done(op, now)


class ShardFaultStats(FaultStats):
    """One shard's fault costs; every count is also the run's (``total``), except the write
    outage, which this shard's masters alone open and close."""

    def __init__(self, total: FaultStats) -> None:
        super().__init__(total.t0)
        self.total = total

    def failed(self, op, failure, now: float) -> None:
        super().failed(op, failure, now)
        self.total.failed(op, failure, now)

    def lost(self, versions: list, restarted: bool = False) -> None:
        super().lost(versions, restarted)
        self.total.lost(versions, restarted)

    def failover(self, duration_s: float, phases) -> None:
        super().failover(duration_s, phases)
        self.total.failover(duration_s, phases)

    def write_acked(self, master, now: float) -> None:
        closed = len(self.outages)
        super().write_acked(master, now)
        self.total.outages.extend(self.outages[closed:])

    def wiped(self, keys: int) -> None:
        super().wiped(keys)
        self.total.wiped(keys)

    def resync(self, kind: str, duration_s: float) -> None:
        super().resync(kind, duration_s)
        self.total.resync(kind, duration_s)


class ShardMeasures:
    """The taps, fault stats and lag histograms of ``shards`` shards of one run."""

    def __init__(self, shards: int, recorder, fault_stats: FaultStats, warmup_s: float,
                 horizon_s: float, cost_s: float) -> None:
        self.recorder = recorder
        self.fault_stats = fault_stats
        self.cost_s = cost_s  # mean seconds a node spends on a lone command
        self.taps = [ShardTap(recorder, warmup_s, horizon_s) for _ in range(shards)]
        self.faults = [ShardFaultStats(fault_stats) for _ in range(shards)]
        self.lags = [LogHistogram() for _ in range(shards)]
        self.window_s = horizon_s - warmup_s

    def lag_recorder(self, shard: int):
        """``record(lag_s)`` for shard ``shard``'s lag monitor: its histogram and the run's."""
        mine, run = self.lags[shard].add, self.recorder.lag.add

        def record(lag_s: float) -> None:
            mine(lag_s)
            run(lag_s)

        return record

    def drain(self) -> None:
        """Before the run's summary: every read the taps still hold goes to the recorder."""
        for tap in self.taps:
            tap.flush(tap.horizon_s)
        self.fault_stats.acked_writes = sum(stats.acked_writes for stats in self.faults)

    def summary(self, max_lags_s: list[float | None], moved_redirects: int) -> dict[str, Any]:
        """``shards``, ``hottest_shard_load_ratio``, ``hottest_shard_utilisation`` and
        ``moved_redirects`` (ms, fractions)."""
        window = self.window_s
        rows = []
        for tap, stats, lag, max_lag in zip(self.taps, self.faults, self.lags, max_lags_s,
                                            strict=True):
            lag_ms = lag.summary_ms()
            outage = stats.outages
            rows.append({
                "ops_s": tap.completed / window,
                "utilisation": max(tap.served.values(), default=0) * self.cost_s / window,
                "stale_read_rate": tap.stale / tap.reads if tap.reads else 0.0,
                "replication_lag_ms": {
                    "mean": lag_ms["mean"], "p99": lag_ms["p99"],
                    "max": None if max_lag is None else max_lag * 1e3},
                "write_outage_ms": 1e3 * max(outage) if outage else 0.0,
                "lost_writes": stats.lost_writes,
                "unavailable_writes": stats.unavailable_writes,
                "unavailable_reads": stats.unavailable_reads,
            })
        loads = [tap.completed for tap in self.taps]
        mean = sum(loads) / len(loads)
        return {"shards": rows,
                "hottest_shard_load_ratio": max(loads) / mean if mean else None,
                "hottest_shard_utilisation": max(row["utilisation"] for row in rows),
                "moved_redirects": moved_redirects}
