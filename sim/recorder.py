"""Per-run metric collection on the hot path, and the summary of DESIGN.md section 2.

Everything here streams: counters, log-bucket histograms, batch-means accumulators and the
t-visibility bins. Nothing keeps a list that grows with the number of operations. Only reads
and writes *issued* after ``run.warmup`` count (throughput counts replies received after it).
"""

from __future__ import annotations

from .metrics import LogHistogram, RatioBatchMeans, TVisibility
from .model.records import HIT, Op

BATCHES = 32  # batch-means batches over the measured window


class Recorder:
    """Collects the metrics of one run. Times in seconds; the summary converts to ms."""

    def __init__(self, warmup_s: float, horizon_s: float, cache_enabled: bool) -> None:
        self.t0 = warmup_s
        self.horizon_s = horizon_s
        self.cache_enabled = cache_enabled
        self.reads = 0
        self.writes = 0
        self.stale = 0
        self.stale_versions = 0
        self.cache_reads = 0
        self.hits = 0
        self.ryw_violations = 0
        self.monotonic_violations = 0
        self.completed = 0  # replies received after warm-up, reads and writes
        self.read_latency = LogHistogram()
        self.write_latency = LogHistogram()
        self.staleness_age = LogHistogram()
        self.lag = LogHistogram()
        self.tvis = TVisibility()
        # One denominator list (reads per batch) is shared by the stale-rate and the
        # read-latency estimators, so the hot path increments it once.
        self.stale_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
        self.read_latency_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
        self.read_latency_bm.den = self.stale_bm.den
        self.hit_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
        self.write_latency_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
        self._inv = self.stale_bm.inv_width
        self._last = BATCHES - 1

    def read_done(self, op: Op, now: float) -> None:
        """A read's reply reached its client at ``now``."""
        if now >= self.t0:
            self.completed += 1
        issue = op.issue_s
        if issue < self.t0:
            return
        self.reads += 1
        rec = op.result
        got = rec.number
        newest = op.newest
        want = newest.number
        latency = now - issue
        self.read_latency.add(latency)
        b = int((issue - self.t0) * self._inv)
        if b > self._last:
            b = self._last
        self.stale_bm.den[b] += 1
        self.read_latency_bm.num[b] += latency
        if got < want:
            self.stale += 1
            self.stale_bm.num[b] += 1
            self.stale_versions += want - got
            self.staleness_age.add(issue - rec.superseded_s)
        if want:
            self.tvis.add(issue - newest.commit_s, got >= want)
        if got < op.ryw_floor:
            self.ryw_violations += 1
        if got < op.mono_floor:
            self.monotonic_violations += 1
        if op.path:
            self.cache_reads += 1
            self.hit_bm.den[b] += 1
            if op.path == HIT:
                self.hits += 1
                self.hit_bm.num[b] += 1

    def write_done(self, op: Op, now: float) -> None:
        """A write's reply reached its client at ``now``."""
        if now >= self.t0:
            self.completed += 1
        issue = op.issue_s
        if issue < self.t0:
            return
        self.writes += 1
        latency = now - issue
        self.write_latency.add(latency)
        b = int((issue - self.t0) * self._inv)
        if b > self._last:
            b = self._last
        self.write_latency_bm.num[b] += latency
        self.write_latency_bm.den[b] += 1

    # -- summary --------------------------------------------------------------------------

    def summary(self, max_lag_s: float | None) -> dict:
        """The metrics of DESIGN.md section 5 (times in ms, rates as fractions)."""
        window = self.horizon_s - self.t0
        rate, lo, hi = self.stale_bm.estimate()
        age = self.staleness_age.summary_ms()
        lag = self.lag.summary_ms()
        hit_rate, hit_lo, hit_hi = self.hit_bm.estimate()
        read_mean, read_lo, read_hi = self.read_latency_bm.estimate()
        write_mean, write_lo, write_hi = self.write_latency_bm.estimate()
        return {
            "reads": self.reads,
            "writes": self.writes,
            "stale_reads": self.stale,
            "stale_read_rate": rate,
            "stale_read_rate_ci95": [lo, hi],
            "staleness_versions_mean": self.stale_versions / self.reads if self.reads else 0.0,
            "staleness_age_ms": {"mean": age["mean"], "p99": age["p99"]},
            "cache_hit_rate": (hit_rate if self.cache_enabled else None),
            "cache_hit_rate_ci95": ([hit_lo, hit_hi] if self.cache_enabled else None),
            "cache_hits": self.hits if self.cache_enabled else None,
            "cache_misses": self.cache_reads - self.hits if self.cache_enabled else None,
            "ryw_violations": self.ryw_violations,
            "monotonic_violations": self.monotonic_violations,
            "read_latency_ms": self.read_latency.summary_ms(),
            "read_latency_mean_ci95_ms": _ms_pair(read_lo, read_hi),
            "write_latency_ms": self.write_latency.summary_ms(),
            "write_latency_mean_ci95_ms": _ms_pair(write_lo, write_hi),
            "throughput_ops_s": self.completed / window if window > 0 else 0.0,
            "replication_lag_ms": {
                "mean": lag["mean"],
                "p99": lag["p99"],
                "max": None if max_lag_s is None else max_lag_s * 1e3,
            },
            "t_visibility": self.tvis.curve(),
        }


def _ms_pair(lo: float | None, hi: float | None) -> list:
    return [None if lo is None else lo * 1e3, None if hi is None else hi * 1e3]
