"""A straightforward SimPy model of repsim's scenarios, written the way a competent SimPy user
would: a process per request, ``simpy.Resource`` for each single-threaded server, a process
per replicated write on a FIFO link, and a dict for the TTL cache-aside layer.

It is the yardstick of ``make bench``: both models run the same configuration, and the
benchmark compares simulated operations per wall second and checks that the two agree on the
stale-read and cache hit rates. It reads the same ``sim.Config`` and supports what the
benchmark scenarios use: open and closed workloads, pipelined batches in closed mode, reads
from the master or from random replicas, a TTL cache without capacity or on-write action, and
no WAIT or faults.

    python benchmarks/baseline_simpy.py [--set K=V ...]   # prints its summary as JSON
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import sys
import time

import numpy as np
import simpy

import sim


class Server:
    """A single-threaded server: one Resource, its service-time samplers and its data."""

    def __init__(self, env: simpy.Environment, cfg: sim.Config, rng, keys: int) -> None:
        self.resource = simpy.Resource(env, capacity=1)
        self.service = cfg.server.service_time.sampler(rng)
        self.overhead = cfg.server.batch_overhead.sampler(rng)
        self.apply_time = cfg.server.replica_apply_time.sampler(rng)
        self.store = [0] * keys  # version number by key
        self.link_last = 0.0  # FIFO replication link into this server: last delivery time


class Baseline:
    """One run of the straightforward model; ``run()`` returns its summary."""

    def __init__(self, cfg: sim.Config) -> None:
        unsupported = []
        if cfg.replication.wait_replicas:
            unsupported.append("replication.wait_replicas")
        if cfg.faults.active:
            unsupported.append("faults")
        if cfg.cache.enabled and (cfg.cache.capacity or cfg.cache.on_write != "none"):
            unsupported.append("cache.capacity / cache.on_write")
        if cfg.replication.read_policy not in ("master", "replicas"):
            unsupported.append("replication.read_policy")
        if unsupported:
            raise ValueError(f"the baseline does not model {', '.join(unsupported)}")
        self.cfg = cfg
        self.env = env = simpy.Environment()
        # Workload choices from Python's own generator (cheap per call); delays and service
        # times from the configuration's distributions, as repsim samples them.
        self.random = random.Random(cfg.run.seed)
        rng = np.random.default_rng(cfg.run.seed)
        wl = cfg.workload
        self.master = Server(env, cfg, rng, wl.keys)
        self.replicas = [Server(env, cfg, rng, wl.keys) for _ in range(cfg.replication.replicas)]
        self.latency = cfg.network.client_latency.sampler(rng)
        self.cache_latency = cfg.cache.latency.sampler(rng)
        self.delay = cfg.replication.delay.sampler(rng)
        self.cache: dict[int, tuple[int, float]] = {}
        if wl.key_distribution == "zipf" and wl.keys > 1:
            weights = (1.0 / (k + 1) ** wl.zipf_s for k in range(wl.keys))
            self.key_cdf = list(itertools.accumulate(weights))
        else:
            self.key_cdf = None
        self.reads = self.writes = self.stale = self.cache_reads = self.hits = 0
        self.t0 = cfg.run.warmup

    def key(self) -> int:
        cdf = self.key_cdf
        if cdf is None:
            return self.random.randrange(self.cfg.workload.keys)
        return bisect.bisect_right(cdf, self.random.random() * cdf[-1])

    # -- the store --------------------------------------------------------------------------

    def serve(self, server: Server, commands: list[tuple[bool, int]]):
        """Serve one message of (is_write, key) commands; returns the versions."""
        with server.resource.request() as req:
            yield req
            overhead = server.overhead()
            if overhead:
                yield self.env.timeout(overhead)
            results = []
            for write, key in commands:
                yield self.env.timeout(server.service())
                if write:
                    server.store[key] += 1
                    results.append(server.store[key])
                    for replica in self.replicas:
                        self.env.process(self.replicate(replica, key, server.store[key]))
                else:
                    results.append(server.store[key])
        return results

    def replicate(self, replica: Server, key: int, version: int):
        now = self.env.now
        arrive = max(replica.link_last, now + self.delay())
        replica.link_last = arrive
        yield self.env.timeout(arrive - now)
        with replica.resource.request() as req:
            yield req
            yield self.env.timeout(replica.apply_time())
            replica.store[key] = version

    def read_server(self) -> Server:
        if self.cfg.replication.read_policy == "master" or not self.replicas:
            return self.master
        return self.replicas[self.random.randrange(len(self.replicas))]

    # -- one client request -----------------------------------------------------------------

    def request(self, commands: list[tuple[bool, int]]):
        """Issue a message of commands, wait for its replies, record them."""
        env = self.env
        issued = env.now
        newest = [self.master.store[key] for _, key in commands]  # V(k, i)
        results: dict[int, int] = {}
        pending = list(range(len(commands)))
        if self.cfg.cache.enabled:
            reads = [i for i in pending if not commands[i][0]]
            if reads:
                yield env.timeout(self.cache_latency())
                now = env.now
                for i in reads:
                    entry = self.cache.get(commands[i][1])
                    if entry is not None and entry[1] > now:
                        results[i] = entry[0]
                yield env.timeout(self.cache_latency())
                self.count_cache(issued, len(reads), len(results))
                pending = [i for i in pending if i not in results]
        writes = [i for i in pending if commands[i][0]]
        reads = [i for i in pending if not commands[i][0]]
        for group, server in ((writes, self.master), (reads, self.read_server())):
            if not group:
                continue
            yield env.timeout(self.latency())
            versions = yield from self.serve(server, [commands[i] for i in group])
            yield env.timeout(self.latency())
            for i, version in zip(group, versions, strict=True):
                results[i] = version
            if group is reads and self.cfg.cache.enabled:
                env.process(self.fill([(commands[i][1], results[i]) for i in group]))
        for i, (write, _) in enumerate(commands):
            self.record(issued, write, results[i], newest[i])

    def fill(self, entries: list[tuple[int, int]]):
        yield self.env.timeout(self.cache_latency())
        expires = self.env.now + self.cfg.cache.ttl
        for key, version in entries:
            self.cache[key] = (version, expires)

    def count_cache(self, issued: float, asked: int, hits: int) -> None:
        if issued >= self.t0:
            self.cache_reads += asked
            self.hits += hits

    def record(self, issued: float, write: bool, version: int, newest: int) -> None:
        if issued < self.t0:
            return
        if write:
            self.writes += 1
        else:
            self.reads += 1
            self.stale += version < newest

    # -- workloads --------------------------------------------------------------------------

    def open_arrivals(self, rate: float, write: bool):
        env = self.env
        while True:
            yield env.timeout(self.random.expovariate(rate))
            env.process(self.request([(write, self.key())]))

    def closed_client(self):
        wl, batch = self.cfg.workload, self.cfg.pipeline.batch_size
        think = wl.think_time.sampler(np.random.default_rng(self.cfg.run.seed + 1))
        while True:
            commands = [(self.random.random() >= wl.read_fraction, self.key())
                        for _ in range(batch)]
            yield self.env.process(self.request(commands))
            yield self.env.timeout(think())

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
        wall = time.perf_counter() - start
        return {"reads": self.reads, "writes": self.writes,
                "stale_read_rate": self.stale / self.reads if self.reads else None,
                "cache_hit_rate": self.hits / self.cache_reads if self.cache_reads else None,
                "sim_events": next(self.env._eid), "wall_seconds": wall}


def simulate(cfg: sim.Config) -> dict:
    """Run the straightforward model on ``cfg``; a summary with repsim's key names."""
    return Baseline(cfg).run()


def main(run=simulate, doc: str = __doc__) -> int:
    """The command line of a baseline model: ``--set K=V`` overrides, its summary as JSON
    (``run(cfg)`` is the model's ``simulate``; shared with ``baseline_lean.py``)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.overrides)
    json.dump(run(sim.Config.default().with_overrides(overrides)), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
