"""Sentinel's failover timeline, built from its parts instead of one timeout.

What Redis Sentinel (7.x) does after the master it watches stops answering, step by step:

* **Detection.** A killed ``redis-server`` refuses connections: Sentinel notices the broken link
  on its next timer tick, retries the connection once a second, and counts the master down
  ``down_after`` after that first failed attempt. A host cut off from the network
  (``crash_mode = "network"``, or a partition) just stops answering: the first unanswered PING
  (sent every ``ping_period``, at most every ``down_after``) starts the same count. With one
  Sentinel (quorum 1) subjectively down is objectively down.
* **Election and promotion.** The failover state machine moves one state per timer tick: it
  elects itself, selects the replica, sends it ``REPLICAOF NO ONE``; the replica is writable
  from then on (``promoted``).
* **Confirmation.** Sentinel only believes the promotion when an INFO reply shows the role
  change. Replicas get INFO every ``info_period`` (10 s) normally and every
  ``failover_info_period`` (1 s) once the master is down, so the confirmation waits for the
  next 1-s poll (``confirmed``); from then ``SENTINEL get-master-addr-by-name`` answers the new
  address, so a client that polls Sentinel switches at its next poll.
* **Reconfiguration.** The other replicas are sent ``REPLICAOF`` one at a time
  (``parallel-syncs 1``), each counted done on the INFO poll that shows it following the new
  master; then Sentinel announces ``+switch-master`` (``switched``), which pub/sub clients
  wait for.
* **A restarted old master.** If one of Sentinel's reconnect attempts (or PINGs) finds the
  old host back before it is counted down, no failover happens. Otherwise Sentinel notices that
  the old master, now listed as a replica, claims the master role, and reconfigures it only
  once it has reported so for 8 s (four hello periods) on its 10-s INFO polls: until then it
  serves as a master.

Every timer step waits a uniform part of Sentinel's 100-ms timer period (``TICK_S``). All
times here are absolute simulated seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TICK_S = 0.1  # Sentinel's timer runs about ten times a second (server.hz 10, randomised)
RECONNECT_PERIOD_S = 1.0  # Sentinel retries a broken instance link once a second
REPLICA_RETRY_S = 1.0  # a replica retries its master's address on its once-a-second cron
DEMOTE_AFTER_S = 8.0  # a "replica" claiming the master role is reconfigured after 4 x 2 s
FAILOVER_STEPS = 3  # timer steps from "down" to REPLICAOF NO ONE: elect, select, promote


@dataclass
class Timeline:
    """One failover as Sentinel runs it (absolute seconds). ``probes`` are the times at which
    Sentinel would find the old host alive again (its reconnect attempts or PINGs)."""

    crash_s: float
    detected_s: float
    promoted_s: float
    confirmed_s: float
    switched_s: float
    reconfigured_s: list[float]
    first_probe_s: float
    probe_period_s: float
    cancelled: bool = False
    clients_switched_s: list[float] = field(default_factory=list)

    def cancelled_by_restart(self, restart_s: float) -> bool:
        """Does a probe find the old host alive at ``restart_s`` or later, before it is counted
        down? (Then Sentinel never starts the failover.)"""
        if restart_s >= self.detected_s:
            return False
        k = max(0, math.ceil((restart_s - self.first_probe_s) / self.probe_period_s))
        return self.first_probe_s + k * self.probe_period_s < self.detected_s

    def phases_s(self) -> dict[str, float]:
        """Each phase's end, from the crash (s)."""
        switched = max(self.clients_switched_s, default=self.switched_s)
        return {"detected": self.detected_s - self.crash_s,
                "promoted": self.promoted_s - self.crash_s,
                "confirmed": self.confirmed_s - self.crash_s,
                "clients_switched": switched - self.crash_s}


class Sentinel:
    """Draws failover timelines from the ``[faults]`` settings and a uniform sampler
    ``uniform()`` in [0, 1) (the run's ``faults.sentinel`` stream)."""

    def __init__(self, faults, uniform) -> None:
        self.down_after = faults.sentinel_down_after
        self.ping_period = min(faults.sentinel_ping_period, faults.sentinel_down_after)
        self.info_period = faults.sentinel_info_period
        self.failover_info_period = faults.sentinel_failover_info_period
        self.discovery = faults.client_discovery
        self.poll_interval = faults.client_poll_interval
        self.uniform = uniform

    def _tick(self) -> float:
        return TICK_S * self.uniform()

    def _poller(self, detected_s: float):
        """The INFO polls of one replica once the master is down: the first as soon as its
        last normal (10-s) poll is one failover period old, then every failover period."""
        period = self.failover_info_period
        last = detected_s - self.info_period * self.uniform()
        first = max(detected_s + self._tick(), last + period)

        def next_poll(t: float) -> float:
            if t <= first:
                return first
            return first + math.ceil((t - first) / period) * period

        return next_poll

    def timeline(self, crash_s: float, refused: bool, others: int) -> Timeline:
        """The failover after the master fails at ``crash_s``: ``refused`` when its process died
        (connections refused), else it went silent; ``others`` replicas to reconfigure."""
        if refused:
            probe = crash_s + self._tick()
            period = RECONNECT_PERIOD_S
            start = probe
        else:
            probe = crash_s + self.ping_period * self.uniform()
            period = self.ping_period
            start = probe
        detected = start + self.down_after + self._tick()
        promoted = detected + sum(self._tick() for _ in range(FAILOVER_STEPS))
        confirmed = self._poller(detected)(promoted)
        timeline = Timeline(crash_s, detected, promoted, confirmed, confirmed, [], probe, period)
        self.reconfigure(timeline, others)
        return timeline

    def reconfigure(self, timeline: Timeline, others: int) -> None:
        """Draw when each of ``others`` replicas is sent REPLICAOF (parallel-syncs 1: one at a
        time, the next once an INFO poll shows the last following), and ``+switch-master``."""
        t = timeline.confirmed_s
        reconfigured = []
        for _ in range(others):
            t += self._tick()
            reconfigured.append(t)
            t = self._poller(timeline.detected_s)(t + TICK_S)
        timeline.reconfigured_s = reconfigured
        timeline.switched_s = t + self._tick()

    def client_switch_s(self, timeline: Timeline) -> float:
        """When one client writes to the new master: a polling client at its first poll after
        the confirmation (its polls have their own phase), a pub/sub client on
        ``+switch-master``."""
        if self.discovery == "pubsub":
            return timeline.switched_s
        return timeline.confirmed_s + self.poll_interval * self.uniform()

    def rediscover_s(self, now: float) -> float:
        """A client whose server just refused it as master asks Sentinel again (s)."""
        if self.discovery == "pubsub":
            return now
        return now + self.poll_interval * self.uniform()

    def replica_retry_s(self, now: float) -> float:
        """When a replica whose master went away next tries to connect to it (s)."""
        return now + REPLICA_RETRY_S * self.uniform()

    def demote_s(self, timeline: Timeline, restart_s: float) -> float:
        """When Sentinel turns a restarted old master (back at ``restart_s``) into a replica:
        it first sees it claim the master role once the failover is over, then waits until
        that claim is ``DEMOTE_AFTER_S`` old on its normal INFO polls."""
        seen = max(restart_s, timeline.switched_s) + self._tick()
        polls = math.floor(DEMOTE_AFTER_S / self.info_period) + 1
        return seen + polls * self.info_period
