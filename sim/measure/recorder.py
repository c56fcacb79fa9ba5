"""Per-run metric collection on the hot path, and the summary of docs/design.md section 2.

Everything here streams: counters, log-bucket histograms, batch-means accumulators and the
t-visibility bins. Nothing keeps a list that grows with the number of operations. Only reads
and writes *issued* after ``run.warmup`` count (throughput counts replies received after it).
"""

from __future__ import annotations

from sim.measure.metrics import FLUSH_AT, LogHistogram, RatioBatchMeans, TVisibility
from sim.model.records import HIT, Op

BATCHES = 32  # batch-means batches over the measured window
K_STALENESS = 5  # k_staleness reports k = 1..K_STALENESS


class Recorder:
    """Collects the metrics of one run. Times in seconds; the summary converts to ms."""

    def __init__(self, warmup_s: float, horizon_s: float, cache_enabled: bool) -> None:
        self.t0 = warmup_s
        self.horizon_s = horizon_s
        self.cache_enabled = cache_enabled
        self.stale_versions = 0
        # Stale reads by how many versions behind they were: index d for d = 1..4, 5 for >= 5.
        self.stale_depth = [0] * (K_STALENESS + 1)
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
        # Hot-path aliases (RatioBatchMeans.inv_width keeps every t < horizon in range).
        self._inv = self.stale_bm.inv_width
        self._reads = self.stale_bm.den
        self._stale = self.stale_bm.num
        self._read_latency_sum = self.read_latency_bm.num
        self._cache_reads = self.hit_bm.den
        self._hits = self.hit_bm.num
        self._read_latency_buf = self.read_latency.buffer
        self._tvis_t = self.tvis.t_buffer
        self._tvis_fresh = self.tvis.fresh_buffer

    @property
    def reads(self) -> int:
        return int(sum(self._reads))

    @property
    def writes(self) -> int:
        return int(sum(self.write_latency_bm.den))

    @property
    def stale(self) -> int:
        return int(sum(self._stale))

    @property
    def cache_reads(self) -> int:
        return int(sum(self._cache_reads))

    @property
    def hits(self) -> int:
        return int(sum(self._hits))

    def read_done(self, op: Op, now: float) -> None:
        """A read's reply reached its client at ``now``.

        Counts of reads, stale reads, cache reads and hits live only in the per-batch lists
        (their sums are the totals), so each read touches as few objects as possible.
        """
        t0 = self.t0
        if now >= t0:
            self.completed += 1
        issue = op.issue_s
        if issue < t0:
            return
        rec = op.result
        got = rec.number
        newest = op.newest
        want = newest.number
        latency = now - issue
        buf = self._read_latency_buf
        buf.append(latency)
        if len(buf) >= FLUSH_AT:
            self.read_latency.flush()
        b = int((issue - t0) * self._inv)
        self._reads[b] += 1
        self._read_latency_sum[b] += latency
        if got < want:
            self._stale[b] += 1
            self.stale_versions += want - got
            self.stale_depth[want - got if want - got < K_STALENESS else K_STALENESS] += 1
            # A version from a history a failover replaced may never have been superseded
            # in the history the read is judged against: stale, but of no measurable age.
            superseded = rec.superseded_s
            self.staleness_age.add(issue - superseded if superseded is not None
                                   and superseded < issue else 0.0)
        if want:
            ages = self._tvis_t
            ages.append(issue - newest.commit_s)
            self._tvis_fresh.append(got >= want)
            if len(ages) >= FLUSH_AT:
                self.tvis.flush()
        if got < op.ryw_floor:
            self.ryw_violations += 1
        if got < op.mono_floor:
            self.monotonic_violations += 1
        if op.path:
            self._cache_reads[b] += 1
            if op.path == HIT:
                self._hits[b] += 1

    def write_done(self, op: Op, now: float) -> None:
        """A write's reply reached its client at ``now``."""
        if now >= self.t0:
            self.completed += 1
        issue = op.issue_s
        if issue < self.t0:
            return
        latency = now - issue
        self.write_latency.add(latency)
        b = int((issue - self.t0) * self._inv)
        self.write_latency_bm.num[b] += latency
        self.write_latency_bm.den[b] += 1

    # -- summary --------------------------------------------------------------------------

    def summary(self, max_lag_s: float | None) -> dict:
        """The metrics of docs/design.md section 5 (times in ms, rates as fractions)."""
        window = self.horizon_s - self.t0
        reads, hits = self.reads, self.hits
        rate, lo, hi = self.stale_bm.estimate(clamp01=True)
        age = self.staleness_age.summary_ms()
        lag = self.lag.summary_ms()
        hit_rate, hit_lo, hit_hi = self.hit_bm.estimate(clamp01=True)
        read_mean, read_lo, read_hi = self.read_latency_bm.estimate()
        write_mean, write_lo, write_hi = self.write_latency_bm.estimate()
        return {
            "reads": reads,
            "writes": self.writes,
            "stale_reads": self.stale,
            "stale_read_rate": rate,
            "stale_read_rate_ci95": [lo, hi],
            "staleness_versions_mean": self.stale_versions / reads if reads else 0.0,
            "staleness_age_ms": {"mean": age["mean"], "p99": age["p99"]},
            "cache_hit_rate": (hit_rate if self.cache_enabled else None),
            "cache_hit_rate_ci95": ([hit_lo, hit_hi] if self.cache_enabled else None),
            "cache_hits": hits if self.cache_enabled else None,
            "cache_misses": self.cache_reads - hits if self.cache_enabled else None,
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
            "k_staleness": self.k_staleness(reads),
        }

    def k_staleness(self, reads: int) -> dict[str, float | None]:
        """{"k1": ..., "k5": ...}: share of reads within k versions of V(k, i), i.e. at most
        k - 1 versions behind (k1 is the share of fresh reads). None without reads."""
        out: dict[str, float | None] = {}
        behind = sum(self.stale_depth)  # reads at least one version behind
        for k in range(1, K_STALENESS + 1):
            out[f"k{k}"] = (reads - behind) / reads if reads else None
            behind -= self.stale_depth[k]
        return out


def _ms_pair(lo: float | None, hi: float | None) -> list:
    return [None if lo is None else lo * 1e3, None if hi is None else hi * 1e3]
