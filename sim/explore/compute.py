"""One rerun of the explore page: simulate the settings, trace a short window, compare with
theory and draw. No web code here, so the page's results can be computed and tested alone.

A run is cancelled through ``sim.simulate``'s trace hook, which the engine calls at every
model event: the hook of a cancelled :class:`CancelToken` raises :class:`Cancelled`, which
unwinds the simulation at its next event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sim
from sim.analysis import analytic
from sim.explore import figures
from sim.explore import theory as closed
from sim.explore.settings import Settings

__all__ = ["CancelToken", "Cancelled", "Outcome", "evaluate", "trace_window"]

TRACE_KEY = 0  # the most popular key under Zipf
TRACE_WRITES = 4  # writes of that key a window should show, on average
TRACE_EVENTS = 110  # events a window should hold at most, on average (labels stay readable)
TRACE_MIN_S, TRACE_MAX_S = 50e-6, 0.5


class Cancelled(Exception):
    """A newer request superseded this run."""


class CancelToken:
    """Cancels one run; ``hook`` is passed to ``sim.simulate`` as its trace callback."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def hook(self, kind: str, time_s: float, **fields: Any) -> None:
        if self.cancelled:
            raise Cancelled

    def check(self) -> None:
        """Raise Cancelled between the steps of a rerun."""
        if self.cancelled:
            raise Cancelled


@dataclass
class Outcome:
    """What one rerun found. ``summary`` is ``repsim run --json``'s dict; ``theory`` the
    closed forms by name; ``images`` PNG bytes by name (stale, tvis, trace); ``error`` one
    line when the settings are not a valid experiment (then nothing else is set)."""

    settings: Settings
    summary: dict[str, Any] = field(default_factory=dict)
    theory: dict[str, closed.Theory] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    trace_note: str = ""
    run_seconds: float = 0.0  # simulated
    wall_seconds: float = 0.0  # to compute everything, drawing included
    error: str = ""


def trace_window(config) -> tuple[float, float]:
    """A window (t0_s, t1_s) of the run that shows a few writes of TRACE_KEY and what follows
    them, bounded so the picture stays readable; around the crash when one is set."""
    wl, rep = config.workload, config.replication
    s = wl.zipf_s if wl.key_distribution == "zipf" else 0.0
    share = float(analytic.zipf_weights(wl.keys, s)[TRACE_KEY])
    if wl.mode == "open":
        reads, writes = wl.read_rate * share, wl.write_rate * share
    else:
        total = Settings.from_config(config).ops_per_s() * share
        reads, writes = total * wl.read_fraction, total * (1 - wl.read_fraction)
    span = max(3 * rep.delay.mean, TRACE_MIN_S)
    if writes > 0:
        span = max(span, TRACE_WRITES / writes)
    per_s = reads * (2 + 2 * config.cache.enabled) + writes * (3 + rep.replicas)
    if per_s > 0:
        span = min(span, TRACE_EVENTS / per_s)
    span = min(max(span, TRACE_MIN_S), TRACE_MAX_S)
    duration, warmup = config.run.duration, config.run.warmup
    if config.faults.master_crash_at:
        t0 = config.faults.master_crash_at[0] - 0.7 * span
    else:
        t0 = warmup  # early: the trace reruns the model up to its window's end
    t0 = min(max(t0, 0.0), duration - span)
    return t0, min(t0 + span, duration)


def _trace(config):
    """``sim.trace`` of TRACE_KEY in :func:`trace_window`, halved while ``sim.trace`` expects
    more events than it records (its estimate of a closed loop is more generous than ours);
    None when even a window of TRACE_MIN_S is too busy."""
    t0, t1 = trace_window(config)
    while True:
        try:
            return sim.trace(config, keys=[TRACE_KEY], window=(t0, t1))
        except sim.ConfigError as error:
            if error.key != "window":
                raise
            if t1 - t0 <= TRACE_MIN_S:
                return None
            t1 = t0 + max((t1 - t0) / 2, TRACE_MIN_S)


def evaluate(settings: Settings, token: CancelToken | None = None,
             earlier: Sequence[tuple[float, float]] = (), draw: bool = True,
             max_write_rate: float = 5000.0) -> Outcome:
    """Run ``settings`` and gather what the page shows. Raises Cancelled when ``token`` is
    cancelled meanwhile. ``earlier``: (write rate, stale-read rate) of earlier runs to draw
    faded; ``max_write_rate``: right end of the stale-read figure's axis."""
    token = token or CancelToken()
    start = time.perf_counter()
    outcome = Outcome(settings)
    try:
        config = settings.config()
    except sim.ConfigError as error:
        outcome.error = str(error)
        return outcome
    outcome.run_seconds = config.run.duration
    summary = sim.simulate(config, trace=token.hook).summary
    outcome.summary = summary
    outcome.theory = {
        "stale": closed.stale_rate_fn(config), "tvis": closed.t_visibility_fn(config),
        "hit": closed.hit_rate(config), "lost": closed.lost_writes(config),
        "write_latency": closed.write_latency(config), "throughput": closed.throughput(config),
    }
    stale = outcome.theory["stale"]
    if stale.applies:
        outcome.theory["stale_value"] = closed.Theory(
            value=stale.fn(config.workload.write_rate), formula=stale.formula)
    token.check()
    recorded = _trace(config)
    if recorded is not None:
        t0, t1 = recorded.window
        outcome.trace_note = (
            f"key {TRACE_KEY}, {t0 * 1e3:.6g} to {t1 * 1e3:.6g} ms: "
            f"{len(recorded.of('commit'))} writes, {len(recorded.of('read'))} reads, "
            f"{len(recorded.stale_reads())} stale")
    else:
        outcome.trace_note = f"key {TRACE_KEY} is too busy to draw even {TRACE_MIN_S * 1e3:g} ms"
    if draw:
        token.check()
        outcome.images["stale"] = figures.png(figures.stale_vs_write_rate(
            settings.write_rate if settings.mode == "open" else summary["writes"]
            / (config.run.duration - config.run.warmup),
            summary["stale_read_rate"], summary["stale_read_rate_ci95"], stale, earlier,
            max_write_rate))
        token.check()
        outcome.images["tvis"] = figures.png(figures.t_visibility(summary,
                                                                  outcome.theory["tvis"]))
        token.check()
        if recorded is not None:
            picture = recorded.plot(width_in=11.0)
            if config.faults.master_crash_at:
                figures.mark_crash(picture, config.faults.master_crash_at[0])
            outcome.images["trace"] = figures.png(picture)
    outcome.wall_seconds = time.perf_counter() - start
    return outcome
