"""Short, bounded measurements of a running Redis: PING round trip and closed-loop curves.

The closed loop is how ``redis-benchmark -c C -P B`` drives a server: C clients, each
sending B commands as one message, waiting for all B replies, and sending again at once.
Times are seconds, rates operations per second.

Why raw sockets in the hot loop: a redis-py pipeline spends several microseconds of
Python per command building and parsing it, which a fit would then blame on the server
(``server.service_time``). redis-py packs each message once, before the loop (so the bytes
are exactly what redis-py would send); the loop only writes those bytes and reads back a
reply of known length (``+OK`` for SET, one bulk string of known size for GET). A reply of
any other shape (an error such as READONLY or NOAUTH) stops the measurement with the
server's message.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import redis
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.retry import Retry

__all__ = [
    "LoopPoint",
    "MeasureError",
    "PingStats",
    "measure_closed_loop",
    "measure_curve",
    "measure_ping",
    "merge_points",
    "pipeline_depths",
    "redis_client",
    "server_version",
    "sigint_deferred",
]

#: Seconds a single reply may take before the measurement gives up.
REPLY_TIMEOUT_S = 5.0


class MeasureError(RuntimeError):
    """A measurement could not be made; the message says why in one line."""


def redis_client(address: tuple[str, int]) -> redis.Redis:
    """redis-py client for set-up, INFO and clean-up.

    No retries: a server that refuses the connection should say so at once, not after
    redis-py's default back-off of several seconds.
    """
    host, port = address
    return redis.Redis(host=host, port=port, socket_timeout=REPLY_TIMEOUT_S,
                       socket_connect_timeout=REPLY_TIMEOUT_S, retry=Retry(NoBackoff(), 0))


def server_version(address: tuple[str, int]) -> str:
    """``redis_version`` from INFO server (for the record of a calibration)."""
    try:
        with redis_client(address) as client:
            return str(client.info("server").get("redis_version", "unknown"))
    except redis.RedisError as error:
        raise MeasureError(f"cannot reach Redis at {address[0]}:{address[1]}: {error}") from error


@contextlib.contextmanager
def _connection_kept(address: tuple[str, int]) -> Iterator[None]:
    """Turn a connection the server dropped (killed with ``kill -9``, restarted, a network
    cut: ``ConnectionResetError``, ``BrokenPipeError``...) into the one-line MeasureError."""
    try:
        yield
    except OSError as error:
        raise MeasureError(f"lost the connection to {address[0]}:{address[1]} "
                           f"({error.strerror or error}): the server stopped or closed it"
                           ) from error


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while the block runs (clean-up of keys on the server), then raise
    the KeyboardInterrupt it would have raised; a clean-up cut short would leave keys."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class _RawConnection:
    """One TCP connection that sends pre-packed bytes and reads a reply of known length.

    ``message`` holds the (payload, expected reply) pair a closed loop sends.
    """

    def __init__(self, address: tuple[str, int]) -> None:
        self.where = f"{address[0]}:{address[1]}"
        try:
            self.sock = socket.create_connection(address, timeout=REPLY_TIMEOUT_S)
        except OSError as error:
            raise MeasureError(f"cannot connect to {address[0]}:{address[1]}: {error}") from error
        # Without NODELAY, Nagle's algorithm would hold small messages back ~40 ms.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray(1 << 16)
        self.message: tuple[bytes, bytes] = (b"", b"")

    def reserve(self, size: int) -> bytearray:
        """The receive buffer, grown to hold at least ``size`` bytes."""
        if size > len(self.buffer):
            self.buffer = bytearray(size)
        return self.buffer

    def roundtrip(self, payload: bytes, expected: bytes) -> None:
        """Send ``payload`` and read ``len(expected)`` bytes into the buffer."""
        sock = self.sock
        want = len(expected)
        sock.sendall(payload)
        got = 0
        with memoryview(self.reserve(want)) as view:
            try:
                while got < want:
                    n = sock.recv_into(view[got:want])
                    if n == 0:
                        raise MeasureError(f"the server at {self.where} closed the connection")
                    if got == 0 and self.buffer[0] == 45:  # b"-": an error reply
                        raise MeasureError(f"Redis replied with an error: {self.error_line(n)}")
                    got += n
            except TimeoutError as error:
                raise MeasureError(f"no complete reply within {REPLY_TIMEOUT_S:g}s") from error

    def check(self, payload: bytes, expected: bytes) -> None:
        """A round trip whose reply must equal ``expected`` byte for byte."""
        self.roundtrip(payload, expected)
        if bytes(self.buffer[: len(expected)]) != expected:
            raise MeasureError(f"unexpected reply {bytes(self.buffer[:40])!r} (wanted {expected[:40]!r})")

    def call(self, *args: str | bytes) -> bytes:
        """Send one command and return its one-line reply (``+OK``, ``:3``); MeasureError on
        an error reply. Only for replies that fit on one line."""
        self.sock.sendall(b"".join(Connection().pack_command(*args)))
        data = b""
        try:
            while not data.endswith(b"\r\n"):
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise MeasureError(f"the server at {self.where} closed the connection")
                data += chunk
        except TimeoutError as error:
            raise MeasureError(f"no complete reply within {REPLY_TIMEOUT_S:g}s") from error
        if data.startswith(b"-"):
            raise MeasureError(data[1:].strip().decode(errors="replace"))
        return data.strip()

    def read_until_integer_reply(self, limit: int = 1 << 24) -> None:
        """Read and drop whatever replies are pending until one ends in an integer reply
        (``:N``, the reply of DEL; the loops' replies are ``+OK`` and bulk strings of
        ``x``, which never end so)."""
        data = b""
        while not (data.endswith(b"\r\n") and data.rsplit(b"\r\n", 2)[-2].startswith(b":")):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MeasureError(f"the server at {self.where} closed the connection")
            data = (data + chunk)[-64:]  # the tail is all the test needs
            limit -= len(chunk)
            if limit < 0:
                raise MeasureError("no reply to DEL")

    def error_line(self, have: int) -> str:
        """The first line of an error reply whose first ``have`` bytes are in the buffer."""
        data = bytes(self.buffer[:have])
        while b"\r\n" not in data and len(data) < 4096:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0][1:].decode(errors="replace")

    def close(self) -> None:
        self.sock.close()


@dataclass(frozen=True)
class PingStats:
    """Round trips of PING on one connection, in seconds."""

    n: int
    rtt_mean_s: float
    rtt_p50_s: float
    rtt_min_s: float


def measure_ping(address: tuple[str, int], seconds: float = 0.5, max_pings: int = 20000) -> PingStats:
    """Send PING and wait for PONG, one at a time, for ``seconds`` or ``max_pings`` pings."""
    conn = _RawConnection(address)
    payload = Connection().pack_command("PING")[0]
    expected = b"+PONG\r\n"
    try:
        with _connection_kept(address):
            conn.check(payload, expected)
            samples: list[float] = []
            clock = time.perf_counter
            deadline = clock() + seconds
            while len(samples) < max_pings:
                t0 = clock()
                if t0 >= deadline:
                    break
                conn.roundtrip(payload, expected)
                samples.append(clock() - t0)
    finally:
        conn.close()
    rtt = np.asarray(samples)
    return PingStats(len(rtt), float(rtt.mean()), float(np.median(rtt)), float(rtt.min()))


@dataclass(frozen=True)
class LoopPoint:
    """One closed-loop measurement: ``clients`` clients, each with ``depth`` commands per message.

    ``throughput_ops_s`` counts commands (not messages) completed in the window;
    latencies are per message (a batch's send to its last reply), in seconds.
    """

    command: str
    depth: int
    clients: int
    batches: int
    window_s: float
    throughput_ops_s: float
    latency_p50_s: float
    latency_mean_s: float


def _payload(command: str, key: str, depth: int, value: bytes) -> tuple[bytes, bytes]:
    """Packed message of ``depth`` commands and the exact reply expected, as bytes."""
    if command == "SET":
        args: tuple = ("SET", key, value)
        reply = b"+OK\r\n"
    elif command == "GET":
        args = ("GET", key)
        reply = b"$%d\r\n%s\r\n" % (len(value), value)
    else:
        raise ValueError(f"command = {command!r}: expected SET or GET")
    packed = b"".join(Connection().pack_commands([args] * depth))
    return packed, reply * depth


def measure_closed_loop(address: tuple[str, int], command: str, depth: int, clients: int,
                        seconds: float, value_size: int = 100) -> LoopPoint:
    """Closed loop of ``clients`` connections, each sending ``depth`` commands per message.

    Each client has its own connection and key (``repsim:cal:<run>:<client>``, deleted at
    the end) and checks the shape of its replies once before the window opens. One thread
    drives every connection from a ``selectors`` loop, as redis-benchmark does: Python
    threads would queue for the GIL and measure the client rather than the server.
    """
    if depth < 1 or clients < 1 or seconds <= 0:
        raise ValueError("depth and clients must be >= 1 and seconds > 0")
    run = uuid.uuid4().hex[:8]
    keys = [f"repsim:cal:{run}:{c}" for c in range(clients)]
    value = b"x" * value_size
    # Exactly ``clients`` connections are open at once: the first also sets the keys up
    # and deletes them, so that a user's limit on connections is never exceeded.
    conns: list[_RawConnection] = []
    touched = measured = False
    try:
        for _ in keys:
            conns.append(_RawConnection(address))
        touched = True
        with _connection_kept(address):
            try:  # GET needs the keys to hold the value
                conns[0].call("MSET", *[x for key in keys for x in (key, value)])
            except MeasureError as error:
                raise MeasureError(f"cannot prepare keys on {address[0]}:{address[1]}: "
                                   f"{error}") from error
            for conn, key in zip(conns, keys, strict=True):
                conn.message = _payload(command, key, depth, value)
                conn.check(*conn.message)  # shape of the replies, and warm caches
            latencies, window_s = _drive(conns, seconds)
        measured = True
    finally:
        with sigint_deferred():
            if touched:
                _delete(keys, conns, measured, address)
            for conn in conns:
                conn.close()
    if latencies.size == 0:
        raise MeasureError(f"no {command} message with depth {depth} completed within {seconds:g}s")
    return LoopPoint(command, depth, clients, int(latencies.size), window_s,
                     latencies.size * depth / window_s, float(np.median(latencies)),
                     float(latencies.mean()))


def _delete(keys: list[str], conns: list[_RawConnection], idle: bool,
            address: tuple[str, int]) -> None:
    """Delete the measurement's keys, whatever stopped it.

    ``idle``: every reply was read, so one DEL on the first connection does it. Otherwise
    (Ctrl-C, an error) commands may still be in flight on any connection, and a DEL sent on
    another connection could run before them and be undone by a late SET: so each
    connection deletes its own key after whatever it sent before (Redis runs one
    connection's commands in order) and waits for that reply, and a DEL of them all on a
    fresh connection covers connections that broke.
    """
    if idle:
        with contextlib.suppress(MeasureError, OSError):
            conns[0].call("DEL", *keys)
            return
    for conn, key in zip(conns, keys, strict=False):
        with contextlib.suppress(MeasureError, OSError):
            conn.sock.settimeout(1.0)  # a dead server must not hold Ctrl-C up for long
            conn.sock.sendall(b"".join(Connection().pack_command("DEL", key)))
    for conn in conns:
        with contextlib.suppress(MeasureError, OSError):
            conn.read_until_integer_reply()
    with contextlib.suppress(redis.RedisError, OSError):
        client = redis_client(address)
        client.delete(*keys)
        client.close()


def _drive(conns: list[_RawConnection], seconds: float) -> tuple[np.ndarray, float]:
    """Run every connection's closed loop for ``seconds``; per-message latencies and window.

    A message that completes after the window closes is not counted, and no new message
    is sent then; the window is measured, not assumed.
    """
    clock = time.perf_counter
    sel = selectors.DefaultSelector()
    latencies: list[float] = []
    append = latencies.append
    state = {}
    t_start = clock()
    deadline = t_start + seconds
    for conn in conns:
        payload, expected = conn.message
        sel.register(conn.sock, selectors.EVENT_READ, conn)
        state[conn] = [0, len(expected), memoryview(conn.reserve(len(expected))), clock()]
        conn.sock.sendall(payload)
    active = len(conns)
    try:
        while active:
            events = sel.select(REPLY_TIMEOUT_S)
            if not events:
                raise MeasureError(f"no complete reply within {REPLY_TIMEOUT_S:g}s")
            for key, _ in events:
                conn = key.data
                st = state[conn]
                n = conn.sock.recv_into(st[2][st[0]:st[1]])
                if n == 0:
                    raise MeasureError(f"the server at {conn.where} closed the connection")
                if st[0] == 0 and conn.buffer[0] == 45:  # b"-": an error reply
                    raise MeasureError(f"Redis replied with an error: {conn.error_line(n)}")
                st[0] += n
                if st[0] < st[1]:
                    continue
                now = clock()
                if now > deadline:
                    sel.unregister(conn.sock)
                    active -= 1
                    continue
                append(now - st[3])
                st[0], st[3] = 0, now
                conn.sock.sendall(conn.message[0])
    finally:
        for st in state.values():
            st[2].release()
        sel.close()
    return np.asarray(latencies), deadline - t_start


def pipeline_depths(max_depth: int) -> list[int]:
    """1, 2, 4, ... up to ``max_depth`` (which is included even when not a power of two)."""
    depths = [1]
    while depths[-1] * 2 <= max_depth:
        depths.append(depths[-1] * 2)
    if depths[-1] != max_depth:
        depths.append(max_depth)
    return depths


def merge_points(points: Sequence[LoopPoint]) -> LoopPoint:
    """One point from several measurements (slices) of the same command, depth and clients.

    Throughput and p50 are the medians over the slices: on a shared machine a slice now
    and then loses tens of milliseconds to another process, and a median keeps that
    spell from denting the point. The mean latency is over all messages.
    """
    first = points[0]
    batches = sum(p.batches for p in points)
    mean = sum(p.latency_mean_s * p.batches for p in points) / batches
    return LoopPoint(first.command, first.depth, first.clients, batches,
                     sum(p.window_s for p in points),
                     float(np.median([p.throughput_ops_s for p in points])),
                     float(np.median([p.latency_p50_s for p in points])), mean)


#: The shortest measurement window worth having: a few hundred messages on a local Redis.
MIN_SLICE_S = 0.02


class BudgetError(MeasureError):
    """The time left cannot hold the measurements still to make; ``needed_s`` is about how
    long the whole curve would take on this machine."""

    def __init__(self, message: str, needed_s: float) -> None:
        super().__init__(message)
        self.needed_s = needed_s


def measure_curve(address: tuple[str, int], depths: Sequence[int], client_counts: Iterable[int],
                  commands: Iterable[str] = ("SET", "GET"), seconds_per_point: float = 0.25,
                  rounds: int = 1, value_size: int = 100, deadline: float | None = None,
                  clock=time.perf_counter) -> list[LoopPoint]:
    """Closed-loop points for every command, client count and depth.

    Each point is measured in ``rounds`` slices of ``seconds_per_point / rounds``, the
    slices of all points interleaved round by round, so that a slow spell of a shared
    machine spreads over the whole curve instead of denting one depth.

    With a ``deadline`` (a ``clock()`` time) the slices share the time left instead: before
    each slice, the time to the deadline less the set-up each slice has cost so far
    (connections, keys) is divided among the slices still to run, so the whole curve ends
    by the deadline on a slow machine too. When that leaves less than ``MIN_SLICE_S`` per
    slice, :class:`BudgetError` says so before the measurement degrades into noise.
    """
    grid = [(command, clients, depth) for command in commands
            for clients in client_counts for depth in depths]
    slices: dict[tuple[str, int, int], list[LoopPoint]] = {g: [] for g in grid}
    total = rounds * len(grid)
    overhead = 0.0  # the most set-up time (outside the window) a slice has taken so far
    done = 0
    for _ in range(rounds):
        for command, clients, depth in grid:
            window = seconds_per_point / rounds
            if deadline is not None:
                left = total - done
                # The largest set-up seen, not the mean: slices with many clients, which
                # open the most connections, come last in each round.
                window = (deadline - clock()) / left - overhead
                if window < MIN_SLICE_S:
                    needed = total * (2 * MIN_SLICE_S + overhead)
                    raise BudgetError(
                        f"the time budget is too short: {left} of {total} measurement slices "
                        f"left and under {MIN_SLICE_S * 1e3:g} ms for each (set-up takes "
                        f"{overhead * 1e3:.0f} ms a slice here)", needed)
            started = clock()
            point = measure_closed_loop(address, command, depth, clients, window, value_size)
            overhead = max(overhead, clock() - started - point.window_s)
            done += 1
            slices[(command, clients, depth)].append(point)
    return [merge_points(slices[g]) for g in grid]
