"""Per-run metric collection on the hot path, and the summary of docs/design.md section 2.

Everything here streams: counters, log-bucket histograms, batch-means accumulators and the
t-visibility bins. Nothing keeps a list that grows with the number of operations. Only reads
and writes *issued* after ``run.warmup`` count (throughput counts replies received after it).
"""

from __future__ import annotations

from itertools import compress

import numpy as np

from sim.measure.expiry import ExpiryStats, no_expiry_summary
from sim.measure.metrics import FLUSH_AT, LogHistogram, RatioBatchMeans, TVisibility
from sim.model.records import HIT, LOCAL, Op

BATCHES = 32  # batch-means batches over the measured window

K_STALENESS = 5  # k_staleness reports k = 1..K_STALENESS


class Recorder:
    """Collects the metrics of one run. Times in seconds; the summary converts to ms."""

    def __init__(self, warmup_s: float, horizon_s: float, cache_enabled: bool,
                 key_ttl_s: float = 0.0, client_cache_enabled: bool = False) -> None:
        # How far the run has been simulated (s), told by the engine between stretches of
        # the run: a read may be recorded ahead of the clock (a cache hit completed when it
        # was answered), and is measured only once its reply has arrived.
        self.reached_s = 0.0
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
        self._pending_reads: list[Op] = []  # cleared in place, never replaced
        # The store's TTL measures (workload.key_ttl > 0), None without them.
        self.expiry = (ExpiryStats(key_ttl_s, warmup_s, horizon_s, self._reads)
                       if key_ttl_s > 0 else None)
        self.flush_at = FLUSH_AT
        # The client-side cache's hits (docs/design.md section 10): a share of all reads,
        # and the stale share of those hits, each with its batch-means interval.
        self.local_hit_bm = self.local_stale_bm = self.local_age = None
        if client_cache_enabled:
            self.local_hit_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
            self.local_hit_bm.den = self.stale_bm.den
            self.local_stale_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
            self.local_stale_bm.den = self.local_hit_bm.num
            self.local_age = LogHistogram()

    def reached(self, now_s: float) -> None:
        """The run has been simulated up to ``now_s`` (s)."""
        self.reached_s = now_s

    @property
    def reads(self) -> int:
        self.flush(self.reached_s)
        return int(sum(self._reads))

    @property
    def writes(self) -> int:
        return int(sum(self.write_latency_bm.den))

    @property
    def stale(self) -> int:
        self.flush(self.reached_s)
        return int(sum(self._stale))

    @property
    def cache_reads(self) -> int:
        self.flush(self.reached_s)
        return int(sum(self._cache_reads))

    @property
    def hits(self) -> int:
        self.flush(self.reached_s)
        return int(sum(self._hits))

    def pending_reads(self) -> list[Op]:
        """The list of finished reads not yet measured, which a client appends to (its hot
        path: ``op.done_s`` set to the reply's arrival); it must call :meth:`flush` with its
        time now once the list holds ``FLUSH_AT``. Everything a read is judged by is fixed
        by then (its version, the newest version at its issue and their commit times), so
        measuring later changes nothing."""
        return self._pending_reads

    def flush(self, until_s: float) -> None:
        """Measure the reads kept since the last flush whose reply arrived before
        ``until_s`` (s: the caller's simulated time now); the others wait for a later flush,
        or are dropped by the summary if the run ends first, like any reply in flight."""
        pending = self._pending_reads
        if not pending:
            return
        ops = pending[:]
        pending.clear()  # in place: clients hold this list (see Client._read_done)
        done = np.fromiter([op.done_s for op in ops], np.float64, len(ops))
        arrived = done < until_s
        if not arrived.all():
            pending.extend(compress(ops, (~arrived).tolist()))
            ops = list(compress(ops, arrived.tolist()))
            done = done[arrived]
            if not ops:
                return
        t0 = self.t0
        self.completed += int(np.count_nonzero(done >= t0))
        n = len(ops)
        issue = np.fromiter([op.issue_s for op in ops], np.float64, n)
        measured = issue >= t0
        if not measured.all():
            ops = list(compress(ops, measured.tolist()))
            issue, done = issue[measured], done[measured]
            n = len(ops)
            if not n:
                return
        latency = done - issue
        got = np.fromiter([op.result.number for op in ops], np.int64, n)
        want = np.fromiter([op.newest.number for op in ops], np.int64, n)
        self.read_latency.add_many(latency)
        b = ((issue - t0) * self._inv).astype(np.int64)
        nb = len(self._reads)
        _add_into(self._reads, np.bincount(b, minlength=nb))
        _add_into(self._read_latency_sum, np.bincount(b, weights=latency, minlength=nb))
        if self.expiry is not None:
            self.expiry.add(ops, b.tolist())
        stale = got < want
        if stale.any():
            _add_into(self._stale, np.bincount(b[stale], minlength=nb))
            behind = (want - got)[stale]
            self.stale_versions += int(behind.sum())
            depth = np.bincount(np.minimum(behind, K_STALENESS), minlength=K_STALENESS + 1)
            for k in np.flatnonzero(depth).tolist():
                self.stale_depth[k] += int(depth[k])
            self.staleness_age.add_many(_ages(ops, stale, issue))
        written = want > 0
        commit = np.fromiter([op.newest.commit_s for op in ops], np.float64, n)
        self.tvis.add_many((issue - commit)[written], (got >= want)[written])
        self.ryw_violations += int(np.count_nonzero(
            got < np.fromiter([op.ryw_floor for op in ops], np.int64, n)))
        self.monotonic_violations += int(np.count_nonzero(
            got < np.fromiter([op.mono_floor for op in ops], np.int64, n)))
        path = np.fromiter([op.path for op in ops], np.int64, n)
        if path.any():
            if self.local_hit_bm is None:
                _add_into(self._cache_reads, np.bincount(b[path != 0], minlength=nb))
            else:
                _add_into(self._cache_reads,  # every path but a local hit asked the cache
                          np.bincount(b[(path != 0) & (path != LOCAL)], minlength=nb))
                self._local_hits(ops, path == LOCAL, stale, issue, b, nb)
            _add_into(self._hits, np.bincount(b[path == HIT], minlength=nb))

    def _local_hits(self, ops: list[Op], local: np.ndarray, stale: np.ndarray,
                    issue: np.ndarray, b: np.ndarray, nb: int) -> None:
        if not local.any():
            return
        _add_into(self.local_hit_bm.num, np.bincount(b[local], minlength=nb))
        stale_local = local & stale
        if stale_local.any():
            _add_into(self.local_stale_bm.num, np.bincount(b[stale_local], minlength=nb))
            self.local_age.add_many(_ages(ops, stale_local, issue))

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

    # -- precision-driven runs --------------------------------------------------------------

    def extend(self) -> None:
        """Double the measured window (and the batch length) for a run that goes on."""
        self.flush(self.reached_s)
        merged: set[int] = set()
        extra = self.expiry.batch_means if self.expiry is not None else ()
        if self.local_age is not None:
            extra = (*extra, self.local_hit_bm, self.local_stale_bm)
        for bm in (self.stale_bm, self.read_latency_bm, self.hit_bm, self.write_latency_bm,
                   *extra):
            lists = tuple(v for v in (bm.num, bm.den) if id(v) not in merged)
            merged.update(id(v) for v in lists)
            bm.double(lists)
        self.horizon_s = self.stale_bm.t1
        self._inv = self.stale_bm.inv_width

    def precision(self) -> tuple[float, float]:
        """The half-widths of the 95% intervals of the stale-read rate and of the mean read
        latency, each relative to its value (inf while either is unknown; a rate of exactly
        0 with an interval [0, 0] counts as precise)."""
        self.flush(self.reached_s)
        out = []
        for bm in (self.stale_bm, self.read_latency_bm):
            value, lo, hi = bm.estimate()
            if value is None or lo is None:
                out.append(float("inf"))
            elif hi - lo == 0.0:
                out.append(0.0)
            else:
                out.append((hi - lo) / 2.0 / value if value > 0 else float("inf"))
        return out[0], out[1]

    def set_horizon(self, horizon_s: float) -> None:
        """The run ended at ``horizon_s`` (s): throughput is over [warm-up, horizon]."""
        self.horizon_s = horizon_s

    # -- summary --------------------------------------------------------------------------

    def summary(self, max_lag_s: float | None) -> dict:
        """The metrics of docs/design.md section 5 (times in ms, rates as fractions)."""
        self.flush(self.horizon_s)
        self._pending_reads.clear()  # replies still in flight at the end are not counted
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
            **(self.expiry.summary(self.horizon_s) if self.expiry is not None
               else no_expiry_summary()),
        }

    def client_cache_summary(self) -> dict:
        """The client-side cache's share of the reads and how stale its hits were."""
        self.flush(self.reached_s)
        hit_rate, hit_lo, hit_hi = self.local_hit_bm.estimate(clamp01=True)
        stale_rate, stale_lo, stale_hi = self.local_stale_bm.estimate(clamp01=True)
        age = self.local_age.summary_ms()
        return {
            "client_cache_hits": int(sum(self.local_hit_bm.num)),
            "client_cache_hit_rate": hit_rate,
            "client_cache_hit_rate_ci95": [hit_lo, hit_hi],
            "client_cache_stale_reads": int(sum(self.local_stale_bm.num)),
            "client_cache_stale_read_rate": stale_rate,
            "client_cache_stale_read_rate_ci95": [stale_lo, stale_hi],
            "client_cache_stale_age_ms": {"mean": age["mean"], "p99": age["p99"]},
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


def _ages(ops: list[Op], stale: np.ndarray, issue: np.ndarray) -> list[float]:
    """Staleness ages (s) of the reads marked ``stale``: issue minus the commit of the next
    version after the one read."""
    ages = []
    for i in np.flatnonzero(stale).tolist():
        # A version from a history a failover replaced may never have been superseded in
        # the history the read is judged against: stale, but of no measurable age.
        superseded = ops[i].result.superseded_s
        ages.append(issue[i] - superseded if superseded is not None
                    and superseded < issue[i] else 0.0)
    return ages


def _ms_pair(lo: float | None, hi: float | None) -> list:
    return [None if lo is None else lo * 1e3, None if hi is None else hi * 1e3]


def _add_into(totals: list[float], counts: np.ndarray) -> None:
    """Add per-batch ``counts`` into the per-batch list ``totals`` in place."""
    for i in np.flatnonzero(counts).tolist():
        totals[i] += counts[i].item()
