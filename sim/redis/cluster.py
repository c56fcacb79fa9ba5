"""Kill a master of a real Redis Cluster and compare its shard's outage with the simulator.

The experiment, on loopback, with servers this module starts and always stops itself: six
``redis-server --cluster-enabled yes`` processes with a short ``cluster-node-timeout``, made
one cluster of three masters and three replicas by ``redis-cli --cluster create ...
--cluster-replicas 1 --cluster-yes``, and a paced writer that SETs a new key ``key:<i>``
W times a second to the master its slot map names (CRC16 of the key name, as the
simulator's :mod:`sim.model.slots`), following ``MOVED`` replies and, after a failed write,
refreshing its map with ``CLUSTER SLOTS`` at most every ``poll_s``. After ``before_s`` the
master of the first slot range is killed with SIGKILL; a watcher polls ``CLUSTER NODES`` on
a surviving master for when the dead node is flagged ``fail`` and when one of its replicas
becomes master. ``after_s`` later the writer stops and every acknowledged key is read back.

Measured: the killed shard's write outage (its last acknowledgement before the kill to its
first after), the longest gap between acknowledgements on each other shard (with
cluster-require-full-coverage they refuse writes between FAIL and the promotion), the
acknowledged writes lost, and the detection and promotion times from the kill. Times are
seconds inside; the summaries give milliseconds, as the simulator's do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.connection import Connection
from redis.exceptions import MovedError

from sim.config.schema import Config
from sim.engine import simulate
from sim.model.slots import KEY_NAME, key_slot, slot_ranges
from sim.redis.failover import _Server
from sim.redis.measure import MeasureError, redis_client

__all__ = ["ClusterCase", "LoopbackRedisCluster", "running", "measure_case", "simulate_case",
           "compare_case"]

MASTERS = 3
READY_TIMEOUT_S = 30.0
OP_TIMEOUT_S = 0.25  # a write that takes longer counts as failed


@dataclass(frozen=True)
class ClusterCase:
    """One run: ``write_rate`` new keys per second, ``node_timeout_s``, and the writer's
    phases (seconds)."""

    write_rate: float = 1000.0
    node_timeout_s: float = 1.0
    poll_s: float = 0.1  # the writer refreshes its slot map at most this often
    before_s: float = 2.0  # writes before the kill
    after_s: float = 4.0  # and after it

    def __post_init__(self) -> None:
        if not (self.write_rate > 0 and self.node_timeout_s > 0 and self.before_s > 0
                and self.after_s > self.node_timeout_s):
            raise ValueError("write_rate > 0, node_timeout_s > 0, before_s > 0 and after_s > "
                             "node_timeout_s are required")

    @property
    def label(self) -> str:
        return f"{self.write_rate:g} w/s, node timeout {1e3 * self.node_timeout_s:g} ms"


def _cluster_ports(host: str, count: int) -> list[int]:
    """``count`` ports below 55,536 that are free on ``host`` with their cluster bus ports
    (port + 10,000): the kernel's free ports are often too high for the bus."""
    ports: list[int] = []
    for port in range(20000 + 7 * (os.getpid() % 2000), 45000):
        if len(ports) == count:
            return ports
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind((host, candidate))
        except OSError:
            continue
        ports.append(port)
    raise MeasureError("no free ports for a cluster below 55536 on the loopback")


class LoopbackRedisCluster:
    """Three masters and three replicas on loopback (:func:`running` starts and stops
    them)."""

    def __init__(self, case: ClusterCase, host: str = "127.0.0.1",
                 binary: str | None = None) -> None:
        binary = binary or shutil.which("redis-server")
        self.cli = shutil.which("redis-cli")
        if binary is None or self.cli is None:
            raise MeasureError("--cluster starts its own servers and needs redis-server and "
                               "redis-cli on PATH (Debian/Ubuntu: apt-get install redis-server)")
        self.case, self.host = case, host
        self.folder = Path(tempfile.mkdtemp(prefix="repsim-cluster-"))
        timeout_ms = str(round(case.node_timeout_s * 1000))
        self.servers = [
            _Server(binary, self.folder / f"node{i}", host, port,
                    ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", timeout_ms])
            for i, port in enumerate(_cluster_ports(host, 2 * MASTERS))]

    def start(self) -> None:
        """Start the six servers, make them one cluster, wait until it serves."""
        for server in self.servers:
            server.start()
        addresses = [f"{s.host}:{s.port}" for s in self.servers]
        made = subprocess.run([self.cli, "--cluster", "create", *addresses,
                               "--cluster-replicas", "1", "--cluster-yes"],
                              capture_output=True, text=True, timeout=READY_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
        if made.returncode != 0:
            raise MeasureError(f"redis-cli --cluster create failed: {made.stdout[-300:]}"
                               f"{made.stderr[-300:]}")
        self._wait_ready()

    def nodes(self, address: tuple[str, int]) -> list[dict[str, Any]]:
        """``CLUSTER NODES`` of the node at ``address``: id, address, flags, master id, slots."""
        with redis_client(address) as client:
            text = client.execute_command("CLUSTER", "NODES")
        text = text.decode() if isinstance(text, bytes) else text
        out = []
        for line in text.strip().splitlines():
            parts = line.split()
            host, _, rest = parts[1].partition(":")
            port = int(rest.split("@")[0])
            slots = [tuple(int(x) for x in p.split("-")) if "-" in p else (int(p), int(p))
                     for p in parts[8:] if not p.startswith("[")]
            out.append({"id": parts[0], "address": (host, port), "flags": parts[2].split(","),
                        "master": parts[3], "slots": slots})
        return out

    def _wait_ready(self) -> None:
        """Until every node says cluster_state:ok and every replica's link is up."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            ready = True
            for server in self.servers:
                with contextlib.suppress(redis.RedisError, OSError), \
                        redis_client(server.address) as client:
                    info = client.execute_command("CLUSTER", "INFO")
                    info = info.decode() if isinstance(info, bytes) else info
                    replication = client.info("replication")
                    ok = "cluster_state:ok" in info and (
                        replication.get("role") == "master"
                        or replication.get("master_link_status") == "up")
                    ready &= ok
                    continue
                ready = False
            if ready:
                return
            time.sleep(0.1)
        raise MeasureError(f"the cluster did not become ready within {READY_TIMEOUT_S:g}s")

    def server_at(self, address: tuple[str, int]) -> _Server:
        return next(s for s in self.servers if s.address == address)

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def running(case: ClusterCase, host: str = "127.0.0.1") -> Iterator[LoopbackRedisCluster]:
    """A started cluster for ``case``; every process stopped and its folder removed after,
    whatever happens."""
    cluster = LoopbackRedisCluster(case, host)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


# -- the writer and the watcher -------------------------------------------------------------------


@dataclass
class _Log:
    acks: list[tuple[int, float]] = field(default_factory=list)  # (key index, time)
    failures: int = 0
    moved: int = 0
    refreshes: int = 0
    detected: float | None = None
    promoted: float | None = None
    errors: list[BaseException] = field(default_factory=list)


def _slot_map(address: tuple[str, int]) -> dict[int, tuple[str, int]]:
    """Slot -> master address, from ``CLUSTER SLOTS`` at ``address``."""
    with redis_client(address) as client:
        reply = client.execute_command("CLUSTER", "SLOTS")
    owner = {}
    for entry in reply:
        first, last, master = entry[0], entry[1], entry[2]
        host = master[0].decode() if isinstance(master[0], bytes) else master[0]
        for slot in range(int(first), int(last) + 1):
            owner[slot] = (host, int(master[1]))
    return owner


def _ticks(rate: float, stop_at: float, stop: threading.Event):
    """0, 1, 2, ... one every 1/``rate`` s (monotonic clock) until ``stop_at`` or ``stop``;
    a late tick is not made up for beyond one period."""
    period = 1.0 / rate
    due, i = time.monotonic(), 0
    while not stop.is_set() and time.monotonic() < stop_at:
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        due = max(due + period, time.monotonic() - period)
        yield i
        i += 1


def _write_loop(case: ClusterCase, seeds: list[tuple[str, int]], stop_at: float,
                stop: threading.Event, log: _Log) -> None:
    """SET key:<i> every 1/W s to the master of its slot, as a cluster client does."""
    owner = _slot_map(seeds[0])
    conns: dict[tuple[str, int], Connection] = {}
    last_refresh = -1.0
    try:
        for i in _ticks(case.write_rate, stop_at, stop):
            name = KEY_NAME.format(i)
            address = owner[key_slot(name)]
            for _attempt in range(2):  # the second follows a MOVED
                try:
                    conn = conns.get(address)
                    if conn is None:
                        conn = conns[address] = Connection(
                            host=address[0], port=address[1], socket_timeout=OP_TIMEOUT_S,
                            socket_connect_timeout=OP_TIMEOUT_S, retry_on_timeout=False)
                        conn.connect()
                    conn.send_command("SET", name, i)
                    conn.read_response()
                    log.acks.append((i, time.monotonic()))
                    break
                except MovedError as moved:
                    log.moved += 1
                    address = owner[key_slot(name)] = (moved.host, int(moved.port))
                    if _attempt:
                        log.failures += 1
                except redis.ResponseError:  # CLUSTERDOWN while a slot has no master
                    log.failures += 1
                    break
                except (redis.ConnectionError, redis.TimeoutError, OSError):
                    log.failures += 1
                    dead = conns.pop(address, None)
                    if dead is not None:
                        dead.disconnect()
                    if time.monotonic() - last_refresh >= case.poll_s:
                        last_refresh = time.monotonic()
                        for seed in seeds:
                            if seed == address:
                                continue
                            with contextlib.suppress(redis.RedisError, OSError):
                                owner = _slot_map(seed)
                                log.refreshes += 1
                                break
                    break
    except BaseException as error:  # reported by measure_case
        log.errors.append(error)
    finally:
        for conn in conns.values():
            conn.disconnect()


def _watch(cluster: LoopbackRedisCluster, witness: tuple[str, int], dead_id: str,
           stop: threading.Event, log: _Log) -> None:
    """Poll ``CLUSTER NODES`` at ``witness`` for FAIL of ``dead_id`` and its successor."""
    try:
        while not stop.is_set() and log.promoted is None:
            with contextlib.suppress(redis.RedisError, OSError):
                nodes = cluster.nodes(witness)
                dead = next(n for n in nodes if n["id"] == dead_id)
                if log.detected is None and "fail" in dead["flags"]:
                    log.detected = time.monotonic()
                if any(n["master"] == "-" and n["id"] != dead_id and "master" in n["flags"]
                       and n["slots"] and n["slots"][0][0] == 0 for n in nodes):
                    log.promoted = time.monotonic()
            time.sleep(0.01)
    except BaseException as error:
        log.errors.append(error)


# -- one measured case ----------------------------------------------------------------------------


def measure_case(case: ClusterCase, host: str = "127.0.0.1") -> dict[str, Any]:
    """Run ``case`` on a fresh loopback cluster; the measured summary (times in ms)."""
    with running(case, host) as cluster:
        nodes = cluster.nodes(cluster.servers[0].address)
        masters = sorted((n for n in nodes if "master" in n["flags"]),
                         key=lambda n: n["slots"][0][0])
        victim, witness = masters[0], masters[1]
        seeds = [n["address"] for n in masters]
        log, stop = _Log(), threading.Event()
        t0 = time.monotonic()
        killed_at = t0 + case.before_s
        writer = threading.Thread(target=_write_loop, daemon=True,
                                  args=(case, seeds, killed_at + case.after_s, stop, log))
        writer.start()
        watcher = threading.Thread(target=_watch, daemon=True,
                                   args=(cluster, witness["address"], victim["id"], stop, log))
        try:
            time.sleep(max(0.0, killed_at - time.monotonic()))
            killed = time.monotonic()
            cluster.server_at(victim["address"]).kill()
            watcher.start()
            writer.join()
            time.sleep(0.2)
            present = _present(seeds[1:], [i for i, _ in log.acks])
        finally:
            stop.set()
            writer.join(timeout=5)
            if watcher.is_alive():
                watcher.join(timeout=5)
        if log.errors:
            raise MeasureError(f"the cluster run failed: {log.errors[0]}")
    return _summarise(log, killed, present)


def _present(seeds: list[tuple[str, int]], indices: list[int]) -> set[int]:
    """Which acknowledged keys the cluster holds (asked at each key's master)."""
    owner = _slot_map(seeds[0])
    by_node: dict[tuple[str, int], list[int]] = {}
    for i in indices:
        by_node.setdefault(owner[key_slot(KEY_NAME.format(i))], []).append(i)
    found: set[int] = set()
    for address, keys in by_node.items():
        with redis_client(address) as client:
            for lo in range(0, len(keys), 1000):
                chunk = keys[lo:lo + 1000]
                pipe = client.pipeline(transaction=False)
                for i in chunk:
                    pipe.exists(KEY_NAME.format(i))
                found.update(i for i, there in zip(chunk, pipe.execute(), strict=True) if there)
    return found


def _shard(i: int, ranges: list[tuple[int, int]]) -> int:
    slot = key_slot(KEY_NAME.format(i))
    return next(s for s, (first, last) in enumerate(ranges) if first <= slot <= last)


def _summarise(log: _Log, killed: float, present: set[int]) -> dict[str, Any]:
    ranges = slot_ranges(MASTERS)
    by_shard: list[list[float]] = [[] for _ in ranges]
    for i, t in log.acks:
        by_shard[_shard(i, ranges)].append(t)
    before = [t for t in by_shard[0] if t <= killed]
    after = [t for t in by_shard[0] if t > killed]
    gaps = []
    for times in by_shard[1:]:
        near = [t for t in times if t > killed - 1.0]
        gaps.append(1e3 * max((b - a for a, b in zip(near, near[1:], strict=False)),
                              default=0.0))
    return {
        "acked_writes": len(log.acks),
        "lost_writes": sum(1 for i, _ in log.acks if i not in present),
        "write_outage_ms": 1e3 * (min(after) - max(before)) if before and after else None,
        "other_shards_gap_ms": max(gaps),
        "detected_ms": None if log.detected is None else 1e3 * (log.detected - killed),
        "promoted_ms": None if log.promoted is None else 1e3 * (log.promoted - killed),
        "failed_writes": log.failures,
        "redirects": log.moved + log.refreshes,
    }


# -- the simulated side ---------------------------------------------------------------------------


def simulation_config(case: ClusterCase, base: Config | None = None,
                      client_latency_s: float = 50e-6) -> Config:
    """The simulator's version of ``case``: three shards of one replica, one writer at W
    (open, Poisson) over many keys, the same node timeout, master 0 crashed (killed)."""
    base = base if base is not None else Config.default()
    return base.with_overrides({
        "run.duration": case.before_s + case.after_s, "run.warmup": 0.1,
        "cluster.shards": MASTERS, "cluster.node_timeout": case.node_timeout_s,
        "workload.clients": 1, "workload.read_rate": 0, "workload.write_rate": case.write_rate,
        "workload.keys": 100_000, "workload.key_distribution": "uniform",
        "cache.enabled": False, "replication.replicas": 1, "replication.delay": "50us",
        "network.client_latency": client_latency_s, "replication.read_policy": "master",
        "faults.master_crash_at": case.before_s, "faults.shard": 0})


def simulate_case(case: ClusterCase, seeds: int = 5, base: Config | None = None) -> dict[str, Any]:
    """Means over ``seeds`` simulated runs of ``case`` (times in ms), keys as measured."""
    config = simulation_config(case, base)
    results = [simulate(config.with_overrides({"run.seed": seed}), keep_model=True)
               for seed in range(seeds)]
    runs = [result.summary for result in results]
    detections = [t for result in results
                  for t in result.model.nodes.shards.groups[0].cluster.detections]

    def mean(values: list[Any]) -> float | None:
        values = [v for v in values if v is not None]
        return statistics.fmean(values) if values else None

    rate = case.write_rate
    return {
        "acked_writes": mean([r["writes"] for r in runs]),
        "lost_writes": mean([r["lost_writes"] for r in runs]),
        "write_outage_ms": mean([r["shards"][0]["write_outage_ms"] for r in runs]),
        # refused writes of the busiest other shard at its share of W: the gap they leave
        "other_shards_gap_ms": mean([
            max(1e3 * row["unavailable_writes"] / (rate * row["ops_s"] / max(
                sum(x["ops_s"] for x in r["shards"]), 1e-9)) for row in r["shards"][1:])
            for r in runs]),
        "detected_ms": 1e3 * statistics.fmean(detections) if detections else None,
        "promoted_ms": mean([r["failover_duration_ms"]["mean"] for r in runs]),
        "failed_writes": mean([r["unavailable_writes"] for r in runs]),
        "redirects": mean([r["moved_redirects"] for r in runs]),
    }


def compare_case(case: ClusterCase, seeds: int = 5, host: str = "127.0.0.1") -> dict[str, Any]:
    """Measure and simulate one case: ``{"case": ..., "real": ..., "sim": ...}``."""
    return {"case": case, "real": measure_case(case, host), "sim": simulate_case(case, seeds)}
