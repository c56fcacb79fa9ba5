"""The explore page's figures, drawn with matplotlib's object API (no pyplot, so worker
threads can draw) and handed to the page as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.explore.theory import Theory
from sim.plot import figures as plots
from sim.plot.style import OKABE_ITO

__all__ = ["EARLIER", "THIS_RUN", "mark_crash", "png", "stale_vs_write_rate", "t_visibility"]

# The house palette (sim.plot.style); captions name these through style.colour_name.
THIS_RUN = OKABE_ITO[1]  # vermillion
EARLIER = OKABE_ITO[0]  # blue

DPI = 90
CURVE_POINTS = 13  # theory points per curve: each sums over every key


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def stale_vs_write_rate(write_rate: float, rate: float | None, ci: Sequence[Any],
                        theory: Theory, earlier: Sequence[tuple[float, float]],
                        max_write_rate: float) -> Figure:
    """This run's stale-read rate (with its 95% interval) against the total write rate, on
    the closed-form curve when one applies; ``earlier`` runs that differed only in the
    write rate as faded points, so moving the slider traces the curve."""
    fig = Figure(figsize=(5.6, 3.6), layout="constrained")
    ax = fig.subplots()
    x_max = max(max_write_rate, write_rate) * 1.02
    top = 0.0
    if theory.applies:
        grid = np.linspace(0.0, x_max, CURVE_POINTS)
        curve = [theory.fn(w) for w in grid]
        top = max(curve)
        ax.plot(grid, curve, color="0.35", lw=1.2, label=f"theory: {theory.formula}")
    if earlier:
        xs, ys = zip(*earlier, strict=True)
        top = max(top, *ys)
        ax.plot(xs, ys, "o", color=EARLIER, alpha=0.3, ms=5, label="earlier runs")
    if rate is not None:
        lo, hi = ci if ci and ci[0] is not None else (rate, rate)
        top = max(top, hi)
        ax.errorbar([write_rate], [rate], yerr=[[rate - lo], [hi - rate]], fmt="o",
                    color=THIS_RUN, ms=8, capsize=5, label="this run (95% interval)")
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, min(1.0, max(0.05, top * 1.25)))
    ax.set_xlabel("write rate (writes/s, all keys)")
    ax.set_ylabel("stale-read rate")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}" if top >= 0.1 else f"{v:.1%}")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="upper left")
    if not theory.applies:
        ax.set_title("no closed form for these settings (see the caption)", fontsize="small",
                     loc="left")
    return fig


def t_visibility(summary: dict[str, Any], theory: Theory) -> Figure:
    """The simulated t-visibility curve (:func:`sim.plot.figures.t_visibility`), with the
    closed form dashed where one applies."""
    fig = plots.t_visibility(summary, min_reads=10)
    ax = fig.axes[0]
    fig.set_size_inches(5.6, 3.6)
    if theory.applies:
        points = [p["t_ms"] for p in summary["t_visibility"] if p["t_ms"] > 0]
        lo, hi = (min(points), max(points)) if points else (1e-3, 1e3)
        t_ms = np.logspace(np.log10(lo), np.log10(hi), 120)
        ax.plot(t_ms, theory.fn(t_ms / 1e3), "--", color="0.2", lw=1.0,
                label=f"theory: {theory.formula}")
        ax.legend(fontsize="small", loc="lower right")
    return fig


def mark_crash(fig: Figure, crash_s: float) -> None:
    """A dashed line at the master's crash (seconds) on a space-time diagram (ms axis)."""
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    x = crash_s * 1e3
    if lo <= x <= hi:
        ax.axvline(x, color="black", ls="--", lw=1.2, zorder=4)
        ax.annotate(" master crashes", (x, 1.0), xycoords=("data", "axes fraction"),
                    va="top", fontsize="small")
