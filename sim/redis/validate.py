"""Drive a real master and replica with the simulator's workload, and compare.

The workload is the simulator's open mode with one replica and no cache: Poisson writes
at ``write_rate`` to uniform keys at the master, each writing the key's next version
(1, 2, 3, ...), and Poisson reads at ``read_rate`` of uniform keys at the replica. Rates
are per second, times seconds (milliseconds only in the summary dicts, as in docs/design.md).

What a real run can observe. V(k, i), the highest version committed at the master when
read i was issued, is not directly observable: the master commits a SET somewhere
between the writer sending it and the writer receiving its OK. We bound it:

* lower bound ``acked``: versions whose OK the writer received before the read was
  issued are certainly committed (the snapshot is taken before the read is sent);
* upper bound ``sent``: a version not yet sent cannot be committed (the snapshot is
  taken after the read is sent).

A read is counted stale when it returns v < acked (certainly stale): that is the
reported stale-read rate and staleness acked - v. ``stale_reads_upper`` counts v < sent
(possibly stale); the true count lies between the two. A read may return a version
newer than any acknowledged, even newer than V(k, i): on loopback a replica often
applies a write before the writer receives its OK, and the replica serves the read
after it was issued. Such a read is fresh, never an error (``newer_than_acked`` counts
them); only a version beyond any sent by the time the reply arrived would be
impossible, and is counted in ``impossible`` (a check of the harness, always 0).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import redis
from redis.connection import Connection

from sim.config.schema import Config
from sim.measure.metrics import LogHistogram, RatioBatchMeans
from sim.redis.measure import REPLY_TIMEOUT_S, MeasureError, redis_client, sigint_deferred
from sim.redis.proxy import DelayProxy, DelayStats

__all__ = [
    "Comparison",
    "RealResult",
    "Workload",
    "compare",
    "measure_real",
    "replication_through_proxy",
    "simulate_workload",
    "theory_stale_rate",
    "validate",
]

#: Batches of the batch-means interval (as many as the simulator's recorder uses).
BATCHES = 20
#: How long to wait for a replica's link to come up, in seconds.
LINK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Workload:
    """The workload both sides run: rates per second, times in seconds."""

    read_rate: float = 1000.0
    write_rate: float = 50.0
    keys: int = 10
    duration_s: float = 10.0
    warmup_s: float = 1.0
    seed: int = 1

    def __post_init__(self) -> None:
        checks = (("read_rate", self.read_rate > 0), ("write_rate", self.write_rate > 0),
                  ("keys", isinstance(self.keys, int) and self.keys >= 1),
                  ("warmup_s", 0 <= self.warmup_s < self.duration_s))
        for name, ok in checks:
            if not ok:
                raise ValueError(f"workload {name} = {getattr(self, name)!r} with duration_s = "
                                 f"{self.duration_s!r}: rates > 0, keys >= 1, "
                                 "0 <= warmup_s < duration_s")


@dataclass(frozen=True)
class RealResult:
    """What the real master and replica did, in the simulator's summary units.

    ``summary`` has the keys of ``repsim run --json`` that a real run can measure
    (reads, writes, stale_reads, stale_read_rate, stale_read_rate_ci95,
    staleness_versions_mean, read_latency_ms, throughput_ops_s) plus the bounds
    described in the module docstring. Rates achieved are per second of window.
    """

    summary: dict[str, Any]
    read_rate: float
    write_rate: float
    delay: DelayStats | None = field(default=None, repr=False)


# -- the real side -------------------------------------------------------------------------


def _connect(address: tuple[str, int]) -> Connection:
    conn = Connection(host=address[0], port=address[1], socket_timeout=REPLY_TIMEOUT_S,
                      socket_connect_timeout=REPLY_TIMEOUT_S)
    try:
        conn.connect()
    except redis.RedisError as error:
        raise MeasureError(f"cannot connect to {address[0]}:{address[1]}: {error}") from error
    return conn


class _Shared:
    """Per-key versions shared by the writer and reader threads (list items: atomic).

    ``stop`` ends both threads before their next operation: set when either fails, and
    when the caller is interrupted, so that no thread writes keys after the clean-up.
    """

    def __init__(self, keys: int) -> None:
        self.sent = [0] * keys
        self.acked = [0] * keys
        self.errors: list[BaseException] = []
        self.stop = threading.Event()

    def fail(self, error: BaseException) -> None:
        self.errors.append(error)
        self.stop.set()


def _poisson_times(rng: np.random.Generator, rate: float, horizon: float) -> np.ndarray:
    """Arrival times (seconds from 0) of a Poisson process of ``rate`` up to ``horizon``."""
    n = int(rate * horizon + 10 * math.sqrt(rate * horizon) + 10)
    times = np.cumsum(rng.exponential(1.0 / rate, n))
    return times[times < horizon]


def schedules(workload: Workload) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The workload's write times and keys, then its read times and keys (seconds from the
    start), from its seed."""
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(workload.seed).spawn(4)]
    w_times = _poisson_times(rngs[0], workload.write_rate, workload.duration_s)
    w_keys = rngs[1].integers(0, workload.keys, len(w_times))
    r_times = _poisson_times(rngs[2], workload.read_rate, workload.duration_s)
    r_keys = rngs[3].integers(0, workload.keys, len(r_times))
    return w_times, w_keys, r_times, r_keys


def _wait_until(stop: threading.Event, when: float) -> bool:
    """Sleep until ``time.perf_counter()`` reaches ``when`` (s); False, at once, if ``stop`` is set."""
    wait = when - time.perf_counter()
    return not (stop.wait(wait) if wait > 0 else stop.is_set())


def _writer(conn: Connection, names: list[str], shared: _Shared, times: np.ndarray,
            keys: np.ndarray, start: float, counts: list[int], window: tuple[float, float]) -> None:
    clock, sent, acked, stop = time.perf_counter, shared.sent, shared.acked, shared.stop
    try:
        for t, k in zip(times.tolist(), keys.tolist(), strict=True):
            if not _wait_until(stop, start + t):
                return
            version = sent[k] + 1
            sent[k] = version
            issued = clock() - start
            conn.send_command("SET", names[k], version)
            conn.read_response()
            acked[k] = version
            if window[0] <= issued < window[1]:
                counts[0] += 1
    except BaseException as error:  # reported by the caller, not lost in a thread
        shared.fail(error)


def _reader(conn: Connection, names: list[str], shared: _Shared, times: np.ndarray,
            keys: np.ndarray, start: float, out: dict[str, Any]) -> None:
    clock, sent, acked, stop = time.perf_counter, shared.sent, shared.acked, shared.stop
    stale, latency = out["stale"], out["latency"]
    t0, t1 = stale.t0, stale.t1
    counts = out["counts"]  # reads, stale, stale_upper, versions, newer_than_acked, impossible
    try:
        for t, k in zip(times.tolist(), keys.tolist(), strict=True):
            if not _wait_until(stop, start + t):
                return
            low = acked[k]  # before the read is sent: certainly committed by then
            issued = clock()
            conn.send_command("GET", names[k])
            high = sent[k]  # after the read is sent: nothing newer can be committed yet
            reply = conn.read_response()
            done = clock()
            latest = sent[k]  # at the reply: no version beyond this can exist yet
            i = issued - start
            if not t0 <= i < t1:
                continue
            v = 0 if reply is None else int(reply)
            counts[0] += 1
            is_stale = v < low
            counts[1] += is_stale
            counts[2] += v < high
            counts[3] += max(low - v, 0)
            counts[4] += v > low
            counts[5] += v > latest
            stale.add(i, 1.0 if is_stale else 0.0)
            latency.add(done - issued)
    except BaseException as error:
        shared.fail(error)


def measure_real(master: tuple[str, int], replica: tuple[str, int], workload: Workload) -> RealResult:
    """Run ``workload`` against a master and its replica; what the definitions measure.

    One writer thread (to the master) and one reader thread (to the replica), each with
    its own connection, follow precomputed Poisson schedules; an operation that comes
    due while the previous one is still out is sent when that one returns. The rates
    actually achieved in the window are returned for the simulation to use.
    """
    w_times, w_keys, r_times, r_keys = schedules(workload)
    names = [f"repsim:val:{uuid.uuid4().hex[:8]}:{k}" for k in range(workload.keys)]
    window = (workload.warmup_s, workload.duration_s)
    shared = _Shared(workload.keys)
    out = {"stale": RatioBatchMeans(*window, BATCHES), "latency": LogHistogram(),
           "counts": [0] * 6}
    write_count = [0]
    w_conn = _connect(master)
    try:
        r_conn = _connect(replica)
    except MeasureError:
        w_conn.disconnect()
        raise
    start = time.perf_counter() + 0.05  # both schedules start together
    threads = [
        threading.Thread(target=_writer, name="repsim-validate-writer", daemon=True, args=(
            w_conn, names, shared, w_times, w_keys, start, write_count, window)),
        threading.Thread(target=_reader, name="repsim-validate-reader", daemon=True, args=(
            r_conn, names, shared, r_times, r_keys, start, out)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if shared.errors:
            error = shared.errors[0]
            raise MeasureError(f"validation workload failed: {error}") from error
    finally:
        # Interrupted (Ctrl-C) or failed: stop both threads before deleting the keys, or
        # the writer would go on setting them (and share its connection with the DEL).
        shared.stop.set()
        for thread in threads:
            if thread.ident is not None:
                thread.join(timeout=2 * REPLY_TIMEOUT_S)
        with sigint_deferred():  # a second Ctrl-C must not cut the clean-up short
            w_conn.disconnect()
            r_conn.disconnect()
            with contextlib.suppress(redis.RedisError, OSError):
                client = redis_client(master)
                client.delete(*names)
                client.close()
    reads, stale, stale_upper, versions, newer, impossible = out["counts"]
    rate, lo, hi = out["stale"].estimate(clamp01=True)
    span = window[1] - window[0]
    summary = {
        "reads": reads,
        "writes": write_count[0],
        "stale_reads": stale,
        "stale_read_rate": rate,
        "stale_read_rate_ci95": [lo, hi],
        "stale_reads_upper": stale_upper,
        "stale_read_rate_upper": stale_upper / reads if reads else None,
        "staleness_versions_mean": versions / reads if reads else 0.0,
        "newer_than_acked": newer,
        "impossible": impossible,
        "read_latency_ms": out["latency"].summary_ms(),
        "throughput_ops_s": (reads + write_count[0]) / span,
    }
    return RealResult(summary, reads / span, write_count[0] / span)


# -- putting the proxy between master and replica --------------------------------------------


def _replication_info(address: tuple[str, int]) -> dict[str, Any]:
    try:
        with redis_client(address) as client:  # closed now, not whenever GC gets to it
            return client.info("replication")
    except redis.RedisError as error:
        raise MeasureError(f"cannot reach Redis at {address[0]}:{address[1]}: {error}") from error


def check_pair(master: tuple[str, int], replica: tuple[str, int]) -> dict[str, Any]:
    """The replica's INFO replication, after checking that it replicates from ``master``.

    Identity is the replication ID: a synced replica reports its master's ``master_replid``.
    """
    m_info, r_info = _replication_info(master), _replication_info(replica)
    if r_info.get("role") != "slave":
        raise MeasureError(f"--replica {replica[0]}:{replica[1]} is not a replica (role "
                           f"{r_info.get('role')}); start it with --replicaof")
    if r_info.get("master_replid") != m_info.get("master_replid"):
        raise MeasureError(f"--replica {replica[0]}:{replica[1]} does not replicate from "
                           f"--master {master[0]}:{master[1]}")
    return r_info


def wait_link_up(replica: tuple[str, int], master: tuple[str, int] | None = None,
                 timeout_s: float = LINK_TIMEOUT_S) -> None:
    """Wait until the replica's link is up and, given ``master``, caught up with its offset."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = _replication_info(replica)
        if info.get("master_link_status") == "up":
            if master is None:
                return
            target = _replication_info(master).get("master_repl_offset", 0)
            if info.get("slave_repl_offset", -1) >= target:
                return
        time.sleep(0.02)
    raise MeasureError(f"replica {replica[0]}:{replica[1]} did not come up within {timeout_s:g}s")


@contextlib.contextmanager
def replication_through_proxy(master: tuple[str, int], replica: tuple[str, int], delay_s: float,
                              listen_host: str = "127.0.0.1") -> Iterator[DelayProxy]:
    """Re-point ``replica`` at a delay proxy in front of ``master``; restore it afterwards.

    The replica continues with a partial resync through the proxy. On exit it is pointed
    back at the master it had (as it named it), and the proxy is stopped.
    """
    info = check_pair(master, replica)
    original = (info["master_host"], int(info["master_port"]))
    proxy = DelayProxy(master, delay_s, listen=(listen_host, 0))
    try:
        host, port = proxy.start()
    except OSError as error:  # e.g. --proxy-host is not an address of this machine
        raise MeasureError(str(error)) from error
    client = redis_client(replica)
    try:
        client.replicaof(host, port)
        wait_link_up(replica, master)
        proxy.reset_stats()  # the handshake is not replication traffic
        yield proxy
    finally:
        with contextlib.suppress(redis.RedisError, OSError):
            client.replicaof(*original)
        client.close()
        proxy.stop()
        with contextlib.suppress(MeasureError):
            wait_link_up(replica, timeout_s=10.0)


# -- the simulated side ----------------------------------------------------------------------


def simulate_workload(config: Config, workload: Workload, read_rate: float, write_rate: float,
                      delay: str, duration_s: float) -> dict[str, Any]:
    """Simulator summary for the same workload: one replica, reads there, no cache.

    ``delay`` is the replication delay as a config string; ``duration_s`` simulated
    seconds (longer than the real run is cheap and narrows the interval).
    """
    from sim.engine import simulate  # late: measuring needs no engine

    overrides = {
        "workload.mode": "open", "workload.clients": 1, "workload.read_rate": read_rate,
        "workload.write_rate": write_rate, "workload.keys": workload.keys,
        "workload.key_distribution": "uniform", "replication.replicas": 1,
        "replication.read_policy": "replicas", "replication.wait_replicas": 0,
        "replication.delay": delay, "cache.enabled": False, "pipeline.batch_size": 1,
        "pipeline.linger": 0.0, "run.duration": duration_s,
        "run.warmup": min(workload.warmup_s, duration_s / 2), "run.seed": workload.seed,
    }
    return simulate(config.with_overrides(overrides)).summary


def theory_stale_rate(write_rate_per_key: float, delays_s: np.ndarray, read_offset_s: float) -> float:
    """1 - E[exp(-λ (D - δ)+)] over the realised delays D (``analytic``'s constant-delay
    formula averaged over D): Poisson writes at λ per key, reads reaching the replica δ
    after issue."""
    d = np.clip(np.asarray(delays_s, dtype=float) - read_offset_s, 0.0, None)
    return float(np.mean(-np.expm1(-write_rate_per_key * d)))


# -- both, side by side ---------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One validation: the real and simulated summaries, the delays used, and the verdict.

    ``agree`` is True when the two stale-read-rate intervals overlap.
    """

    workload: Workload
    delay_target_s: float | None
    delay_used: str
    delay_mean_s: float
    real: dict[str, Any]
    sim: dict[str, Any]
    theory_stale_rate: float
    agree: bool

    @property
    def verdict(self) -> str:
        real, sim = self.real["stale_read_rate"], self.sim["stale_read_rate"]
        if self.agree:
            return "agree: the stale-read-rate intervals overlap"
        ratio = f" (simulator / real = {sim / real:.2f})" if real else ""
        return f"differ: the stale-read-rate intervals do not overlap{ratio}"

    def to_dict(self) -> dict[str, Any]:
        w = self.workload
        return {
            "workload": {"read_rate": w.read_rate, "write_rate": w.write_rate, "keys": w.keys,
                         "duration_s": w.duration_s, "warmup_s": w.warmup_s, "seed": w.seed},
            "delay_target_ms": None if self.delay_target_s is None else self.delay_target_s * 1e3,
            "delay_mean_ms": self.delay_mean_s * 1e3, "delay_used": self.delay_used,
            "real": self.real, "sim": self.sim, "theory_stale_rate": self.theory_stale_rate,
            "agree": self.agree, "verdict": self.verdict,
        }


def compare(real: dict[str, Any], sim: dict[str, Any]) -> bool:
    """True when the two stale-read-rate 95% intervals overlap (a missing interval:
    the point estimates must be equal)."""
    r_lo, r_hi = real["stale_read_rate_ci95"]
    s_lo, s_hi = sim["stale_read_rate_ci95"]
    r_lo = real["stale_read_rate"] if r_lo is None else r_lo
    r_hi = real["stale_read_rate"] if r_hi is None else r_hi
    s_lo = sim["stale_read_rate"] if s_lo is None else s_lo
    s_hi = sim["stale_read_rate"] if s_hi is None else s_hi
    return r_lo <= s_hi and s_lo <= r_hi


def _delay_for_sim(stats: DelayStats | None, hop_s: float, folder: Path) -> tuple[str, float, np.ndarray]:
    """The replication delay for the simulation: config string, mean and samples (s).

    Through the proxy: each realised proxy delay plus two loopback hops (master to proxy,
    proxy to replica), written as an ``empirical:`` file. Direct: one hop.
    """
    if stats is None or stats.chunks == 0:
        return repr(hop_s) if hop_s > 0 else "0s", hop_s, np.array([hop_s])
    samples = stats.samples + 2 * hop_s
    path = folder / "replication_delay_s.txt"
    path.write_text("".join(f"{x!r}\n" for x in samples.tolist()))
    return f"empirical:{path}", float(samples.mean()), samples


def validate(master: tuple[str, int], replica: tuple[str, int], workload: Workload,
             config: Config, delay_s: float | None = None, sim_duration_s: float = 60.0,
             proxy_host: str = "127.0.0.1") -> Comparison:
    """Measure the real pair (through a delay proxy when ``delay_s`` is given), simulate
    the same workload with ``config`` and the delay actually realised, and compare."""
    if delay_s is None:
        check_pair(master, replica)
        wait_link_up(replica, master)
        real = measure_real(master, replica, workload)
        stats = None
    else:
        with replication_through_proxy(master, replica, delay_s, proxy_host) as proxy:
            real = measure_real(master, replica, workload)
            stats = proxy.stats()
    hop_s = config.network.client_latency.mean
    with tempfile.TemporaryDirectory(prefix="repsim-validate-") as folder:
        delay_text, delay_mean, samples = _delay_for_sim(stats, hop_s, Path(folder))
        sim = simulate_workload(config, workload, real.read_rate, real.write_rate, delay_text,
                                max(sim_duration_s, workload.duration_s))
    sim.pop("config", None)  # it names a temporary file; the delay is reported instead
    theory = theory_stale_rate(real.write_rate / workload.keys, samples, hop_s)
    used = "empirical (proxy realised + 2 hops)" if stats is not None else delay_text
    return Comparison(workload, delay_s, used, delay_mean, real.summary, sim, theory,
                      compare(real.summary, sim))
