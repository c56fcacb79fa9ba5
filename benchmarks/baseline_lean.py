"""A lean SimPy model of repsim's benchmark scenarios: what a competent SimPy user writes in an
afternoon when speed matters, still in SimPy's own idiom.

Like ``benchmarks/baseline_simpy.py`` it keeps a process per request, ``simpy.Resource``
(capacity 1) for each single-threaded server and a process per replicated write on a FIFO
link; unlike it, it draws every delay from Python's ``random`` module (one C call a draw,
where a numpy scalar draw costs a Python-level call and an array), keeps versions in plain
lists and counters, binds lookups to locals, serves a lone command without a loop, fills the
cache with a callback instead of a process, and keeps no per-operation dictionary. It
supports what the benchmark scenarios use: open and closed workloads, pipelined batches in
closed mode, reads from the master or from random replicas, a TTL cache without capacity or
on-write action, constant and exponential delays (the scenarios' only kinds); no WAIT, no
faults.

    python benchmarks/baseline_lean.py [--set K=V ...]   # prints its summary as JSON
"""

from __future__ import annotations

import bisect
import itertools
import random
import time

import simpy

import sim
from sim.config.distributions import Constant, Exponential


def sampler(dist, rnd: random.Random):
    """A no-argument sampler of ``dist`` (s) drawing from Python's generator."""
    if isinstance(dist, Constant):
        value = dist.mean
        return lambda: value
    if isinstance(dist, Exponential):
        rate = 1.0 / dist.mean
        expovariate = rnd.expovariate
        return lambda: expovariate(rate)
    raise ValueError(f"the lean baseline draws constants and exponentials only, not {dist}")


class Server:
    """A single-threaded server: a Resource, its cost samplers, its versions by key."""

    __slots__ = ("resource", "service", "overhead", "apply_time", "store", "link_last")

    def __init__(self, env, cfg, rnd, keys: int) -> None:
        self.resource = simpy.Resource(env, capacity=1)
        self.service = sampler(cfg.server.service_time, rnd)
        self.overhead = sampler(cfg.server.batch_overhead, rnd)
        self.apply_time = sampler(cfg.server.replica_apply_time, rnd)
        self.store = [0] * keys
        self.link_last = 0.0


class Lean:
    """One run of the lean model; ``run()`` returns its summary."""

    def __init__(self, cfg: sim.Config) -> None:
        if (cfg.replication.wait_replicas or cfg.faults.active
                or (cfg.cache.enabled and (cfg.cache.capacity or cfg.cache.on_write != "none"))
                or cfg.replication.read_policy not in ("master", "replicas")):
            raise ValueError("the lean baseline models the benchmark scenarios only")
        self.cfg = cfg
        self.env = env = simpy.Environment()
        self.rnd = rnd = random.Random(cfg.run.seed)
        wl = cfg.workload
        self.master = Server(env, cfg, rnd, wl.keys)
        self.replicas = [Server(env, cfg, rnd, wl.keys) for _ in range(cfg.replication.replicas)]
        self.latency = sampler(cfg.network.client_latency, rnd)
        self.cache_latency = sampler(cfg.cache.latency, rnd)
        self.delay = sampler(cfg.replication.delay, rnd)
        self.think = sampler(wl.think_time, rnd)
        self.cached = cfg.cache.enabled
        self.ttl = cfg.cache.ttl
        self.cache_version = [0] * wl.keys
        self.cache_expires = [-1.0] * wl.keys
        self.by_master = cfg.replication.read_policy == "master" or not self.replicas
        if wl.key_distribution == "zipf" and wl.keys > 1:
            weights = (1.0 / (k + 1) ** wl.zipf_s for k in range(wl.keys))
            self.cdf = list(itertools.accumulate(weights))
        else:
            self.cdf = None
        self.reads = self.writes = self.stale = self.cache_reads = self.hits = 0
        self.t0 = cfg.run.warmup

    def key(self) -> int:
        cdf = self.cdf
        if cdf is None:
            return self.rnd.randrange(self.cfg.workload.keys)
        return bisect.bisect_right(cdf, self.rnd.random() * cdf[-1])

    def replicate(self, replica: Server, key: int, version: int):
        env = self.env
        now = env.now
        arrive = now + self.delay()
        if arrive < replica.link_last:
            arrive = replica.link_last
        replica.link_last = arrive
        yield env.timeout(arrive - now)
        resource = replica.resource
        req = resource.request()
        yield req
        yield env.timeout(replica.apply_time())
        replica.store[key] = version
        resource.release(req)

    def serve(self, server: Server, writes: list, keys: list):
        """Serve one message; returns the version each command saw or wrote."""
        env = self.env
        with server.resource.request() as req:
            yield req
            overhead = server.overhead()
            if overhead:
                yield env.timeout(overhead)
            store, service, out = server.store, server.service, []
            for write, key in zip(writes, keys, strict=True):
                yield env.timeout(service())
                if write:
                    version = store[key] = store[key] + 1
                    for replica in self.replicas:
                        env.process(self.replicate(replica, key, version))
                    out.append(version)
                else:
                    out.append(store[key])
        return out

    def request(self, writes: list, keys: list):
        """One client message: commands ``writes[i]`` (SET, else GET) on ``keys[i]``."""
        env, master = self.env, self.master
        issued = env.now
        measured = issued >= self.t0
        newest = [master.store[k] for k in keys]
        got = [None] * len(keys)
        if self.cached and not all(writes):
            latency = self.cache_latency
            yield env.timeout(latency())
            now = env.now
            versions, expires = self.cache_version, self.cache_expires
            asked = hits = 0
            for i, key in enumerate(keys):
                if not writes[i]:
                    asked += 1
                    if expires[key] > now:
                        got[i] = versions[key]
                        hits += 1
            yield env.timeout(latency())
            if measured:
                self.cache_reads += asked
                self.hits += hits
        for to_master in (True, False):
            group = [i for i, w in enumerate(writes) if w == to_master and got[i] is None]
            if not group:
                continue
            server = master if to_master or self.by_master else self.replicas[
                self.rnd.randrange(len(self.replicas))]
            yield env.timeout(self.latency())
            out = yield from self.serve(server, [writes[i] for i in group],
                                        [keys[i] for i in group])
            yield env.timeout(self.latency())
            for i, version in zip(group, out, strict=True):
                got[i] = version
            if not to_master and self.cached:
                fill = [(keys[i], got[i]) for i in group]
                env.timeout(self.cache_latency()).callbacks.append(
                    lambda ev, fill=fill: self.fill(fill))
        if measured:
            for write, version, want in zip(writes, got, newest, strict=True):
                if write:
                    self.writes += 1
                else:
                    self.reads += 1
                    self.stale += version < want

    def fill(self, entries: list) -> None:
        expires = self.env.now + self.ttl
        for key, version in entries:
            self.cache_version[key] = version
            self.cache_expires[key] = expires

    # -- the open loop: one command a request, written out ---------------------------------

    def read(self, key: int):
        env = self.env
        issued = env.now
        measured = issued >= self.t0
        want = self.master.store[key]
        to_store = self.latency()
        if self.cached:
            latency = self.cache_latency
            yield env.timeout(latency())
            hit = self.cache_expires[key] > env.now
            version = self.cache_version[key]
            if measured:
                self.cache_reads += 1
                self.hits += hit
            if hit:
                yield env.timeout(latency())
                if measured:
                    self.reads += 1
                    self.stale += version < want
                return
            to_store += latency()  # back from the cache, then on to the store: one wait
        server = self.master if self.by_master else self.replicas[
            self.rnd.randrange(len(self.replicas))]
        yield env.timeout(to_store)
        resource = server.resource
        req = resource.request()
        yield req
        yield env.timeout(server.service())
        version = server.store[key]
        resource.release(req)
        yield env.timeout(self.latency())
        if self.cached:
            env.timeout(self.cache_latency()).callbacks.append(
                lambda ev: self.fill(((key, version),)))
        if measured:
            self.reads += 1
            self.stale += version < want

    def write(self, key: int):
        env, master = self.env, self.master
        measured = env.now >= self.t0
        yield env.timeout(self.latency())
        resource = master.resource
        req = resource.request()
        yield req
        yield env.timeout(master.service())
        version = master.store[key] = master.store[key] + 1
        process, replicate = env.process, self.replicate
        for replica in self.replicas:
            process(replicate(replica, key, version))
        resource.release(req)
        yield env.timeout(self.latency())
        if measured:
            self.writes += 1

    def open_arrivals(self, rate: float, write: bool):
        env, process, key = self.env, self.env.process, self.key
        request = self.write if write else self.read
        gap = self.rnd.expovariate
        while True:
            yield env.timeout(gap(rate))
            process(request(key()))

    def closed_client(self):
        env, wl, batch = self.env, self.cfg.workload, self.cfg.pipeline.batch_size
        rnd, fraction = self.rnd.random, wl.read_fraction
        while True:
            writes = [rnd() >= fraction for _ in range(batch)]
            yield env.process(self.request(writes, [self.key() for _ in range(batch)]))
            think = self.think()
            if think:
                yield env.timeout(think)

    def run(self) -> dict:
        wl = self.cfg.workload
        if wl.mode == "closed":
            for _ in range(wl.clients):
                self.env.process(self.closed_client())
        else:
            if wl.read_rate > 0:
                self.env.process(self.open_arrivals(wl.read_rate, False))
            if wl.write_rate > 0:
                self.env.process(self.open_arrivals(wl.write_rate, True))
        start = time.perf_counter()
        self.env.run(until=self.cfg.run.duration)
        return {"reads": self.reads, "writes": self.writes,
                "stale_read_rate": self.stale / self.reads if self.reads else None,
                "cache_hit_rate": self.hits / self.cache_reads if self.cache_reads else None,
                "sim_events": next(self.env._eid), "wall_seconds": time.perf_counter() - start}


def simulate(cfg: sim.Config) -> dict:
    """Run the lean model on ``cfg``; a summary with repsim's key names."""
    return Lean(cfg).run()


if __name__ == "__main__":
    import baseline_simpy  # its command line serves both baselines

    raise SystemExit(baseline_simpy.main(simulate, __doc__))
