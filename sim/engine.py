"""Build one experiment from a Config, run it, and return its Result.

Lifecycle: build (streams, nodes, links, clients, workload, recorder) -> run to the horizon
-> finalise (close time-based measures) -> summarise.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.config.schema import Config
from sim.errors import ConfigError, StalledError
from sim.measure.client_cache import ClientCacheStats
from sim.measure.faults import FaultStats
from sim.measure.origin import OriginStats
from sim.measure.recorder import Recorder
from sim.measure.shards import ShardMeasures
from sim.measure.visibility import VisibilityStats
from sim.model.build import Builder
from sim.model.kernel import run_until, scheduler
from sim.model.probes import probe_offsets
from sim.model.streams import Streams

Progress = Callable[[float, float], None]
PROGRESS_STEPS = 100  # progress reports over a run's horizon
# The run checks that simulated time advances once per EVENTS_PER_CHECK events. The fastest
# run the configuration allows (2e9 ops/s, a handful of events each) makes about 1e10
# events per simulated second; ten times that means time has all but stopped.
EVENTS_PER_CHECK = 1 << 20
MAX_EVENTS_PER_S = 1e11


def stall_cause(config: Config) -> str:
    """Which settings make simulated time crawl, for :class:`StalledError`."""
    if config.workload.mode == "closed":
        return ("in closed mode each client's round trip is all but instant: raise "
                "workload.think_time, network.client_latency or the server.* times")
    return ("the delays are too short for the rates: raise network.client_latency, "
            "replication.delay or the server.* times, or lower workload.*_rate")


@dataclass
class Result:
    """The outcome of one run: ``summary`` is the dict that ``repsim run --json`` prints."""

    config: Config
    summary: dict[str, Any]
    model: Any = field(default=None, repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]


class Model:
    """The wired components of one run (kept on the Result for inspection in notebooks):
    ``master`` (the first master), ``replicas`` (the live list), ``cache``, ``clients``,
    ``cluster`` (None without faults; ``cluster.office`` is the master in office); in quorum
    mode ``master`` is the clients' coordinator and ``peers`` the N peers."""

    def __init__(self, config: Config, trace=None) -> None:
        self.config = config
        self.env = simpy.Environment()
        self.at = scheduler(self.env)
        self.streams = Streams(config.run.seed)
        self.recorder = Recorder(config.run.warmup, config.run.duration, config.cache.enabled,
                                 config.workload.key_ttl,
                                 config.client_cache.enabled)
        self.client_cache = (ClientCacheStats(config.run.warmup, config.run.horizon)
                             if config.client_cache.enabled else None)
        self.fault_stats = FaultStats(config.run.warmup)
        self.visibility = None
        if config.metrics.visibility_probes:
            self.visibility = VisibilityStats(
                probe_offsets(config, self.streams.rng("probe.horizon")), config.run.warmup,
                config.run.duration)
        self.origin_stats = None
        if config.cache.fill_from == "origin":
            self.origin_stats = OriginStats(config.run.warmup, config.run.horizon)
        self.shard_measures = None
        if config.cluster.shards > 1:
            srv = config.server
            self.shard_measures = ShardMeasures(
                config.cluster.shards, self.recorder, self.fault_stats, config.run.warmup,
                config.run.duration, srv.service_time.mean + srv.batch_overhead.mean)
        self.nodes = Builder(config, self.env, self.at, self.streams, self.recorder,
                             self.fault_stats, trace, self.visibility,
                             self.origin_stats, self.client_cache, self.shard_measures).build()
        self.master = self.nodes.master
        self.replicas = self.nodes.replicas
        self.cache = self.nodes.cache
        self.clients = self.nodes.clients
        self.cluster = self.nodes.cluster
        self.peers = self.nodes.peers

    def run(self, progress: Progress | None = None) -> dict[str, Any]:
        """Run to the end and summarise. ``progress(now_s, horizon_s)`` is called about
        ``PROGRESS_STEPS`` times along the way when given."""
        # What a run throws away per operation (commands, versions, events) is acyclic and
        # freed by reference counting; the cycle collector would only keep rescanning the
        # run's live objects (about a tenth of the time of a pipelined run), so it is paused
        # for the run and restored after, whatever happens.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(progress)
        finally:
            if collecting:
                gc.enable()

    def _run(self, progress: Progress | None) -> dict[str, Any]:
        wall = time.perf_counter()
        run = self.config.run
        recorder = self.recorder
        end = run.duration
        stopped_by = "duration"
        self._advance(end, progress)
        if run.target_rel_ci > 0:
            # Precision-driven: the measured window doubles until both intervals are narrow
            # enough; each check falls on a whole number of batches, so it is deterministic.
            while True:
                if max(recorder.precision()) <= run.target_rel_ci:
                    stopped_by = "precision"
                    break
                if end >= run.horizon:
                    stopped_by = "max_duration"
                    break
                recorder.extend()
                end = min(recorder.horizon_s, run.horizon)
                self._advance(end, progress)
        recorder.set_horizon(end)
        leader = self.config.replication.mode == "leader"  # quorum mode has no stream to lag
        max_lag = (self.nodes.lag.maximum(end) if leader and self.config.replication.replicas
                   else None)
        if self.cluster is not None:
            self.cluster.finish()
        shards = self.nodes.shards
        if shards is not None:
            shards.finish()
            self.shard_measures.drain()
        summary = recorder.summary(max_lag)
        summary.update(self.fault_stats.summary())
        if run.target_rel_ci > 0:
            stale_rel, latency_rel = recorder.precision()
            summary["precision"] = {
                "target_rel_ci": run.target_rel_ci, "stopped_by": stopped_by,
                "simulated_duration_s": end, "stale_read_rate_rel_ci": _finite(stale_rel),
                "read_latency_mean_rel_ci": _finite(latency_rel)}
        if shards is not None:
            summary.update(self.shard_measures.summary(
                shards.max_lags(end) if self.config.replication.replicas else
                [None] * len(shards.groups), shards.moved_redirects))
        if self.visibility is not None:
            self.nodes.prober.finish(end)
            summary["visibility"] = self.visibility.summary()
        if self.origin_stats is not None:
            summary.update(self.origin_stats.summary(end))
        if self.client_cache is not None:
            self.client_cache.finish(self.clients, self.master, self.replicas, end)
            summary.update(recorder.client_cache_summary())
            summary.update(self.client_cache.summary())
        summary["sim_events"] = next(self.env._eid)
        summary["wall_seconds"] = time.perf_counter() - wall
        summary["config"] = self.config.to_dict()
        return summary

    def _advance(self, end_s: float, progress: Progress | None) -> None:
        if progress is None:
            self._run_to(end_s)
        else:
            step = self.config.run.horizon / PROGRESS_STEPS
            while self.env.now < end_s:
                self._run_to(min(self.env.now + step, end_s))
                progress(self.env.now, self.config.run.horizon)
        self.recorder.reached(end_s)

    def _run_to(self, end_s: float) -> None:
        """Run to ``end_s`` (s) in chunks of events, checking after each chunk that simulated
        time moved: a run whose round trips take next to no time (say a think time of 1e-300
        s and every delay zero) would otherwise loop for ever at one instant."""
        env = self.env
        start = env.now
        while not run_until(env, end_s, EVENTS_PER_CHECK):
            if env.now - start < EVENTS_PER_CHECK / MAX_EVENTS_PER_S:
                raise StalledError(EVENTS_PER_CHECK, env.now - start, env.now,
                                   MAX_EVENTS_PER_S, stall_cause(self.config))
            start = env.now


def _finite(x: float) -> float | None:
    return x if x != float("inf") else None


def simulate(config: Config | None = None, trace=None, keep_model: bool = False,
             progress: Progress | None = None) -> Result:
    """Run one experiment. ``trace(kind, time_s, **fields)`` is called for every model event
    when given (for tests and the trace view); ``keep_model`` keeps the wired components;
    ``progress(now_s, horizon_s)`` hears how far the run has got (simulated seconds)."""
    config = config if config is not None else Config.default()
    if not isinstance(config, Config):
        # A dict here would fail deep inside the model with an AttributeError.
        raise ConfigError("config", type(config).__name__,
                          "a sim.Config; build one with sim.Config.from_dict({...}) or "
                          "sim.Config.default().with_overrides({...})")
    model = Model(config, trace)
    summary = model.run(progress)
    return Result(config=config, summary=summary, model=model if keep_model else None)
