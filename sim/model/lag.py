"""Replication lag's one home: the peaks replicas report, the periodic samples, the maximum.

The lag of a replica at time t is t minus the commit time of the oldest write its master
committed that it has not applied (0 when caught up); :meth:`sim.model.replica.Replica.lag`
computes it. This monitor samples every live replica ``samples_per_s`` times a simulated
second over the measured window and keeps the maximum over it: the peaks a replica reports
when it applies a write or loads a resync, the lag straddling the warm-up, and the lag still
growing at the horizon. Replicas a failover promoted keep the peaks they reported.
"""

from __future__ import annotations

from collections.abc import Callable

LAG_SAMPLES_PER_S = 1000.0  # replication-lag sampling rate (simulated samples per second)


class LagMonitor:
    """``replicas`` is the run's live list of replicas (a failover changes it in place);
    ``record(lag_s)`` takes each sample (the recorder's lag histogram)."""

    def __init__(self, env, at, replicas: list, warmup_s: float, horizon_s: float,
                 record: Callable[[float], None]) -> None:
        self.env = env
        self.at = at
        self.replicas = replicas
        self.warmup_s = warmup_s
        self.horizon_s = horizon_s
        self.record = record
        self.interval_s = 1.0 / LAG_SAMPLES_PER_S
        self.max_s = 0.0

    def start(self) -> None:
        """Begin sampling at the warm-up (only when the run has replicas)."""
        if self.replicas:
            self.at(self.warmup_s, self._on_warmup, None)

    def peak(self, done_s: float, since_s: float) -> None:
        """A replica's lag peaks at ``done_s``, at ``done_s - since_s``: it counts when the
        peak falls inside the measured window."""
        lag = done_s - since_s
        if lag > self.max_s and self.warmup_s <= done_s <= self.horizon_s:
            self.max_s = lag

    def _on_warmup(self, ev) -> None:
        self.warm(self.env._now)
        self._on_sample(ev)

    def _on_sample(self, ev) -> None:
        now = self.env._now
        self.sample(now)
        self.at(now + self.interval_s, self._on_sample, None)

    def warm(self, now: float) -> None:
        """At the warm-up: the lag straddling it counts towards the maximum."""
        for replica in self.replicas:
            lag = replica.lag(now)
            if lag > self.max_s:
                self.max_s = lag

    def sample(self, now: float) -> None:
        """Record every live replica's lag now (s); :meth:`start` schedules the samples, or
        one clock drives several monitors (a sharded run's)."""
        record = self.record
        for replica in self.replicas:
            record(replica.lag(now))

    def maximum(self, end_s: float) -> float:
        """The maximum lag over the measured window up to the run's end ``end_s`` (s), the
        lag still growing then included."""
        return max([self.max_s] + [replica.lag(end_s) for replica in self.replicas])
