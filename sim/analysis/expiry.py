"""Closed forms of the store's TTL (docs/design.md section 2, "Expired reads: derivations").

Assumptions: Poisson writes at λ per key, every one a SET with the TTL T; a replica whose
state is the master's of a constant ``delay_s`` d earlier (constant replication delay, zero
apply and service times, reads served when issued); a steady state (the run's warm-up longer
than T plus the skew). The age A of the newest write before t - d is then Exp(λ), and a
replica read at t finds the SET committed at t - d - A.
"""

from __future__ import annotations

import math

from sim.analysis.analytic import _check


def expired_read_rate_clock_behind(write_rate_per_key: float, ttl_s: float, behind_s: float,
                                   delay_s: float = 0.0) -> float:
    """Share of a replica's reads that return a truly expired key, its clock ``behind_s``
    (s) behind the master's, when the master's DEL cannot arrive first (``behind_s`` <=
    ``delay_s``, or no active expiry): e^(−λ(T − d)) (1 − e^(−λs)); with d = 0 the issue's
    e^(−λT)(1 − e^(−λs)), and 0 for s = 0."""
    lam = _check("write_rate_per_key", write_rate_per_key)
    ttl, s, d = (_check(n, v) for n, v in (("ttl_s", ttl_s), ("behind_s", behind_s),
                                           ("delay_s", delay_s)))
    if d > ttl:
        raise ValueError(f"delay_s = {delay_s!r}: at most ttl_s ({ttl_s!r})")
    return math.exp(-lam * (ttl - d)) * -math.expm1(-lam * s)


def expired_read_rate_small_keyspace(write_rate_per_key: float, ttl_s: float,
                                     behind_s: float | None, period_s: float,
                                     delay_s: float = 0.0) -> float:
    """The same share when the master's active cycle checks every key each period
    (``period_s`` = 1 / server.hz; at most 20 keys with a TTL, the thread free at each
    cycle): the master deletes a key at the first cycle after its expiry, U ~ Uniform(0, P)
    later, and the DEL reaches the replica d after that. The replica serves the expired key
    for W = min(s, U + d); ``behind_s`` None is ``replica_expiry = "master_del"`` (s = ∞).

    P = e^(−λ(T − d)) (1 − E[e^(−λW)]), with, for w = s − d > 0,
    E[e^(−λW)] = e^(−λd) (1 − e^(−λ min(w, P))) / (λP) + (1 − w/P)+ e^(−λs), and e^(−λs)
    when s <= d. master_del: e^(−λT) (e^(λd) − (1 − e^(−λP)) / (λP)).
    """
    lam = _check("write_rate_per_key", write_rate_per_key, positive=True)
    ttl, period, d = (_check(n, v) for n, v in (("ttl_s", ttl_s), ("period_s", period_s),
                                                ("delay_s", delay_s)))
    if d > ttl:
        raise ValueError(f"delay_s = {delay_s!r}: at most ttl_s ({ttl_s!r})")
    s = math.inf if behind_s is None else _check("behind_s", behind_s)
    if s <= d:
        mean = math.exp(-lam * s)
    else:
        w = s - d
        mean = math.exp(-lam * d) * -math.expm1(-lam * min(w, period)) / (lam * period)
        if w < period:
            mean += (1.0 - w / period) * math.exp(-lam * s)
    return math.exp(-lam * (ttl - d)) * (1.0 - mean)


def hidden_live_rate_clock_ahead(write_rate_per_key: float, ttl_s: float, ahead_s: float,
                                 delay_s: float = 0.0) -> float:
    """Share of a replica's reads that answer "missing" for a key still live by true time,
    its clock ``ahead_s`` (s) ahead of the master's (``replica_expiry = "clock"``):
    e^(−λ(T − d)) (e^(λs) − 1), for s + d <= T. The master's DEL comes after the true
    expiry, so the active cycle plays no part."""
    lam = _check("write_rate_per_key", write_rate_per_key)
    ttl, s, d = (_check(n, v) for n, v in (("ttl_s", ttl_s), ("ahead_s", ahead_s),
                                           ("delay_s", delay_s)))
    if s + d > ttl:
        raise ValueError(f"ahead_s + delay_s = {s + d!r}: at most ttl_s ({ttl_s!r})")
    return math.exp(-lam * (ttl - d)) * math.expm1(lam * s)
