"""Closed forms against direct Monte-Carlo computations in numpy.

Each check simulates the formula's own assumptions (not the simulator) with a fixed seed
and accepts the closed form within 4 standard errors, the standard error coming from
batch means over the simulated time (the samples are correlated in time).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.analysis import analytic as an

Z = 4.0  # tolerance in standard errors; a fresh seed would fail about once in 16,000


def batch_mean_se(values: np.ndarray, batches: int = 40) -> tuple[float, float]:
    """Mean of time-ordered samples and its standard error from batch means."""
    usable = values[: values.size // batches * batches].astype(float)
    means = usable.reshape(batches, -1).mean(axis=1)
    return float(values.mean()), float(means.std(ddof=1) / math.sqrt(batches))


def assert_close(values: np.ndarray, exact: float) -> None:
    mean, se = batch_mean_se(values)
    assert abs(mean - exact) <= Z * se + 1e-12, (mean, exact, se)


# -- replication: one link, Poisson writes on several keys, Poisson reads ----------------


def replicate(rng, *, keys, link_rate, horizon, delays, fifo):
    """Writes on a replication link: send times, keys and delivery times (s)."""
    n = rng.poisson(link_rate * horizon)
    send = np.sort(rng.uniform(0.0, horizon, n))
    deliver = send + delays(n)
    if fifo:  # a message never overtakes an earlier one: max over the ones before
        deliver = np.maximum.accumulate(deliver)
    return send, rng.integers(0, keys, n), deliver


def read_fresh(rng, send, wkey, deliver, *, keys, warmup, horizon, n_reads, offset):
    """Poisson reads after warm-up: fresh iff the key's latest write before the read's
    issue time was delivered by the time the read reaches the replica (issue + offset)."""
    r = np.sort(rng.uniform(warmup, horizon, n_reads))
    rkey = rng.integers(0, keys, n_reads)
    fresh = np.empty(n_reads, dtype=bool)
    for k in range(keys):
        mine, reads = wkey == k, rkey == k
        j = np.searchsorted(send[mine], r[reads], side="right") - 1
        assert (j >= 0).all()  # the warm-up leaves every key written
        fresh[reads] = deliver[mine][j] <= r[reads] + offset
    return fresh


def test_stale_rate_constant_delay():
    rng = np.random.default_rng(10)
    keys, link, d, offset = 10, 1000.0, 3e-3, 1e-3
    send, wkey, deliver = replicate(
        rng, keys=keys, link_rate=link, horizon=100.0, delays=lambda n: np.full(n, d), fifo=True
    )
    fresh = read_fresh(
        rng, send, wkey, deliver, keys=keys, warmup=1.0, horizon=100.0, n_reads=100_000,
        offset=offset,
    )  # fmt: skip
    exact = an.stale_read_rate_constant_delay(link / keys, d, read_offset_s=offset)
    assert_close(~fresh, exact)
    assert an.stale_read_rate_constant_delay(100.0, 1e-3, read_offset_s=2e-3) == 0.0


@pytest.mark.parametrize(
    "keys, link, mean, offset",
    [
        (20, 2000.0, 1e-3, 2.5e-4),  # many keys share the FIFO link
        (1, 300.0, 2e-3, 0.0),  # the link carries one key: 1 - exp(-λ m)
        (5, 400.0, 5e-3, 1e-3),
    ],
)
def test_stale_rate_exp_delay_fifo(keys, link, mean, offset):
    rng = np.random.default_rng(keys)
    send, wkey, deliver = replicate(
        rng, keys=keys, link_rate=link, horizon=150.0, fifo=True,
        delays=lambda n: rng.exponential(mean, n),
    )  # fmt: skip
    fresh = read_fresh(
        rng, send, wkey, deliver, keys=keys, warmup=1.0, horizon=150.0, n_reads=150_000,
        offset=offset,
    )  # fmt: skip
    exact = an.stale_read_rate_exp_delay(
        link / keys, mean, link_write_rate_per_s=link, read_offset_s=offset
    )
    assert_close(~fresh, exact)


def test_stale_rate_exp_delay_single_key_form_and_unordered_contrast():
    """Default link = the key alone: 1 - exp(-λ m). Without FIFO (a replica keeping the
    highest version) the rate is λm/(1+λm) e^{-δ/m}, as the docstring says."""
    lam, mean = 300.0, 2e-3
    assert an.stale_read_rate_exp_delay(lam, mean) == pytest.approx(-math.expm1(-lam * mean))
    rng = np.random.default_rng(99)
    keys, link, offset = 4, 1200.0, 5e-4
    send, wkey, deliver = replicate(
        rng, keys=keys, link_rate=link, horizon=150.0, fifo=False,
        delays=lambda n: rng.exponential(mean, n),
    )  # fmt: skip
    fresh = read_fresh(
        rng, send, wkey, deliver, keys=keys, warmup=1.0, horizon=150.0, n_reads=150_000,
        offset=offset,
    )  # fmt: skip
    km = link / keys * mean
    assert_close(~fresh, km / (1 + km) * math.exp(-offset / mean))
    fifo = an.stale_read_rate_exp_delay(
        link / keys, mean, link_write_rate_per_s=link, read_offset_s=offset
    )
    assert fifo > 1.5 * km / (1 + km) * math.exp(-offset / mean)  # FIFO blocking matters


@pytest.mark.parametrize("link, fifo", [(2000.0, True), (0.0, False)])
def test_t_visibility_exp_delay(link, fifo):
    """Share of writes delivered within t of their commit, FIFO link or independent delays."""
    rng = np.random.default_rng(5)
    mean = 1e-3
    send, _, deliver = replicate(
        rng, keys=1, link_rate=max(link, 2000.0), horizon=100.0, fifo=fifo,
        delays=lambda n: rng.exponential(mean, n),
    )  # fmt: skip
    lag = (deliver - send)[send > 1.0]
    for t in (1e-4, 5e-4, 1e-3, 3e-3, 8e-3):
        assert_close(lag <= t, an.t_visibility_exp_delay(t, mean, link_write_rate_per_s=link))
    curve = an.t_visibility_exp_delay(np.array([0.0, 1e-3, 1.0]), mean)
    assert curve.shape == (3,) and curve[0] == 0.0 and curve[-1] == pytest.approx(1.0)


def test_t_visibility_constant_delay_is_a_step():
    d = 2e-3
    assert an.t_visibility_constant_delay(d - 1e-9, d) == 0.0
    assert an.t_visibility_constant_delay(d, d) == 1.0
    assert an.t_visibility_constant_delay(1.5e-3, d, read_offset_s=5e-4) == 1.0
    steps = an.t_visibility_constant_delay(np.array([0.0, 1e-3, 3e-3]), d)
    assert steps.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("exp_delay", [False, True])
def test_expected_lost_writes(exp_delay):
    """Writes still in flight at a crash instant (independent delays: W E[d], Little)."""
    rng = np.random.default_rng(8)
    w, d = 500.0, 4e-3
    delays = (lambda n: rng.exponential(d, n)) if exp_delay else (lambda n: np.full(n, d))
    send, _, deliver = replicate(rng, keys=1, link_rate=w, horizon=200.0, fifo=False, delays=delays)
    crashes = np.sort(rng.uniform(1.0, 200.0, 4000))
    lo = np.searchsorted(send, crashes - 100 * d)  # older writes are surely delivered
    hi = np.searchsorted(send, crashes, side="right")
    lost = np.array([np.sum(deliver[a:b] > c) for a, b, c in zip(lo, hi, crashes, strict=True)])
    assert_close(lost, an.expected_lost_writes(w, d))


# -- TTL cache ----------------------------------------------------------------------------


def cache_hits(times: np.ndarray, keys: np.ndarray, ttl: float, n_keys: int) -> np.ndarray:
    """Cache-aside with zero fill latency: a miss sets the entry, which expires ttl later."""
    expiry = [-math.inf] * n_keys
    hits = np.empty(times.size, dtype=bool)
    for i, (t, k) in enumerate(zip(times.tolist(), keys.tolist(), strict=True)):
        hit = t < expiry[k]
        hits[i] = hit
        if not hit:
            expiry[k] = t + ttl
    return hits


def test_ttl_hit_ratio_one_key():
    rng = np.random.default_rng(12)
    r, ttl = 50.0, 0.1
    times = np.cumsum(rng.exponential(1 / r, 100_000))
    hits = cache_hits(times, np.zeros(times.size, dtype=int), ttl, 1)
    assert_close(hits, an.ttl_hit_ratio(r, ttl))


def test_ttl_hit_ratio_zipf():
    rng = np.random.default_rng(13)
    rate, keys, s, ttl = 2000.0, 200, 0.99, 0.05
    times = np.cumsum(rng.exponential(1 / rate, 200_000))
    k = rng.choice(keys, size=times.size, p=an.zipf_weights(keys, s))
    hits = cache_hits(times, k, ttl, keys)[times > 1.0]
    assert_close(hits, an.ttl_hit_ratio_zipf(rate, keys, s, ttl))


def test_zipf_weights():
    p = an.zipf_weights(100, 1.2)
    assert p.sum() == pytest.approx(1.0)
    assert np.all(np.diff(p) < 0)  # key 0 most popular
    assert p[0] / p[9] == pytest.approx(10**1.2)
    assert np.allclose(an.zipf_weights(7, 0.0), 1 / 7)


# -- queues and round trips ---------------------------------------------------------------


def fifo_sojourns(rng, lam: float, service: np.ndarray) -> np.ndarray:
    """Time in system of each customer of a single FIFO server with Poisson arrivals.

    Lindley's recursion W_n = max(0, W_{n-1} + S_{n-1} - A_n), solved in closed form:
    with U the running sum of S_{n-1} - A_n, W_n = U_n - min(0, min_k<=n U_k).
    """
    gaps = rng.exponential(1 / lam, service.size)
    u = np.concatenate([[0.0], np.cumsum(service[:-1] - gaps[1:])])
    wait = u - np.minimum.accumulate(np.minimum(u, 0.0))
    return (wait + service)[1000:]  # drop the start-up from an empty queue


def test_mm1_sojourn():
    rng = np.random.default_rng(21)
    lam, mu = 500.0, 1000.0
    assert_close(fifo_sojourns(rng, lam, rng.exponential(1 / mu, 400_000)), an.mm1_sojourn(lam, mu))


def test_md1_sojourn():
    rng = np.random.default_rng(22)
    lam, s = 700.0, 1e-3
    assert_close(fifo_sojourns(rng, lam, np.full(400_000, s)), an.md1_sojourn(lam, s))


def test_mg1_sojourn_uniform_service():
    rng = np.random.default_rng(23)
    lam, a, b = 600.0, 0.0, 2e-3  # S ~ U(a, b): E[S] = 1 ms, E[S²] = (a² + ab + b²) / 3
    service = rng.uniform(a, b, 400_000)
    exact = an.mg1_sojourn(lam, (a + b) / 2, (a * a + a * b + b * b) / 3)
    assert_close(fifo_sojourns(rng, lam, service), exact)


def test_saturated_queues_are_infinite_and_bad_moments_rejected():
    assert an.mm1_sojourn(10.0, 10.0) == math.inf
    assert an.md1_sojourn(2000.0, 1e-3) == math.inf
    with pytest.raises(ValueError, match="second_moment_s2"):
        an.mg1_sojourn(1.0, 1e-3, 1e-7)  # E[S²] < E[S]² is impossible


def test_closed_loop_throughput():
    """One client: send B commands in one message, wait for all replies, think, repeat."""
    rng = np.random.default_rng(31)
    batch, lat, over, svc, think = 16, 2.5e-4, 5e-6, 1e-5, 1e-4
    cycles = 2 * lat + over + rng.exponential(svc, (50_000, batch)).sum(axis=1) + think
    mean, se = batch_mean_se(cycles)
    thr = an.closed_loop_throughput(batch, lat, over, svc, think_s=think)
    assert abs(batch / mean - thr) <= Z * batch * se / mean**2  # delta method
    assert an.closed_loop_throughput(1, lat, over, svc) < thr  # pipelining amortises trips


def test_sync_write_latency():
    """Client -> master (L), serve (s), replicate (d), apply (a), reply (L), random times."""
    rng = np.random.default_rng(41)
    n, lat, s, d, a = 100_000, 2.5e-4, 1e-5, 1e-3, 5e-6
    total = lat + rng.exponential(s, n) + rng.exponential(d, n) + rng.exponential(a, n) + lat
    assert_close(total, an.sync_write_latency(lat, s, d, a))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: an.stale_read_rate_constant_delay(-1.0, 1e-3), "write_rate_per_key"),
        (lambda: an.stale_read_rate_exp_delay(1.0, math.nan), "mean_delay_s"),
        (lambda: an.stale_read_rate_exp_delay(10.0, 1e-3, link_write_rate_per_s=5.0), "link"),
        (lambda: an.ttl_hit_ratio(1.0, -2.0), "ttl_s"),
        (lambda: an.zipf_weights(0, 1.0), "keys"),
        (lambda: an.closed_loop_throughput(0, 1e-3, 0.0, 1e-5), "batch_size"),
        (lambda: an.mm1_sojourn(1.0, 0.0), "service_rate"),
    ],
)
def test_bad_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
