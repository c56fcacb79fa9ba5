"""Closed forms the simulator is checked against and taught with.

Rates are per second, times in seconds. Each formula states its assumptions; they are
those of the simplest model (Poisson arrivals, steady state, zero service and apply times
unless a parameter says otherwise), which the simulator reproduces when configured the
same way. A saturated queue (load >= 1) has an infinite mean sojourn: ``math.inf``.
"""

from __future__ import annotations

import math

import numpy as np

from sim.model.slots import shard_of_keys

ArrayLike = float | np.ndarray


def _check(name: str, value: float, *, positive: bool = False) -> float:
    """Validate one argument: a finite number >= 0 (or > 0)."""
    ok = isinstance(value, int | float | np.number) and math.isfinite(value)
    ok = ok and (value > 0 if positive else value >= 0)
    if not ok:
        allowed = "a finite number > 0" if positive else "a finite number >= 0"
        raise ValueError(f"{name} = {value!r}: {allowed}")
    return float(value)


# -- stale reads from asynchronous replication --------------------------------------------


def stale_read_rate_constant_delay(
    write_rate_per_key: float, delay_s: float, *, read_offset_s: float = 0.0
) -> float:
    """P(stale read) with a constant replication delay d: 1 - exp(-λ (d - δ)+).

    A read issued at time i and served by the replica at i + δ (``read_offset_s``: the
    client-to-replica latency) is stale iff the key's latest write before i was committed
    less than d - δ before i; with Poisson writes at λ per key the age of the latest write
    is Exp(λ). FIFO makes no difference with a constant delay.
    """
    lam = _check("write_rate_per_key", write_rate_per_key)
    d = _check("delay_s", delay_s)
    offset = _check("read_offset_s", read_offset_s)
    return -math.expm1(-lam * max(d - offset, 0.0))


def client_cache_stale_share(write_rate_per_key: float, push_delay_s: float, *,
                             replication_delay_s: float = 0.0) -> float:
    """Stale share of a client-side cache's hits (CLIENT TRACKING): 1 - exp(-λ (L + d)).

    The invalidation of a write reaches the client L (``push_delay_s``, the constant one-way
    server-to-client latency) after the serving node applied it, d (``replication_delay_s``,
    constant; 0 when reading the master) after its commit. An entry held at a hit's issue i
    has had no invalidation arrive since it was filled, so no write to the key committed in
    the window before i - L - d since its value was read; it is stale iff one committed in
    (i - L - d, i], which for Poisson writes at λ per key, independent of that past, has
    probability 1 - exp(-λ (L + d)).
    """
    lam = _check("write_rate_per_key", write_rate_per_key)
    window = _check("push_delay_s", push_delay_s) + _check("replication_delay_s",
                                                          replication_delay_s)
    return -math.expm1(-lam * window)


def _lower_gamma_ratio(k: float, x: float) -> float:
    """G(k, x) = k e^-x Σ_n x^n / (k (k+1) ... (k+n)) = Γ(k+1) x^-k P(k, x), P regularized."""
    if x < k + 1.0:  # power series: terms fall geometrically
        term = total = 1.0 / k
        n = 0
        while term > 1e-17 * total:
            n += 1
            term *= x / (k + n)
            total += term
        return k * math.exp(-x) * total
    # Continued fraction for the upper function Q(k, x) = 1 - P(k, x) (modified Lentz).
    tiny = 1e-300
    b = x + 1.0 - k
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - k)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    # Γ(k+1) x^-k (1 - Q) with Q = e^-x x^k h / Γ(k)
    return math.exp(math.lgamma(k + 1.0) - k * math.log(x)) - k * math.exp(-x) * h


def stale_read_rate_exp_delay(
    write_rate_per_key: float,
    mean_delay_s: float,
    *,
    link_write_rate_per_s: float | None = None,
    read_offset_s: float = 0.0,
) -> float:
    """P(stale read) with Exp(m) replication delays on a FIFO link, exact in steady state.

    Assumptions: Poisson writes at λ per key; the link carries Poisson writes at Λ >= λ
    in total (``link_write_rate_per_s``; default λ, a link carrying only this key); each
    write gets an independent Exp(m) delay but is delivered no earlier than the writes
    before it (delivery = max over earlier writes of send + delay); apply time zero; the
    read reaches the replica δ = ``read_offset_s`` after it is issued.

    Derivation: the latest write, a = Exp(λ) before the read, is delivered by then with
    probability (1 - e^{-(a+δ)/m}) exp(-Λ m e^{-(a+δ)/m}) (its own delay, and no earlier
    write still in flight: a Poisson count). Averaging over a, with κ = λm,
    x = Λ m e^{-δ/m} and G(κ, x) = Γ(κ+1) x^-κ P(κ, x) (P the regularized lower
    incomplete gamma): P(fresh) = (1 - λ/Λ) G(κ, x) + (λ/Λ) e^-x.

    With Λ = λ this is 1 - exp(-λ m e^{-δ/m}): the read is stale iff some write of the
    key is still in flight, an M/G/∞ count, so 1 - exp(-λ E[(d - δ)+]) holds for any
    delay distribution. The often quoted λm / (1 + λm) is P(latest write's own delay
    exceeds its age): a replica that ignores FIFO order and keeps the highest version.
    """
    lam = _check("write_rate_per_key", write_rate_per_key)
    m = _check("mean_delay_s", mean_delay_s)
    offset = _check("read_offset_s", read_offset_s)
    link = lam if link_write_rate_per_s is None else link_write_rate_per_s
    link = _check("link_write_rate_per_s", link)
    if link < lam:
        raise ValueError(
            f"link_write_rate_per_s = {link!r}: at least write_rate_per_key ({lam!r}), "
            "the link carries this key's writes too"
        )
    if lam == 0.0 or m == 0.0:
        return 0.0
    x = link * m * math.exp(-offset / m)
    share = lam / link
    fresh = share * math.exp(-x)
    if share < 1.0 and x > 0.0:
        fresh += (1.0 - share) * _lower_gamma_ratio(lam * m, x)
    elif share < 1.0:
        fresh += 1.0 - share  # G(κ, 0) = 1: the delay window has closed
    return min(max(1.0 - fresh, 0.0), 1.0)


def t_visibility_constant_delay(t_s: ArrayLike, delay_s: float, *, read_offset_s: float = 0.0):
    """P(fresh | newest version committed t ago), constant delay d: 1 if t + δ >= d, else 0."""
    d = _check("delay_s", delay_s)
    offset = _check("read_offset_s", read_offset_s)
    out = (np.asarray(t_s, dtype=float) + offset >= d).astype(float)
    return float(out) if out.ndim == 0 else out


def t_visibility_exp_delay(
    t_s: ArrayLike,
    mean_delay_s: float,
    *,
    link_write_rate_per_s: float = 0.0,
    read_offset_s: float = 0.0,
):
    """P(fresh | newest version committed t ago) with Exp(m) delays: the PBS t-visibility.

    FIFO ignored (``link_write_rate_per_s`` = 0): 1 - exp(-(t+δ)/m). On a FIFO link
    carrying Poisson writes at Λ, the write must also wait for every earlier write still
    in flight (a Poisson count of mean Λ m e^{-(t+δ)/m}):
    (1 - exp(-(t+δ)/m)) exp(-Λ m exp(-(t+δ)/m)). Accepts a float or an array of t (s).
    """
    m = _check("mean_delay_s", mean_delay_s, positive=True)
    link = _check("link_write_rate_per_s", link_write_rate_per_s)
    offset = _check("read_offset_s", read_offset_s)
    u = (np.asarray(t_s, dtype=float) + offset) / m  # age at the replica, in mean delays
    out = -np.expm1(-u) * np.exp(-link * m * np.exp(-u))
    return float(out) if out.ndim == 0 else out


def expected_lost_writes(write_rate: float, delay_s: float, *,
                         reply_latency_s: float = 0.0) -> float:
    """Mean writes lost when the master crashes under asynchronous replication: W d.

    The writes committed in the last d seconds before the crash have not reached the
    replica; with Poisson writes at W/s their mean number is W d. For random delays
    without FIFO, W E[d] by Little's law; a FIFO link holds back more.

    ``reply_latency_s`` (L, commit to the reply reaching the client) counts only the
    acknowledged ones: a write committed in the last L seconds never had its reply
    delivered, since the crash cuts the connection, so W (d - L)+ of them were acknowledged.
    """
    lost_span = _check("delay_s", delay_s) - _check("reply_latency_s", reply_latency_s)
    return _check("write_rate", write_rate) * max(lost_span, 0.0)


# -- TTL cache ----------------------------------------------------------------------------


def ttl_hit_ratio(read_rate_per_key: float, ttl_s: float) -> float:
    """Cache-aside hit ratio of one key with Poisson reads at r/s and TTL T: rT / (1 + rT).

    Zero fill latency and no invalidation: a miss fills the entry, which then serves the
    reads of the next T seconds (r T on average) before expiring; the next read misses.
    Renewal-reward: hits / reads = rT / (1 + rT).
    """
    rt = _check("read_rate_per_key", read_rate_per_key) * _check("ttl_s", ttl_s)
    return rt / (1.0 + rt)


# -- stampedes at the origin behind a cache (docs/design.md section 9) ----------------------


def recomputes_per_expiry_plain(read_rate_per_key: float, recompute_s: float) -> float:
    """Plain cache-aside, Poisson reads at λ on the key, a constant recompute time D at an
    origin that never queues, zero network delays: 1 + λD.

    The first read after the expiry misses and recomputes; every read of the next D misses
    too (the value is not back yet), a Poisson(λD) number of them.
    """
    return 1.0 + _check("read_rate_per_key", read_rate_per_key) * _check("recompute_s", recompute_s)


def recomputes_per_expiry_exponential(read_rate_per_key: float, mean_recompute_s: float,
                                      tol: float = 1e-12) -> float:
    """Plain cache-aside as above, recompute times Exp(mean m) independent of each other.

    The miss window closes at the first of the herd's recomputes to finish, not the first
    to start: with n in flight it closes at rate n/m while reads join at λ, so
    P(N > n) = prod_{k=1..n} λ / (λ + k/m) and E[N] = 1 + Σ_n P(N > n), far below 1 + λm
    (about sqrt(π λ m / 2) for large λm).
    """
    lam = _check("read_rate_per_key", read_rate_per_key)
    rate = 1.0 / _check("mean_recompute_s", mean_recompute_s, positive=True)
    total, term, k = 1.0, 1.0, 1
    while True:
        term *= lam / (lam + k * rate)
        total += term
        if term < tol:
            return total
        k += 1


def xfetch_recomputes_per_cycle(beta: float) -> float:
    """XFetch (Vattani, Chierichetti, Lowenstein, PVLDB 2015): expected recomputes per TTL
    cycle, e^(1/β), when λβδ >> 1 and the TTL is much longer than βδ ln(λβδ).

    A read at time t before the expiry T recomputes with probability e^(-(T - t)/(βδ)); the
    cumulative intensity of triggers reaches an Exp(1) level at the first one, and grows by
    the factor e^(1/β) during the δ its recompute takes, every read of it triggering too.
    """
    return math.exp(1.0 / _check("beta", beta, positive=True))


def xfetch_early_by(read_rate_per_key: float, beta: float, delta_s: float) -> float:
    """How long before the expiry XFetch's first recompute starts, on average (s):
    βδ (ln(λβδ) + γ), γ Euler's constant (the mean of a Gumbel variable)."""
    x = (_check("read_rate_per_key", read_rate_per_key, positive=True)
         * _check("beta", beta, positive=True) * _check("delta_s", delta_s, positive=True))
    return beta * delta_s * (math.log(x) + 0.5772156649015329)


def zipf_weights(keys: int, s: float) -> np.ndarray:
    """Key popularity p_k ∝ 1 / (k + 1)^s for k = 0..keys-1 (key 0 most popular; s=0 uniform)."""
    if not (isinstance(keys, int | np.integer) and keys >= 1):
        raise ValueError(f"keys = {keys!r}: an integer >= 1")
    s = _check("s", s)
    w = np.arange(1, keys + 1, dtype=float) ** -s
    return w / w.sum()


def ttl_hit_ratio_zipf(total_read_rate: float, keys: int, s: float, ttl_s: float) -> float:
    """Overall hit ratio with Zipf(s) keys: Σ_k p_k h(R p_k, T), each key's reads Poisson.

    Reads at R/s in total are split by key with probabilities p_k (independent thinning
    keeps each key Poisson at R p_k); key k gets a share p_k of the reads at its own
    ``ttl_hit_ratio``. Unbounded cache, zero fill latency.
    """
    rate = _check("total_read_rate", total_read_rate)
    ttl = _check("ttl_s", ttl_s)
    p = zipf_weights(keys, s)
    rt = rate * p * ttl
    return float(np.sum(p * rt / (1.0 + rt)))


# -- queues and round trips ---------------------------------------------------------------


def mg1_sojourn(arrival_rate: float, mean_s: float, second_moment_s2: float) -> float:
    """Mean time in an M/G/1 FIFO queue (wait + service, s): Pollaczek-Khinchine.

    E[T] = E[S] + λ E[S²] / (2 (1 - ρ)), ρ = λ E[S]: the mean residual service seen by
    an arrival is λ E[S²] / 2, and the queue ahead drains at rate 1 - ρ. inf when ρ >= 1.
    """
    lam = _check("arrival_rate", arrival_rate)
    es = _check("mean_s", mean_s)
    es2 = _check("second_moment_s2", second_moment_s2)
    if es2 < es * es:
        raise ValueError(f"second_moment_s2 = {es2!r}: at least mean_s² ({es * es!r})")
    rho = lam * es
    if rho >= 1.0:
        return math.inf
    return es + lam * es2 / (2.0 * (1.0 - rho))


def mm1_sojourn(arrival_rate: float, service_rate: float) -> float:
    """Mean time in an M/M/1 queue (s): 1 / (μ - λ); inf when λ >= μ (E[S²] = 2/μ² in P-K)."""
    lam = _check("arrival_rate", arrival_rate)
    mu = _check("service_rate", service_rate, positive=True)
    return math.inf if lam >= mu else 1.0 / (mu - lam)


def md1_sojourn(arrival_rate: float, service_time: float) -> float:
    """Mean time in an M/D/1 queue (s): s + ρ s / (2 (1 - ρ)), ρ = λ s (E[S²] = s² in P-K)."""
    s = _check("service_time", service_time)
    return mg1_sojourn(arrival_rate, s, s * s)


def closed_loop_throughput(
    batch_size: int,
    one_way_latency_s: float,
    overhead_s: float,
    service_s: float,
    *,
    think_s: float = 0.0,
) -> float:
    """Commands per second of one closed-loop client: B / (2L + o + B s + think).

    The client sends B pipelined commands in one message (one trip L), the server pays
    the per-message overhead o and B mean service times s, the replies come back in one
    trip L, the client thinks, then sends again. Renewal: B commands per mean cycle,
    whatever the service distribution. One client, so no queueing at the server.
    """
    if not (isinstance(batch_size, int | np.integer) and batch_size >= 1):
        raise ValueError(f"batch_size = {batch_size!r}: an integer >= 1")
    cycle = 2.0 * _check("one_way_latency_s", one_way_latency_s)
    cycle += _check("overhead_s", overhead_s) + batch_size * _check("service_s", service_s)
    cycle += _check("think_s", think_s)
    if cycle <= 0.0:
        return math.inf
    return batch_size / cycle


def sync_write_latency(
    one_way_latency_s: float, service_s: float, repl_delay_s: float, apply_s: float
) -> float:
    """Latency of a write that waits for one replica (Redis WAIT 1): 2L + s + d + a (s).

    Trip to the master (L), service (s), replication to the replica (d), apply there (a),
    reply back (L). No queueing; the replica's acknowledgement is taken to reach the
    master at once, as in the model. With random times this is the mean (linearity).
    """
    return (
        2.0 * _check("one_way_latency_s", one_way_latency_s)
        + _check("service_s", service_s)
        + _check("repl_delay_s", repl_delay_s)
        + _check("apply_s", apply_s)
    )


def shard_load_shares(keys: int, s: float, shards: int) -> np.ndarray:
    """Each shard's share of the commands when keys are chosen by popularity ``zipf_weights``
    (``s`` = 0: uniform) and spread over ``shards`` by hash slot (:mod:`sim.model.slots`)."""
    owner = np.asarray(shard_of_keys(keys, shards))
    return np.bincount(owner, weights=zipf_weights(keys, s), minlength=shards)


def cluster_down_after_two_failures(masters: int) -> float:
    """Redis Cluster specification: with ``masters`` masters and one replica each, the chance
    that two random node failures take down a master and its only replica, 1 / (2N - 1)."""
    return 1.0 / (2 * masters - 1)
