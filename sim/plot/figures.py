"""Figures of sweep results and runs, used by ``repsim plot`` and by notebooks alike.

Every function takes a tidy DataFrame of sweep rows (``sim.experiment.sweep`` or ``sim.experiment.sweep.load(DIR)``)
or, for :func:`t_visibility`, a run summary, and returns a ``matplotlib.figure.Figure``; nothing
here touches pyplot's global state or shows a window. Rows whose run failed are left out.
Means are over repetitions; bands are 95% t intervals over repetitions (``n - 1`` degrees of
freedom), so they say how well the mean of this many seeds is known.

Axis labels carry units (see :mod:`sim.plot.labels`): durations of the model are shown in ms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.tables import mean_ci, successful_rows
from sim.plot.labels import (
    key_label,
    metric_label,
    numeric_values,
    value_label,
    value_text,
    varied_keys,
)

__all__ = ["line", "heatmap", "latency_vs_batch", "tradeoff", "t_visibility", "save",
           "pareto_front"]

def _order(values: Iterable[Any], key: str) -> list[Any]:
    """Distinct values, numerically sorted when they are numbers or durations."""
    distinct = list(dict.fromkeys(values))
    numbers = numeric_values(distinct, key)
    if numbers is None:
        return distinct
    return [v for _, v in sorted(zip(numbers, distinct, strict=True), key=lambda p: p[0])]


def _colors(n: int, ordered: bool) -> list[Any]:
    from matplotlib import colormaps

    if ordered and n > 1:
        return [colormaps["viridis"](0.85 * i / (n - 1)) for i in range(n)]
    return [colormaps["tab10"](i % 10) for i in range(n)]


def _x_axis(ax: Any, key: str, numbers: Sequence[float] | None, labels: Sequence[Any]) -> None:
    """Label the x axis of ``key``; log scale when its values span two decades or more."""
    ax.set_xlabel(key_label(key, labels))
    if numbers is None:
        ax.set_xticks(range(len(labels)), [str(v) for v in labels])
        return
    positive = [v for v in numbers if v > 0]
    if len(positive) == len(numbers) and positive and max(positive) / min(positive) >= 100:
        ax.set_xscale("log")
    elif len(positive) == len(numbers) and positive and max(positive) / min(positive) >= 8 \
            and all(float(v).is_integer() for v in positive):
        ax.set_xscale("log", base=2)  # batch sizes, replica counts: powers of two read best
        ax.set_xticks(sorted(set(numbers)), [f"{v:g}" for v in sorted(set(numbers))])


def _positions(values: Sequence[Any], key: str, order: list[Any]) -> list[float]:
    """Where values go on a numeric axis (their value) or a categorical one (their rank)."""
    numbers = numeric_values(order, key)
    lookup = dict(zip(order, numbers if numbers is not None else range(len(order)), strict=True))
    return [lookup[v] for v in values]


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
    fig = Figure(figsize=(5.2 * len(panels) + 1.2, 4.2), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    colors = _colors(len(hues), hue is not None and numeric_values(hues, hue) is not None)
    for ax, panel in zip(axes, panels, strict=True):
        part = stats if col is None else stats[stats[col] == panel]
        for color, value in zip(colors, hues, strict=True):
            sub = part if hue is None else part[part[hue] == value]
            if sub.empty:
                continue
            sub = sub.assign(_x=_positions(list(sub[x]), x, x_order)).sort_values("_x")
            label = None if hue is None else value_text(value)
            ax.plot(sub["_x"], sub["mean"], marker="o", ms=4, color=color, label=label)
            if (sub["n"] > 1).any():
                ax.fill_between(sub["_x"], sub["lo"], sub["hi"], color=color, alpha=0.2, lw=0)
        _x_axis(ax, x, x_numbers, x_order)
        if logy:
            ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)
        if col is not None:
            ax.set_title(value_label(col, panel), fontsize="medium")
    axes[0].set_ylabel(metric_label(y))
    if hue is not None:
        axes[-1].legend(title=key_label(hue, hues), fontsize="small", title_fontsize="small")
    reps = int(stats["n"].max()) if len(stats) else 0
    fig.suptitle(f"{metric_label(y, unit=False)}: mean of {reps} repetition"
                 f"{'s' if reps != 1 else ''}" + (", 95% band" if reps > 1 else ""),
                 fontsize="medium")
    return fig


def heatmap(df: pd.DataFrame, x: str, y: str, metric: str) -> Figure:
    """Mean of ``metric`` over repetitions on the grid of two varied keys ``x`` and ``y``."""
    stats = mean_ci(df, [y, x], metric)
    xs, ys = _order(stats[x], x), _order(stats[y], y)
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, row in stats.iterrows():
        grid[ys.index(row[y]), xs.index(row[x])] = row["mean"]
    fig = Figure(figsize=(1.0 + 0.9 * max(len(xs), 4), 1.2 + 0.6 * max(len(ys), 4)),
                 layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), [f"{v:g}" if isinstance(v, float) else str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [f"{v:g}" if isinstance(v, float) else str(v) for v in ys])
    ax.set_xlabel(key_label(x, xs))
    ax.set_ylabel(key_label(y, ys))
    fig.colorbar(image, ax=ax, label=metric_label(metric))
    if grid.size <= 100:
        middle = np.nanmean(grid) if np.isfinite(grid).any() else 0.0
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize="small",
                        color="white" if value < middle else "black")
    return fig


def latency_vs_batch(df: pd.DataFrame, x: str = "pipeline.batch_size",
                     latency: str = "read_latency_ms", hue: str | None = None) -> Figure:
    """p50 (solid) and p99 (dashed) of ``latency`` against the pipeline batch size, with
    throughput on a second axis when there is one line per percentile."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    hues = _order(successful_rows(df, [f"{latency}.p99"])[hue], hue) if hue else [None]
    colors = _colors(len(hues), hue is not None)
    x_order: list[Any] = []
    for pct, style in (("p50", "-"), ("p99", "--")):
        stats = mean_ci(df, [k for k in (hue, x) if k], f"{latency}.{pct}")
        x_order = _order(stats[x], x)
        for color, value in zip(colors, hues, strict=True):
            sub = stats if hue is None else stats[stats[hue] == value]
            sub = sub.assign(_x=_positions(list(sub[x]), x, x_order)).sort_values("_x")
            label = pct if hue is None else f"{pct}, {value_label(hue, value)}"
            ax.plot(sub["_x"], sub["mean"], style, marker="o", ms=4, color=color, label=label)
            ax.fill_between(sub["_x"], sub["lo"], sub["hi"], color=color, alpha=0.15, lw=0)
    _x_axis(ax, x, numeric_values(x_order, x), x_order)
    ax.set_ylabel(metric_label(f"{latency}.p50").replace(" p50", ""))
    ax.grid(True, alpha=0.3)
    if hue is None and "throughput_ops_s" in df.columns:
        stats = mean_ci(df, [x], "throughput_ops_s")
        stats = stats.assign(_x=_positions(list(stats[x]), x, x_order)).sort_values("_x")
        twin = ax.twinx()
        twin.plot(stats["_x"], stats["mean"], ":", color="grey", marker="s", ms=3,
                  label="throughput")
        twin.set_ylabel(metric_label("throughput_ops_s"))
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles=handles, fontsize="small")
    else:
        ax.legend(fontsize="small")
    ax.set_title(f"{metric_label(latency, unit=False)} percentiles vs batch size",
                 fontsize="medium")
    return fig


def pareto_front(cost_a: Sequence[float], cost_b: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats in both costs (lower is better), by ``a``."""
    order = sorted(range(len(cost_a)), key=lambda i: (cost_a[i], cost_b[i]))
    front, best_b = [], math.inf
    for i in order:
        if cost_b[i] < best_b:
            front.append(i)
            best_b = cost_b[i]
    return front


def tradeoff(df: pd.DataFrame, staleness: str = "stale_read_rate",
             latency: str = "read_latency_ms.p99", by: Sequence[str] | None = None,
             hue: str | None = None) -> Figure:
    """Latency against staleness, one point per configuration (mean over repetitions), with
    the Pareto front (nothing is both fresher and faster) joined and ringed."""
    by = list(by) if by is not None else varied_keys(df)
    a = mean_ci(df, by or ["rep"], staleness)
    b = mean_ci(df, by or ["rep"], latency)
    points = a.merge(b, on=by or ["rep"], suffixes=("_s", "_l"))
    if not by:  # no configuration keys: one configuration
        points = points.mean(numeric_only=True).to_frame().T
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    if hue and hue in points.columns:
        hues = _order(points[hue], hue)
        for color, value in zip(_colors(len(hues), True), hues, strict=True):
            sub = points[points[hue] == value]
            ax.scatter(sub["mean_s"], sub["mean_l"], color=color, s=28, label=value_text(value))
    else:
        ax.scatter(points["mean_s"], points["mean_l"], s=28, color="tab:blue",
                   label="configuration")
    front = pareto_front(list(points["mean_s"]), list(points["mean_l"]))
    fx, fy = points["mean_s"].iloc[front], points["mean_l"].iloc[front]
    ax.plot(fx, fy, "-", drawstyle="steps-post", color="tab:red", lw=1.2, label="Pareto front")
    ax.scatter(fx, fy, s=90, facecolors="none", edgecolors="tab:red", lw=1.2)
    if len(front) <= 12 and by:
        for i in front:
            text = ", ".join(value_label(k, points[k].iloc[i]) for k in by)
            ax.annotate(text, (points["mean_s"].iloc[i], points["mean_l"].iloc[i]),
                        textcoords="offset points", xytext=(6, 4), fontsize=6.5)
    ax.set_xlabel(metric_label(staleness))
    ax.set_ylabel(metric_label(latency))
    ax.grid(True, alpha=0.3)
    if hue and hue in points.columns:
        ax.legend(title=key_label(hue, hues), fontsize="small", title_fontsize="small")
    else:
        ax.legend(fontsize="small")
    ax.set_title("latency-staleness trade-off (lower left is better)", fontsize="medium")
    return fig


def t_visibility(summaries: Mapping[str, Any] | Mapping[str, Mapping[str, Any]],
                 min_reads: int = 20) -> Figure:
    """The t-visibility curve: share of reads returning the newest version against how long
    ago it was committed (ms, log axis). ``summaries`` is one run summary, or a mapping
    ``label -> summary`` for several curves. Time bins with fewer than ``min_reads`` reads
    are left out (their share is noise)."""
    curves = {"run": summaries} if "t_visibility" in summaries else dict(summaries)
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    for color, (label, summary) in zip(_colors(len(curves), True), curves.items(), strict=True):
        points = [p for p in summary["t_visibility"] if p["n"] >= min_reads and p["t_ms"] > 0]
        if not points:
            continue
        ax.plot([p["t_ms"] for p in points], [p["p_fresh"] for p in points], marker="o", ms=3,
                color=color, label=None if len(curves) == 1 else str(label))
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("time since the newest version was committed, t (ms)")
    ax.set_ylabel("P(read returns the newest version)")
    ax.grid(True, which="major", alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize="small")
    ax.set_title(f"t-visibility (bins with >= {min_reads} reads)", fontsize="medium")
    return fig


def save(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg"),
         dpi: int = 130) -> list[Path]:
    """Write ``fig`` as ``stem.png``, ``stem.svg`` ... (``stem`` may contain dots)."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, format=fmt)
        paths.append(path)
    return paths
