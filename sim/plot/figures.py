"""Figures of sweep results and runs, used by ``repsim plot`` and by notebooks alike.

Every function takes a tidy DataFrame of sweep rows (``sim.experiment.sweep`` or ``sim.experiment.sweep.load(DIR)``)
or, for :func:`t_visibility`, a run summary, and returns a ``matplotlib.figure.Figure``; nothing
here touches pyplot's global state or shows a window. Rows whose run failed are left out.
Means are over repetitions; bands are 95% t intervals over repetitions (``n - 1`` degrees of
freedom), so they say how well the mean of this many seeds is known.

Axis labels carry units (see :mod:`sim.plot.labels`): durations of the model are shown in ms,
and the unit appears once, in the axis label or legend title, not again on every entry. The look
(colour-blind safe palette, sizes, round-number ticks with thousands separators) is
:mod:`sim.plot.style`; every figure is drawn inside its context.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.figure import Figure

from sim.analysis.tables import mean_ci, successful_rows
from sim.plot import style
from sim.plot.labels import (
    is_duration_key,
    is_fraction,
    is_nonnegative,
    key_label,
    metric_label,
    numeric_values,
    value_label,
    value_text,
    varied_keys,
)

__all__ = ["line", "heatmap", "latency_vs_batch", "tradeoff", "t_visibility", "save",
           "pareto_front", "legend_text", "setting_text"]

def _order(values: Iterable[Any], key: str) -> list[Any]:
    """Distinct values, numerically sorted when they are numbers or durations."""
    distinct = list(dict.fromkeys(values))
    numbers = numeric_values(distinct, key)
    if numbers is None:
        return distinct
    return [v for _, v in sorted(zip(numbers, distinct, strict=True), key=lambda p: p[0])]


def _colors(n: int, ordered: bool = False) -> list[Any]:
    # One palette for ordered and unordered values: Okabe-Ito stays readable for colour-blind
    # readers and on projectors, where a sequential map's light end washes out.
    return style.colors(n)


def legend_text(key: str | None, value: Any) -> str:
    """A value for a legend entry whose title carries the key and its unit: durations as the
    number of ms (``"5ms"`` -> ``"5"``, ``"exp:5ms"`` -> ``"5"``), others as :func:`value_text`."""
    if key is not None and is_duration_key(key):
        numbers = numeric_values([value], key)
        if numbers is not None:
            return style.format_number(numbers[0])
    return value_text(value)


def _repetitions(stats: pd.DataFrame, pooled: str = "") -> str:
    """"mean of 5 repetitions", or "mean of 4-5 repetitions" when points differ (a partial
    sweep): the title must not claim more repetitions than a point has. With ``pooled``
    (see :func:`_pooled`) the means are over runs of several settings, and say so."""
    if not len(stats):
        return "no runs"
    low, high = int(stats["n"].min()), int(stats["n"].max())
    count = f"{low}" if low == high else f"{low}\u2013{high}"
    unit = "run" if pooled else "repetition"
    return f"mean of {count} {unit}{'s' if high != 1 else ''}{pooled}"


def _pooled(df: pd.DataFrame, used: Sequence[str | None]) -> str:
    """", pooled over cache" when the sweep varied keys the figure does not show: its means
    then mix those settings, and the title must say so."""
    others = [k for k in varied_keys(df) if k not in used and df[k].nunique() > 1]
    if not others:
        return ""
    return ", pooled over " + " and ".join(key_label(k, unit=False) for k in others)


def _y_from_zero(ax: Any, metric: str) -> None:
    """Start a linear y axis of a non-negative quantity at 0 (and end a fraction at 1 at
    most), so that a flat curve looks flat instead of filling the axis with noise."""
    if ax.get_yscale() != "linear" or not is_nonnegative(metric):
        return
    ax.set_ylim(bottom=0)
    if is_fraction(metric) and ax.get_ylim()[1] > 1:
        ax.set_ylim(top=1.02)


def _x_axis(ax: Any, key: str, numbers: Sequence[float] | None, labels: Sequence[Any]) -> None:
    """Label the x axis of ``key``; log scale when its values span two decades or more."""
    ax.set_xlabel(key_label(key, labels))
    if numbers is None:
        ax.set_xticks(range(len(labels)), [legend_text(key, v) for v in labels])
        ax.grid(False, axis="x")
        return
    positive = [v for v in numbers if v > 0]
    if len(positive) == len(numbers) and positive and max(positive) / min(positive) >= 100:
        ax.set_xscale("log")
        style.number_axis(ax.xaxis, log=True)
    elif len(positive) == len(numbers) and positive and max(positive) / min(positive) >= 8 \
            and all(float(v).is_integer() for v in positive):
        ax.set_xscale("log", base=2)  # batch sizes, replica counts: powers of two read best
        ax.set_xticks(sorted(set(numbers)), [style.format_number(v) for v in sorted(set(numbers))])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
    else:
        style.number_axis(ax.xaxis, log=False,
                          integer=all(float(v).is_integer() for v in numbers))


def _positions(values: Sequence[Any], key: str, order: list[Any]) -> list[float]:
    """Where values go on a numeric axis (their value) or a categorical one (their rank)."""
    numbers = numeric_values(order, key)
    lookup = dict(zip(order, numbers if numbers is not None else range(len(order)), strict=True))
    return [lookup[v] for v in values]


@style.styled
def line(df: pd.DataFrame, x: str, y: str, hue: str | None = None, col: str | None = None,
         logy: bool = False) -> Figure:
    """``y`` against the varied key ``x``: one line per ``hue`` value, one panel per ``col``
    value, the mean over repetitions with its 95% band."""
    keys = [k for k in (col, hue, x) if k]
    if len(set(keys)) != len(keys):
        raise ValueError(f"x, hue and col must be different keys (got {', '.join(keys)})")
    stats = mean_ci(df, keys, y)
    x_order = _order(stats[x], x)
    x_numbers = numeric_values(x_order, x)
    hues = _order(stats[hue], hue) if hue else [None]
    panels = _order(stats[col], col) if col else [None]
    fig = Figure(figsize=(5.0 * len(panels) + 1.4, 4.4), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    colors = _colors(len(hues))
    for ax, panel in zip(axes, panels, strict=True):
        part = stats if col is None else stats[stats[col] == panel]
        for i, (color, value) in enumerate(zip(colors, hues, strict=True)):
            sub = part if hue is None else part[part[hue] == value]
            if sub.empty:
                continue
            sub = sub.assign(_x=_positions(list(sub[x]), x, x_order)).sort_values("_x")
            label = None if hue is None else legend_text(hue, value)
            ax.plot(sub["_x"], sub["mean"], marker=style.marker(i), color=color, label=label)
            if (sub["n"] > 1).any():
                ax.fill_between(sub["_x"], sub["lo"], sub["hi"], color=color, alpha=0.2, lw=0)
        _x_axis(ax, x, x_numbers, x_order)
        if logy:
            ax.set_yscale("log")
        style.number_axis(ax.yaxis)
        if col is not None:
            ax.set_title(value_label(col, panel))
    _y_from_zero(axes[0], y)
    axes[0].set_ylabel(metric_label(y))
    if hue is not None:
        axes[-1].legend(title=key_label(hue, hues))
    reps = int(stats["n"].max()) if len(stats) else 0
    fig.suptitle(f"{metric_label(y, unit=False)}: {_repetitions(stats, _pooled(df, keys))}"
                 + (", 95% band" if reps > 1 else ""))
    return fig


def _tick_labels(key: str, values: Sequence[Any]) -> list[str]:
    """Round-number labels for categorical ticks: 31.6228 -> "32", 3162.28 -> "3,200"."""
    if numeric_values(values, key) is not None and not is_duration_key(key):
        return [style.format_number(style.round_number(float(v))) for v in values]
    return [legend_text(key, v) for v in values]


@style.styled
def heatmap(df: pd.DataFrame, x: str, y: str, hue: str) -> Figure:
    """Mean of the metric ``y`` over repetitions on the grid of two varied keys: ``x`` the
    columns, ``hue`` the rows (``y`` is the metric, as in :func:`line`)."""
    metric, y = y, hue
    stats = mean_ci(df, [y, x], metric)
    xs, ys = _order(stats[x], x), _order(stats[y], y)
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, row in stats.iterrows():
        grid[ys.index(row[y]), xs.index(row[x])] = row["mean"]
    fig = Figure(figsize=(2.4 + 1.0 * max(len(xs), 4), 1.6 + 0.7 * max(len(ys), 4)),
                 layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap=style.SEQUENTIAL_CMAP)
    ax.set_xticks(range(len(xs)), _tick_labels(x, xs))
    ax.set_yticks(range(len(ys)), _tick_labels(y, ys))
    ax.grid(False)
    ax.set_xlabel(key_label(x, xs))
    ax.set_ylabel(key_label(y, ys))
    bar = fig.colorbar(image, ax=ax, label=metric_label(metric))
    style.number_axis(bar.ax.yaxis, log=False)
    if grid.size <= 100:
        middle = np.nanmean(grid) if np.isfinite(grid).any() else 0.0
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                # cividis is dark below its middle: white text there, black above.
                ax.text(j, i, style.format_number(value), ha="center", va="center",
                        fontsize="small", color="white" if value < middle else "black")
    fig.suptitle(f"{metric_label(metric, unit=False)}: "
                 f"{_repetitions(stats, _pooled(df, [x, y]))}")
    return fig


@style.styled
def latency_vs_batch(df: pd.DataFrame, x: str = "pipeline.batch_size",
                     latency: str = "read_latency_ms", hue: str | None = None) -> Figure:
    """p50 (solid) and p99 (dashed) of ``latency`` against the pipeline batch size, with
    throughput on a second axis when there is one line per percentile."""
    fig = Figure(figsize=(6.8, 4.6), layout="constrained")
    ax = fig.subplots()
    hues = _order(successful_rows(df, [f"{latency}.p99"])[hue], hue) if hue else [None]
    colors = _colors(len(hues))
    x_order: list[Any] = []
    stats = pd.DataFrame()
    for pct, dashes, mark in (("p50", "-", "o"), ("p99", "--", "s")):
        stats = mean_ci(df, [k for k in (hue, x) if k], f"{latency}.{pct}")
        x_order = _order(stats[x], x)
        for color, value in zip(colors, hues, strict=True):
            sub = stats if hue is None else stats[stats[hue] == value]
            sub = sub.assign(_x=_positions(list(sub[x]), x, x_order)).sort_values("_x")
            label = pct if hue is None else f"{pct}, {value_label(hue, value)}"
            ax.plot(sub["_x"], sub["mean"], dashes, marker=mark, color=color, label=label)
            ax.fill_between(sub["_x"], sub["lo"], sub["hi"], color=color, alpha=0.15, lw=0)
    _x_axis(ax, x, numeric_values(x_order, x), x_order)
    ax.set_ylabel(metric_label(f"{latency}.p50").replace(" p50", ""))
    style.number_axis(ax.yaxis)
    _y_from_zero(ax, latency)
    if hue is None and "throughput_ops_s" in df.columns:
        tput = mean_ci(df, [x], "throughput_ops_s")
        tput = tput.assign(_x=_positions(list(tput[x]), x, x_order)).sort_values("_x")
        twin = ax.twinx()
        twin.plot(tput["_x"], tput["mean"], ":", color=style.color(2), marker="^",
                  label="throughput (right axis)")
        twin.set_ylabel(metric_label("throughput_ops_s"))
        twin.grid(False)
        style.number_axis(twin.yaxis)
        _y_from_zero(twin, "throughput_ops_s")
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="upper left")
    else:
        ax.legend(loc="upper left")
    ax.set_title(f"{metric_label(latency, unit=False)} percentiles vs batch size "
                 f"({_repetitions(stats)})")
    return fig


# Marker areas (points^2) of the first and last hue value on the trade-off figure.
SIZE_MAX, SIZE_MIN = 170.0, 30.0


def pareto_front(cost_a: Sequence[float], cost_b: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats in both costs (lower is better), by ``a``."""
    order = sorted(range(len(cost_a)), key=lambda i: (cost_a[i], cost_b[i]))
    front, best_b = [], math.inf
    for i in order:
        if cost_b[i] < best_b:
            front.append(i)
            best_b = cost_b[i]
    return front


def setting_text(row: Mapping[str, Any], keys: Sequence[str]) -> str:
    """A configuration in words for a legend or a note: ``"cache off"``, ``"cache TTL 10ms"``.

    Settings of the cache are left out when the cache is off (a TTL means nothing then), and
    "cache on" is left out when a cache setting already says so."""
    cache_off = "cache.enabled" in keys and not bool(row["cache.enabled"])
    cache_detail = any(k.startswith("cache.") and k != "cache.enabled" for k in keys)
    parts = []
    for key in keys:
        if key.startswith("cache.") and key != "cache.enabled" and cache_off:
            continue
        if key == "cache.enabled" and not cache_off and cache_detail:
            continue
        parts.append(value_label(key, row[key]))
    return ", ".join(parts)


@style.styled
def tradeoff(df: pd.DataFrame, staleness: str = "stale_read_rate",
             latency: str = "read_latency_ms.p99", by: Sequence[str] | None = None,
             hue: str | None = None) -> Figure:
    """Latency against staleness, one point per configuration (mean over repetitions, with
    95% intervals both ways), with the Pareto front (nothing is both fresher and faster)
    joined and ringed.

    Colour tells the ``hue`` key's value; marker shape tells the other configuration keys
    together (say cache off / TTL 10 ms / TTL 1 s), each with a legend of its own. Each
    ``hue`` value also has its own marker size, the first the largest, drawn largest first:
    configurations that cost the same show as concentric markers, each colour visible,
    instead of hiding one another, and every point stays where its value is. The axes leave
    room around every point and its interval."""
    by = list(by) if by is not None else varied_keys(df)
    a = mean_ci(df, by or ["rep"], staleness)
    b = mean_ci(df, by or ["rep"], latency)
    points = a.merge(b, on=by or ["rep"], suffixes=("_s", "_l"))
    if not by:  # no configuration keys: one configuration
        points = points.mean(numeric_only=True).to_frame().T
    fig = Figure(figsize=(7.6, 5.0), layout="constrained")
    ax = fig.subplots()
    hue = hue if hue and hue in points.columns else None
    others = [k for k in by if k != hue]
    settings = [setting_text(row, others) for _, row in points.iterrows()] if others \
        else [""] * len(points)
    setting_order = list(dict.fromkeys(settings))
    # Shapes tell settings apart only while there are few; past that, the front is annotated.
    shaped = 1 < len(setting_order) <= len(style.MARKERS)
    hues = _order(points[hue], hue) if hue else [None]
    colors = dict(zip(hues, _colors(len(hues)), strict=True))
    markers = {text: style.marker(i) if shaped else "o" for i, text in enumerate(setting_order)}
    sizes = {v: SIZE_MAX - (SIZE_MAX - SIZE_MIN) * i / max(1, len(hues) - 1)
             for i, v in enumerate(hues)}
    for i, (_, row) in enumerate(points.iterrows()):
        value = row[hue] if hue else None
        rank = hues.index(value)
        colour = colors[value]
        # A clipped rate interval can end inside its mean by rounding: no negative arm.
        ax.errorbar(row["mean_s"], row["mean_l"],
                    xerr=[[max(0.0, row["mean_s"] - row["lo_s"])],
                          [max(0.0, row["hi_s"] - row["mean_s"])]],
                    yerr=[[max(0.0, row["mean_l"] - row["lo_l"])],
                          [max(0.0, row["hi_l"] - row["mean_l"])]],
                    fmt="none", ecolor=colour, elinewidth=1.2, capsize=0, zorder=2.5)
        ax.scatter(row["mean_s"], row["mean_l"], s=sizes[value], marker=markers[settings[i]],
                   color=colour, edgecolors="white", linewidths=0.6, zorder=3 + rank / 100)
    front = pareto_front(list(points["mean_s"]), list(points["mean_l"]))
    fx, fy = points["mean_s"].iloc[front], points["mean_l"].iloc[front]
    ax.plot(fx, fy, "-", drawstyle="steps-post", color="grey", lw=1.2, zorder=2)
    ax.scatter(fx, fy, s=2.2 * SIZE_MAX, facecolors="none", edgecolors="black", lw=1.2,
               zorder=4)
    if not shaped and others and len(front) <= 12:
        for i in front:
            ax.annotate(settings[i], (points["mean_s"].iloc[i], points["mean_l"].iloc[i]),
                        textcoords="offset points", xytext=(8, 6), fontsize="small")
    ax.set_xlabel(metric_label(staleness))
    ax.set_ylabel(metric_label(latency))
    style.number_axis(ax.xaxis, log=False)
    style.number_axis(ax.yaxis, log=False)
    # Room on every side: a point at a stale rate of 0 or at the highest latency is drawn
    # whole, with its ring and interval, not cut by the frame.
    x_top, y_top = float(points["hi_s"].max()), float(points["hi_l"].max())
    x_pad = 0.06 * (x_top or 1.0)
    ax.set_xlim(-x_pad, x_top + x_pad)
    ax.set_ylim(0, 1.1 * y_top if y_top > 0 else 1.0)
    from matplotlib.lines import Line2D

    front_handle = Line2D([], [], color="grey", marker="o", markersize=13, markerfacecolor="none",
                          markeredgecolor="black", label="Pareto front")
    # Legends outside the axes, on the right: points can sit anywhere inside.
    outside = {"bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}
    if hue:
        legend = ax.legend(handles=[Line2D([], [], ls="", marker="o", color=colors[v],
                                           markersize=math.sqrt(sizes[v]),
                                           label=legend_text(hue, v)) for v in hues]
                           + [front_handle], title=key_label(hue, hues), loc="upper left",
                           **outside)
        ax.add_artist(legend)
    if shaped:
        ax.legend(handles=[Line2D([], [], ls="", marker=markers[t], color="dimgrey", label=t)
                           for t in setting_order] + ([] if hue else [front_handle]),
                  title="setting", loc="lower left" if hue else "upper left",
                  bbox_to_anchor=(1.02, 0.0 if hue else 1.0), borderaxespad=0.0)
    elif not hue:
        ax.legend(handles=[front_handle], loc="upper left", **outside)
    fig.suptitle(f"{metric_label(latency, unit=False)} against "
                 f"{metric_label(staleness, unit=False)}\n({_repetitions(a)}, 95% intervals; "
                 "lower left is better)")
    return fig


@style.styled
def t_visibility(summaries: Mapping[str, Any] | Mapping[str, Mapping[str, Any]],
                 min_reads: int = 20) -> Figure:
    """The t-visibility curve: share of reads returning the newest version against how long
    ago it was committed (ms, log axis). ``summaries`` is one run summary, or a mapping
    ``label -> summary`` for several curves. Time bins with fewer than ``min_reads`` reads
    are left out (their share is noise)."""
    curves = {"run": summaries} if "t_visibility" in summaries else dict(summaries)
    fig = Figure(figsize=(6.8, 4.6), layout="constrained")
    ax = fig.subplots()
    for i, (label, summary) in enumerate(curves.items()):
        points = [p for p in summary["t_visibility"] if p["n"] >= min_reads and p["t_ms"] > 0]
        if not points:
            continue
        ax.plot([p["t_ms"] for p in points], [p["p_fresh"] for p in points],
                marker=style.marker(i), ms=4, color=style.color(i),
                label=None if len(curves) == 1 else str(label))
    ax.set_xscale("log")
    style.number_axis(ax.xaxis, log=True)
    ax.set_ylim(-0.02, 1.02)
    style.number_axis(ax.yaxis, log=False)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("time since the newest version was committed, t (ms)")
    ax.set_ylabel("P(read returns the newest version)")
    if len(curves) > 1:
        ax.legend()
    ax.set_title(f"t-visibility (bins with >= {min_reads} reads)")
    return fig


def save(fig: Figure, stem: str | Path, formats: Sequence[str] = style.FORMATS,
         dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``stem.png``, ``stem.svg`` and ``stem.pdf`` (``stem`` may contain
    dots), each with the version and commit in its metadata."""
    return style.save_all(fig, stem, formats, dpi)
