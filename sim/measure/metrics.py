"""Streaming metric collectors whose memory does not grow with the number of operations.

Values are seconds unless a name says otherwise. Each collector takes a value on the
simulation's hot path with a list append (or an inline list update) and does the heavy
work vectorised in numpy when a buffer fills or a statistic is asked for. ``t_quantile``
(Student t, no scipy) serves the batch-means confidence intervals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

import numpy as np

FLUSH_AT = 4096  # buffered values before a numpy flush: amortises the array conversion
SUB_BUCKETS = 64  # linear sub-buckets per power of two -> midpoint error <= 1/128
Estimate = tuple[float | None, float | None, float | None]  # (value, lo, hi)


def _bad_value(name: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"{name} = {value!r}: {allowed}")


class LogHistogram:
    """Histogram of non-negative floats (seconds) with quantiles within 1% relative error.

    A positive value x = m * 2**e (``numpy.frexp``, m in [0.5, 1)) falls in bucket
    ``e * 64 + floor((m - 0.5) * 128)``: 64 equal slices of each power of two. A bucket is
    reported by its midpoint, which is within half a slice, 2**e / 256, of any value in it,
    and every value is at least 2**e / 2: relative error <= 1/128. Zero has its own bucket.

    Values are appended to ``self.buffer`` (a plain list; the recorder appends to it
    directly on the hot path and flushes when it holds ``FLUSH_AT`` values) and folded into counts 4096 at a time. Counts
    live in one numpy array spanning whole powers of two between the smallest and the
    largest value seen, so memory is 64 * 8 bytes per power of two of range (at most
    about 1 MB for the whole float range), independent of how many values are added.
    ``count``, ``sum``, ``mean``, ``min`` and ``max`` are exact.
    """

    __slots__ = ("buffer", "_count", "_sum", "_min", "_max", "_zero", "_counts", "_base")

    def __init__(self) -> None:
        self.buffer: list[float] = []
        self._count, self._sum = 0, 0.0
        self._min, self._max = math.inf, -math.inf
        self._zero = 0  # values exactly 0.0
        self._counts = np.zeros(0, dtype=np.int64)  # bucket index base + i -> count
        self._base = 0  # bucket index of _counts[0]; a multiple of SUB_BUCKETS

    def add(self, x: float) -> None:
        """Record one value (seconds, >= 0); validated at the next flush."""
        buf = self.buffer
        buf.append(x)
        if len(buf) >= FLUSH_AT:
            self.flush()

    def add_many(self, values: Iterable[float]) -> None:
        """Record many values at once (any iterable or numpy array, seconds)."""
        self.flush()
        self._fold(np.asarray(values, dtype=np.float64).ravel())

    def flush(self) -> None:
        """Fold the buffer into the counts; a negative, NaN or infinite value raises
        ValueError and drops that buffered batch (the histogram stays consistent)."""
        buf = self.buffer
        if not buf:
            return
        x = np.array(buf, dtype=np.float64)
        buf.clear()  # in place: the engine may hold a reference to this list
        self._fold(x)

    def _fold(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        lo, hi = float(x.min()), float(x.max())
        if not (lo >= 0.0 and hi < math.inf):  # NaN fails both comparisons
            bad = x[~((x >= 0.0) & (x < math.inf))][0]
            raise _bad_value("histogram value", float(bad), "finite seconds >= 0")
        self._count += x.size
        self._sum += float(x.sum())
        self._min = min(self._min, lo)
        self._max = max(self._max, hi)
        pos = x if lo > 0.0 else x[x > 0.0]
        self._zero += x.size - pos.size
        if pos.size == 0:
            return
        mant, expo = np.frexp(pos)
        # (mant - 0.5) * 128 is exact in binary floating point, so truncation is exact.
        sub = ((mant - 0.5) * (2 * SUB_BUCKETS)).astype(np.int64)
        idx = expo.astype(np.int64) * SUB_BUCKETS + sub
        i_lo, i_hi = int(idx.min()), int(idx.max())
        self._ensure(i_lo, i_hi)
        start = i_lo - self._base
        width = i_hi - i_lo + 1
        self._counts[start : start + width] += np.bincount(idx - i_lo, minlength=width)

    def _ensure(self, i_lo: int, i_hi: int) -> None:
        """Grow the count array (by whole powers of two) to cover bucket indices i_lo..i_hi."""
        counts, base = self._counts, self._base
        if counts.size and base <= i_lo and i_hi < base + counts.size:
            return
        if counts.size:  # keep the range already covered
            i_lo, i_hi = min(i_lo, base), max(i_hi, base + counts.size - 1)
        new_base = (i_lo // SUB_BUCKETS) * SUB_BUCKETS
        grown = np.zeros((i_hi // SUB_BUCKETS + 1) * SUB_BUCKETS - new_base, dtype=np.int64)
        grown[base - new_base : base - new_base + counts.size] = counts
        self._counts, self._base = grown, new_base

    @property
    def count(self) -> int:
        """Number of values recorded."""
        self.flush()
        return self._count

    @property
    def sum(self) -> float:
        """Sum of the values (seconds)."""
        self.flush()
        return self._sum

    @property
    def mean(self) -> float | None:
        """Mean (seconds); None when empty."""
        return self.sum / self._count if self.count else None

    @property
    def min(self) -> float | None:
        """Smallest value (seconds); None when empty."""
        return self._min if self.count else None

    @property
    def max(self) -> float | None:
        """Largest value (seconds); None when empty."""
        return self._max if self.count else None

    @property
    def bucket_count(self) -> int:
        """Buckets held in memory (the zero bucket included): the memory bound."""
        return int(self._counts.size) + 1

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile (seconds), q in [0, 1]; None when empty.

        The midpoint of the smallest bucket whose cumulative count reaches ceil(q * count),
        clamped into [min, max]; rank 1 and rank count return min and max exactly.
        """
        return self.quantiles([q])[0]

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Several quantiles with one cumulative sum (see ``quantile``)."""
        qs = list(qs)
        for q in qs:
            if not 0.0 <= q <= 1.0:
                raise _bad_value("quantile q", q, "a number in [0, 1]")
        self.flush()
        n = self._count
        if n == 0:
            return [None] * len(qs)
        cum = np.cumsum(self._counts)
        out: list[float | None] = []
        for q in qs:
            # The factor absorbs rounding in q * n (0.95 * 100 must be rank 95, not 96).
            rank = max(1, math.ceil(q * n * (1.0 - 1e-12)))
            if rank == 1:
                out.append(self._min)
            elif rank >= n:
                out.append(self._max)
            elif rank <= self._zero:
                out.append(0.0)
            else:
                i = int(np.searchsorted(cum, rank - self._zero, side="left")) + self._base
                expo, sub = divmod(i, SUB_BUCKETS)
                mid = math.ldexp(0.5 + (sub + 0.5) / (2 * SUB_BUCKETS), expo)
                out.append(min(max(mid, self._min), self._max))
        return out

    def merge(self, other: LogHistogram) -> None:
        """Add every value recorded in ``other`` to this histogram (``other`` is unchanged)."""
        other.flush()
        self.flush()
        if other._count == 0:
            return
        self._count += other._count
        self._sum += other._sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)
        self._zero += other._zero
        if other._counts.size:
            self._ensure(other._base, other._base + other._counts.size - 1)
            start = other._base - self._base
            self._counts[start : start + other._counts.size] += other._counts

    def summary_ms(self) -> dict[str, float | None]:
        """mean, p50, p95, p99, p999, max in milliseconds (all None when empty)."""
        p50, p95, p99, p999 = self.quantiles([0.5, 0.95, 0.99, 0.999])
        vals = {"mean": self.mean, "p50": p50, "p95": p95, "p99": p99, "p999": p999}
        vals["max"] = self.max
        return {k: (None if v is None else v * 1e3) for k, v in vals.items()}


class RatioBatchMeans:
    """Ratio Σnum / Σden over [t0, t1) with a batch-means confidence interval.

    The window is cut into ``n_batches`` equal batches in time. Stale reads are correlated
    in time, so a binomial interval is far too narrow; batches much longer than the
    correlation time are nearly independent and give an honest interval.

    Stale-read rate: num += 1 if stale else 0, den += 1 per read. Mean latency with an
    interval: num += latency (seconds), den += 1 per reply; ``estimate()`` then returns
    the per-reply mean latency — the same ratio estimator serves both.

    Hot path: ``b = int((t - rb.t0) * rb.inv_width)`` then ``rb.num[b] += x;
    rb.den[b] += 1`` for t0 <= t < t1. ``inv_width`` is lowered by an ulp when rounding
    would put the last instant before t1 past the last batch.
    """

    __slots__ = ("t0", "t1", "n_batches", "inv_width", "num", "den")

    def __init__(self, t0: float, t1: float, n_batches: int = 32) -> None:
        if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
            raise _bad_value("batch window", (t0, t1), "finite seconds with t0 < t1")
        if not (isinstance(n_batches, int) and n_batches >= 2):
            raise _bad_value("n_batches", n_batches, "an integer >= 2")
        self.t0, self.t1, self.n_batches = float(t0), float(t1), n_batches
        inv = n_batches / (self.t1 - self.t0)
        last = math.nextafter(self.t1, -math.inf)  # b is monotone in t: check the last t
        while int((last - self.t0) * inv) >= n_batches:  # rounding pushed it past the end
            inv = math.nextafter(inv, 0.0)
        self.inv_width = inv
        self.num = [0.0] * n_batches
        self.den = [0.0] * n_batches

    def add(self, t: float, x: float, d: float = 1.0) -> None:
        """Add x to the numerator and d to the denominator at time t (s); ignored outside."""
        if self.t0 <= t < self.t1:
            b = int((t - self.t0) * self.inv_width)
            self.num[b] += x
            self.den[b] += d

    def double(self, merge: tuple[list[float], ...] | None = None) -> None:
        """Double the window to [t0, t0 + 2 (t1 - t0)) keeping the batch count: adjacent
        batches merge, in place (the lists keep their identity for hot-path aliases), and the
        new second half starts empty. Batch means with a growing horizon (batch doubling): the
        batches stay equal in length and nothing is kept per event. ``merge`` names the lists
        to merge when one is shared with another estimator that merges it (default both)."""
        n = self.n_batches
        for values in (self.num, self.den) if merge is None else merge:
            merged = [values[2 * i] + values[2 * i + 1] for i in range(n // 2)]
            values[:] = merged + [0.0] * (n - len(merged))
        width = 2.0 * (self.t1 - self.t0)
        self.t1 = self.t0 + width
        inv = n / width
        last = math.nextafter(self.t1, -math.inf)
        while int((last - self.t0) * inv) >= n:
            inv = math.nextafter(inv, 0.0)
        self.inv_width = inv

    def estimate(self, clamp01: bool = False, level: float = 0.95) -> Estimate:
        """(ratio, lo, hi): R = Σnum/Σden and its ``level`` confidence interval.

        Over the M batches with den_b > 0: Var(R) = Σ (num_b - R den_b)² / (M (M-1)
        mean(den)²), half-width t_{M-1} sqrt(Var). R is None when Σden == 0; lo, hi are None
        when fewer than two batches have data. ``clamp01`` clips lo, hi into [0, 1].
        """
        sum_den = math.fsum(self.den)
        if sum_den <= 0.0:
            return None, None, None
        ratio = math.fsum(self.num) / sum_den
        used = [(n, d) for n, d in zip(self.num, self.den, strict=True) if d > 0.0]
        m = len(used)
        if m < 2:
            return ratio, None, None
        mean_den = math.fsum(d for _, d in used) / m
        ss = math.fsum((n - ratio * d) ** 2 for n, d in used)
        half = _t_two_sided(level, m - 1) * math.sqrt(ss / (m * (m - 1))) / mean_den
        lo, hi = ratio - half, ratio + half
        if clamp01:
            lo, hi = max(0.0, lo), min(1.0, hi)
        return ratio, lo, hi


# Log-spaced edges from 1 µs to 100 s, 10 per decade (seconds); bin 0 is [0, 1 µs).
TVIS_EDGES_S = np.array([10.0 ** (k / 10) for k in range(-60, 21)])


class TVisibility:
    """The PBS t-visibility curve: share of reads that returned the newest version.

    t is seconds since the newest version of the key at the read's issue time was
    committed (finite, >= 0; skip reads of keys never written). Bin i > 0 is
    [TVIS_EDGES_S[i-1], TVIS_EDGES_S[i]), bin 0 is [0, 1 µs); t >= 100 s is counted in
    the last bin. ``add`` appends to two lists (``t_buffer``, ``fresh_buffer``), folded
    with numpy 4096 at a time: memory is two arrays of 81 counts.
    """

    __slots__ = ("t_buffer", "fresh_buffer", "_n", "_fresh")

    def __init__(self) -> None:
        self.t_buffer: list[float] = []
        self.fresh_buffer: list[bool] = []
        self._n = np.zeros(TVIS_EDGES_S.size, dtype=np.int64)
        self._fresh = np.zeros(TVIS_EDGES_S.size, dtype=np.int64)

    def add(self, t: float, fresh: bool) -> None:
        """Record one read: age t (s) of the newest version, and whether it was returned."""
        self.t_buffer.append(t)
        self.fresh_buffer.append(fresh)
        if len(self.t_buffer) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Fold the buffered reads into the bins (ValueError on t < 0 or not finite)."""
        if not self.t_buffer:
            return
        t = np.array(self.t_buffer, dtype=np.float64)
        fresh = np.array(self.fresh_buffer, dtype=bool)
        self.t_buffer.clear()
        self.fresh_buffer.clear()
        self.add_many(t, fresh)

    def add_many(self, t: np.ndarray, fresh: np.ndarray) -> None:
        """Record many reads at once: ages ``t`` (s) and booleans ``fresh``."""
        ok = (t >= 0.0) & (t < math.inf)
        if not ok.all():
            raise _bad_value("t-visibility age", float(t[~ok][0]), "finite seconds >= 0")
        idx = np.searchsorted(TVIS_EDGES_S, t, side="right")
        np.minimum(idx, TVIS_EDGES_S.size - 1, out=idx)
        self._n += np.bincount(idx, minlength=TVIS_EDGES_S.size)
        self._fresh += np.bincount(idx[fresh], minlength=TVIS_EDGES_S.size)

    def merge(self, other: TVisibility) -> None:
        """Add the reads recorded in ``other``."""
        other.flush()
        self.flush()
        self._n += other._n
        self._fresh += other._fresh

    def curve(self) -> list[dict[str, float | int]]:
        """[{t_ms: bin upper edge (ms), p_fresh: share fresh, n: reads}] for bins with reads."""
        self.flush()
        rows = []
        for i in np.flatnonzero(self._n):
            n = int(self._n[i])
            t_ms = float(f"{TVIS_EDGES_S[i] * 1e3:.6g}")  # 6 digits: 1.25893, not ...673
            rows.append({"t_ms": t_ms, "p_fresh": int(self._fresh[i]) / n, "n": n})
        return rows


def _t_two_sided(level: float, df: int) -> float:
    if not 0.0 < level < 1.0:
        raise _bad_value("confidence level", level, "a number in (0, 1)")
    return t_quantile(0.5 + level / 2.0, df)


def _t_central(t: float, df: int) -> float:
    """P(|T| <= t) for integer df: the finite series of Abramowitz & Stegun 26.7.3-4."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    odd = df % 2
    term = acc = 1.0
    for k in range(2 if odd else 1, df - 1, 2):  # term_k = term_{k-1} * k/(k+1) * cos²θ
        term *= k / (k + 1) * c2
        acc += term
    if odd:
        return 2.0 / math.pi * (theta + (s * math.sqrt(c2) * acc if df > 1 else 0.0))
    return s * acc


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with integer ``df`` >= 1 (as ``scipy.stats.t.ppf``).

    Bisection on the exact distribution function (a finite series for integer df) to
    about 1e-12; for df > 300 a Cornish-Fisher expansion in 1/df around the normal
    quantile, whose truncation error there is below 1e-9.
    """
    if not 0.0 < p < 1.0:
        raise _bad_value("t quantile p", p, "a probability in (0, 1)")
    if not (isinstance(df, int | np.integer) and df >= 1):
        raise _bad_value("degrees of freedom", df, "an integer >= 1")
    if p <= 0.5:
        return -t_quantile(1.0 - p, df) if p < 0.5 else 0.0
    if df > 300:
        z = NormalDist().inv_cdf(p)
        z2 = z * z
        t = z + z * (z2 + 1) / (4 * df)
        t += z * ((5 * z2 + 16) * z2 + 3) / (96 * df**2)
        t += z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / (384 * df**3)
        return t + z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / (92160 * df**4)
    central = 2.0 * p - 1.0
    lo, hi = 0.0, 1.0
    while _t_central(hi, df) < central:
        lo, hi = hi, 2.0 * hi
    while hi - lo > 1e-12 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _t_central(mid, df) < central else (lo, mid)
    return 0.5 * (lo + hi)
