"""Figures of sweep results (sim.plot.figures, sim.plot.labels) on small synthetic frames."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

from sim.analysis.tables import mean_ci
from sim.plot import figures as plots
from sim.plot import style
from sim.plot.labels import key_label, metric_label, numeric_values, varied_keys

matplotlib.use("Agg")


def frame(rates=(10.0, 100.0, 1000.0, 10000.0), delays=("1ms", "5ms", "20ms"), reps=3):
    """Rows like a sweep's: stale rate grows with rate and delay, plus noise per rep."""
    rng = np.random.default_rng(0)
    rows = []
    point = 0
    for rate in rates:
        for delay in delays:
            d = float(delay.removesuffix("ms"))
            for rep in range(reps):
                stale = min(1.0, rate * d / 2e4) + rng.normal(0, 0.001)
                rows.append({"point": point, "rep": rep, "seed": rep,
                             "workload.write_rate": rate, "replication.delay": delay,
                             "stale_read_rate": stale, "read_latency_ms.p50": 0.2 + d / 100,
                             "read_latency_ms.p99": 1.0 - stale / 2 + rng.normal(0, 0.01),
                             "throughput_ops_s": 1000.0 + rate, "error": ""})
            point += 1
    df = pd.DataFrame(rows)
    df.attrs["vary"] = ["workload.write_rate", "replication.delay"]
    return df


def test_mean_ci_is_a_t_interval_over_reps():
    df = pd.DataFrame({"k": ["a"] * 3 + ["b"], "m": [1.0, 2.0, 3.0, 5.0], "error": ""})
    stats = mean_ci(df, ["k"], "m").set_index("k")
    assert stats.loc["a", "mean"] == 2.0 and stats.loc["a", "n"] == 3
    assert stats.loc["a", "hi"] - 2.0 == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-3)
    assert stats.loc["b", "lo"] == stats.loc["b", "hi"] == 5.0


def test_failed_rows_are_left_out():
    df = frame(reps=2)
    df.loc[0, "error"] = "ValueError: boom"
    df.loc[0, "stale_read_rate"] = np.nan
    stats = mean_ci(df, ["workload.write_rate", "replication.delay"], "stale_read_rate")
    assert stats["n"].iloc[0] == 1 and stats["n"].iloc[1:].eq(2).all()


def test_line_draws_one_line_per_hue_with_bands_and_units():
    fig = plots.line(frame(), "workload.write_rate", "stale_read_rate", hue="replication.delay")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    assert len(ax.collections) == 3  # one band per line
    assert ax.get_xscale() == "log"  # 10..10000 spans decades
    assert ax.get_xlabel() == "write rate (ops/s)"
    assert ax.get_ylabel() == "stale-read rate (fraction of reads)"
    # The unit is said once, in the legend title, not again on every entry.
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "replication delay, one way (ms)"
    assert [t.get_text() for t in legend.get_texts()] == ["1", "5", "20"]
    assert [line.get_color() for line in ax.lines] == list(style.OKABE_ITO[:3])
    assert ax.get_ylim()[0] == 0  # a rate's axis starts at 0
    assert fig._suptitle.get_text() == "stale-read rate: mean of 3 repetitions, 95% band"
    # The 20 ms line lies above the 1 ms line: the means were plotted, in x order.
    low, high = ax.lines[0].get_ydata(), ax.lines[2].get_ydata()
    assert (np.asarray(high) > np.asarray(low)).all()
    assert list(ax.lines[0].get_xdata()) == [10.0, 100.0, 1000.0, 10000.0]


def test_line_without_reps_has_no_band_and_linear_axis_for_narrow_ranges():
    fig = plots.line(frame(rates=(100.0, 200.0, 400.0), delays=("1ms",), reps=1),
                     "workload.write_rate",
                     "stale_read_rate")
    ax = fig.axes[0]
    assert len(ax.lines) == 1 and len(ax.collections) == 0
    assert ax.get_xscale() == "linear"


def test_line_with_duration_x_plots_milliseconds_and_panels_per_col():
    df = frame()
    df["cache.enabled"] = df["rep"] % 2 == 0
    fig = plots.line(df, "replication.delay", "read_latency_ms.p99", hue="workload.write_rate",
                     col="cache.enabled")
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["cache on", "cache off"]
    ax = fig.axes[0]
    assert list(ax.lines[0].get_xdata()) == [1.0, 5.0, 20.0]
    assert ax.get_xlabel() == "replication delay, one way (ms)"
    assert fig.axes[0].get_ylabel() == "read latency p99 (ms)"


def test_heatmap_cells_are_the_means():
    df = frame()
    fig = plots.heatmap(df, "workload.write_rate", "stale_read_rate", hue="replication.delay")
    image = fig.axes[0].images[0].get_array()
    expected = df.groupby(["replication.delay", "workload.write_rate"])["stale_read_rate"].mean()
    assert image.shape == (3, 4)
    assert image[2, 3] == pytest.approx(expected[("20ms", 10000.0)])
    assert image[0, 0] == pytest.approx(expected[("1ms", 10.0)])
    assert fig.axes[1].get_ylabel() == "stale-read rate (fraction of reads)"


def test_latency_vs_batch_has_p50_and_p99_and_throughput():
    rows = []
    for batch in (1, 2, 4, 8, 16, 32, 64):
        for rep in range(2):
            rows.append({"pipeline.batch_size": batch, "rep": rep, "error": "",
                         "read_latency_ms.p50": 0.5 + batch / 50, "read_latency_ms.p99":
                         0.6 + batch / 20 + rep / 100, "throughput_ops_s": 1e4 * batch})
    fig = plots.latency_vs_batch(pd.DataFrame(rows))
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["p50", "p99"]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "pipeline batch size (commands)"
    assert ax.get_ylabel() == "read latency (ms)"
    assert fig.axes[1].get_ylabel() == "throughput (ops/s)"
    p99 = ax.lines[1].get_ydata()
    assert (np.diff(p99) > 0).all()


def test_tradeoff_marks_the_pareto_front():
    df = frame()
    fig = plots.tradeoff(df)
    ax = fig.axes[0]
    assert len(ax.lines) == 1  # the front, joined
    points = _points(ax)
    assert len(points) == 12  # one point per configuration, not per run
    xs, ys = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    assert list(xs) == sorted(xs) and list(ys) == sorted(ys, reverse=True)
    assert ax.get_xlabel() == "stale-read rate (fraction of reads)"
    assert ax.get_ylabel() == "read latency p99 (ms)"
    # More settings than marker shapes: the front's points are named instead.
    assert len(ax.texts) == len(xs) and "write rate" in ax.texts[0].get_text()


def design_frame():
    """A read policy x cache setting grid like the demo's trade-off sweep."""
    rows, point = [], 0
    for policy, lat in (("master", 2.0), ("replicas", 0.8)):
        for enabled, ttl, stale in ((False, "1s", 0.0), (True, "10ms", 0.05), (True, "1s", 0.3)):
            for rep in range(2):
                rows.append({"point": point, "rep": rep, "replication.read_policy": policy,
                             "cache.enabled": enabled, "cache.ttl": ttl,
                             "stale_read_rate": stale + (0.1 if policy == "replicas" else 0),
                             "read_latency_ms.p99": lat - stale, "error": ""})
            point += 1
    df = pd.DataFrame(rows)
    df.attrs["vary"] = ["replication.read_policy", "cache.enabled", "cache.ttl"]
    return df


def test_tradeoff_colours_hue_and_shapes_settings_with_ttl_groups_labelled():
    fig = plots.tradeoff(design_frame(), hue="replication.read_policy")
    ax = fig.axes[0]
    colour_legend, shape_legend = ax.artists[0], ax.get_legend()
    assert colour_legend.get_title().get_text() == "read policy"
    assert [t.get_text() for t in colour_legend.get_texts()] == ["master", "replicas",
                                                                 "Pareto front"]
    # "cache off" alone (no TTL), the TTL groups by name.
    assert [t.get_text() for t in shape_legend.get_texts()] == ["cache off", "cache TTL 10ms",
                                                                "cache TTL 1s"]
    front = ax.lines[0]
    assert len(front.get_xdata()) > 1  # a real trade-off: more than one undominated point
    assert ax.get_xlim()[0] < 0 and ax.get_ylim()[0] == 0  # room left of a stale rate of 0


def _points(ax):
    """The configurations' markers (the Pareto front's rings are larger)."""
    from matplotlib.collections import PathCollection

    return [c for c in ax.collections if isinstance(c, PathCollection)
            and c.get_sizes()[0] < 2 * plots.SIZE_MAX]


def test_tradeoff_keeps_every_point_and_interval_inside_with_distinct_titles():
    df = design_frame()
    df = pd.concat([df, df.assign(rep=df["rep"] + 2, **{
        "stale_read_rate": df["stale_read_rate"] * 1.1,
        "read_latency_ms.p99": df["read_latency_ms.p99"] * 0.9})])
    df["read_latency_ms.mean"] = df["read_latency_ms.p99"] / 2
    p99 = plots.tradeoff(df, hue="replication.read_policy")
    mean = plots.tradeoff(df, latency="read_latency_ms.mean", hue="replication.read_policy")
    assert p99._suptitle.get_text() != mean._suptitle.get_text()
    assert "p99" in p99._suptitle.get_text() and "mean" in mean._suptitle.get_text()
    ax = p99.axes[0]
    p99.canvas.draw()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    bars = [line for c in ax.containers for line in c.lines[2]]
    assert len(ax.containers) == 6  # an interval per configuration
    for collection in bars:
        for segment in collection.get_segments():
            for x, y in segment:
                assert x0 < x < x1 and y0 <= y < y1
    # Markers whole inside the frame, in display space (the master at stale 0 included).
    box = ax.get_window_extent()
    for points in _points(ax):
        radius = (points.get_sizes()[0] ** 0.5) / 2 * p99.dpi / 72
        for x, y in ax.transData.transform(points.get_offsets()):
            assert box.x0 + radius <= x <= box.x1 - radius
            assert box.y0 <= y <= box.y1 - radius
    # One marker size per policy, the first the largest: equal costs show concentric.
    sizes = {}
    for points in _points(ax):
        sizes.setdefault(tuple(points.get_facecolor()[0]), points.get_sizes()[0])
    assert sorted(sizes.values(), reverse=True) == list(sizes.values()) and len(sizes) == 2


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_pareto_front_is_exactly_the_undominated_points(points):
    a, b = [p[0] for p in points], [p[1] for p in points]
    front = set(plots.pareto_front(a, b))

    def dominated(i):
        return any(a[j] <= a[i] and b[j] <= b[i] and (a[j], b[j]) != (a[i], b[i])
                   for j in range(len(points)))

    for i in range(len(points)):
        if i in front:
            assert not dominated(i)
        elif not dominated(i):
            # An undominated point left out must be a duplicate of one on the front.
            assert any((a[j], b[j]) == (a[i], b[i]) for j in front)


def test_t_visibility_curve_leaves_out_thin_bins():
    summary = {"t_visibility": [{"t_ms": 0.5, "p_fresh": 0.0, "n": 50},
                                {"t_ms": 1.0, "p_fresh": 0.4, "n": 100},
                                {"t_ms": 2.0, "p_fresh": 1.0, "n": 5},
                                {"t_ms": 4.0, "p_fresh": 1.0, "n": 80}]}
    fig = plots.t_visibility(summary)
    ax = fig.axes[0]
    curve = [line for line in ax.lines if len(line.get_xdata()) > 2][0]
    assert list(curve.get_xdata()) == [0.5, 1.0, 4.0]
    assert ax.get_xscale() == "log" and "(ms)" in ax.get_xlabel()
    two = plots.t_visibility({"1ms": summary, "5ms": summary})
    assert [t.get_text() for t in two.axes[0].get_legend().get_texts()] == ["1ms", "5ms"]


def test_save_writes_png_svg_and_pdf(tmp_path):
    fig = plots.line(frame(), "workload.write_rate", "stale_read_rate")
    paths = plots.save(fig, tmp_path / "stale_read_rate_vs_workload.write_rate")
    assert [p.name for p in paths] == ["stale_read_rate_vs_workload.write_rate.png",
                                       "stale_read_rate_vs_workload.write_rate.svg",
                                       "stale_read_rate_vs_workload.write_rate.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()[:1000]
    assert paths[2].read_bytes()[:5] == b"%PDF-"


def _tick_texts(fig, axis):
    fig.canvas.draw()  # tick labels are made when drawn
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def test_heatmap_ticks_are_round_numbers():
    df = frame(rates=(10.0, 31.6228, 316.228, 3162.28))
    fig = plots.heatmap(df, "workload.write_rate", "stale_read_rate", hue="replication.delay")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "32", "320", "3,200"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "5", "20"]
    assert ax.get_ylabel() == "replication delay, one way (ms)"
    assert fig.axes[0].images[0].get_cmap().name == "cividis"


def test_titles_say_when_means_pool_a_key_the_figure_does_not_show():
    df = frame()
    df["cache.enabled"] = df["rep"] % 2 == 0
    df.attrs["vary"] = ["workload.write_rate", "replication.delay", "cache.enabled"]
    fig = plots.heatmap(df, "workload.write_rate", "stale_read_rate", hue="replication.delay")
    assert fig._suptitle.get_text() == "stale-read rate: mean of 3 runs, pooled over cache"
    fig = plots.line(df, "workload.write_rate", "stale_read_rate", hue="replication.delay",
                     col="cache.enabled")
    assert "pooled" not in fig._suptitle.get_text()


def test_log_axis_ticks_have_thousands_separators():
    fig = plots.line(frame(), "workload.write_rate", "stale_read_rate")
    ticks = _tick_texts(fig, fig.axes[0].xaxis)
    assert "1,000" in ticks and "10,000" in ticks
    assert all("^" not in t and "e" not in t for t in ticks)


def test_batch_throughput_axis_has_thousands_separators():
    rows = [{"pipeline.batch_size": b, "rep": r, "error": "", "read_latency_ms.p50": 0.5,
             "read_latency_ms.p99": 1.0, "throughput_ops_s": 50_000.0 * b}
            for b in (1, 2, 4) for r in range(2)]
    fig = plots.latency_vs_batch(pd.DataFrame(rows))
    ticks = _tick_texts(fig, fig.axes[1].yaxis)
    assert "200,000" in ticks and not any(t.replace(",", "").isdigit() and len(t) > 3
                                          and "," not in t for t in ticks)
    assert fig.axes[1].get_ylim()[0] == 0 and fig.axes[0].get_ylim()[0] == 0


def test_rate_intervals_are_clipped_to_the_unit_interval():
    df = pd.DataFrame({"k": ["a"] * 3 + ["b"] * 3, "stale_read_rate": [0.0, 0.0, 0.01,
                                                                      1.0, 1.0, 0.99],
                       "latency_ms": [0.0, 0.0, 0.01, 1, 1, 1], "error": ""})
    stats = mean_ci(df, ["k"], "stale_read_rate").set_index("k")
    assert stats.loc["a", "lo"] == 0.0 and stats.loc["b", "hi"] == 1.0
    assert mean_ci(df, ["k"], "latency_ms")["lo"].iloc[0] < 0  # not a rate: left alone


def test_partial_sweep_titles_say_how_many_repetitions_each_point_has():
    df = frame(reps=5).iloc[:-1]  # the last point lost a repetition
    fig = plots.line(df, "workload.write_rate", "stale_read_rate", hue="replication.delay")
    assert fig._suptitle.get_text() == "stale-read rate: mean of 4\u20135 repetitions, 95% band"


def test_flat_latency_is_drawn_on_an_axis_from_zero():
    df = frame()
    df["read_latency_ms.p99"] = 0.55 + df["rep"] * 0.001
    fig = plots.line(df, "workload.write_rate", "read_latency_ms.p99")
    low, high = fig.axes[0].get_ylim()
    assert low == 0 and high > 0.55


def test_labels_carry_units():
    assert metric_label("read_latency_ms.p99") == "read latency p99 (ms)"
    assert metric_label("throughput_ops_s") == "throughput (ops/s)"
    assert metric_label("cache_hit_rate") == "cache hit rate (fraction of cache lookups)"
    assert metric_label("replication_lag_ms.max") == "replication lag max (ms)"
    assert metric_label("stale_reads") == "stale reads (count)"
    assert metric_label("wall_seconds") == "wall time (s)"
    assert key_label("cache.ttl", [0.5, 1.0]) == "cache TTL (ms)"
    assert key_label("replication.delay", ["exp:1ms"]) == "replication delay, one way, mean (ms)"
    assert key_label("workload.write_rate") == "write rate (ops/s)"
    assert key_label("replication.read_policy") == "read policy"


def test_numeric_values_of_durations_and_categories():
    assert numeric_values(["1ms", "exp:5ms", 0.02], "replication.delay") == \
        pytest.approx([1.0, 5.0, 20.0])
    assert numeric_values(["master", "replicas"], "replication.read_policy") is None
    assert numeric_values([True, False], "cache.enabled") is None
    assert numeric_values([1, 2, 4], "pipeline.batch_size") == [1.0, 2.0, 4.0]


def test_varied_keys_from_attrs_or_columns():
    df = frame()
    assert varied_keys(df) == ["workload.write_rate", "replication.delay"]
    df.attrs.clear()
    assert varied_keys(df) == ["workload.write_rate", "replication.delay"]


def test_an_integer_key_gets_whole_number_ticks_only():
    df = pd.DataFrame({"replication.wait_replicas": [0, 1, 2] * 2, "rep": [0] * 3 + [1] * 3,
                       "lost_writes": [20, 0, 0, 18, 0, 0], "error": [""] * 6})
    fig = plots.line(df, "replication.wait_replicas", "lost_writes")
    ticks = _tick_texts(fig, fig.axes[0].xaxis)
    assert ticks and all(t.lstrip("-").isdigit() for t in ticks), ticks  # no "0.5"
