"""Counters of what the faults cost, and their part of the run summary (times in ms).

Failed commands (unavailable or refused) count like reads and writes: only those issued after
``run.warmup``; their latency (issue to error reply) goes to ``error_latency_ms`` and not to
the read/write latency. Failovers, resyncs and lost writes are events the user scheduled, so
they count over the whole run, and ``lost_write_rate`` divides by every write acknowledged in
the run. The lists below grow by one entry per fault, never per operation.
"""

from __future__ import annotations

from typing import Any

from sim.measure.metrics import LogHistogram


def _stats_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "max": None}
    return {"mean": 1e3 * sum(values) / len(values), "max": 1e3 * max(values)}


class FaultStats:
    """What faults cost in one run. Seconds inside; ``summary()`` converts to ms."""

    def __init__(self, warmup_s: float) -> None:
        self.t0 = warmup_s
        self.unavailable_writes = 0
        self.unavailable_reads = 0
        self.refused_writes = 0
        self.acked_writes = 0  # every write whose reply reached its client, whole run
        self.lost_writes = 0  # acknowledged writes that a failover discarded
        self.lost_unacknowledged = 0  # committed, never acknowledged, discarded too
        self.loss_windows: list[float] = []  # per failover: span of the lost acked writes
        self.failover_durations: list[float] = []  # outage start to promotion
        self.phases: list[dict[str, float]] = []  # per Sentinel failover, from the failure
        self.outages: list[float] = []  # per failure: last write acked by the old master
        self.open_crashes: list = []  # (old master, failure time) awaiting a new master's ack
        self.restart_lost_writes = 0  # acknowledged by a restarted old master, then discarded
        self.keys_wiped = 0  # replica keys overwritten by an older version from a restart
        self.resync_durations: dict[str, list[float]] = {"partial": [], "full": []}
        self.error_latency = LogHistogram()

    def failed(self, op, failure, now: float) -> None:
        """A command got an error reply at ``now``."""
        if op.issue_s < self.t0:
            return
        if failure.kind == "refused":
            self.refused_writes += 1
        elif op.write:
            self.unavailable_writes += 1
        else:
            self.unavailable_reads += 1
        self.error_latency.add(now - op.issue_s)

    def lost(self, versions: list, restarted: bool = False) -> None:
        """``versions`` were committed by a deposed master and never reached its successor
        (``restarted``: by a restarted old master before Sentinel demoted it)."""
        acked = [rec for rec in versions if rec.acked]
        self.lost_writes += len(acked)
        if restarted:
            self.restart_lost_writes += len(acked)
        self.lost_unacknowledged += len(versions) - len(acked)
        if acked:
            times = [rec.commit_s for rec in acked]
            self.loss_windows.append(max(times) - min(times))

    def failover(self, duration_s: float, phases: dict[str, float] | None) -> None:
        """A promotion ``duration_s`` after the failure; ``phases`` (s from the failure) when
        Sentinel's timeline was modelled."""
        self.failover_durations.append(duration_s)
        if phases is not None:
            self.phases.append(phases)

    def crash(self, master, now: float) -> None:
        """``master`` failed (crash or isolation) at ``now``: its write outage starts at its
        last acknowledged write and ends at the first write another master acknowledges."""
        self.open_crashes.append((master, now))

    def write_acked(self, master, now: float) -> None:
        """A write reply from ``master`` reached its client at ``now``."""
        if self.open_crashes:
            still = []
            for old, failed_s in self.open_crashes:
                if master is old or now < failed_s:
                    still.append((old, failed_s))
                else:
                    last = old.last_ack_s if old.last_ack_s is not None else failed_s
                    self.outages.append(now - last)
            self.open_crashes = still

    def wiped(self, keys: int) -> None:
        self.keys_wiped += keys

    def resync(self, kind: str, duration_s: float) -> None:
        self.resync_durations[kind].append(duration_s)

    def summary(self) -> dict[str, Any]:
        """The fault metrics of the run JSON; 0 and null when nothing failed."""
        partial, full = self.resync_durations["partial"], self.resync_durations["full"]
        errors = self.error_latency.summary_ms()
        return {
            "lost_writes": self.lost_writes,
            "lost_write_rate": (self.lost_writes / self.acked_writes if self.acked_writes
                                else 0.0),
            "lost_unacknowledged_writes": self.lost_unacknowledged,
            "data_loss_window_ms": (1e3 * max(self.loss_windows) if self.loss_windows
                                    else None),
            "unavailable_writes": self.unavailable_writes,
            "unavailable_reads": self.unavailable_reads,
            "refused_writes": self.refused_writes,
            "error_latency_ms": {"mean": errors["mean"], "p99": errors["p99"],
                                 "max": errors["max"]},
            "failovers": len(self.failover_durations),
            "failover_duration_ms": _stats_ms(self.failover_durations),
            "failover_phases_ms": {
                name: (1e3 * sum(p[name] for p in self.phases) / len(self.phases)
                       if self.phases else None)
                for name in ("detected", "promoted", "confirmed", "clients_switched")},
            "write_outage_ms": _stats_ms(self.outages),
            "restart_lost_writes": self.restart_lost_writes,
            "keys_wiped": self.keys_wiped,
            "resyncs_partial": len(partial),
            "resyncs_full": len(full),
            "resync_duration_ms": {"partial": _stats_ms(partial), "full": _stats_ms(full)},
        }
