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
LEAD_SHARE = 0.1  # of the window before the write it opens on
SEARCH_WRITES, SEARCH_MAX_S = 8.0, 10.0  # how far to look for that write (gaps, seconds)


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
    trace: Any = None  # the sim.trace Trace drawn, None when the key was too busy
    run_seconds: float = 0.0  # simulated
    wall_seconds: float = 0.0  # to compute everything, drawing included
    error: str = ""


def settled_s(config) -> float:
    """When the run has left its start-up behind (s): after the warm-up and, with a cache,
    after the entries filled in the first moments have expired. Until then a hit returns
    version 0 of a key written dozens of times since: an artefact of starting empty, not
    what the cache does in its steady state."""
    t = config.run.warmup
    if config.cache.enabled:
        t = max(t, 1.05 * config.cache.ttl + 1e-3)
    return t


def trace_window(config) -> tuple[float, float]:
    """A window (t0_s, t1_s) that shows a few writes of TRACE_KEY and what follows them,
    bounded so the picture stays readable; around the crash when one is set, else at the
    first moment the run has settled (:func:`settled_s`). It may end after the run's
    ``run.duration``: the trace reruns the model up to its window's end."""
    rep = config.replication
    reads, writes = _key_rates(config)
    span = max(3 * rep.delay.mean, TRACE_MIN_S)
    if writes > 0:
        span = max(span, TRACE_WRITES / writes)
    per_s = reads * (2 + 2 * config.cache.enabled) + writes * (3 + rep.replicas)
    if per_s > 0:
        span = min(span, TRACE_EVENTS / per_s)
    span = min(max(span, TRACE_MIN_S), TRACE_MAX_S)
    if config.faults.master_crash_at:
        t0 = max(config.faults.master_crash_at[0] - 0.7 * span, 0.0)
    else:
        t0 = settled_s(config)
    return t0, t0 + span


def _key_rates(config) -> tuple[float, float]:
    """(reads/s, writes/s) of TRACE_KEY."""
    wl = config.workload
    s = wl.zipf_s if wl.key_distribution == "zipf" else 0.0
    share = float(analytic.zipf_weights(wl.keys, s)[TRACE_KEY])
    if wl.mode == "open":
        return wl.read_rate * share, wl.write_rate * share
    total = Settings.from_config(config).ops_per_s() * share
    return total * wl.read_fraction, total * (1 - wl.read_fraction)


class _Found(Exception):
    """The first write of TRACE_KEY after the window's start, at ``time_s``."""

    def __init__(self, time_s: float) -> None:
        self.time_s = time_s


def _first_write(config, after_s: float, token: CancelToken) -> float | None:
    """When the master first commits TRACE_KEY at or after ``after_s`` (s), searching at most
    SEARCH_WRITES mean gaps between its writes (and SEARCH_MAX_S); None when it does not."""
    writes = _key_rates(config)[1]
    if writes <= 0:
        return None
    horizon = after_s + min(SEARCH_WRITES / writes, SEARCH_MAX_S)

    def hook(kind: str, time_s: float, **fields: Any) -> None:
        token.hook(kind, time_s)
        if kind == "commit" and time_s >= after_s and fields.get("key") == TRACE_KEY:
            raise _Found(time_s)

    try:
        sim.simulate(_running_to(config, horizon), trace=hook)
    except _Found as found:
        return found.time_s
    return None


def _running_to(config, end_s: float):
    """``config`` run to ``end_s`` at least, at a fixed length (the events up to a time do not
    depend on when the run will stop)."""
    return config.with_overrides({"run.duration": max(config.run.duration, end_s),
                                  "run.target_rel_ci": 0.0, "run.max_duration": 0.0})


def _trace(config, token: CancelToken):
    """``sim.trace`` of TRACE_KEY in :func:`trace_window`, opened just before the key's next
    write when no crash is set (so the window shows what a write does, not the quiet before
    it); halved while ``sim.trace`` expects more events than it records (its estimate of a
    closed loop is more generous than ours); None when even a window of TRACE_MIN_S is too
    busy."""
    t0, t1 = trace_window(config)
    if not config.faults.master_crash_at:
        first = _first_write(config, t0, token)
        if first is not None:  # not before t0, where the run had not yet settled
            span = t1 - t0
            t0 = max(first - LEAD_SHARE * span, t0)
            t1 = t0 + span
    token.check()
    while True:
        try:
            return sim.trace(_running_to(config, t1), keys=[TRACE_KEY], window=(t0, t1))
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
    summary = sim.simulate(config, trace=token.hook).summary
    outcome.summary = summary
    outcome.run_seconds = summary["precision"]["simulated_duration_s"]
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
    recorded = outcome.trace = _trace(config, token)
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
            / (outcome.run_seconds - config.run.warmup),
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
