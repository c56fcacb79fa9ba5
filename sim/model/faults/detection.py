"""A master fails: the crash itself, and the outage it opens until a failover.

A crash (``faults.crash_mode``) kills the process (``"process"``: what the master already
sent, stream writes and replies on the wire, is still delivered, the replication links close
behind it) or cuts the host off (``"network"``: messages on the wire are lost). A crash, or
a partition that cuts the master in office off from Sentinel, opens an outage
(:meth:`Detection.open_outage`): the failover comes when :mod:`sim.model.sentinel` says
(detection, promotion, confirmation, replicas reconfigured one by one, clients switching as
they discover the new master), or, with ``faults.failover_timeout`` set, one sampled delay
after which everything happens at once.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.model.sentinel import Sentinel, Timeline


class Detection:
    """Crashes and the outages they open, for ``cluster``; ``failover_delay()`` (s) replaces
    ``sentinel``'s timeline when ``faults.failover_timeout`` is set."""

    def __init__(self, cluster, failover_delay: Callable[[], float] | None,
                 sentinel: Sentinel | None) -> None:
        self.cluster = cluster
        self.failover_delay = failover_delay
        self.sentinel = sentinel

    def on_crash(self, ev) -> None:
        """The master in office crashes now (``faults.master_crash_at``)."""
        cluster = self.cluster
        now = cluster.env._now
        master = cluster.office
        if not master.alive:  # the office is vacant: a failover is still pending
            cluster.event("crash-skipped", now, master.name)
            return
        cluster.persistence.before_crash(master)
        master.die()
        cluster.event("crash", now, master.name)
        refused = not cluster.crash_cuts_links
        if refused:
            # The process died, the kernel still delivers what it had sent, then closes the
            # connection (FIN), which arrives behind the data on the same FIFO link.
            for replica in master.followers():
                closed_s = replica.master_died(now)
                if closed_s is not None:
                    cluster.draining.add(replica)
                    cluster.at(closed_s, self.on_closed, replica)
        timeline = self.open_outage(master, now, refused, None)
        if cluster.recover_after_s > 0:
            restarts = cluster.restarts
            cluster.at(now + cluster.recover_after_s,
                       restarts.on_recover if timeline is None else restarts.on_restart,
                       (master, timeline))
        cluster.reconcile(now)

    def on_closed(self, ev) -> None:
        """A killed master's connection closes at this replica (after its last message)."""
        cluster = self.cluster
        cluster.draining.discard(ev._value)
        cluster.reconcile(cluster.env._now)

    def open_outage(self, master, now: float, refused: bool, partition) -> Timeline | None:
        """``master``, in office, stops answering Sentinel at ``now`` (s): ``refused`` when
        its process died (connections refused), else it went silent (a network crash, or
        ``partition`` cut it off). Schedules the failover; returns Sentinel's timeline (None
        under ``failover_timeout``)."""
        cluster = self.cluster
        cluster.outage_start = now
        on_failover = cluster.failover.on_failover
        if self.sentinel is None:
            timeline = None
            cluster.at(now + self.failover_delay(), on_failover, (master, partition, None))
        else:
            timeline = self.sentinel.timeline(now, refused, max(0, len(master.followers()) - 1))
            cluster.at(timeline.promoted_s, on_failover, (master, partition, timeline))
        cluster.stats.crash(master, now)
        return timeline
