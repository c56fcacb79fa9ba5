"""Kill a real Redis master under Sentinel and compare what it lost with the simulator.

The experiment, on loopback, with servers this module starts and always stops itself: a
master, two replicas that replicate through a :class:`~sim.redis.proxy.DelayProxy` each
(one-way delay d), one or three Sentinels (``redis-server --sentinel``, quorum 1 or 2,
``down-after-milliseconds`` as asked), and a paced writer that SETs a new key W times a
second and, whenever a write fails, asks Sentinel for the master
(``SENTINEL get-master-addr-by-name``) at most every ``poll_s`` and reconnects there. After
``before_s`` of writes the master is killed with SIGKILL; in ``network`` mode the proxies
are stopped at the same instant, losing what they held (the wire), as a host cut off would.
Optionally the master's ``redis-server`` is started again, empty (no persistence),
``restart_s`` after the kill. ``after_s`` later the writer stops, and every acknowledged
key is read back from the master Sentinel names.

Measured per run: acknowledged writes lost, their span of acknowledgement times (the loss
window), the write outage (last acknowledgement before the kill to the first after it), the
lost writes acknowledged by the restarted master, and Sentinel's phases from its own events
(``+sdown``, ``+failover-state-wait-promotion``, ``+promoted-slave``, ``+switch-master``).
The simulator runs the same case (:func:`simulate_case`). Times are seconds; the summary
dicts give milliseconds, as the simulator's do.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.connection import Connection

from sim.config.schema import Config
from sim.engine import simulate
from sim.redis.measure import MeasureError, redis_client
from sim.redis.proxy import DelayProxy
from sim.redis.validate import wait_link_up

__all__ = ["FailoverCase", "LoopbackCluster", "measure_case", "simulate_case", "compare_case"]

MASTER_NAME = "repsim"
START_TIMEOUT_S = 10.0
DISCOVERY_TIMEOUT_S = 30.0
OP_TIMEOUT_S = 0.25  # a write that takes longer counts as failed (the master is gone)
KEY_PREFIX = "repsim:failover:"
SENTINEL_EVENTS = {"+sdown": "detected", "+failover-state-wait-promotion": "promoted",
                   "+promoted-slave": "confirmed", "+switch-master": "switched",
                   "+convert-to-slave": "demoted"}


@dataclass(frozen=True)
class FailoverCase:
    """One run: ``write_rate`` per second, one-way replication ``delay_s``, ``crash_mode``
    ("process" or "network"), ``restart_s`` (None: the master stays dead), Sentinel's
    ``down_after_s``, ``sentinels`` (1 or 3), and the writer's phases (seconds)."""

    write_rate: float
    delay_s: float
    crash_mode: str = "process"
    restart_s: float | None = None
    down_after_s: float = 0.5
    sentinels: int = 1
    before_s: float = 2.0
    after_s: float = 4.0
    poll_s: float = 0.1

    def __post_init__(self) -> None:
        if self.crash_mode not in ("process", "network"):
            raise ValueError(f"crash_mode = {self.crash_mode!r}: expected 'process' or 'network'")
        if self.sentinels not in (1, 3):
            raise ValueError(f"sentinels = {self.sentinels!r}: expected 1 or 3")
        if not self.write_rate > 0 or self.delay_s < 0 or self.down_after_s <= 0:
            raise ValueError("write_rate > 0, delay_s >= 0 and down_after_s > 0 are required")
        if self.restart_s is not None and not 0 < self.restart_s < self.after_s:
            raise ValueError(f"restart_s = {self.restart_s!r}: expected 0 < restart < after_s")

    @property
    def label(self) -> str:
        restart = "" if self.restart_s is None else f", restart {self.restart_s:g}s"
        return (f"{self.crash_mode}, {self.write_rate:g} w/s, d {1e3 * self.delay_s:g} ms"
                f"{restart}")


# -- processes ---------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it if this process dies first, so an
    interrupted validation leaves no server behind."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Server:
    """One redis-server (or Sentinel) process in ``folder``, persistence off."""

    def __init__(self, binary: str, folder: Path, host: str, port: int,
                 extra: list[str], sentinel_conf: str | None = None) -> None:
        self.binary, self.folder, self.host, self.port = binary, folder, host, port
        self.extra, self.sentinel_conf = extra, sentinel_conf
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.sentinel_conf is not None:
            conf = self.folder / "sentinel.conf"
            conf.write_text(self.sentinel_conf)
            argv = [self.binary, str(conf), "--sentinel"]
        else:
            argv = [self.binary, "--port", str(self.port), "--bind", self.host,
                    "--save", "", "--appendonly", "no", "--dir", str(self.folder),
                    "--daemonize", "no", *self.extra]
        log = open(self.folder / "log.txt", "ab")  # noqa: SIM115 - closed by the child's exit
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MeasureError(f"redis-server on port {self.port} exited at start; see "
                                   f"its log: {(self.folder / 'log.txt').read_text()[-300:]}")
            with contextlib.suppress(redis.RedisError, OSError), redis_client(self.address) as c:
                if c.ping():
                    return
            time.sleep(0.02)
        raise MeasureError(f"redis-server on port {self.port} did not answer within "
                           f"{START_TIMEOUT_S:g}s")

    def kill(self) -> None:
        """SIGKILL, as the crash; also the last resort of :meth:`stop`."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


class LoopbackCluster:
    """Master, two replicas behind delay proxies, Sentinels; a context manager that stops
    every process and proxy and removes its temporary folder. ``base_port`` 0 picks free
    ports, else the servers use base_port, base_port + 1, ..."""

    def __init__(self, case: FailoverCase, host: str = "127.0.0.1", base_port: int = 0,
                 binary: str | None = None) -> None:
        binary = binary or shutil.which("redis-server")
        if binary is None:
            raise MeasureError("no redis-server binary on PATH (Debian/Ubuntu: apt-get "
                               "install redis-server)")
        self.case, self.host = case, host
        self.folder = Path(tempfile.mkdtemp(prefix="repsim-failover-"))
        count = 3 + case.sentinels
        ports = ([_free_port(host) for _ in range(count)] if base_port == 0
                 else list(range(base_port, base_port + count)))
        self.master = _Server(binary, self.folder / "master", host, ports[0], [])
        self.replicas: list[_Server] = []
        self.proxies: list[DelayProxy] = []
        self.sentinels = [
            _Server(binary, self.folder / f"sentinel{i}", host, port, [], self._sentinel_conf(
                port, ports[0])) for i, port in enumerate(ports[3:])]
        self._replica_ports = ports[1:3]
        self.binary = binary

    def _sentinel_conf(self, port: int, master_port: int) -> str:
        quorum = 1 if self.case.sentinels == 1 else 2
        return (f"port {port}\nbind {self.host}\ndir {self.folder}\n"
                f"sentinel monitor {MASTER_NAME} {self.host} {master_port} {quorum}\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} "
                f"{round(self.case.down_after_s * 1000)}\n"
                f"sentinel failover-timeout {MASTER_NAME} 60000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n")

    def __enter__(self) -> LoopbackCluster:
        try:
            self.master.start()
            for j, port in enumerate(self._replica_ports):
                proxy = DelayProxy(self.master.address, self.case.delay_s, listen=(self.host, 0))
                phost, pport = proxy.start()
                self.proxies.append(proxy)
                replica = _Server(self.binary, self.folder / f"replica{j}", self.host, port,
                                  ["--replicaof", phost, str(pport)])
                self.replicas.append(replica)
                replica.start()
                wait_link_up(replica.address, self.master.address)
            for sentinel in self.sentinels:
                sentinel.start()
            self._wait_discovery()
            for proxy in self.proxies:
                proxy.reset_stats()  # the initial sync is not the stream under test
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_discovery(self) -> None:
        """Until every Sentinel knows both replicas (and the other Sentinels)."""
        deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            ready = True
            for sentinel in self.sentinels:
                with redis_client(sentinel.address) as c:
                    replicas = c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
                    others = c.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)
                up = [r for r in replicas if "s_down" not in _fields(r).get("flags", "")]
                ready &= len(up) == 2 and len(others) == len(self.sentinels) - 1
            if ready:
                return
            time.sleep(0.1)
        raise MeasureError(f"Sentinel did not discover the replicas within "
                           f"{DISCOVERY_TIMEOUT_S:g}s")

    def crash(self) -> None:
        """SIGKILL the master; in network mode sever the proxies at the same instant (what
        they hold is lost) and close them."""
        network = self.case.crash_mode == "network"
        if network:
            for proxy in self.proxies:
                proxy.sever()
        self.master.kill()
        if network:
            for proxy in self.proxies:
                proxy.stop()

    def restart_master(self) -> None:
        self.master.start()

    def close(self) -> None:
        for server in [*self.sentinels, *self.replicas, self.master]:
            with contextlib.suppress(Exception):
                server.stop()
        for proxy in self.proxies:
            with contextlib.suppress(Exception):
                proxy.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _fields(flat: Any) -> dict[str, str]:
    """A Sentinel reply's flat [name, value, ...] list (or a dict) as a dict of str."""
    if isinstance(flat, dict):
        return {_text(k): _text(v) for k, v in flat.items()}
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- the writer and Sentinel's events ------------------------------------------------------------


@dataclass
class _Log:
    acks: list[tuple[int, float, tuple[str, int]]] = field(default_factory=list)
    failures: int = 0
    first_failure: float | None = None
    events: list[tuple[float, str]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def _master_address(sentinels: list[tuple[str, int]]) -> tuple[str, int] | None:
    for address in sentinels:
        with contextlib.suppress(redis.RedisError, OSError), redis_client(address) as c:
            reply = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
            if reply:
                return (_text(reply[0]), int(reply[1]))
    return None


def _write_loop(case: FailoverCase, sentinels: list[tuple[str, int]], start: tuple[str, int],
                stop_at: float, stop: threading.Event, log: _Log) -> None:
    """SET key i every 1/W s; on a failure ask Sentinel (at most every poll_s) and reconnect."""
    address, conn = start, None
    period = 1.0 / case.write_rate
    next_t, last_poll, i = time.monotonic(), -1.0, 0
    try:
        while not stop.is_set():
            now = time.monotonic()
            if now >= stop_at:
                return
            if next_t > now:
                time.sleep(next_t - now)
            next_t = max(next_t + period, time.monotonic() - period)
            try:
                if conn is None:
                    conn = Connection(host=address[0], port=address[1],
                                      socket_timeout=OP_TIMEOUT_S,
                                      socket_connect_timeout=OP_TIMEOUT_S, retry_on_timeout=False)
                    conn.connect()
                conn.send_command("SET", f"{KEY_PREFIX}{i}", i)
                conn.read_response()
                log.acks.append((i, time.monotonic(), address))
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError):
                log.failures += 1
                if log.first_failure is None:
                    log.first_failure = time.monotonic()
                if conn is not None:
                    conn.disconnect()
                    conn = None
                if time.monotonic() - last_poll >= case.poll_s:
                    last_poll = time.monotonic()
                    address = _master_address(sentinels) or address
            i += 1
    except BaseException as error:  # reported by measure_case
        log.errors.append(error)
    finally:
        if conn is not None:
            conn.disconnect()


def _listen(sentinel: tuple[str, int], stop: threading.Event, log: _Log,
            ready: threading.Event) -> None:
    client = redis.Redis(host=sentinel[0], port=sentinel[1], socket_timeout=1.0)
    pubsub = client.pubsub()
    try:
        pubsub.psubscribe("*")
        ready.set()
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.05)
            if message and message["type"] == "pmessage":
                channel = _text(message["channel"])
                if channel in SENTINEL_EVENTS:
                    data = _text(message["data"])
                    if channel != "+sdown" or data.startswith("master"):
                        log.events.append((time.monotonic(), channel))
    except (redis.RedisError, OSError) as error:
        log.errors.append(error)
    finally:
        ready.set()
        pubsub.close()
        client.close()


# -- one measured case ----------------------------------------------------------------------------


def measure_case(case: FailoverCase, host: str = "127.0.0.1", base_port: int = 0) -> dict[str, Any]:
    """Run ``case`` on a fresh loopback cluster; the measured summary (times in ms)."""
    with LoopbackCluster(case, host, base_port) as cluster:
        sentinels = [s.address for s in cluster.sentinels]
        log, stop = _Log(), threading.Event()
        # Every Sentinel's events: with three, the elected leader runs the failover.
        listeners = []
        for address in sentinels:
            ready = threading.Event()
            listener = threading.Thread(target=_listen, args=(address, stop, log, ready),
                                        daemon=True)
            listener.start()
            ready.wait(5)
            listeners.append(listener)
        t0 = time.monotonic()
        crash_at = t0 + case.before_s
        writer = threading.Thread(target=_write_loop, daemon=True, args=(
            case, sentinels, cluster.master.address, crash_at + case.after_s, stop, log))
        writer.start()
        try:
            time.sleep(max(0.0, crash_at - time.monotonic()))
            delays = [p.stats() for p in cluster.proxies]
            killed = time.monotonic()
            cluster.crash()
            if case.restart_s is not None:
                time.sleep(max(0.0, killed + case.restart_s - time.monotonic()))
                cluster.restart_master()
            writer.join()
            time.sleep(0.3)  # the last replies settle
            final = _master_address(sentinels)
            if final is None:
                raise MeasureError("Sentinel names no master after the failover")
            present = _present(final, [i for i, _, _ in log.acks])
        finally:
            stop.set()
            writer.join(timeout=5)
            for listener in listeners:
                listener.join(timeout=5)
        if log.errors:
            raise MeasureError(f"the failover run failed: {log.errors[0]}")
    summary = _summarise(case, log, killed, present, cluster.master.address)
    # What the proxies really added before the kill: a starved event loop shows here.
    maxima = [d.max_s for d in delays if d.max_s is not None]
    summary["realised_delay_max_ms"] = 1e3 * max(maxima) if maxima else None
    return summary


def _present(address: tuple[str, int], indices: list[int]) -> set[int]:
    """Which acknowledged keys the master holds; then deletes them (the servers are
    discarded anyway, but nothing written is left behind while they run)."""
    found: set[int] = set()
    with redis_client(address) as client:
        for lo in range(0, len(indices), 1000):
            chunk = indices[lo:lo + 1000]
            pipe = client.pipeline(transaction=False)
            for i in chunk:
                pipe.exists(f"{KEY_PREFIX}{i}")
            found.update(i for i, there in zip(chunk, pipe.execute(), strict=True) if there)
            client.delete(*(f"{KEY_PREFIX}{i}" for i in chunk))
    return found


def _summarise(case: FailoverCase, log: _Log, killed: float, present: set[int],
               old: tuple[str, int]) -> dict[str, Any]:
    lost = [(i, t, a) for i, t, a in log.acks if i not in present]
    # The outage brackets the writer's first failure (a write in flight at the kill may
    # still be acknowledged just after it).
    cut = log.first_failure if log.first_failure is not None else killed
    before = [t for _, t, _ in log.acks if t <= cut]
    after = [t for _, t, _ in log.acks if t > cut]
    phases: dict[str, float | None] = dict.fromkeys(
        ("detected", "promoted", "confirmed", "switched", "demoted"))
    for t, channel in sorted(log.events):
        name = SENTINEL_EVENTS[channel]
        if t > killed and phases[name] is None:
            phases[name] = 1e3 * (t - killed)
    times = [t for _, t, _ in lost]
    return {
        "acked_writes": len(log.acks),
        "lost_writes": len(lost),
        "data_loss_window_ms": 1e3 * (max(times) - min(times)) if times else None,
        "write_outage_ms": 1e3 * (min(after) - max(before)) if before and after else None,
        "restart_lost_writes": (0 if case.restart_s is None else sum(
            1 for _, t, a in lost if t > killed + case.restart_s and a == old)),
        "failed_writes": log.failures,
        "phases_ms": phases,
    }


# -- the simulated side ---------------------------------------------------------------------------


def simulation_config(case: FailoverCase, base: Config | None = None,
                      client_latency_s: float = 50e-6) -> Config:
    """The simulator's version of ``case``: one writer at W (open, Poisson), two replicas at
    constant delay d, Sentinel's timeline with the same down-after, a polling client, and
    redis-server's default diskless-sync delay (5 s)."""
    base = base if base is not None else Config.default()
    overrides: dict[str, Any] = {
        "run.duration": case.before_s + case.after_s, "run.warmup": 0.1,
        "workload.clients": 1, "workload.read_rate": 0, "workload.write_rate": case.write_rate,
        "workload.keys": 1000, "cache.enabled": False, "replication.replicas": 2,
        "replication.delay": f"{case.delay_s}s", "network.client_latency": client_latency_s,
        "faults.master_crash_at": case.before_s, "faults.crash_mode": case.crash_mode,
        "faults.failover_timeout": "sentinel", "faults.sentinel_down_after": case.down_after_s,
        "faults.client_discovery": "poll", "faults.client_poll_interval": case.poll_s,
        "server.persistence": "none", "replication.diskless_sync_delay": 5.0,
        "faults.master_recover_after": case.restart_s if case.restart_s is not None else 0.0}
    return base.with_overrides(overrides)


def simulate_case(case: FailoverCase, seeds: int = 5, base: Config | None = None,
                  client_latency_s: float = 50e-6) -> dict[str, Any]:
    """Means over ``seeds`` simulated runs of ``case`` (times in ms), same keys as measured."""
    config = simulation_config(case, base, client_latency_s)
    runs = [simulate(config.with_overrides({"run.seed": seed})).summary for seed in range(seeds)]

    def mean(values: list[Any]) -> float | None:
        values = [v for v in values if v is not None]
        return statistics.fmean(values) if values else None

    phases = {name: mean([r["failover_phases_ms"][name] for r in runs])
              for name in ("detected", "promoted", "confirmed", "clients_switched")}
    return {
        "acked_writes": mean([r["writes"] for r in runs]),
        "lost_writes": mean([r["lost_writes"] for r in runs]),
        "data_loss_window_ms": mean([r["data_loss_window_ms"] for r in runs]),
        "write_outage_ms": mean([r["write_outage_ms"]["mean"] for r in runs]),
        "restart_lost_writes": mean([r["restart_lost_writes"] for r in runs]),
        "failed_writes": mean([r["unavailable_writes"] for r in runs]),
        "phases_ms": phases,
    }


def compare_case(case: FailoverCase, seeds: int = 5, host: str = "127.0.0.1",
                 base_port: int = 0, base: Config | None = None) -> dict[str, Any]:
    """Measure and simulate one case: ``{"case": ..., "real": ..., "sim": ...}``."""
    real = measure_case(case, host, base_port)
    return {"case": case, "real": real, "sim": simulate_case(case, seeds, base)}
