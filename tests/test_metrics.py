"""Streaming metrics: histogram accuracy and memory, batch-means coverage, t quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.measure.metrics import (
    FLUSH_AT,
    SUB_BUCKETS,
    TVIS_EDGES_S,
    LogHistogram,
    RatioBatchMeans,
    TVisibility,
    t_quantile,
)

QS = [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0]
REL_ERR = 1.0 / 128  # half a sub-bucket over the smallest value in a bucket


def nearest_rank(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q, method="inverted_cdf"))


# -- LogHistogram -------------------------------------------------------------------------


def test_quantiles_within_one_percent_over_six_decades():
    rng = np.random.default_rng(7)
    x = rng.lognormal(mean=math.log(1e-3), sigma=2.0, size=200_000)
    assert x.max() / x.min() > 1e6  # the sample really spans six decades
    h = LogHistogram()
    for v in x.tolist():
        h.add(v)
    for q in QS:
        exact = nearest_rank(x, q)
        assert abs(h.quantile(q) - exact) <= REL_ERR * exact, q


def test_exact_moments_and_extremes():
    rng = np.random.default_rng(1)
    x = rng.exponential(0.002, size=10_000)
    h = LogHistogram()
    h.add_many(x)
    assert h.count == x.size
    assert h.sum == pytest.approx(x.sum(), rel=1e-12)
    assert h.mean == pytest.approx(x.mean(), rel=1e-12)
    assert h.min == x.min()
    assert h.max == x.max()
    assert h.quantile(1.0) == x.max()  # p100 is max exactly
    assert h.quantile(0.0) == x.min()


def test_statistics_see_buffered_values():
    h = LogHistogram()
    h.add(0.5)
    h.add(0.25)
    assert len(h.buffer) == 2  # nothing flushed yet: add is a list append
    assert (h.count, h.max, h.min) == (2, 0.5, 0.25)
    assert h.buffer == []


def test_engine_may_append_to_buffer_directly():
    h = LogHistogram()
    buf = h.buffer  # the engine binds the list once
    for i in range(FLUSH_AT + 10):
        buf.append(1e-3 * (1 + i % 7))
        if len(buf) >= FLUSH_AT:
            h.flush()
        assert len(buf) < FLUSH_AT  # flushed in place, the bound reference stays valid
    assert h.count == FLUSH_AT + 10
    assert buf is h.buffer


def test_memory_bounded_by_value_range_not_count():
    rng = np.random.default_rng(3)
    h = LogHistogram()
    lo, hi = 1e-4, 1e-1  # values in [2**-14, 2**-3): 11 powers of two
    bound = 11 * SUB_BUCKETS + 1
    for _ in range(10):
        chunk = rng.uniform(lo, hi, size=100_000)
        h.buffer.extend(chunk.tolist())
        h.flush()
        assert h.bucket_count <= bound
    assert h.count == 1_000_000


def test_merge_equals_adding_everything():
    rng = np.random.default_rng(5)
    a_vals = rng.lognormal(-6, 1.5, 30_000)
    b_vals = np.concatenate([rng.lognormal(2, 1.0, 20_000), np.zeros(100)])
    a, b, both = LogHistogram(), LogHistogram(), LogHistogram()
    for v in a_vals.tolist():
        a.add(v)
    b.add_many(b_vals)
    both.add_many(np.concatenate([a_vals, b_vals]))
    a.merge(b)
    assert a.count == both.count
    assert a.min == both.min and a.max == both.max
    assert a.sum == pytest.approx(both.sum, rel=1e-12)
    assert a.quantiles(QS) == both.quantiles(QS)
    assert b.count == b_vals.size  # the merged-in histogram is unchanged


def test_zeros_have_their_own_bucket():
    h = LogHistogram()
    h.add_many([0.0] * 60 + [1e-3] * 40)
    assert h.quantile(0.5) == 0.0
    assert h.quantile(0.6) == 0.0
    assert h.quantile(0.61) == pytest.approx(1e-3, rel=REL_ERR)
    assert h.min == 0.0


def test_empty_histogram_reports_none():
    h = LogHistogram()
    assert h.quantile(0.5) is None
    assert h.mean is None and h.max is None and h.min is None
    assert h.summary_ms() == dict.fromkeys(["mean", "p50", "p95", "p99", "p999", "max"])


def test_summary_is_in_milliseconds():
    h = LogHistogram()
    h.add_many([0.001, 0.002, 0.003, 0.004])  # seconds
    s = h.summary_ms()
    assert list(s) == ["mean", "p50", "p95", "p99", "p999", "max"]
    assert s["mean"] == pytest.approx(2.5)
    assert s["max"] == pytest.approx(4.0)
    assert s["p50"] == pytest.approx(2.0, rel=REL_ERR)


@pytest.mark.parametrize("bad", [-1e-9, math.nan, math.inf])
def test_bad_values_are_rejected_by_name(bad):
    h = LogHistogram()
    h.add(bad)
    with pytest.raises(ValueError, match="histogram value"):
        h.flush()
    assert h.count == 0  # the bad batch is dropped, the histogram stays usable


def test_quantile_outside_unit_interval_is_rejected():
    h = LogHistogram()
    h.add(1.0)
    with pytest.raises(ValueError, match=r"quantile q = 1\.5"):
        h.quantile(1.5)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e9), min_size=1),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_any_quantile_within_relative_bound(values, q):
    h = LogHistogram()
    for v in values:
        h.add(v)
    exact = nearest_rank(np.array(values), q)
    assert abs(h.quantile(q) - exact) <= REL_ERR * exact


# -- RatioBatchMeans ----------------------------------------------------------------------


def test_add_bins_by_time_and_ignores_outside_window():
    rb = RatioBatchMeans(2.0, 6.0, n_batches=4)
    rb.add(1.999, 1.0)  # before warm-up
    rb.add(2.0, 1.0)
    rb.add(3.5, 0.0)
    rb.add(5.0, 1.0, d=2.0)
    rb.add(math.nextafter(6.0, 0.0), 1.0)  # last instant still lands in the last batch
    rb.add(6.0, 1.0)  # horizon excluded
    assert rb.num == [1.0, 0.0, 0.0, 2.0]
    assert rb.den == [1.0, 1.0, 0.0, 3.0]
    b = int((math.nextafter(6.0, 0.0) - rb.t0) * rb.inv_width)  # the engine's inline form
    assert b == 3


def test_estimate_degenerate_cases():
    rb = RatioBatchMeans(0.0, 1.0, n_batches=8)
    assert rb.estimate() == (None, None, None)
    rb.add(0.1, 1.0)
    rb.add(0.11, 0.0)
    assert rb.estimate() == (0.5, None, None)  # one batch: no interval
    rb.add(0.9, 1.0)
    ratio, lo, hi = rb.estimate(clamp01=True)
    assert ratio == pytest.approx(2 / 3)
    assert 0.0 <= lo <= ratio <= hi <= 1.0


def test_estimate_matches_textbook_ratio_variance():
    rng = np.random.default_rng(11)
    rb = RatioBatchMeans(0.0, 10.0, n_batches=10)
    den = rng.integers(50, 150, size=10).astype(float)
    num = rng.binomial(den.astype(int), 0.3).astype(float)
    rb.num[:], rb.den[:] = num.tolist(), den.tolist()
    r = num.sum() / den.sum()
    se = np.sqrt(np.sum((num - r * den) ** 2) / (10 * 9)) / den.mean()
    ratio, lo, hi = rb.estimate()
    assert ratio == pytest.approx(r)
    assert hi - ratio == pytest.approx(2.2621571628 * se, rel=1e-8)  # t_{0.975, 9}
    assert ratio - lo == pytest.approx(hi - ratio)


def test_mean_latency_as_sum_over_count():
    """num = Σ latency, den = replies: estimate() is the per-reply mean latency."""
    rng = np.random.default_rng(2)
    times = np.sort(rng.uniform(0.0, 4.0, 5000))
    lat = rng.exponential(0.003, times.size)
    rb = RatioBatchMeans(0.0, 4.0, n_batches=16)
    for t, x in zip(times.tolist(), lat.tolist(), strict=True):
        rb.add(t, x)
    mean, lo, hi = rb.estimate()
    assert mean == pytest.approx(lat.mean(), rel=1e-12)
    assert lo < lat.mean() < hi


def _ar1_bernoulli(rng, streams: int, n: int, phi: float, threshold: float) -> np.ndarray:
    """Bernoulli streams correlated in time: a latent AR(1) Gaussian above a threshold."""
    z = np.empty((n, streams))
    z[0] = rng.standard_normal(streams)
    eps = rng.standard_normal((n, streams)) * math.sqrt(1.0 - phi * phi)
    for i in range(1, n):
        z[i] = phi * z[i - 1] + eps[i]
    return (z > threshold).astype(float)


def _binom_band(trials: int, p: float, tail: float) -> tuple[int, int]:
    """Central range of a Binomial(trials, p) count holding all but ``tail`` on each side."""
    pmf = [math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(trials + 1)]
    cdf = np.cumsum(pmf)
    return int(np.searchsorted(cdf, tail)), int(np.searchsorted(cdf, 1.0 - tail))


def test_batch_means_interval_covers_correlated_rate():
    """95% intervals over 400 AR(1)-correlated streams cover the true rate ~95% of the time.

    The true rate is P(Z > 1.2816) = 0.1 exactly. If the intervals really had 95% coverage
    the number covering would be Binomial(400, 0.95); we accept counts a nominal rate
    between 93% and 97% would produce (tails 1e-4), i.e. about 90%..99%. A naive binomial
    interval, sqrt(p(1-p)/n), ignores the correlation and covers far less: shown as the
    reason the batch-means interval exists.
    """
    rng = np.random.default_rng(2024)
    streams, n, batches = 400, 16_000, 32
    p_true = 0.1
    x = _ar1_bernoulli(rng, streams, n, phi=0.95, threshold=1.2815515655446004)
    per_batch = x.reshape(batches, n // batches, streams).sum(axis=1)  # (batches, streams)
    covered = naive_covered = 0
    for s in range(streams):
        rb = RatioBatchMeans(0.0, 1.0, n_batches=batches)
        rb.num[:] = per_batch[:, s].tolist()
        rb.den[:] = [n / batches] * batches
        ratio, lo, hi = rb.estimate(clamp01=True)
        covered += lo <= p_true <= hi
        half = 1.96 * math.sqrt(ratio * (1 - ratio) / n)
        naive_covered += ratio - half <= p_true <= ratio + half
    low, _ = _binom_band(streams, 0.93, 1e-4)
    _, high = _binom_band(streams, 0.97, 1e-4)
    assert low <= covered <= high, (covered, low, high)
    assert naive_covered < low, naive_covered  # the binomial interval is wrong here


# -- t_quantile ---------------------------------------------------------------------------


def test_t_quantile_closed_forms_and_symmetry():
    for p in (0.6, 0.9, 0.975, 0.9995):
        assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
        assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)))
        assert t_quantile(1 - p, 7) == pytest.approx(-t_quantile(p, 7))
    assert t_quantile(0.5, 9) == 0.0


def test_t_quantile_inverts_numerically_integrated_density():
    """Integrate the t density with numpy up to the returned quantile: the mass is p."""
    for df in (2, 3, 5, 9, 31, 150, 301, 2000):
        for p in (0.75, 0.95, 0.975, 0.995, 0.9995):
            t = t_quantile(p, df)
            grid = np.linspace(0.0, t, 200_001)
            c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
            dens = np.exp(c - (df + 1) / 2 * np.log1p(grid**2 / df))
            assert 0.5 + np.trapezoid(dens, grid) == pytest.approx(p, abs=1e-8), (df, p)


def test_t_quantile_tends_to_normal():
    assert t_quantile(0.975, 10**7) == pytest.approx(1.959963984540054, abs=1e-6)


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (2, 3, 4, 5, 7, 10, 15, 31, 63, 100, 300, 301, 1000, 10**5):
        for p in (0.0005, 0.025, 0.1, 0.5, 0.8, 0.95, 0.975, 0.99, 0.995, 0.9995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), abs=1e-6)


@pytest.mark.parametrize("p, df", [(0.0, 3), (1.0, 3), (0.5, 0), (0.5, 2.5)])
def test_t_quantile_rejects_bad_arguments(p, df):
    with pytest.raises(ValueError):
        t_quantile(p, df)


# -- TVisibility --------------------------------------------------------------------------


def test_tvisibility_bins_and_curve():
    tv = TVisibility()
    tv.add(0.0, False)
    tv.add(0.5e-6, True)  # both in [0, 1 µs)
    tv.add(1e-6, True)  # an edge belongs to the bin above it
    tv.add(2e-3, False)
    tv.add(2.1e-3, True)
    tv.add(2.2e-3, True)
    tv.add(1e3, True)  # beyond 100 s: counted in the last bin
    curve = tv.curve()
    assert [row["n"] for row in curve] == [2, 1, 3, 1]
    assert curve[0] == {"t_ms": 0.001, "p_fresh": 0.5, "n": 2}
    assert curve[1]["t_ms"] == pytest.approx(10 ** (-5.9) * 1e3, rel=1e-5)
    assert curve[2]["t_ms"] == pytest.approx(10 ** (-2.6) * 1e3, rel=1e-5)  # [2.0, 2.5) ms
    assert curve[2]["p_fresh"] == pytest.approx(2 / 3)
    assert curve[3]["t_ms"] == pytest.approx(1e5)
    assert [r["t_ms"] for r in curve] == sorted(r["t_ms"] for r in curve)


def test_tvisibility_flushes_and_merges():
    rng = np.random.default_rng(4)
    t = rng.exponential(1e-3, 3 * FLUSH_AT)
    fresh = rng.random(t.size) < 1 - np.exp(-t / 1e-3)
    a, b = TVisibility(), TVisibility()
    for ti, fi in zip(t.tolist(), fresh.tolist(), strict=True):
        a.add(ti, fi)
        assert len(a.t_buffer) < FLUSH_AT
    half = t.size // 2
    for ti, fi in zip(t[:half].tolist(), fresh[:half].tolist(), strict=True):
        b.add(ti, fi)
    c = TVisibility()
    for ti, fi in zip(t[half:].tolist(), fresh[half:].tolist(), strict=True):
        c.add(ti, fi)
    b.merge(c)
    assert a.curve() == b.curve()
    assert sum(r["n"] for r in a.curve()) == t.size
    idx = np.minimum(np.searchsorted(TVIS_EDGES_S, t, side="right"), TVIS_EDGES_S.size - 1)
    expected = [fresh[idx == i].mean() for i in np.unique(idx)]
    assert [r["p_fresh"] for r in a.curve()] == pytest.approx(expected)


def test_tvisibility_rejects_negative_age():
    tv = TVisibility()
    tv.add(-1e-3, True)
    with pytest.raises(ValueError, match="t-visibility age"):
        tv.curve()
