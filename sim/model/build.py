"""The builder: every node of a run made complete, from the configuration, in one place.

Nodes are built with everything they need passed to their constructor (links, samplers,
settings, the cluster when faults are configured); nothing is set on a node from outside
afterwards. A failover reuses the same builder for the nodes a role change needs: the master a
promoted replica's host becomes, and the replica a recovered or deposed master's host becomes.

Every source of randomness draws from its own named stream (:mod:`sim.model.streams`), named
after what it drives (``link.client0->replica1``, ``server.master.service``, ``routing``), so a
change to one part of the configuration leaves the samples of every other part alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.schema import Config
from sim.model.cache import Cache
from sim.model.client import Client
from sim.model.cluster import Cluster, ResyncSettings
from sim.model.kernel import Link
from sim.model.lag import LagMonitor
from sim.model.master import Master
from sim.model.records import Version
from sim.model.replica import Replica
from sim.model.routing import Router
from sim.model.sentinel import Sentinel
from sim.model.streams import (
    Streams,
    exponential_sampler,
    integer_sampler,
    key_sampler,
    uniform_sampler,
)
from sim.model.workload import ClosedLoop, OpenLoop


@dataclass
class Nodes:
    """The wired components of one run. ``replicas`` is the live list of replicas (a failover
    changes it in place); ``cluster`` is None without faults."""

    master: Master
    replicas: list[Replica]
    cache: Cache | None
    clients: list[Client]
    workload: OpenLoop | ClosedLoop
    lag: LagMonitor
    cluster: Cluster | None


class Builder:
    """Builds the nodes of one run from ``config`` on ``env`` (``at`` is its scheduler)."""

    def __init__(self, config: Config, env, at, streams: Streams, recorder, fault_stats,
                 trace=None) -> None:
        self.config = config
        self.env = env
        self.at = at
        self.streams = streams
        self.recorder = recorder
        self.fault_stats = fault_stats
        self.trace = trace
        self.cluster: Cluster | None = None
        self.lag: LagMonitor | None = None

    def sampler(self, dist, name: str):
        """A no-argument sampler of ``dist`` drawing from the stream called ``name``."""
        return dist.sampler(self.streams.rng(name))

    def _down(self, node: str, latency) -> list[Link]:
        return [Link(self.sampler(latency, f"link.{node}->client{c}"))
                for c in range(self.config.workload.clients)]

    # -- the whole run ----------------------------------------------------------------------

    def build(self) -> Nodes:
        cfg = self.config
        wl, net, srv, rep, cch, pipe = (cfg.workload, cfg.network, cfg.server,
                                        cfg.replication, cfg.cache, cfg.pipeline)
        env, at, trace = self.env, self.at, self.trace
        replicas: list[Replica] = []
        self.lag = LagMonitor(env, at, replicas, cfg.run.warmup, cfg.run.duration,
                              self.recorder.lag.add)
        if cfg.faults.active:
            self.cluster = self._cluster()

        cache = None
        cache_id = 1 + rep.replicas
        if cch.enabled:
            cache = Cache(env, at, cache_id, cch.ttl, cch.capacity, cch.on_write,
                          Link(self.sampler(cch.invalidation_delay, "link.master->cache")),
                          self._down("cache", cch.latency), trace)
        master = Master(
            env, at, 0, "master", [Version(k, 0, 0.0, 0) for k in range(wl.keys)], 0,
            self._down("master", net.client_latency),
            self.sampler(srv.batch_overhead, "server.master.overhead"),
            self.sampler(srv.service_time, "server.master.service"),
            rep.wait_replicas, rep.wait_timeout, rep.min_replicas_to_write,
            rep.min_replicas_max_lag,
            cache=cache if cache is not None and cch.on_write != "none" else None,
            cluster=self.cluster, trace=trace)
        for j in range(rep.replicas):
            name = f"replica{j}"
            replicas.append(Replica(
                env, at, 1 + j, name, master, list(master.committed),
                Link(self.sampler(rep.delay, f"link.master->{name}")),
                self._down(name, net.client_latency),
                self.sampler(srv.replica_apply_time, f"server.{name}.apply"),
                self.sampler(srv.batch_overhead, f"server.{name}.overhead"),
                self.sampler(srv.service_time, f"server.{name}.service"), self.lag,
                cluster=self.cluster, trace=trace, send_time=self._send_time()))

        routers = [Router(rep.read_policy, replicas, self.streams.rng("routing"))]
        fill_policy = rep.read_policy if cch.fill_from == "read_policy" else cch.fill_from
        if fill_policy != rep.read_policy:
            routers.append(Router(fill_policy, replicas, self.streams.rng("routing.fill")))
        route, fill_route = routers[0].route, routers[-1].route
        if wl.mode == "closed":
            pipeline = "explicit"
        elif pipe.batch_size > 1 and pipe.linger > 0:
            pipeline = "linger"
        else:
            pipeline = "now"
        nodes = [master, *replicas] + ([cache] if cache is not None else [])
        clients = []
        for c in range(wl.clients):
            up = [Link(self.sampler(cch.latency if node is cache else net.client_latency,
                                    f"link.client{c}->{node.name}")) for node in nodes]
            clients.append(Client(env, at, c, master, cache, route, fill_route, self.recorder,
                                  self.fault_stats, up, pipe.batch_size, pipe.linger, pipeline,
                                  trace))

        workload = self._workload(clients)
        if self.cluster is not None:
            hosts = {"master": 0, **{f"replica{j}": 1 + j for j in range(rep.replicas)}}
            self.cluster.start(master, replicas, clients, routers, hosts)
        self.lag.start()
        return Nodes(master, replicas, cache, clients, workload, self.lag, self.cluster)

    def _send_time(self) -> float:
        """Seconds one write takes to leave the master's output buffer (0 = no limit)."""
        bandwidth = self.config.replication.stream_bandwidth
        return self.config.workload.value_size / bandwidth if bandwidth > 0 else 0.0

    def _cluster(self) -> Cluster:
        cfg = self.config
        wl, rep = cfg.workload, cfg.replication
        settings = ResyncSettings(
            wl.value_size, rep.backlog_size, wl.keys * wl.value_size, rep.bandwidth,
            self.sampler(rep.snapshot_load_time, "faults.snapshot_load"), rep.serve_stale_data,
            rep.diskless_sync_delay)
        faults, srv = cfg.faults, cfg.server
        if faults.sentinel:
            delay = None
            sentinel = Sentinel(faults, uniform_sampler(self.streams.rng("faults.sentinel")))
        else:
            delay = self.sampler(faults.failover_timeout, "faults.failover")
            sentinel = None
        every = srv.snapshot_interval if srv.persistence == "rdb" else srv.fsync_interval
        return Cluster(self.env, self.at, faults, settings, delay, self.fault_stats, self,
                       cfg.run.duration, self.trace, sentinel, (srv.persistence, every))

    def _workload(self, clients: list[Client]) -> OpenLoop | ClosedLoop:
        wl, streams = self.config.workload, self.streams
        read_key = key_sampler(streams.rng("keys.read"), wl.keys, wl.key_distribution, wl.zipf_s)
        write_key = key_sampler(streams.rng("keys.write"), wl.keys, wl.key_distribution,
                                wl.zipf_s)
        if wl.mode == "closed":
            return ClosedLoop(
                self.at, self.env, clients, self.config.pipeline.batch_size, wl.read_fraction,
                uniform_sampler(streams.rng("closed.kind")),
                self.sampler(wl.think_time, "closed.think"), wl.think_time.is_zero,
                read_key, write_key)

        def gap(rate, name):
            return exponential_sampler(streams.rng(name), 1.0 / rate) if rate > 0 else None

        return OpenLoop(
            self.at, self.env, clients, gap(wl.read_rate, "arrivals.read"),
            gap(wl.write_rate, "arrivals.write"),
            integer_sampler(streams.rng("clients.read"), wl.clients),
            integer_sampler(streams.rng("clients.write"), wl.clients), read_key, write_key)

    # -- role changes (called by the cluster) -------------------------------------------------

    def promoted(self, replica: Replica, old: Master) -> Master:
        """The master ``replica``'s host becomes: its data, thread and links; the settings of
        the master it replaces. The store already holds every write that reached the replica
        (results are fixed at enqueue); those still queued are applied on this thread before
        any new command, which ``busy_until`` carries over."""
        rep = self.config.replication
        return Master(
            self.env, self.at, replica.node_id, replica.name, list(replica.store),
            replica.arrived_offset, replica.down, replica.overhead, replica.service,
            rep.wait_replicas, rep.wait_timeout, rep.min_replicas_to_write,
            rep.min_replicas_max_lag, cache=old.cache, cluster=self.cluster, trace=self.trace,
            busy_until=replica.busy_until)

    def restarted(self, old: Master, data: list[Version], offset: int) -> Master:
        """The master ``old``'s host becomes when its redis-server starts again, holding
        ``data`` (what persistence kept) at replication ``offset``, with no replicas."""
        rep = self.config.replication
        return Master(
            self.env, self.at, old.node_id, old.name, data, offset, old.down, old.overhead,
            old.service, rep.wait_replicas, rep.wait_timeout, rep.min_replicas_to_write,
            rep.min_replicas_max_lag, cache=old.cache, cluster=self.cluster, trace=self.trace,
            busy_until=self.env.now)

    def rejoined(self, old: Master, office: Master, office_since_s: float) -> Replica:
        """The replica ``old``'s host becomes under ``office``: it holds the old master's
        data, so it lacks every write of its new master since ``office_since_s``, has no
        offset in its stream yet, and needs a full resync (the cluster connects it)."""
        name = old.name
        return Replica(
            self.env, self.at, old.node_id, name, office, list(old.committed),
            Link(self.sampler(self.config.replication.delay, f"link.{office.name}->{name}")),
            old.down, self.sampler(self.config.server.replica_apply_time,
                                   f"server.{name}.apply"),
            old.overhead, old.service, self.lag, cluster=self.cluster, trace=self.trace,
            arrived_offset=0, synced=False, missing_since=office_since_s, force_full=True,
            send_time=self._send_time())
