"""Build one experiment from a Config, run it, and return its Result.

Lifecycle: build (streams, nodes, links, clients, workload, recorder) -> run to the horizon
-> finalise (close time-based measures) -> summarise.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.config.schema import Config
from sim.measure.faults import FaultStats
from sim.measure.recorder import Recorder
from sim.model.cache import Cache
from sim.model.client import Client
from sim.model.cluster import Cluster
from sim.model.fault_client import FaultyClient
from sim.model.fault_nodes import FaultyMaster, FaultyReplica
from sim.model.kernel import Link, scheduler
from sim.model.master import Master
from sim.model.replica import Replica
from sim.model.routing import make_fault_router, make_router
from sim.model.streams import (
    Streams,
    exponential_sampler,
    integer_sampler,
    key_sampler,
    uniform_sampler,
)
from sim.model.workload import ClosedLoop, OpenLoop

LAG_SAMPLES_PER_S = 1000.0  # replication-lag sampling rate (simulated samples per second)


@dataclass
class Result:
    """The outcome of one run: ``summary`` is the dict that ``repsim run --json`` prints."""

    config: Config
    summary: dict[str, Any]
    model: Any = field(default=None, repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]


class Model:
    """The wired components of one run (kept on the Result for inspection in notebooks)."""

    def __init__(self, config: Config, trace=None) -> None:
        self.config = config
        self.env = env = simpy.Environment()
        self.at = at = scheduler(env)
        streams = Streams(config.run.seed)
        self.streams = streams
        wl, net, srv, rep, cch, pipe = (config.workload, config.network, config.server,
                                        config.replication, config.cache, config.pipeline)

        def sampler(dist, name):
            return dist.sampler(streams.rng(name))

        self.recorder = Recorder(config.run.warmup, config.run.duration, cch.enabled)
        self.fault_stats = FaultStats(config.run.warmup)
        # Fault-aware nodes only when a fault is scheduled: without one the hot path is the
        # plain classes', event for event.
        faulty = config.faults.active
        master_cls, replica_cls, client_cls = ((FaultyMaster, FaultyReplica, FaultyClient)
                                               if faulty else (Master, Replica, Client))
        self.master = master = master_cls(
            env, at, wl.keys, sampler(srv.batch_overhead, "server.master.overhead"),
            sampler(srv.service_time, "server.master.service"), rep.wait_replicas,
            rep.wait_timeout, trace)
        self.replicas = []
        for j in range(rep.replicas):
            name = f"replica{j}"
            self.replicas.append(replica_cls(
                env, at, j, 1 + j, master, list(master.committed),
                Link(sampler(rep.delay, f"link.master->{name}")),
                sampler(srv.replica_apply_time, f"server.{name}.apply"),
                sampler(srv.batch_overhead, f"server.{name}.overhead"),
                sampler(srv.service_time, f"server.{name}.service"), trace))
        master.replicas = self.replicas
        for replica in self.replicas:
            replica.warmup_s = config.run.warmup
            replica.horizon_s = config.run.duration
        self.cache = None
        if cch.enabled:
            self.cache = Cache(env, at, 1 + rep.replicas, cch.ttl, cch.capacity, cch.on_write,
                               Link(sampler(cch.invalidation_delay, "link.master->cache")), trace)
            if cch.on_write != "none":
                master.cache = self.cache
        self.nodes = [master, *self.replicas] + ([self.cache] if self.cache else [])

        def pick(name):
            return lambda n: integer_sampler(streams.rng(name), n)

        fill_policy = rep.read_policy if cch.fill_from == "read_policy" else cch.fill_from
        if faulty:
            route = make_fault_router(rep.read_policy, self.replicas,
                                      uniform_sampler(streams.rng("routing")))
            fill_route = (route if fill_policy == rep.read_policy else make_fault_router(
                fill_policy, self.replicas, uniform_sampler(streams.rng("routing.fill"))))
        else:
            route = make_router(rep.read_policy, master, self.replicas, pick("routing"))
            fill_route = (route if fill_policy == rep.read_policy else
                          make_router(fill_policy, master, self.replicas, pick("routing.fill")))

        if wl.mode == "closed":
            pipeline = "explicit"
        elif pipe.batch_size > 1 and pipe.linger > 0:
            pipeline = "linger"
        else:
            pipeline = "now"
        self.clients = []
        for c in range(wl.clients):
            client = client_cls(env, at, c, master, self.cache, route, fill_route, self.recorder,
                            pipe.batch_size, pipe.linger, pipeline, trace)
            for node in self.nodes:
                latency = cch.latency if node is self.cache else net.client_latency
                client.up.append(Link(sampler(latency, f"link.client{c}->{node.name}")))
                node.down.append(Link(sampler(latency, f"link.{node.name}->client{c}")))
            self.clients.append(client)
            master.outboxes.append(deque())

        read_key = key_sampler(streams.rng("keys.read"), wl.keys, wl.key_distribution, wl.zipf_s)
        write_key = key_sampler(streams.rng("keys.write"), wl.keys, wl.key_distribution,
                                wl.zipf_s)
        if wl.mode == "closed":
            self.workload = ClosedLoop(
                at, env, self.clients, pipe.batch_size, wl.read_fraction,
                uniform_sampler(streams.rng("closed.kind")),
                sampler(wl.think_time, "closed.think"), wl.think_time.is_zero,
                read_key, write_key)
        else:
            def gap(rate, name):
                return exponential_sampler(streams.rng(name), 1.0 / rate) if rate > 0 else None

            self.workload = OpenLoop(
                at, env, self.clients, gap(wl.read_rate, "arrivals.read"),
                gap(wl.write_rate, "arrivals.write"),
                integer_sampler(streams.rng("clients.read"), wl.clients),
                integer_sampler(streams.rng("clients.write"), wl.clients), read_key, write_key)

        self.cluster = Cluster(self, sampler) if faulty else None

        if self.replicas:
            self._lag_interval = 1.0 / LAG_SAMPLES_PER_S
            at(config.run.warmup, self._on_warmup, None)

    # -- time-based measures ---------------------------------------------------------------

    def _on_warmup(self, ev) -> None:
        now = self.env._now
        for replica in self.replicas:
            replica.max_lag_s = max(replica.max_lag_s, replica.lag(now))
        self._on_lag_sample(ev)

    def _on_lag_sample(self, ev) -> None:
        now = self.env._now
        add = self.recorder.lag.add
        for replica in self.replicas:
            add(replica.lag(now))
        self.at(now + self._lag_interval, self._on_lag_sample, None)

    # -- running -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        wall = time.perf_counter()
        horizon = self.config.run.duration
        self.env.run(until=horizon)
        max_lag = None
        if self.config.replication.replicas:
            # The lag still growing at the horizon counts towards the maximum too; so do
            # the replicas a failover promoted.
            former = self.cluster.former if self.cluster is not None else []
            max_lag = max([r.max_lag_s for r in former]
                          + [max(r.max_lag_s, r.lag(horizon)) for r in self.replicas])
        if self.cluster is not None:
            self.cluster.finish()
        summary = self.recorder.summary(max_lag)
        summary.update(self.fault_stats.summary())
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
