"""What a restarted master keeps: ``server.persistence`` (rdb snapshots, aof fsyncs, or none).

Only a run whose crashed master may restart under Sentinel (``faults.master_recover_after``
with Sentinel's timeline) keeps anything: the master in office persists every
``interval_s`` (rdb: ``snapshot_interval``; aof: ``fsync_interval``, 0 = appendfsync always,
every committed write survives), and its log keeps the writes it has not persisted, which a
restart that cancels the failover loses even though replicas hold them.
"""

from __future__ import annotations

from sim.model.records import Keyspace


class Persistence:
    """The disks of ``cluster``'s hosts: ``mode`` ("none", "rdb", "aof"), persisting every
    ``every_s`` seconds; ``restart_may_come`` when a crashed master may restart under
    Sentinel."""

    def __init__(self, cluster, mode: str, every_s: float, restart_may_come: bool) -> None:
        self.cluster = cluster
        self.mode = mode
        self.every_s = every_s
        self.restart_may_come = restart_may_come
        self.durable: dict[int, tuple[Keyspace, int]] = {}  # host -> (data, offset)

    @property
    def periodic(self) -> bool:
        """Does the master in office persist on a timer (not "none", not appendfsync
        always)?"""
        return self.mode != "none" and self.every_s > 0

    def keep_log(self, master) -> None:
        """``master`` took office: while a restart may come, its log keeps what its host's
        disk lacks."""
        if self.restart_may_come:
            master.keep_writes_after(self.durable.get(master.node_id, (None, 0))[1])

    def before_crash(self, master) -> None:
        """``master`` is about to crash: with appendfsync always, every write it committed
        is on disk."""
        if self.mode == "aof" and self.every_s == 0:
            self._persist(master)

    def on_persist(self, ev) -> None:
        """A snapshot (rdb) or fsync (aof) of the master in office: what a restart keeps."""
        cluster = self.cluster
        if cluster.office.alive:
            self._persist(cluster.office)
        cluster.at(cluster.env._now + self.every_s, self.on_persist, None)

    def _persist(self, master) -> None:
        self.durable[master.node_id] = master.persist()

    def restored(self, old) -> tuple[Keyspace, int]:
        """What ``old``'s host holds after a restart: its last persisted state, or nothing."""
        if self.mode != "none" and old.node_id in self.durable:
            data, offset = self.durable[old.node_id]
            return data.copy(), offset
        # Nothing survives: every key reads as a version 0 of this new, empty history.
        return Keyspace({}), 0
