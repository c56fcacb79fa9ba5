"""redis-py's own client-side cache against a real redis-server, beside the simulator.

The set-up (docs/design.md section 10): one writer sends Poisson SETs at ``write_rate`` of
uniform keys straight to the master, each writing the key's next version; one reader, a
``redis.Redis(protocol=3, cache_config=CacheConfig())`` (an LRU of 10,000 entries, default
tracking mode, the in-progress placeholder, no local TTL), sends Poisson GETs at
``read_rate`` through the :class:`~sim.redis.proxy.DelayProxy`, which holds every byte the
server sends it (replies and invalidation pushes, one FIFO stream) for the delay asked.
The closed form: the stale share of local hits is 1 - E[exp(-λ D)] over the realised
one-way delays D, λ the writes per second per key.

What is observed. A read is a local hit when redis-py sent nothing to the server for it
(its connection's ``send_command`` was not called). A hit is certainly stale when it
returns a version below the highest one whose OK the writer had received before the read
(``stale``), possibly stale when below the highest one sent (``stale_upper``); the true
count lies between. Invalidations are the push messages redis-py handed to its cache
(redis-py reads them before each command it sends, from what has reached its socket).

redis-py refuses its cache with a server older than 7.4 (a product gate: "supported by
Redis 7.4 or later"); CLIENT TRACKING and RESP3 pushes, all the cache uses, exist since
Redis 6.0. For an older server that has them the gate is lowered to its version while the
reader runs, and the result says so (``gate_lowered``).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import redis

from sim.config.schema import Config
from sim.measure.metrics import RatioBatchMeans
from sim.redis.failover import _free_port, _Server
from sim.redis.measure import REPLY_TIMEOUT_S, MeasureError, redis_client, sigint_deferred
from sim.redis.proxy import DelayProxy
from sim.redis.validate import (
    BATCHES,
    Workload,
    _connect,
    _delay_for_sim,
    _Shared,
    _wait_until,
    _writer,
    schedules,
    theory_stale_rate,
)

__all__ = ["CacheComparison", "loopback_server", "measure_client_cache",
           "simulate_client_cache", "validate_client_cache"]

MIN_TRACKING_VERSION = (6, 0)  # CLIENT TRACKING and RESP3 pushes
SWITCH_INTERVAL_S = 1e-4  # the interpreter's thread switch interval while measuring


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


@contextlib.contextmanager
def _cache_gate(server_version: str) -> Iterator[bool]:
    """Let redis-py's cache run against ``server_version``; yields whether its gate had to
    be lowered (restored on exit)."""
    try:
        from redis.cache import CacheConfig  # noqa: F401  (redis-py >= 5.1)
        from redis.connection import CacheProxyConnection
    except ImportError:
        raise MeasureError(f"redis-py {redis.__version__} has no client-side cache: it needs "
                           "redis>=5.1 (pip install 'redis>=5.1')") from None
    if _version(server_version) < MIN_TRACKING_VERSION:
        raise MeasureError(f"redis-server {server_version} has no CLIENT TRACKING (it needs "
                           "Redis 6.0 or later)")
    gate = CacheProxyConnection.MIN_ALLOWED_VERSION
    if _version(server_version) >= _version(gate):
        yield False
        return
    CacheProxyConnection.MIN_ALLOWED_VERSION = server_version
    try:
        yield True
    finally:
        CacheProxyConnection.MIN_ALLOWED_VERSION = gate


def _reader(client: redis.Redis, names: list[str], shared: _Shared, times: np.ndarray,
            keys: np.ndarray, start: float, out: dict[str, Any]) -> None:
    """The cached reader's schedule; counts hits, stale hits and invalidations."""
    clock, sent, acked, stop = time.perf_counter, shared.sent, shared.acked, shared.stop
    stale_bm, upper_bm, hit_bm = out["stale"], out["upper"], out["hits"]
    t0, t1 = stale_bm.t0, stale_bm.t1
    counts = out["counts"]  # reads, hits, stale, stale_upper, sends, invalidations
    try:
        client.get(names[0])  # connects (HELLO 3, CLIENT TRACKING ON): before the window
        conn = client.connection_pool.get_connection()
        client.connection_pool.release(conn)
        inner = conn._conn
        plain_send = inner.send_command

        def counted_send(*args, **kwargs):
            counts[4] += 1
            return plain_send(*args, **kwargs)

        def counted_push(data):
            if t0 <= clock() - start < t1:
                counts[5] += 1
            return conn._on_invalidation_callback(data)

        inner.send_command = counted_send
        inner._parser.set_invalidation_push_handler(counted_push)
        out["ready"].set()
        for t, k in zip(times.tolist(), keys.tolist(), strict=True):
            if not _wait_until(stop, start + t):
                return
            low, before = acked[k], counts[4]
            issued = clock() - start
            reply = client.get(names[k])
            high = sent[k]
            if not t0 <= issued < t1:
                continue
            v = 0 if reply is None else int(reply)
            counts[0] += 1
            hit = counts[4] == before
            hit_bm.add(issued, 1.0 if hit else 0.0)
            if hit:
                counts[1] += 1
                counts[2] += v < low
                counts[3] += v < high
                stale_bm.add(issued, 1.0 if v < low else 0.0)
                upper_bm.add(issued, 1.0 if v < high else 0.0)
    except BaseException as error:  # reported by the caller, not lost in a thread
        shared.fail(error)
        out["ready"].set()


def measure_client_cache(master: tuple[str, int], workload: Workload, delay_s: float,
                         proxy_host: str = "127.0.0.1") -> dict[str, Any]:
    """Run ``workload`` with the cached reader behind a proxy of ``delay_s`` (s); return
    the real side's summary (rates per second of the window, ``delay`` the proxy's
    :class:`~sim.redis.proxy.DelayStats`)."""
    from redis.cache import CacheConfig

    w_times, w_keys, r_times, r_keys = schedules(workload)
    names = [f"repsim:csc:{uuid.uuid4().hex[:8]}:{k}" for k in range(workload.keys)]
    with redis_client(master) as admin:
        version = admin.info("server")["redis_version"]
        # Version 0 exists, as in the model: redis-py does not cache a missing key (nil).
        admin.mset(dict.fromkeys(names, 0))
    window = (workload.warmup_s, workload.duration_s)
    shared = _Shared(workload.keys)
    out = {"stale": RatioBatchMeans(*window, BATCHES), "upper": RatioBatchMeans(*window, BATCHES),
           "hits": RatioBatchMeans(*window, BATCHES),
           "counts": [0] * 6, "ready": threading.Event()}
    write_count = [0]
    proxy = DelayProxy(master, delay_s, listen=(proxy_host, 0))
    try:
        host, port = proxy.start()
    except OSError as error:
        raise MeasureError(str(error)) from error
    w_conn = reader = None
    threads: list[threading.Thread] = []
    switch = sys.getswitchinterval()
    # Two Python threads share the interpreter: a thread that waits for it waits up to the
    # switch interval (5 ms by default), which would blur the instants the bounds rest on
    # by as much as the delays measured. Restored below.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        with _cache_gate(version) as lowered:
            w_conn = _connect(master)
            reader = redis.Redis(host=host, port=port, protocol=3, cache_config=CacheConfig(),
                                 socket_timeout=REPLY_TIMEOUT_S,
                                 socket_connect_timeout=REPLY_TIMEOUT_S)
            start = time.perf_counter() + 0.3 + 4 * delay_s  # after the reader's handshake
            threads = [
                threading.Thread(target=_reader, name="repsim-csc-reader", daemon=True, args=(
                    reader, names, shared, r_times, r_keys, start, out)),
                threading.Thread(target=_writer, name="repsim-csc-writer", daemon=True, args=(
                    w_conn, names, shared, w_times, w_keys, start, write_count, window)),
            ]
            threads[0].start()
            out["ready"].wait(timeout=2 * REPLY_TIMEOUT_S)
            proxy.reset_stats()  # the handshake is not part of the measured traffic
            threads[1].start()
            for thread in threads:
                thread.join()
        if shared.errors:
            error = shared.errors[0]
            raise MeasureError(f"client-side cache workload failed: {error}") from error
        stats = proxy.stats()
    finally:
        shared.stop.set()
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=2 * REPLY_TIMEOUT_S)
        sys.setswitchinterval(switch)
        with sigint_deferred():
            if w_conn is not None:
                w_conn.disconnect()
            if reader is not None:
                with contextlib.suppress(redis.RedisError, OSError):
                    reader.close()
            proxy.stop()
            with contextlib.suppress(redis.RedisError, OSError), redis_client(master) as c:
                c.delete(*names)
    reads, hits, stale, stale_upper, _, invalidations = out["counts"]
    span = window[1] - window[0]
    rate, lo, hi = out["stale"].estimate(clamp01=True)
    upper, _, upper_hi = out["upper"].estimate(clamp01=True)
    hit_rate, hit_lo, hit_hi = out["hits"].estimate(clamp01=True)
    return {
        "server_version": version, "gate_lowered": lowered,
        "reads": reads, "read_rate": reads / span, "write_rate": write_count[0] / span,
        "writes": write_count[0],
        "client_cache_hits": hits, "client_cache_hit_rate": hit_rate,
        "client_cache_hit_rate_ci95": [hit_lo, hit_hi],
        "client_cache_stale_reads": stale, "client_cache_stale_read_rate": rate,
        "client_cache_stale_read_rate_ci95": [lo, hi],
        "client_cache_stale_reads_upper": stale_upper,
        "client_cache_stale_read_rate_upper": upper,
        "client_cache_stale_read_rate_upper_ci95_hi": upper_hi,
        "invalidations": invalidations, "invalidations_per_s": invalidations / span,
        "delay": stats,
    }


def simulate_client_cache(config: Config, workload: Workload, read_rate: float,
                          write_rate: float, latency: str, duration_s: float) -> dict[str, Any]:
    """The simulator's summary for the same set-up: one client reading the master, its
    client-side cache in default mode, ``latency`` the one-way delay (a config string)."""
    from sim.engine import simulate  # late: measuring needs no engine

    overrides = {
        "workload.mode": "open", "workload.clients": 1, "workload.read_rate": read_rate,
        "workload.write_rate": write_rate, "workload.keys": workload.keys,
        "workload.key_distribution": "uniform", "replication.replicas": 0,
        "replication.read_policy": "master", "replication.wait_replicas": 0,
        "cache.enabled": False, "client_cache.enabled": True, "client_cache.mode": "default",
        "client_cache.connection": "same", "client_cache.placeholder": True,
        "network.client_latency": latency, "pipeline.batch_size": 1, "pipeline.linger": 0.0,
        "run.duration": duration_s, "run.warmup": min(workload.warmup_s, duration_s / 2),
        "run.seed": workload.seed,
    }
    return simulate(config.with_overrides(overrides)).summary


@dataclass(frozen=True)
class CacheComparison:
    """One point: the workload, the proxy's delay asked and realised (s), both sides'
    summaries, the closed form, and whether the real span (certain to possible) meets the
    simulated interval."""

    workload: Workload
    delay_target_s: float
    delay_mean_s: float
    real: dict[str, Any]
    sim: dict[str, Any]
    theory: float
    agree: bool

    def to_dict(self) -> dict[str, Any]:
        keys = ("client_cache_hits", "client_cache_hit_rate", "client_cache_hit_rate_ci95",
                "client_cache_stale_reads", "client_cache_stale_read_rate",
                "client_cache_stale_read_rate_ci95", "invalidations", "invalidations_per_s",
                "reads", "writes")
        real = {k: v for k, v in self.real.items() if k != "delay"}
        return {"write_rate": self.workload.write_rate, "keys": self.workload.keys,
                "read_rate": self.workload.read_rate, "delay_target_ms": self.delay_target_s * 1e3,
                "delay_mean_ms": self.delay_mean_s * 1e3, "real": real,
                "sim": {k: self.sim[k] for k in keys}, "theory": self.theory,
                "agree": self.agree}


def _overlap(real: dict[str, Any], sim: dict[str, Any]) -> bool:
    """The real share lies between its certain and possible counts: agreement is the span
    from the certain share's 95% low to the possible share's 95% high meeting the
    simulated interval."""
    key = "client_cache_stale_read_rate"
    r_lo = real[key + "_ci95"][0]
    r_lo = real[key] if r_lo is None else r_lo
    r_hi = real[key + "_upper_ci95_hi"]
    r_hi = real[key + "_upper"] if r_hi is None else r_hi
    s_lo, s_hi = (v if v is not None else sim[key] for v in sim[key + "_ci95"])
    return r_lo <= s_hi and s_lo <= r_hi


def validate_client_cache(master: tuple[str, int], workload: Workload, config: Config,
                          delay_s: float, sim_duration_s: float = 60.0,
                          proxy_host: str = "127.0.0.1") -> CacheComparison:
    """Measure one point on the real server, simulate it with the mean delay the proxy
    realised (plus a loopback hop each side of it), and compare."""
    real = measure_client_cache(master, workload, delay_s, proxy_host)
    hop_s = config.network.client_latency.mean
    with tempfile.TemporaryDirectory(prefix="repsim-csc-") as folder:
        _, mean_s, samples = _delay_for_sim(real["delay"], hop_s, Path(folder))
    # The realised delays already include the proxy's FIFO waits: drawn again i.i.d. through
    # the model's FIFO link, each late timer would hold the messages behind it a second time.
    # The model gets their mean, as a constant; the closed form averages over them.
    sim = simulate_client_cache(config, workload, real["read_rate"], real["write_rate"],
                                repr(mean_s), max(sim_duration_s, workload.duration_s))
    theory = theory_stale_rate(real["write_rate"] / workload.keys, samples, 0.0)
    return CacheComparison(workload, delay_s, mean_s, real, sim, theory, _overlap(real, sim))


@contextlib.contextmanager
def loopback_server(host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """A redis-server of this machine on a free port of ``host``, persistence off, in a
    temporary folder; stopped and removed on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise MeasureError("no redis-server binary on PATH (Debian/Ubuntu: apt-get install "
                           "redis-server)")
    folder = Path(tempfile.mkdtemp(prefix="repsim-csc-server-"))
    server = _Server(binary, folder, host, _free_port(host), [])
    try:
        server.start()
        yield server.address
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
