"""Build one experiment from a Config, run it, and return its Result.

Lifecycle: build (streams, nodes, links, clients, workload, recorder) -> run to the horizon
-> finalise (close time-based measures) -> summarise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.config.schema import Config
from sim.measure.faults import FaultStats
from sim.measure.recorder import Recorder
from sim.measure.visibility import VisibilityStats
from sim.model.build import Builder
from sim.model.kernel import scheduler
from sim.model.probes import probe_offsets
from sim.model.streams import Streams


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
        self.recorder = Recorder(config.run.warmup, config.run.duration, config.cache.enabled)
        self.fault_stats = FaultStats(config.run.warmup)
        self.visibility = None
        if config.metrics.visibility_probes:
            self.visibility = VisibilityStats(
                probe_offsets(config, self.streams.rng("probe.horizon")), config.run.warmup,
                config.run.duration)
        self.nodes = Builder(config, self.env, self.at, self.streams, self.recorder,
                             self.fault_stats, trace, self.visibility).build()
        self.master = self.nodes.master
        self.replicas = self.nodes.replicas
        self.cache = self.nodes.cache
        self.clients = self.nodes.clients
        self.cluster = self.nodes.cluster
        self.peers = self.nodes.peers

    def run(self) -> dict[str, Any]:
        wall = time.perf_counter()
        self.env.run(until=self.config.run.duration)
        leader = self.config.replication.mode == "leader"  # quorum mode has no stream to lag
        max_lag = self.nodes.lag.maximum() if leader and self.config.replication.replicas \
            else None
        if self.cluster is not None:
            self.cluster.finish()
        summary = self.recorder.summary(max_lag)
        summary.update(self.fault_stats.summary())
        if self.visibility is not None:
            summary["visibility"] = self.visibility.summary()
        summary["sim_events"] = next(self.env._eid)
        summary["wall_seconds"] = time.perf_counter() - wall
        summary["config"] = self.config.to_dict()
        return summary


def simulate(config: Config | None = None, trace=None, keep_model: bool = False) -> Result:
    """Run one experiment. ``trace(kind, time_s, **fields)`` is called for every model event
    when given (for tests and the trace view); ``keep_model`` keeps the wired components."""
    config = config if config is not None else Config.default()
    model = Model(config, trace)
    summary = model.run()
    return Result(config=config, summary=summary, model=model if keep_model else None)
