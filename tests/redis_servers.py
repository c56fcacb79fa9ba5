"""Real redis-server processes for tests: a master and a replica on free loopback ports.

Each server runs in the foreground of its own process with persistence off
(``--save "" --appendonly no``) in a temporary folder, and is always stopped by the
code that started it (``RedisServer`` is a context manager; the fixtures use ``with``).
Without a ``redis-server`` binary on PATH, ``requires_redis`` skips with the reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")
SKIP_REASON = ("no redis-server binary on PATH: install it (Debian/Ubuntu: "
               "apt-get install redis-server) to run the real-Redis tests")
requires_redis = pytest.mark.skipif(REDIS_SERVER is None, reason=SKIP_REASON)

START_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1  # prctl option: signal the child when its parent thread exits


def _die_with_parent() -> None:
    """In the child before exec: on Linux, SIGTERM it when the test process dies, so a
    killed test run leaves no server behind (elsewhere ``stop()`` alone does it)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One redis-server process on 127.0.0.1; ``replicaof`` makes it a replica."""

    def __init__(self, replicaof: tuple[str, int] | None = None) -> None:
        self.replicaof = replicaof
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.folder: Path | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> RedisServer:
        assert REDIS_SERVER is not None, SKIP_REASON
        self.folder = Path(tempfile.mkdtemp(prefix="repsim-redis-"))
        for _attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", str(self.folder),
                    "--daemonize", "no", "--logfile", str(self.folder / "redis.log"),
                    # A replica's full sync starts at once, not after the default 5 s wait
                    # for more replicas to share a diskless transfer.
                    "--repl-diskless-sync-delay", "0"]
            if self.replicaof is not None:
                args += ["--replicaof", self.replicaof[0], str(self.replicaof[1])]
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            preexec_fn=_die_with_parent)
            if self._wait_ready():
                return self
            self._terminate()
        log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"redis-server did not start; log tail:\n{log}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            client = self.client()
            try:
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return True
            finally:
                client.close()  # no connection left for the garbage collector to close
            time.sleep(0.02)
        return False

    def wait_link_up(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Block until this replica reports ``master_link_status:up``."""
        deadline = time.monotonic() + timeout_s
        with contextlib.closing(self.client()) as client:
            while time.monotonic() < deadline:
                if client.info("replication").get("master_link_status") == "up":
                    return
                time.sleep(0.02)
        raise RuntimeError(f"replica on port {self.port} did not link up within {timeout_s}s")

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove its folder."""
        self._terminate()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def master_and_replica() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A master and a replica attached with ``--replicaof``, link up; both stopped after."""
    with RedisServer() as master, RedisServer(replicaof=master.address) as replica:
        replica.wait_link_up()
        yield master, replica
