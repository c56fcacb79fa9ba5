"""The store's TTL measures of docs/design.md section 2: expired reads, their age, hidden
live keys and the expired keys the master still holds.

Each read is judged when it was served (``op.served_s``, set by the node that served it),
against the true expiry of the SET it found: its commit time plus ``workload.key_ttl`` in
true seconds, whatever any node's clock says.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.measure.metrics import LogHistogram, RatioBatchMeans
from sim.model.expiry import Deleted, expire_at
from sim.model.records import Op

BATCHES = 32


class ExpiryStats:
    """Streams the TTL measures of one run; ``reads`` is the recorder's per-batch read count
    list (the shared denominator), so the rates are shares of all measured reads."""

    def __init__(self, ttl_s: float, warmup_s: float, horizon_s: float,
                 reads: list[float]) -> None:
        self.ttl_s = ttl_s
        self.t0 = warmup_s
        self.expired_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
        self.hidden_bm = RatioBatchMeans(warmup_s, horizon_s, BATCHES)
        self.expired_bm.den = self.hidden_bm.den = reads
        self.age = LogHistogram()
        self.held_peak = 0
        self._advance: Callable[[float], None] | None = None

    @property
    def batch_means(self) -> tuple[RatioBatchMeans, RatioBatchMeans]:
        return self.expired_bm, self.hidden_bm

    def watch(self, advance: Callable[[float], None]) -> None:
        """``advance(t)`` brings the master's count of expired keys held up to ``t`` (s)
        and reports it to :meth:`held` (called once more at the end of the run)."""
        self._advance = advance

    def held(self, count: int, t: float) -> None:
        """The master held ``count`` expired keys just before ``t`` (s)."""
        if t >= self.t0 and count > self.held_peak:
            self.held_peak = count

    def add(self, ops: list[Op], batches: list[int]) -> None:
        """Measured reads ``ops``, each in its batch (by issue time)."""
        ttl = self.ttl_s
        expired, hidden = self.expired_bm.num, self.hidden_bm.num
        ages = []
        for op, b in zip(ops, batches, strict=True):
            rec = op.result
            if op.missing:
                found = rec.of if rec.__class__ is Deleted else rec
                if expire_at(found) is not None and op.served_s < found.commit_s + ttl:
                    hidden[b] += 1
            elif expire_at(rec) is not None:
                past = op.served_s - (rec.commit_s + ttl)
                if past >= 0:
                    expired[b] += 1
                    ages.append(past)
        if ages:
            self.age.add_many(ages)

    def summary(self, horizon_s: float) -> dict:
        """``expired_read_rate`` (+ ``_ci95``), ``expired_read_age_ms`` {mean, p99},
        ``hidden_live_rate`` (+ ``_ci95``), ``expired_keys_held`` (peak)."""
        if self._advance is not None:
            self._advance(horizon_s)
        rate, lo, hi = self.expired_bm.estimate(clamp01=True)
        hidden, hlo, hhi = self.hidden_bm.estimate(clamp01=True)
        age = self.age.summary_ms()
        return {"expired_read_rate": rate, "expired_read_rate_ci95": [lo, hi],
                "expired_read_age_ms": {"mean": age["mean"], "p99": age["p99"]},
                "hidden_live_rate": hidden, "hidden_live_rate_ci95": [hlo, hhi],
                "expired_keys_held": self.held_peak}


def no_expiry_summary() -> dict:
    """The same keys for a store without TTLs: nothing to measure."""
    return {"expired_read_rate": None, "expired_read_rate_ci95": None,
            "expired_read_age_ms": {"mean": None, "p99": None},
            "hidden_live_rate": None, "hidden_live_rate_ci95": None,
            "expired_keys_held": None}
