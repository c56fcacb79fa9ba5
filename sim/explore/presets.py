"""The notebooks' stories as starting points for the explore page.

Each preset is the defaults plus a few changes, with a caption that tells the student what to
look at and what to move next. The settings follow the notebooks they come from, shortened
to the page's few-second runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.explore.settings import Settings

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    """A named story: ``changes`` to :meth:`Settings.default` and the ``story`` to read."""

    name: str
    changes: dict[str, Any]
    story: str

    def settings(self) -> Settings:
        return Settings.default().replace(**self.changes)


_PRESETS = [
    Preset("repsim's defaults", {}, (
        "9,000 reads and 1,000 writes a second on 1,000 keys, two replicas 1 ms behind, and a "
        "cache that keeps every entry for 1 s. Most stale reads here are the cache's: an entry "
        "lives its whole TTL whatever happens to the key. Switch the cache off and the "
        "stale-read rate falls to what replication alone costs.")),
    Preset("A replica read right after a write", {
        "cache": False, "keys": 100, "zipf_s": 0.0, "delay_kind": "constant", "delay_ms": 5.0,
        "read_policy": "replicas"}, (
        "Notebook 02: 100 equally popular keys, reads from a random replica, a constant 5 ms "
        "replication delay. A read is stale when it reaches a replica less than 5 ms after "
        "a write of its key: with writes at λ per key, 1 − e^(−λd) of the time. Move the "
        "write rate and watch this run's point follow the curve; double the delay instead and "
        "you get the same as doubling the write rate. Then pick the read-your-writes policy.")),
    Preset("Token store (SETEX)", {
        "cache": False, "keys": 1000, "zipf_s": 0.0, "read_rate": 5000.0,
        "write_rate": 500.0, "delay_kind": "exp", "delay_ms": 5.0, "read_policy": "replicas"}, (
        "Notebook 07: each key is one user's refresh token, stored at the master with "
        "SETEX (SET ... EX 604800, a 7-day TTL); a write is a logout, a read a token check at a "
        "replica. A stale read is a revoked token still accepted. The t-visibility curve "
        "says how likely a check t ms after the logout still accepts the old token. The "
        "7-day TTL bounds nothing: try WAIT 2, or the master read policy.")),
    Preset("An expired token accepted (clock skew)", {
        "cache": False, "keys": 100, "zipf_s": 0.0, "read_rate": 5000.0, "write_rate": 100.0,
        "replicas": 1, "delay_kind": "exp", "delay_ms": 1.0, "read_policy": "replicas",
        "key_ttl_ms": 1000.0, "replica_clock_ms": -100.0, "replica_expiry": "clock"}, (
        "Notebook 07, last section: tokens written with a TTL (1 s here stands for 7 days), "
        "the replica's clock 100 ms behind the master's. Since Redis 7 a TTL travels as an "
        "absolute timestamp, and a replica judges it by its own clock, so it accepts an "
        "expired token for up to 100 ms, or until the master's DEL arrives: about "
        "e^(−λT)(1 − e^(−λs)) of its checks. Move the clock to 0 and it accepts none; ahead, "
        "it refuses live tokens instead. Pick master_del (Redis before 3.2) to see the "
        "window the master's active expire cycle leaves even with perfect clocks.")),
    Preset("The cache that hides a lagging replica", {
        "cache": True, "ttl_ms": 250.0, "on_write": "invalidate", "delay_kind": "exp",
        "delay_ms": 20.0, "read_policy": "replicas"}, (
        "Notebook 03: the replicas lag 20 ms, but most reads hit the cache, so read "
        "latency looks excellent. Writes invalidate the cache entry; the next read misses, "
        "reads a replica that has not applied the write yet, and puts the old value back in "
        "the cache for the whole TTL. Compare on_write = update, a shorter TTL, or the cache "
        "off.")),
    Preset("Client-side caching (CLIENT TRACKING)", {
        "cache": False, "client_cache": True, "keys": 20, "zipf_s": 0.0, "read_rate": 4000.0,
        "write_rate": 400.0, "delay_kind": "constant", "delay_ms": 5.0,
        "read_policy": "replicas"}, (
        "Notebook 11: every client keeps its own cache, and the replica that served a read "
        "sends an invalidation when it applies a write of that key. A local hit between the "
        "commit and the invalidation's arrival is stale: 1 − e^(−λ(L + d)) of local hits, "
        "L the network latency and d the replication delay. Move the delay and the write "
        "rate. Then tick the second connection and untick the placeholder: with this page's "
        "constant network latency a reply still always arrives before a later invalidation, "
        "so nothing stays stale for good; the race needs jitter (notebook 11 draws it).")),
    Preset("The crash that loses acknowledged writes", {
        "cache": False, "read_rate": 1000.0, "write_rate": 1000.0, "delay_kind": "constant",
        "delay_ms": 20.0, "crash": True, "crash_mode": "network", "crash_at_s": 1.0,
        "failover_ms": 500.0}, (
        "Notebook 06: at 1 s the master's host drops off the network (crash mode network); "
        "0.5 s later Sentinel promotes the replica furthest ahead. Writes committed in the "
        "last 20 ms before the crash were still on the wire and never reached a replica: "
        "those already acknowledged to their client are lost, W (d − L) on average. Until "
        "the failover every write fails. Switch the crash mode to process (a killed "
        "redis-server on a host that stays up): what it had sent still arrives, and nothing "
        "is lost. Or set WAIT to 1: nothing acknowledged is lost, and each write waits a "
        "replication delay longer.")),
    Preset("A hot key's expiry and its herd", {
        "cache": True, "keys": 10, "zipf_s": 0.0, "read_rate": 2000.0, "write_rate": 0.0,
        "ttl_ms": 500.0, "stampede": "none", "recompute_ms": 50.0, "origin_servers": 64,
        "read_policy": "master"}, (
        "Notebook 09: behind the cache an origin recomputes each miss in 50 ms. Ten keys "
        "read 200 times a second each: when an entry expires, every read of the next 50 ms "
        "misses too and recomputes, 1 + λD = 11 per expiry. Pick single_flight or lease "
        "(1 per expiry, the others wait), xfetch (a few early refreshes, no miss) or "
        "stale_while_revalidate (1, and stale values meanwhile). Then lower the origin "
        "workers to 1 with no cure, and watch its queue turn the herd into an overload.")),
]

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}
