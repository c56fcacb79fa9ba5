"""The origin's measures (docs/design.md section 9): recomputes, their load over time, their
wait in the origin's queue, and the cycles of cached entries they refill.

Counters, one histogram and one running window: nothing grows with the number of operations
(the keys ever recomputed are a set bounded by the key space).
"""

from __future__ import annotations

from sim.measure.metrics import LogHistogram, RatioBatchMeans

LOAD_WINDOW_S = 0.1  # origin_load.peak is the busiest window of this length


BATCHES = 32


class OriginStats:
    """Collects what the origin and the cache tier's guard report, after ``warmup_s`` and
    before ``horizon_s`` (the latest time the run may reach, s)."""

    def __init__(self, warmup_s: float, horizon_s: float) -> None:
        self.t0 = warmup_s
        self.recomputes = 0
        # Recomputes of keys recomputed before (refills of a cached key) over ended cycles,
        # by batches of time for its interval.
        self.per_cycle = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
        self.seen: set[int] = set()
        self.queue_wait = LogHistogram()
        self.in_flight_max = 0
        self.expiries = 0
        self.early_refreshes = 0
        self.leases = 0
        self.stale = 0
        self.window = 0  # index of the current load window since warm-up
        self.window_count = 0
        self.window_peak = 0

    def arrival(self, key: int, now: float, wait_s: float, in_flight: int) -> None:
        """A request reached the origin at ``now`` (s); it waits ``wait_s`` (s) for a worker;
        ``in_flight`` requests are there now, queued or served, itself included."""
        if in_flight > self.in_flight_max:
            self.in_flight_max = in_flight
        seen = key in self.seen
        if not seen:
            self.seen.add(key)
        if now < self.t0:
            return
        self.recomputes += 1
        if seen:
            self.per_cycle.add(now, 1.0, 0.0)
        self.queue_wait.add(wait_s)
        window = int((now - self.t0) / LOAD_WINDOW_S)
        if window != self.window:
            self.window, self.window_count = window, 0
        self.window_count += 1
        if self.window_count > self.window_peak:
            self.window_peak = self.window_count

    def cycle_ended(self, now: float, early: bool) -> None:
        """A cached entry's life ended at ``now``: found expired, or refreshed early."""
        if now >= self.t0:
            self.per_cycle.add(now, 0.0, 1.0)
            if early:
                self.early_refreshes += 1
            else:
                self.expiries += 1

    def lease_issued(self, now: float) -> None:
        if now >= self.t0:
            self.leases += 1

    def stale_served(self, issue_s: float) -> None:
        """Stale-while-revalidate answered a read issued at ``issue_s`` with an expired value."""
        if issue_s >= self.t0:
            self.stale += 1

    def summary(self, horizon_s: float) -> dict:
        """The origin's keys of the run summary (times in ms, loads in recomputes/s)."""
        window = horizon_s - self.t0
        ratio, lo, hi = self.per_cycle.estimate()
        return {
            "origin_recomputes": self.recomputes,
            "recomputes_per_expiry": ratio,
            "recomputes_per_expiry_ci95": [lo, hi],
            "origin_load": {"mean": self.recomputes / window if window > 0 else 0.0,
                            "peak": self.window_peak / LOAD_WINDOW_S},
            "origin_queue_ms": self.queue_wait.summary_ms(),
            "origin_in_flight_max": self.in_flight_max,
            "cache_expiries": self.expiries,
            "early_refreshes": self.early_refreshes,
            "leases_issued": self.leases,
            "stale_served": self.stale,
        }
