"""A TCP proxy that delays one direction by a constant, to make replication slow on purpose.

Put it between a Redis master and its replica (``REPLICAOF <proxy host> <proxy port>``):
the replica connects to the proxy, the proxy connects to the master, and every chunk the
master sends is held for ``delay_to_client_s`` before it is passed on. The other
direction (the replica's PSYNC and REPLCONF ACKs) is delayed by ``delay_to_server_s``,
0 by default.

Each direction is a FIFO: chunks leave in the order they arrived, each at (arrival +
delay) or, when an earlier chunk left late, right after it, so the byte stream is
never reordered. The proxy records the delay it actually added to each delayed chunk
(from the moment its read returned to the moment it was written to the socket), which is
what a simulation of the same set-up should use: asyncio's timers wake up to about a
millisecond late, and a busy machine adds more.

The event loop runs in a daemon thread, so synchronous code can start and stop a proxy.
Times are seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["DelayProxy", "DelayStats"]

#: How many realised delays are kept (a uniform reservoir sample beyond this).
RESERVOIR_SIZE = 20_000


@dataclass(frozen=True)
class DelayStats:
    """Delays the proxy added to chunks going to the client, in seconds.

    ``samples`` is a uniform sample of at most ``RESERVOIR_SIZE`` realised delays (all
    of them when fewer); ``mean_s`` and ``max_s`` cover every chunk.
    """

    chunks: int
    bytes: int
    target_s: float
    mean_s: float | None
    p50_s: float | None
    max_s: float | None
    samples: np.ndarray


class _DelayRecorder:
    """Running count, sum and max of delays plus a reservoir sample; memory is bounded."""

    def __init__(self, seed: int) -> None:
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.bytes = 0
        self.samples: list[float] = []
        self.rng = random.Random(seed)

    def add(self, delay_s: float, size: int) -> None:
        self.count += 1
        self.total += delay_s
        self.bytes += size
        self.max = max(self.max, delay_s)
        if len(self.samples) < RESERVOIR_SIZE:
            self.samples.append(delay_s)
        else:  # reservoir sampling: every delay is kept with equal probability
            j = self.rng.randrange(self.count)
            if j < RESERVOIR_SIZE:
                self.samples[j] = delay_s


class DelayProxy:
    """Forward ``listen`` -> ``target``, delaying the target-to-client direction.

    ``start()`` returns the address the proxy listens on (port 0 picks a free one);
    ``stop()`` closes every connection. Usable as a context manager.
    """

    def __init__(self, target: tuple[str, int], delay_to_client_s: float,
                 delay_to_server_s: float = 0.0, listen: tuple[str, int] = ("127.0.0.1", 0),
                 seed: int = 0) -> None:
        for name, value in (("delay_to_client_s", delay_to_client_s),
                            ("delay_to_server_s", delay_to_server_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} = {value!r}: expected seconds >= 0")
        self.target = target
        self.delay_to_client_s = float(delay_to_client_s)
        self.delay_to_server_s = float(delay_to_server_s)
        self.listen = listen
        self.address: tuple[str, int] | None = None
        self._recorder = _DelayRecorder(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._lock = threading.Lock()
        self._severed = False  # set by sever(): nothing held is passed on any more

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Start listening in a background thread; the (host, port) clients should use."""
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._accept, *self.listen))
                sock = self._server.sockets[0]
                self.address = sock.getsockname()[:2]
            except BaseException as error:  # reported to start()'s caller
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="repsim-delay-proxy", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise OSError(f"delay proxy cannot listen on {self.listen[0]}:{self.listen[1]}: {failure[0]}")
        assert self.address is not None
        return self.address

    def stop(self) -> None:
        """Close the listener and every proxied connection, and end the loop's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            future.result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)

    def sever(self) -> None:
        """Cut the link now, from any thread: every chunk still held (on the simulated wire)
        is dropped instead of passed on, as when a host drops off the network; ``stop()``
        then closes the connections."""
        self._severed = True

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in list(self._writers):  # any a cancelled task left open
            writer.close()

    def __enter__(self) -> DelayProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- measurements --------------------------------------------------------------------

    def stats(self) -> DelayStats:
        """What the proxy added so far to the delayed (target-to-client) direction."""
        with self._lock:
            rec = self._recorder
            samples = np.array(rec.samples)
            count, total, maximum, size = rec.count, rec.total, rec.max, rec.bytes
        if count == 0:
            return DelayStats(0, 0, self.delay_to_client_s, None, None, None, samples)
        return DelayStats(count, size, self.delay_to_client_s, total / count,
                          float(np.median(samples)), maximum, samples)

    def reset_stats(self) -> None:
        """Forget the delays recorded so far (e.g. those of the initial full sync)."""
        with self._lock:
            self._recorder = _DelayRecorder(self._recorder.rng.randrange(2**31))

    # -- forwarding ----------------------------------------------------------------------

    async def _accept(self, client_reader: asyncio.StreamReader,
                      client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # so that stop() can cancel a connection in any state
        self._writers.add(client_writer)
        server_writer: asyncio.StreamWriter | None = None
        try:
            try:
                server_reader, server_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return  # the client sees a closed connection and retries
            self._writers.add(server_writer)
            for writer in (client_writer, server_writer):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pumps = [
                asyncio.ensure_future(self._pump(client_reader, server_writer,
                                                 self.delay_to_server_s, False)),
                asyncio.ensure_future(self._pump(server_reader, client_writer,
                                                 self.delay_to_client_s, True)),
            ]
            try:
                # When either side closes, close both: a half-open replication link helps no one.
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        except asyncio.CancelledError:
            pass  # stop(): end quietly (asyncio would log a cancelled connection handler)
        finally:
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()
                    self._writers.discard(writer)
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    delay_s: float, record: bool) -> None:
        """Copy ``reader`` to ``writer``, each chunk held until ``delay_s`` after its arrival."""
        loop = asyncio.get_running_loop()
        pending: deque[tuple[float, bytes]] = deque()
        arrived = asyncio.Event()
        done = False

        async def read() -> None:
            nonlocal done
            try:
                while data := await reader.read(1 << 16):
                    pending.append((loop.time(), data))
                    arrived.set()
            finally:
                done = True
                arrived.set()

        reading = asyncio.ensure_future(read())
        try:
            while True:
                if not pending:
                    if done:
                        return
                    arrived.clear()
                    await arrived.wait()
                    continue
                t_read, data = pending[0]
                wait = t_read + delay_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                pending.popleft()
                if self._severed:
                    return
                if record:  # before the write, so a reader of stats() never misses this chunk
                    added = loop.time() - t_read
                    with self._lock:
                        self._recorder.add(added, len(data))
                writer.write(data)
                await writer.drain()
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
