"""The client-side cache's own measures (docs/design.md section 10): invalidation messages,
the tracking tables' peak, and the entries left stale for good at the end of a run.

The reads it answers are measured with every other read by the recorder (their staleness
counts in ``stale_read_rate``); this adds what happens between the servers and the caches.
"""

from __future__ import annotations


class ClientCacheStats:
    """Counters of one run (times in seconds). ``sent(t)`` counts an invalidation message
    sent at ``t`` within the measured window [warm-up, horizon); ``table_peak`` is the most
    keys one server's tracking table held; ``evicted`` the keys the table bound evicted."""

    def __init__(self, warmup_s: float, horizon_s: float) -> None:
        self.t0 = warmup_s
        self.horizon_s = horizon_s
        self.invalidations = 0
        self.table_peak = 0
        self.evicted = 0
        self.stale_forever = 0

    def sent(self, now: float) -> None:
        if self.t0 <= now < self.horizon_s:
            self.invalidations += 1

    def finish(self, clients: list, master, replicas: list, now: float) -> None:
        """Count at ``now`` (s, the run's end) the local entries that are stale (older than
        V(k, now)) with no invalidation on its way and no server still to apply the newer
        version that tracks the client for the key: nothing will ever tell the client.
        The measured window of the invalidation rate ends at ``now``."""
        self.horizon_s = now
        for replica in replicas:  # what has reached them is applied (and its news sent)
            replica.take_in(now)
        committed = master.committed
        count = 0
        for client in clients:
            for key in client.local.stale_entries(committed, now):
                newest = committed[key].number
                if not any(r.store[key].number < newest and r.tracking.tracks(
                        client.index, key) for r in replicas):
                    count += 1
        self.stale_forever = count

    def summary(self) -> dict:
        window = self.horizon_s - self.t0
        return {
            "invalidations": self.invalidations,
            "invalidations_per_s": self.invalidations / window if window > 0 else 0.0,
            "tracking_table_keys": self.table_peak,
            "tracking_table_evictions": self.evicted,
            "stale_forever": self.stale_forever,
        }
