"""The closed forms shown beside the simulation, each only where its assumptions hold.

Every function takes a validated :class:`sim.Config` and returns a :class:`Theory`: a value
(or a function of the write rate) with a short formula, or ``None`` and the plain reason
why no closed form applies to this experiment. Rates per second, times in seconds; the
formulas are those of :mod:`sim.analysis.analytic`, whose docstrings give the derivations.
They assume zero service and apply times; the page's experiments keep repsim's defaults
(10 us and 5 us), small next to a replication delay of a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.analysis import analytic

__all__ = ["Theory", "hit_rate", "lost_writes", "stale_rate_fn", "t_visibility_fn",
           "throughput", "write_latency"]


@dataclass(frozen=True)
class Theory:
    """A closed form's ``value`` (or ``fn``) and its ``formula``; or ``why_not``."""

    value: Any = None
    formula: str = ""
    why_not: str = ""
    fn: Callable[..., Any] | None = None

    @property
    def applies(self) -> bool:
        return not self.why_not


def _key_shares(config) -> np.ndarray:
    """Each key's share of the operations (reads and writes pick keys alike)."""
    wl = config.workload
    s = wl.zipf_s if wl.key_distribution == "zipf" else 0.0
    return analytic.zipf_weights(wl.keys, s)


def _replica_share(config) -> float | None:
    """Share of reads a replica serves under the read policy; None when it is not fixed."""
    rep = config.replication
    if rep.read_policy == "master" or rep.replicas == 0:
        return 0.0
    if rep.read_policy in ("replicas", "sticky"):
        return 1.0
    if rep.read_policy == "any":
        return rep.replicas / (rep.replicas + 1)
    return None  # read-your-writes: depends on each client's own writes


def _common_reason(config) -> str:
    """Why the replication formulas do not apply at all, or ''."""
    if config.workload.mode != "open":
        return "the formulas assume Poisson (open-mode) writes"
    if config.faults.active:
        return "a crash changes who is master midway"
    if config.client_cache.enabled:
        return ("a local hit returns what the client holds until the invalidation arrives "
                "(notebook 11: 1 − e^(−λ(L + d)) of local hits)")
    return ""


def stale_rate_fn(config) -> Theory:
    """P(stale read) as a function of the total write rate W (writes/s): 1 - e^(-λd) per key.

    Reads from replicas and no cache: for key k with share p_k, λ_k = W p_k, and a read
    reaching the replica δ (the client latency) after it is issued is stale with
    probability 1 - exp(-λ_k (d - δ)) for a constant delay d (exact for exponential delays
    on a FIFO link: ``stale_read_rate_exp_delay``); the rate is Σ p_k P_k times the share of
    reads served by a replica.
    """
    why = _common_reason(config)
    if not why and config.cache.enabled:
        why = "with the cache on, most stale reads are old cache entries"
    share = _replica_share(config)
    if not why and share is None:
        why = "read-your-writes routing depends on each client's own writes"
    delay = config.replication.delay
    if not why and share and delay.kind not in ("constant", "exp"):
        why = f"closed forms exist for constant and exponential delays, not {delay.kind}"
    if why:
        return Theory(why_not=why)
    if share == 0.0:
        return Theory(fn=lambda w: 0.0, formula="0: the master is never stale")
    p = _key_shares(config)
    offset = config.network.client_latency.mean
    d = delay.mean
    if delay.kind == "constant":
        def per_key(w: float, pk: float) -> float:
            return analytic.stale_read_rate_constant_delay(w * pk, d, read_offset_s=offset)
        formula = "1 − e^(−λ(d−δ)) per key"
    else:
        def per_key(w: float, pk: float) -> float:
            return analytic.stale_read_rate_exp_delay(w * pk, d, link_write_rate_per_s=w,
                                                      read_offset_s=offset)
        formula = "exponential delays on a FIFO stream (≈ 1 − e^(−λd) per key)"
    if share < 1.0:
        formula += f", × {share:.2g} of reads at a replica"

    # Keys of equal popularity have equal rates: one evaluation per distinct share.
    shares, counts = np.unique(p, return_counts=True)

    def fn(write_rate: float) -> float:
        if write_rate <= 0:
            return 0.0
        return share * float(sum(n * pk * per_key(write_rate, pk)
                                 for pk, n in zip(shares, counts, strict=True)))

    return Theory(fn=fn, formula=formula)


def t_visibility_fn(config) -> Theory:
    """P(read returns the newest version | committed t seconds ago), a function of t (s)."""
    why = _common_reason(config)
    if not why and config.cache.enabled:
        why = "a cache hit returns what was cached, whenever the write was"
    if not why and _replica_share(config) != 1.0:
        why = "the curve is for reads served by a replica"
    delay = config.replication.delay
    if not why and delay.kind not in ("constant", "exp"):
        why = f"closed forms exist for constant and exponential delays, not {delay.kind}"
    if why:
        return Theory(why_not=why)
    offset = config.network.client_latency.mean
    if delay.kind == "constant" or delay.mean == 0:
        return Theory(fn=lambda t: analytic.t_visibility_constant_delay(
            t, delay.mean, read_offset_s=offset), formula="1 once t + δ ≥ d")
    writes = config.workload.write_rate
    return Theory(fn=lambda t: analytic.t_visibility_exp_delay(
        t, delay.mean, link_write_rate_per_s=writes, read_offset_s=offset),
        formula="(1 − e^(−t/m)) · exp(−W m e^(−t/m)) (PBS, FIFO stream)")


def hit_rate(config) -> Theory:
    """Cache hit rate: Σ_k p_k rT/(1 + rT) with r = R p_k (``ttl_hit_ratio_zipf``)."""
    cache, wl = config.cache, config.workload
    if not cache.enabled:
        return Theory(why_not="the cache is off")
    why = "" if wl.mode == "open" else "the formula assumes Poisson (open-mode) reads"
    if not why and cache.on_write != "none":
        why = f"on_write = {cache.on_write} changes entries between fills"
    if not why and config.faults.active:
        why = "a crash interrupts the fills"
    if why:
        return Theory(why_not=why)
    s = wl.zipf_s if wl.key_distribution == "zipf" else 0.0
    value = analytic.ttl_hit_ratio_zipf(wl.read_rate, wl.keys, s, cache.ttl)
    return Theory(value=value, formula="rT / (1 + rT) per key (instant fills)")


def lost_writes(config) -> Theory:
    """Acknowledged writes lost at a crash that cuts the host off: W (d - L)+; none with
    WAIT >= 1, and none when only the process dies (the stream on the wire arrives)."""
    if not config.faults.active:
        return Theory(why_not="no crash is scheduled")
    if config.workload.mode != "open":
        return Theory(why_not="the formula assumes Poisson (open-mode) writes")
    rep = config.replication
    if rep.replicas == 0:
        return Theory(why_not="without replicas there is no failover")
    if rep.wait_replicas >= 1:
        return Theory(value=0.0, formula="0: with WAIT every acknowledged write reached a "
                                         "replica, and the most advanced one is promoted")
    if config.faults.crash_mode == "process" and not rep.stream_bandwidth:
        return Theory(value=0.0, formula="0: a killed process's host still delivers what it "
                                         "had sent, and the master sends each write as it "
                                         "commits")
    latency = config.network.client_latency.mean
    value = analytic.expected_lost_writes(config.workload.write_rate, rep.delay.mean,
                                          reply_latency_s=latency)
    if rep.delay.kind == "constant":
        return Theory(value=value, formula="W (d − L): writes still on the wire, minus "
                                           "those whose reply never arrived")
    return Theory(value=value, formula="W (E[d] − L), a lower bound: a FIFO stream holds "
                                       "back more with random delays")


def write_latency(config) -> Theory:
    """Mean write latency with WAIT 1: 2L + s + d + a (no queueing)."""
    rep, srv = config.replication, config.server
    if rep.wait_replicas != 1:
        return Theory(why_not="shown for WAIT 1")
    if rep.replicas != 1 and rep.delay.kind != "constant":
        return Theory(why_not="with several replicas WAIT 1 waits for the fastest one")
    value = analytic.sync_write_latency(config.network.client_latency.mean,
                                        srv.service_time.mean, rep.delay.mean,
                                        srv.replica_apply_time.mean)
    return Theory(value=value, formula="2L + s + d + a")


def throughput(config) -> Theory:
    """Closed mode: clients x B / (2L + o + B s), the no-queueing rate of every client."""
    wl = config.workload
    if wl.mode != "closed":
        return Theory(why_not="in open mode the throughput is the offered rate")
    net, srv = config.network, config.server
    per_client = analytic.closed_loop_throughput(
        config.pipeline.batch_size, net.client_latency.mean, srv.batch_overhead.mean,
        srv.service_time.mean, think_s=wl.think_time.mean)
    return Theory(value=wl.clients * per_client,
                  formula="clients × B / (2L + o + B s), before the master's queue")
