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

from dataclasses import dataclass, field, replace

from sim.config.distributions import Constant
from sim.config.schema import Config
from sim.model.cache import Cache
from sim.model.client import Client
from sim.model.expiry import Clock, MasterExpiry, ReplicaExpiry
from sim.model.faults.cluster import Cluster, ResyncSettings
from sim.model.faults.redis_cluster import Coverage, Redirects, ShardFaults
from sim.model.kernel import IndependentLink, LazyLinks, Link, QueueLimit, Thread
from sim.model.lag import LagMonitor
from sim.model.local_cache import LocalCache
from sim.model.master import Master, WriteRules
from sim.model.origin import Origin
from sim.model.probes import Changes, LeaderPath, Prober, QuorumPath
from sim.model.quorum import Coordinator, Peer
from sim.model.records import Host, Keyspace, Version
from sim.model.replica import Replica
from sim.model.routing import Router
from sim.model.sentinel import Sentinel
from sim.model.shards import Group, LagClock, ShardedClient, Shards
from sim.model.slots import shard_of_keys
from sim.model.stampede import Policy
from sim.model.streams import (
    Streams,
    exponential_sampler,
    integer_sampler,
    key_sampler,
    key_taker,
    uniform_sampler,
    uniform_taker,
)
from sim.model.tracking import Tracking
from sim.model.workload import ClosedLoop, OpenLoop
from sim.model.ycsb import LatestKeys


@dataclass
class Nodes:
    """The wired components of one run. ``replicas`` is the live list of replicas (a failover
    changes it in place); ``cluster`` is None without faults. A sharded run has ``shards``
    (its groups; ``master``, ``replicas`` are shard 0's, ``lag`` is the shards', ``cluster``
    None). In quorum mode ``master`` is the clients' :class:`Coordinator`, ``replicas`` is empty and ``peers`` holds the N peers.
    ``origin`` is the database behind the cache (``cache.fill_from = "origin"``), else None."""

    master: Master | Coordinator
    replicas: list[Replica]
    cache: Cache | None
    clients: list[Client]
    workload: OpenLoop | ClosedLoop
    lag: LagMonitor
    cluster: Cluster | None
    peers: list[Peer] = field(default_factory=list)
    prober: Prober | None = None
    origin: Origin | None = None
    shards: Shards | None = None


class Builder:
    """Builds the nodes of one run from ``config`` on ``env`` (``at`` is its scheduler)."""

    def __init__(self, config: Config, env, at, streams: Streams, recorder, fault_stats,
                 trace=None, visibility=None, origin_stats=None, client_cache=None,
                 shards=None, shard: int | None = None) -> None:
        self.config = config
        self.shards = shards  # the ShardMeasures of a sharded run (cluster.shards > 1)
        self.shard = shard  # the shard a group builder builds (None: the run's builder)
        self.env = env
        self.at = at
        self.streams = streams
        self.recorder = recorder
        self.fault_stats = fault_stats
        self.trace = trace
        self.visibility = visibility  # a VisibilityStats when metrics.visibility_probes
        self.origin_stats = origin_stats  # an OriginStats when cache.fill_from = "origin"
        self.client_cache = client_cache  # a ClientCacheStats when client_cache.enabled
        self.clients: list[Client] = []  # filled once built: the tracking tables' clients
        self.cluster: Cluster | None = None
        self.lag: LagMonitor | None = None
        self.prober: Prober | None = None

    def sampler(self, dist, name: str):
        """A no-argument sampler of ``dist`` drawing from the stream called ``name``."""
        return dist.sampler(self.streams.rng(name))

    def _queue_limit(self, *costs) -> QueueLimit:
        """``run.max_queue`` commands of the dearest kind this server runs (mean seconds)."""
        return QueueLimit(self.config.run.max_queue, max(costs))

    def _down(self, node: str, latency) -> LazyLinks:
        """``node``'s links to the clients, by client index."""
        return LazyLinks(lambda c: Link(self.sampler(latency, f"link.{node}->client{c}"),
                                        self.env))

    def _host(self, node_id: int, name: str, limit: QueueLimit) -> Host:
        """A machine of the leader-mode group: its links down to the clients, its cost
        samplers (each on a stream named after it) and its thread."""
        srv = self.config.server
        return Host(node_id, name, self._down(name, self.config.network.client_latency),
                    self.sampler(srv.batch_overhead, f"server.{name}.overhead"),
                    self.sampler(srv.service_time, f"server.{name}.service"),
                    self.sampler(srv.replica_apply_time, f"server.{name}.apply"),
                    Thread(name, limit))

    def _master_limit(self) -> QueueLimit:
        srv = self.config.server
        return self._queue_limit(srv.service_time.mean + srv.batch_overhead.mean)

    def _write_rules(self) -> WriteRules:
        rep = self.config.replication
        return WriteRules(rep.wait_replicas, rep.wait_timeout, rep.min_replicas_to_write,
                          rep.min_replicas_max_lag)

    # -- the whole run ----------------------------------------------------------------------

    def _name(self, node: str) -> str:
        """A node's name: ``master``, ``replica0``, ... in one group, ``shard1.master``, ...
        in a sharded run (streams are named after nodes, so one group keeps its streams)."""
        return node if self.shard is None else f"shard{self.shard}.{node}"

    def build(self) -> Nodes:
        cfg = self.config
        wl, net, rep, cch, pipe = (cfg.workload, cfg.network, cfg.replication, cfg.cache,
                                   cfg.pipeline)
        env, at, trace = self.env, self.at, self.trace
        if cfg.cluster.shards > 1:
            return self._build_shards()
        replicas: list[Replica] = []
        self.lag = LagMonitor(env, at, replicas, cfg.run.warmup, cfg.run.horizon,
                              self.recorder.lag.add)
        if cfg.faults.strikes_before(cfg.run.horizon):
            self.cluster = self._cluster()
        if self.visibility is not None:
            self.prober = self._prober()
        on_commit = self.prober.on_commit if self.prober is not None else None

        pipeline = self._pipeline()
        cache_id = 1 + rep.replicas
        cache, origin = self._cache_and_origin(
            cache_id, pipeline, self.prober.cache_changes if self.prober is not None else None)
        if rep.mode == "quorum":
            return self._build_quorum(cache, on_commit)
        master, routers = self._group(0, cache, on_commit)
        fill_policy = rep.read_policy if cch.fill_from == "read_policy" else cch.fill_from
        route, fill_route = routers[0].route, routers[-1].route
        names = {node.node_id: node.name for node in [master, *replicas]}
        if origin is not None:
            names[origin.node_id] = origin.name

            def fill_route(client, key, now):
                return origin

        up = self._up(names, cache)
        clients = self.clients
        clients.extend(Client(env, at, c, master, cache, route, fill_route, self.recorder,
                              self.fault_stats, up(c), pipe.batch_size, pipe.linger, pipeline,
                              trace, local=self._local_cache(c))
                       for c in range(wl.clients))

        workload = self._workload(clients)
        if self.cluster is not None:
            hosts = {"master": 0, **{f"replica{j}": 1 + j for j in range(rep.replicas)}}
            self.cluster.start(master, replicas, clients, routers, hosts)
        if self.prober is not None:
            rng = self.streams.rng
            self._wire_prober(cache, LeaderPath(
                replicas, clients, rep.read_policy, fill_policy, rng("probe.routing"),
                rng("probe.routing.fill"), (net.client_latency, rng("probe.network"))))
        self.lag.start()
        return Nodes(master, replicas, cache, clients, workload, self.lag, self.cluster,
                     prober=self.prober, origin=origin)

    def _up(self, names: dict[int, str], cache: Cache | None):
        """``up(c)``: client ``c``'s links to the nodes named in ``names`` and the cache, by
        node id, each on the stream of its two ends."""
        cch, net = self.config.cache, self.config.network
        if cache is not None:
            names[cache.node_id] = cache.name
        cache_id = cache.node_id if cache is not None else None

        def up(c: int) -> LazyLinks:
            return LazyLinks(lambda node_id: Link(self.sampler(
                cch.latency if node_id == cache_id else net.client_latency,
                f"link.client{c}->{names[node_id]}"), self.env))

        return up

    def _group(self, base_id: int, cache: Cache | None, on_commit) -> tuple[Master, list[Router]]:
        """A master and its replicas (into ``self.lag.replicas``), host ids from ``base_id``,
        and the routers over those replicas: reads, then fills when they route otherwise."""
        cfg = self.config
        rep, cch = cfg.replication, cfg.cache
        env, at, trace = self.env, self.at, self.trace
        replicas = self.lag.replicas
        name = self._name("master")
        host = self._host(base_id, name, self._master_limit())
        master = Master(
            env, at, host, Keyspace({}), 0, self._write_rules(),
            cache=cache if cache is not None and cch.on_write != "none" else None,
            cluster=self.cluster, trace=trace, on_commit=on_commit,
            expiry=self._master_expiry(), tracking=self._tracking(name, host))
        for j in range(rep.replicas):
            name = self._name(f"replica{j}")
            host = self._host(base_id + 1 + j, name, self._replica_limit())
            replicas.append(Replica(
                env, at, host, master, master.committed.copy(),
                Link(self.sampler(rep.delay, f"link.{master.name}->{name}"), self.env),
                self.lag, cluster=self.cluster, trace=trace, send_time=self._send_time(),
                expiry=self._replica_expiry(base_id + 1 + j),
                tracking=self._tracking(name, host)))
        routing = "routing" if self.shard is None else f"routing.shard{self.shard}"
        routers = [Router(rep.read_policy, replicas, self.streams.rng(routing))]
        fill_policy = rep.read_policy if cch.fill_from == "read_policy" else cch.fill_from
        if fill_policy not in (rep.read_policy, "origin"):
            routers.append(Router(fill_policy, replicas, self.streams.rng(routing + ".fill")))
        return master, routers

    def _build_shards(self) -> Nodes:
        """``cluster.shards`` groups, each built by a group builder of its own (its names,
        streams, lag monitor and fault schedule), the keys spread over them by hash slot,
        and one :class:`ShardedClient` per client holding a part for every shard."""
        cfg = self.config
        wl, rep, pipe = cfg.workload, cfg.replication, cfg.pipeline
        env, at, trace, measures = self.env, self.at, self.trace, self.shards
        n_shards, per_group = cfg.cluster.shards, 1 + rep.replicas
        pipeline = self._pipeline()
        cache_id = n_shards * per_group
        cache, origin = self._cache_and_origin(cache_id, pipeline, None)
        faulty = cfg.faults.strikes_before(cfg.run.horizon)
        quiet = replace(cfg.faults, master_crash_at=(), replica_disconnects=(), partitions=())
        coverage, redirects = Coverage(cfg.cluster.require_full_coverage), Redirects()
        groups, names = [], {}
        for s in range(n_shards):
            part = Builder(cfg, env, at, self.streams, measures.taps[s], measures.faults[s],
                           trace, shard=s)
            faults = (cfg.faults if s == cfg.faults.shard else quiet) if faulty else None
            master, routers = part._shard_group(s * per_group, cache, measures.lag_recorder(s),
                                                faults, coverage, redirects)
            groups.append((part, master, routers))
            names.update({node.node_id: node.name for node in [master, *part.lag.replicas]})
        if origin is not None:  # one database behind the cache, whatever the key's shard
            names[origin.node_id] = origin.name

            def fill(client, key, now):
                return origin
        up = self._up(names, cache)
        parts: list[list[Client]] = [[] for _ in range(n_shards)]
        clients = []
        owner = shard_of_keys(wl.keys, n_shards)
        for c in range(wl.clients):
            links = up(c)
            mine = [Client(env, at, c, master, cache, routers[0].route,
                           routers[-1].route if origin is None else fill,
                           part.recorder, part.fault_stats, links, pipe.batch_size, pipe.linger,
                           pipeline, trace)
                    for part, master, routers in groups]
            for s, client in enumerate(mine):
                parts[s].append(client)
            clients.append(ShardedClient(c, mine, owner))
        workload = self._workload(clients)
        shard_groups = []
        for s, (part, master, routers) in enumerate(groups):
            replicas = part.lag.replicas
            if part.cluster is not None:
                hosts = {"master": s * per_group,
                         **{f"replica{j}": s * per_group + 1 + j for j in range(rep.replicas)}}
                part.cluster.start(master, replicas, parts[s], routers, hosts)
            shard_groups.append(Group(master, replicas, part.lag, part.cluster, parts[s]))
        LagClock(env, at, [group.lag for group in shard_groups], cfg.run.warmup).start()
        shards = Shards(shard_groups, owner, redirects)
        first = shard_groups[0]
        return Nodes(first.master, first.replicas, cache, clients, workload, shards, None,
                     origin=origin, shards=shards)

    def _shard_group(self, base_id: int, cache: Cache | None, record, faults,
                     coverage: Coverage, redirects: Redirects) -> tuple[Master, list[Router]]:
        """A group builder's shard: its lag monitor (``record(lag_s)`` takes the samples),
        its fault schedule when ``faults`` is given (the shard's, or one that schedules
        nothing), then its nodes and routers (:meth:`_group`)."""
        cfg = self.config
        self.lag = LagMonitor(self.env, self.at, [], cfg.run.warmup, cfg.run.horizon, record)
        if faults is not None:
            self.cluster = ShardFaults(
                self.env, self.at, faults, self._resync_settings(), self.fault_stats, self,
                cfg.run.horizon, self.trace, self.shard, base_id, cfg.cluster, coverage,
                uniform_sampler(self.streams.rng(f"faults.cluster.shard{self.shard}")),
                redirects)
        return self._group(base_id, cache, None)

    def _origin(self, node_id: int) -> Origin:
        cfg = self.config
        latency = cfg.network.client_latency
        return Origin(self.env, self.at, node_id, cfg.origin.servers,
                      self.sampler(cfg.origin.recompute_time, "origin.recompute"),
                      cfg.run.max_queue, self._down("origin", latency),
                      Link(self.sampler(latency, "link.origin->cache"), self.env),
                      self.origin_stats)

    def _stampede(self, origin: Origin) -> Policy:
        cch = self.config.cache
        return Policy(cch.stampede, cch.lease_interval, cch.lease_wait, cch.xfetch_beta,
                      uniform_sampler(self.streams.rng("cache.xfetch")), origin,
                      Link(self.sampler(self.config.network.client_latency,
                                        "link.cache->origin"), self.env),
                      self.origin_stats)

    def _ttl_jitter(self):
        """None without jitter, else a sampler of a set's TTL offset, uniform in +- jitter (s)."""
        jitter = self.config.cache.ttl_jitter
        if not jitter:
            return None
        uniform = uniform_sampler(self.streams.rng("cache.ttl_jitter"))
        return lambda: jitter * (2.0 * uniform() - 1.0)

    def _build_quorum(self, cache: Cache | None, on_commit) -> Nodes:
        """Quorum mode: N peers, one coordinator in front of them for every client (it is
        each client's ``master``: the node writes go to and V(k, t) is read from), reads
        routed to it; the replication stream, its lag and WAIT do not exist."""
        cfg = self.config
        wl, net, srv, q = cfg.workload, cfg.network, cfg.server, cfg.quorum
        env, at, n_clients = self.env, self.at, wl.clients
        delay = {name: q.delay(name, net.client_latency)
                 for name in ("write", "ack", "read", "response")}
        committed = Keyspace({})  # sparse, as in leader mode: version 0 shared by all
        n_peers = cfg.replication.replicas
        changes = Changes() if self.prober is not None else None  # what probes read

        make = Link if q.link_order == "fifo" else IndependentLink

        def link(kind: str, c: int, j: int, name: str) -> Link:
            sample = self.sampler(delay[kind], name)
            if q.remote_delay and c % n_peers != j:  # another datacenter
                extra = q.remote_delay
                return make(lambda: sample() + extra)
            return make(sample)

        def back(kind: str, j: int) -> LazyLinks:
            """Peer ``j``'s ``kind`` links to the clients, by client index."""
            return LazyLinks(lambda c: link(kind, c, j, f"link.peer{j}->client{c}.{kind}"))

        peers = [Peer(env, at, j, committed.copy(),
                      self.sampler(srv.batch_overhead, f"server.peer{j}.overhead"),
                      self.sampler(srv.service_time, f"server.peer{j}.service"),
                      back("ack", j), back("response", j), changes)
                 for j in range(n_peers)]

        def links(kind: str) -> LazyLinks:
            """Each client's ``kind`` links to the N peers, by client index."""
            return LazyLinks(lambda c: [link(kind, c, peer.index,
                                             f"link.client{c}->{peer.name}.{kind}")
                                        for peer in peers])

        coordinator = Coordinator(
            env, at, committed, peers, q.read, q.write, links("write"), links("read"),
            q.read_repair,
            cache=cache if cache is not None and cfg.cache.on_write != "none" else None,
            on_commit=on_commit, trace=self.trace)
        route = Router("master", [], self.streams.rng("routing")).route
        zero = Constant(0.0)

        def up(c: int) -> LazyLinks:
            """By node id: the coordinator (in the client's process: no delay), the cache
            (the peers are not reached directly)."""
            return LazyLinks(lambda node_id: Link(
                zero.sampler(None) if node_id == coordinator.node_id
                else self.sampler(cfg.cache.latency, f"link.client{c}->cache"), self.env))

        clients = [Client(env, at, c, coordinator, cache, route, route, self.recorder,
                          self.fault_stats, up(c), cfg.pipeline.batch_size, cfg.pipeline.linger,
                          self._pipeline(), self.trace)
                   for c in range(n_clients)]
        workload = self._workload(clients)
        if self.prober is not None:
            rng = self.streams.rng
            self._wire_prober(cache, QuorumPath(coordinator, {
                "read": (delay["read"], rng("probe.read")),
                "overhead": (srv.batch_overhead, rng("probe.overhead")),
                "service": (srv.service_time, rng("probe.service")),
                "response": (delay["response"], rng("probe.response"))}, q.remote_delay,
                changes))
        return Nodes(coordinator, [], cache, clients, workload, self.lag, None, peers,
                     self.prober)

    def _clock(self, node_id: int) -> Clock:
        return Clock(*self.config.clocks.clock(node_id))

    def _master_expiry(self) -> MasterExpiry | None:
        """The store's TTL at the master (None without ``workload.key_ttl``): its draws come
        from streams of their own, so the rest of the run keeps its samples."""
        cfg = self.config
        wl = cfg.workload
        if wl.key_ttl <= 0:
            return None
        share = wl.ttl_share
        if share >= 1.0:
            def carries() -> bool:
                return True
        else:
            draw = uniform_sampler(self.streams.rng("expiry.ttl_share"))

            def carries() -> bool:
                return draw() < share
        stats = self.recorder.expiry
        expiry = MasterExpiry(self.at, self._clock(0), wl.key_ttl, carries,
                              uniform_sampler(self.streams.rng("expiry.sample")),
                              cfg.server.service_time.mean, cfg.server.hz, stats.held,
                              cfg.run.horizon)
        stats.watch(expiry.index.advance)
        return expiry

    def _replica_expiry(self, node_id: int) -> ReplicaExpiry | None:
        if self.config.workload.key_ttl <= 0:
            return None
        return ReplicaExpiry(self._clock(node_id), self.config.replication.replica_expiry)

    def _tracking(self, name: str, host: Host) -> Tracking | None:
        """``name``'s CLIENT TRACKING, when the clients keep a local cache: its
        invalidations travel on the data connections (``same``) or on a FIFO link of their
        own to each client (``redirect``, a stream per link, made on first use)."""
        cc = self.config.client_cache
        if not cc.enabled:
            return None
        links = host.down if cc.connection == "same" else LazyLinks(
            lambda c: Link(self.sampler(self.config.network.client_latency,
                                        f"link.{name}->client{c}.invalidate")))
        return Tracking(self.at, name, cc.mode, cc.tracking_table_max_keys, links,
                        self.clients, uniform_sampler(self.streams.rng(f"tracking.{name}")),
                        self.client_cache, self.trace)

    def _local_cache(self, c: int) -> LocalCache | None:
        """Client ``c``'s own cache (``[client_cache]``), or None."""
        cc = self.config.client_cache
        if not cc.enabled:
            return None
        optin = (uniform_sampler(self.streams.rng(f"client_cache.optin.client{c}"))
                 if cc.mode == "optin" else None)
        return LocalCache(f"client{c}", cc.capacity, cc.max_ttl, cc.placeholder, optin,
                          cc.optin_share, self.trace)

    def _cache_and_origin(self, cache_id: int, pipeline: str, changes):
        """The shared cache (None when ``cache.enabled`` is off) as node ``cache_id``, and the
        origin behind it as the next node (None unless ``cache.fill_from = "origin"``);
        ``changes`` is the visibility probes' log of cache entries, or None."""
        cch = self.config.cache
        origin = self._origin(cache_id + 1) if cch.fill_from == "origin" else None
        if not cch.enabled:
            return None, origin
        cache = Cache(self.env, self.at, cache_id, cch.ttl, cch.capacity, cch.on_write,
                      Link(self.sampler(cch.invalidation_delay, "link.master->cache"), self.env),
                      self._down("cache", cch.latency), self.trace,
                      direct_hits=pipeline == "now" and origin is None,
                      jitter=self._ttl_jitter(),
                      stampede=None if origin is None else self._stampede(origin),
                      changes=changes)
        return cache, origin

    def _pipeline(self) -> str:
        wl, pipe = self.config.workload, self.config.pipeline
        if wl.mode == "closed":
            return "explicit"
        if pipe.batch_size > 1 and pipe.linger > 0:
            return "linger"
        return "now"

    def _prober(self) -> Prober:
        cfg, streams = self.config, self.streams
        return Prober(self.env, self.at, self.visibility.offsets_s, cfg.metrics.visibility_share,
                      uniform_sampler(streams.rng("probe.share")), streams.rng("probe.clients"),
                      cfg.workload.clients, cfg.run.warmup, cfg.run.duration, self.visibility)

    def _wire_prober(self, cache: Cache | None, path) -> None:
        self.prober.wire(cache, (self.config.cache.latency, self.streams.rng("probe.cache")),
                         path)

    def _replica_limit(self) -> QueueLimit:
        srv = self.config.server
        return self._queue_limit(srv.service_time.mean + srv.batch_overhead.mean,
                                 srv.replica_apply_time.mean)

    def _send_time(self) -> float:
        """Seconds one write takes to leave the master's output buffer (0 = no limit)."""
        bandwidth = self.config.replication.stream_bandwidth
        return self.config.workload.value_size / bandwidth if bandwidth > 0 else 0.0

    def _resync_settings(self) -> ResyncSettings:
        wl, rep = self.config.workload, self.config.replication
        load = ("faults.snapshot_load" if self.shard is None
                else f"faults.snapshot_load.shard{self.shard}")
        return ResyncSettings(
            wl.value_size, rep.backlog_size, wl.keys * wl.value_size, rep.bandwidth,
            self.sampler(rep.snapshot_load_time, load), rep.serve_stale_data,
            rep.diskless_sync_delay)

    def _cluster(self) -> Cluster:
        cfg = self.config
        settings = self._resync_settings()
        faults, srv = cfg.faults, cfg.server
        if faults.sentinel:
            delay = None
            sentinel = Sentinel(faults, uniform_sampler(self.streams.rng("faults.sentinel")))
        else:
            delay = self.sampler(faults.failover_timeout, "faults.failover")
            sentinel = None
        every = srv.snapshot_interval if srv.persistence == "rdb" else srv.fsync_interval
        return Cluster(self.env, self.at, faults, settings, delay, self.fault_stats, self,
                       cfg.run.horizon, self.trace, sentinel, (srv.persistence, every))

    def _workload(self, clients: list[Client]) -> OpenLoop | ClosedLoop:
        wl, streams = self.config.workload, self.streams
        keys = (wl.keys, wl.key_distribution, wl.zipf_s)
        # YCSB's "latest": reads follow the inserts, so both sides share one state.
        latest = (LatestKeys(streams.rng("keys.read"), wl.keys, wl.zipf_s)
                  if wl.key_distribution == "latest" else None)
        if wl.mode == "closed":
            return ClosedLoop(
                self.at, self.env, clients, self.config.pipeline.batch_size, wl.read_fraction,
                uniform_taker(streams.rng("closed.kind")),
                self.sampler(wl.think_time, "closed.think"), wl.think_time.is_zero,
                latest.reads if latest else key_taker(streams.rng("keys.read"), *keys),
                latest.writes if latest else key_taker(streams.rng("keys.write"), *keys))
        read_key = latest.read if latest else key_sampler(streams.rng("keys.read"), *keys)
        write_key = latest.write if latest else key_sampler(streams.rng("keys.write"), *keys)

        def gap(rate, name):
            return exponential_sampler(streams.rng(name), 1.0 / rate) if rate > 0 else None

        return OpenLoop(
            self.at, self.env, clients, gap(wl.read_rate, "arrivals.read"),
            gap(wl.write_rate, "arrivals.write"),
            integer_sampler(streams.rng("clients.read"), wl.clients),
            integer_sampler(streams.rng("clients.write"), wl.clients), read_key, write_key)

    # -- role changes (called by the cluster) -------------------------------------------------

    def promoted(self, replica: Replica, old: Master) -> Master:
        """The master ``replica``'s host becomes: its data, links and cost samplers, its
        thread's backlog (commands still queued there are served before any new one) under
        the master's queue bound; the settings of the master it replaces. The store already
        holds every write that reached the replica (results are fixed at enqueue)."""
        host = replica.host
        thread = Thread(host.name, old.thread.limit, host.thread.busy_until)
        return Master(
            self.env, self.at, Host(host.node_id, host.name, host.down, host.overhead,
                                    host.service, host.apply_time, thread),
            replica.store.copy(), replica.arrived_offset, old.rules, cache=old.cache,
            cluster=old.cluster, trace=self.trace)

    def restarted(self, old: Master, data: list[Version], offset: int) -> Master:
        """The master ``old``'s host becomes when its redis-server starts again, holding
        ``data`` (what persistence kept) at replication ``offset``, with no replicas: a new
        process, so an idle thread, under the same ``run.max_queue`` bound."""
        host = old.host
        return Master(
            self.env, self.at, Host(host.node_id, host.name, host.down, host.overhead,
                                    host.service, host.apply_time,
                                    Thread(host.name, old.thread.limit, self.env.now)),
            data, offset, old.rules, cache=old.cache, cluster=self.cluster, trace=self.trace)

    def rejoined(self, old: Master, office: Master, office_since_s: float) -> Replica:
        """The replica ``old``'s host becomes under ``office``: it holds the old master's
        data, so it lacks every write of its new master since ``office_since_s``, has no
        offset in its stream yet, and needs a full resync (the cluster connects it)."""
        host, name = old.host, old.name
        return Replica(
            self.env, self.at, Host(host.node_id, name, host.down, host.overhead,
                                    host.service,
                                    self.sampler(self.config.server.replica_apply_time,
                                                 f"server.{name}.apply"),
                                    Thread(name, self._replica_limit())),
            office, old.committed.copy(),
            Link(self.sampler(self.config.replication.delay, f"link.{office.name}->{name}"),
                 self.env),
            self.lag, cluster=self.cluster, trace=self.trace, arrived_offset=0, synced=False,
            missing_since=office_since_s, force_full=True, send_time=self._send_time())
