"""The ``visibility`` summary: the PBS t-visibility curve measured by probe reads.

Probes (:mod:`sim.model.probes`) report, for a grid of offsets t after a commit, whether a
read started t after the commit returned the committed version or a newer one. Each grid
point is a ratio estimator with a batch-means interval over the commit times (probes of one
commit are correlated across t, and commits close in time share the servers' queues, so a
binomial interval could be too narrow). Near p = 1 most batches hold no inconsistent probe
and the batch-means interval collapses, while probes of different commits are then nearly
independent: each point's interval is the union of the batch-means interval and the Wilson
score interval, which stays honest at both ends. ``t_99_ms`` / ``t_999_ms`` are the smallest t at
which at least 99% / 99.9% of the probes are consistent, interpolated linearly between the
grid points around the first crossing; their intervals are the crossings of the upper and
lower 95% bounds of the curve (None when that bound does not reach the level within the
horizon).
"""

from __future__ import annotations

import math

import numpy as np

from sim.measure.metrics import RatioBatchMeans

BATCHES = 32
Z95 = 1.959963984540054


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (n > 0)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def crossing(ts: list[float], ps: list[float | None], level: float) -> float | None:
    """Smallest t with p(t) >= ``level``, linear between the grid points around the first
    crossing; None when no point reaches it. Points without data (None) are skipped."""
    prev = None
    for t, p in zip(ts, ps, strict=True):
        if p is None:
            continue
        if p >= level:
            if prev is None or prev[1] >= p:
                return t
            t0, p0 = prev
            return t0 + (level - p0) / (p - p0) * (t - t0)
        prev = (t, p)
    return None


class VisibilityStats:
    """Probe outcomes per grid offset (``offsets_s``, seconds), in batches of commit time."""

    def __init__(self, offsets_s: list[float], warmup_s: float, horizon_s: float) -> None:
        self.offsets_s = list(offsets_s)
        self.points = [RatioBatchMeans(warmup_s, horizon_s, BATCHES) for _ in offsets_s]
        self.commits = 0
        # Probes (den) and consistent ones (num) per (offset, batch), flat: the points'
        # batch sums, filled in when summarised (counts of probes, so exact in floats).
        self.den = np.zeros(len(offsets_s) * BATCHES, dtype=np.int64)
        self.num = np.zeros(len(offsets_s) * BATCHES, dtype=np.int64)

    def add_many(self, commit_s: np.ndarray, consistent: np.ndarray,
                 counted: np.ndarray) -> None:
        """Probes of commits at ``commit_s`` (s, one a row), one column per grid offset:
        ``consistent`` where counted (boolean arrays of shape (commits, offsets))."""
        point = self.points[0]
        inside = (commit_s >= point.t0) & (commit_s < point.t1)
        counted = counted & inside[:, None]
        self.commits += int(counted[:, 0].sum())
        # Cell (offset, batch) of each probe, counted with one bincount per measure.
        batch = ((commit_s - point.t0) * point.inv_width).astype(np.int64).clip(0, BATCHES - 1)
        cell = (np.arange(counted.shape[1]) * BATCHES)[None, :] + batch[:, None]
        size = len(self.points) * BATCHES
        self.den += np.bincount(cell[counted], minlength=size)
        self.num += np.bincount(cell[counted & consistent], minlength=size)

    def summary(self) -> dict:
        for i, point in enumerate(self.points):
            point.num[:] = [float(x) for x in self.num[i * BATCHES:(i + 1) * BATCHES]]
            point.den[:] = [float(x) for x in self.den[i * BATCHES:(i + 1) * BATCHES]]
        ts_ms = [t * 1e3 for t in self.offsets_s]
        curve, ps, los, his = [], [], [], []
        for t_ms, point in zip(ts_ms, self.points, strict=True):
            p, lo, hi = point.estimate(clamp01=True)
            n = int(sum(point.den))
            if n:
                w_lo, w_hi = wilson(sum(point.num), n)
                lo = w_lo if lo is None else min(lo, w_lo)
                hi = w_hi if hi is None else max(hi, w_hi)
            ps.append(p)
            los.append(lo)
            his.append(hi)
            if n:
                curve.append({"t_ms": t_ms, "p_consistent": p, "ci95": [lo, hi], "n": n})
        out = {
            "probed_commits": self.commits,
            "probes": sum(row["n"] for row in curve),
            "horizon_ms": ts_ms[-1],
            "p_consistent_at_commit": ps[0],
            "p_consistent_at_commit_ci95": [los[0], his[0]] if ps[0] is not None else
            [None, None],
        }
        for name, level in (("t_99_ms", 0.99), ("t_999_ms", 0.999)):
            out[name] = crossing(ts_ms, ps, level)
            out[name + "_ci95"] = [crossing(ts_ms, his, level), crossing(ts_ms, los, level)]
        out["curve"] = curve
        return out
