"""The space-time diagram of a :class:`sim.experiment.trace.Trace`: the whiteboard picture of replication.

One horizontal line per node (clients on top, then the cache, the master and each replica),
time running left to right in milliseconds. Writes go from a client to the master (solid
blue) and their replies come back (dotted blue); each committed write travels down to every
replica (grey arrow, a dot where it is applied). Each read is an arrow out to the node that
answered and back, green when it returned the newest version, red when stale. Cache fills
are triangles and the life of each cached entry a bar ending in an expiry cross; the time a
replica (or the cache) holds an outdated version is shaded red. With a client-side cache
(CLIENT TRACKING) each invalidation message is an orange arrow from the node that sent it to
the client, a local hit a square on the client's line (green fresh, red stale), a local fill
a small triangle, and the time a client's own copy is outdated is shaded red as well.

The engine does not trace the moment a server handles a read, so a read's turning point is
drawn halfway between its issue and its receipt (exact for a symmetric link and no queue),
except for a read its server tracked (client-side caching), drawn where it was taken in.
Like :mod:`sim.plot.figures`, nothing here touches pyplot's global state.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from sim.plot import style
from sim.plot.style import OKABE_ITO

__all__ = ["space_time"]

MS = 1e3  # seconds -> milliseconds on the time axis

# Okabe-Ito colours (sim.plot.style): fresh and stale reads differ in lightness and hue for
# colour-blind readers, and stale reads are dashed as well, so colour is not the only cue.
WRITE = OKABE_ITO[0]  # blue
REPLICATION = "0.45"
FRESH = OKABE_ITO[2]  # bluish green
STALE = OKABE_ITO[1]  # vermillion
STALE_STYLE = (0, (4, 2))
CACHE = OKABE_ITO[3]  # reddish purple
INVALIDATION = OKABE_ITO[4]  # orange
INVALIDATION_STYLE = (0, (1, 1.5))
STALE_SHADE = "#f6c8a8"  # a light vermillion
LABEL_SIZE = 8
LABELS_UP_TO = 120  # more events than this and version labels would overlap


def _arrow(ax, x0: float, y0: float, x1: float, y1: float, color: str, style: str = "-",
           width: float = 1.1, head: bool = True) -> None:
    # A patch added to the axes is clipped to them: arrows from before t0 stop at the edge.
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>" if head else "-",
                                 color=color, lw=width, ls=style, shrinkA=0, shrinkB=0,
                                 mutation_scale=9, zorder=2))


class _Labels:
    """Version labels beside the node lines, lifted a step when they would overlap the
    previous label on the same side of the same line (up to three steps, then reused)."""

    STEP = 0.11  # vertical step between stacked labels (node lines are 1 apart)

    def __init__(self, ax, min_gap: float, x_range: tuple[float, float]) -> None:
        self.ax = ax
        self.min_gap = min_gap  # x distance (ms) under which two labels would collide
        self.x_range = x_range  # a label this close to an edge is aligned inwards, not cut
        self.last: dict[tuple[float, bool], tuple[float, int]] = {}

    def __call__(self, x: float, y: float, text: str, color: str, below: bool = False) -> None:
        prev = self.last.get((y, below))
        level = (prev[1] + 1) % 3 if prev is not None and x - prev[0] < self.min_gap else 0
        self.last[(y, below)] = (x, level)
        lift = 0.1 + level * self.STEP
        low, high = self.x_range
        ha = "left" if x - low < self.min_gap else "right" if high - x < self.min_gap \
            else "center"
        self.ax.text(x, y - lift - 0.03 if below else y + lift, text, color=color,
                     fontsize=LABEL_SIZE, ha=ha, va="top" if below else "bottom",
                     clip_on=True)


def _legend_handles(has_cache: bool, has_local: bool = False) -> list[Any]:
    handles = [
        Line2D([], [], color=WRITE, lw=1.2, label="write → master (commit vN)"),
        Line2D([], [], color=WRITE, lw=1.0, ls=":", label="write reply"),
        Line2D([], [], color=REPLICATION, lw=1.0, marker="o", ms=4,
               label="replication (dot: applied)"),
        Line2D([], [], color=FRESH, lw=1.2, label="read, fresh"),
        Line2D([], [], color=STALE, lw=1.2, ls=STALE_STYLE, label="read, stale (got < newest)"),
        Patch(facecolor=STALE_SHADE, alpha=0.6, label="stale window (node behind master)"),
    ]
    if has_cache:
        handles += [
            Line2D([], [], color=CACHE, marker="v", ls="", label="cache fill / update"),
            Line2D([], [], color=CACHE, marker="x", ls="", label="expiry / invalidation"),
        ]
    if has_local:
        handles += [
            Line2D([], [], color=INVALIDATION, lw=1.2, ls=INVALIDATION_STYLE,
                   label="invalidation message → client"),
            Line2D([], [], color=FRESH, marker="s", ls="", label="local hit, fresh"),
            Line2D([], [], color=STALE, marker="s", ls="", label="local hit, stale"),
            Line2D([], [], color="0.3", marker="^", ls="", ms=5, label="local fill"),
        ]
    return handles


@style.styled
def space_time(trace: Any, title: str | None = None, width_in: float = 11.0,
               labels: bool | None = None) -> Figure:
    """Draw ``trace`` (a :class:`sim.experiment.trace.Trace`) and return the Figure.

    ``labels`` writes version numbers next to commits, applies and reads ("v3", stale reads
    "v2<v3"); by default only when there are few enough to read (LABELS_UP_TO events). With
    several keys each label starts with the key ("k5 v3") and each key's events sit at their
    own small offset on every node line.
    """
    if labels is None:
        labels = len(trace.events) <= LABELS_UP_TO
    t0, t1 = trace.window
    nodes = trace.nodes
    y_of = {node: -i for i, node in enumerate(nodes)}
    keys = trace.keys
    spread = 0.12 if len(keys) > 1 else 0.0
    dy = {k: spread * (i - (len(keys) - 1) / 2) for i, k in enumerate(keys)}
    multi = len(keys) > 1

    def y(node: str, key: int) -> float:
        return y_of[node] + dy[key]

    def name(key: int, version: int) -> str:
        return f"k{key} v{version}" if multi else f"v{version}"

    fig = Figure(figsize=(width_in, 1.0 + 0.62 * len(nodes)), layout="constrained")
    ax = fig.subplots()
    _label = _Labels(ax, min_gap=(t1 - t0) * MS / 30, x_range=(t0 * MS, t1 * MS))
    ax.hlines(list(y_of.values()), t0 * MS, t1 * MS, color="0.75", lw=1.0, zorder=0)

    for w in trace.stale_windows():
        band = 0.34 / max(1, len(keys))
        ax.add_patch(Rectangle((w.start_s * MS, y(w.node, w.key) - band / 2),
                               (w.end_s - w.start_s) * MS, band, facecolor=STALE_SHADE,
                               alpha=0.6, lw=0, zorder=0.5))

    for e in trace.of("commit"):
        ax.plot(e.time_s * MS, y("master", e.key), "o", color=WRITE, ms=4, zorder=3)
        if labels:
            _label(e.time_s * MS, y("master", e.key), name(e.key, e["version"]), WRITE)

    for e in trace.of("written"):
        commit = trace.commit_time(e.key, e["version"])
        if commit is None or e.node not in y_of:
            continue
        _arrow(ax, e["issued"] * MS, y(e.node, e.key), commit * MS, y("master", e.key), WRITE)
        _arrow(ax, commit * MS, y("master", e.key), e.time_s * MS, y(e.node, e.key), WRITE,
               style=":", width=0.9)

    for e in trace.of("apply"):
        commit = trace.commit_time(e.key, e["version"])
        if commit is not None:
            _arrow(ax, commit * MS, y("master", e.key), e["arrived"] * MS, y(e.node, e.key),
                   REPLICATION, width=0.8)
        ax.plot(e.time_s * MS, y(e.node, e.key), "o", color=REPLICATION, ms=3.5, zorder=3)
        if labels:
            _label(e.time_s * MS, y(e.node, e.key), name(e.key, e["version"]), REPLICATION,
                   below=True)

    for e in trace.of("invalidation"):
        if e["server"] in y_of and e.node in y_of:
            _arrow(ax, e["sent"] * MS, y(e["server"], e.key), e.time_s * MS, y(e.node, e.key),
                   INVALIDATION, INVALIDATION_STYLE, width=1.2)
    for e in trace.of("local_fill"):
        if e.node in y_of:
            ax.plot(e.time_s * MS, y(e.node, e.key), "^", color="0.3", ms=5, zorder=3)

    tracked: dict[tuple[str, str, int], list[float]] = {}
    for e in trace.of("tracked"):
        tracked.setdefault((e.node, e["client"], e.key), []).append(e.time_s)
    for e in trace.of("read"):
        server = e["server"]
        if server not in y_of or e.node not in y_of:
            continue
        stale = e["version"] < e["newest"]
        color = STALE if stale else FRESH
        taken = [t for t in tracked.get((server, e.node, e.key), ())
                 if e["issued"] <= t <= e.time_s]
        mid = taken[0] * MS if taken else (e["issued"] + e.time_s) / 2 * MS
        if server == e.node:  # a local hit: answered where it was issued
            ax.plot(e.time_s * MS, y(e.node, e.key), "s", color=color, ms=5, zorder=3)
            if labels:
                text = name(e.key, e["version"]) + (f"<v{e['newest']}" if stale else "")
                _label(e.time_s * MS, y(e.node, e.key), text, color)
            continue
        dash = STALE_STYLE if stale else "-"
        _arrow(ax, e["issued"] * MS, y(e.node, e.key), mid, y(server, e.key), color, dash,
               head=False)
        _arrow(ax, mid, y(server, e.key), e.time_s * MS, y(e.node, e.key), color, dash)
        if labels:
            text = name(e.key, e["version"]) + (f"<v{e['newest']}" if stale else "")
            _label(e.time_s * MS, y(e.node, e.key), text, color)

    if "cache" in y_of:
        for key in keys:
            _draw_cache(ax, trace, key, y("cache", key), t1)

    issued = {(e.node, e.key, e.time_s) for e in trace.of("issue")}
    done = {(e.node, e.key, e["issued"]) for e in trace.of("read", "written")}
    for node, key, t in issued - done:  # still in flight at t1: a tick where it started
        ax.plot(t * MS, y(node, key), "|", color="0.3", ms=8)

    ax.set_xlim(t0 * MS, t1 * MS)
    ax.set_ylim(-len(nodes) + 0.4, 0.6)
    ax.set_yticks(list(y_of.values()), nodes)
    ax.set_xlabel("simulated time (ms)")
    ax.grid(True, axis="x", alpha=0.25)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.legend(handles=_legend_handles("cache" in y_of, trace.config.client_cache.enabled),
              loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    style.number_axis(ax.xaxis, log=False)
    if title is None:
        stale = len(trace.stale_reads())
        reads = len(trace.of("read"))
        title = (f"key{'s' if multi else ''} {', '.join(map(str, keys))}: {reads} reads, "
                 f"{stale} stale")
    if trace.truncated:
        title += f" (truncated at {trace.max_events} events)"
    ax.set_title(title, loc="left")
    return fig


def _draw_cache(ax, trace: Any, key: int, y: float, t1: float) -> None:
    """Entry lifetimes of ``key`` as bars, fills/updates as triangles, ends as crosses."""
    steps = trace.cache_holdings(key)
    for (start, version), (end, _) in zip(steps, [*steps[1:], (t1, None)], strict=True):
        if version is not None and end > start:
            ax.plot([start * MS, end * MS], [y, y], color=CACHE, lw=2.2, alpha=0.45,
                    solid_capstyle="butt", zorder=1)
    for e in trace.of("fill", "update"):
        if e.key == key:
            ax.plot(e.time_s * MS, y, "v", color=CACHE, ms=6, zorder=3)
    ends = [t for (t, v), (_, before) in zip(steps[1:], steps, strict=False)
            if v is None and before is not None]
    for t in ends:
        ax.plot(t * MS, y, "x", color=CACHE, ms=7, mew=1.6, zorder=3)
