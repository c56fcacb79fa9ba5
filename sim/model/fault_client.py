"""The fault-aware client: counts failed commands and marks its acknowledged writes."""

from __future__ import annotations

from sim.model.client import Client
from sim.model.fault_nodes import Failure, Payload
from sim.model.records import Version


class FaultyClient(Client):
    """A client that counts failed commands and marks its acknowledged writes.

    A read can return a version from a history that a failover replaced (a replica or the
    cache not yet resynchronised): its staleness age in the history it is judged against is
    undefined, so it is recorded as stale (if its number is lower) with age 0.
    """

    stats = None  # the FaultStats, set by the cluster

    def on_reply(self, ev) -> None:
        ops = ev._value
        now = self.env._now
        stats = self.stats
        kept = []
        for op in ops:
            result = op.result
            if result.__class__ is Failure:
                stats.failed(op, result, now)
                self.outstanding -= 1
                if self.trace is not None:
                    self.trace("error", now, node=self.name, key=op.key, write=op.write,
                               reason=result.kind, issued=op.issue_s)
                continue
            if op.write:
                result.acked = True
                stats.acked_writes += 1
            else:
                _judge(op)
            kept.append(op)
        Client.on_reply(self, Payload(kept))

    def on_cache_reply(self, ev) -> None:
        for op in ev._value:
            if op.result is not None:
                _judge(op)
        Client.on_cache_reply(self, ev)


def _judge(op) -> None:
    rec = op.result
    if rec.number < op.newest.number and (rec.superseded_s is None
                                          or rec.superseded_s > op.issue_s):
        stand_in = Version(rec.key, rec.number, rec.commit_s, rec.offset)
        stand_in.superseded_s = op.issue_s
        op.result = stand_in
