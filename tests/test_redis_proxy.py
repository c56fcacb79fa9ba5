"""The delay proxy: order, integrity and delay of the delayed direction (no Redis needed)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from sim.redis.proxy import DelayProxy
from tests.redis_servers import free_port


class EchoServer:
    """A TCP server on 127.0.0.1 that echoes every byte back on each connection."""

    def __init__(self) -> None:
        self.received = threading.Event()  # set when the first bytes reach the server
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                self.received.set()
                conn.sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def test_stream_arrives_intact_and_in_order(echo):
    """Many small writes at irregular times come back as the same byte stream."""
    messages = [f"<{i}:{'x' * (i % 97)}>".encode() for i in range(400)]
    with DelayProxy(echo.address, delay_to_client_s=0.004) as proxy:
        with socket.create_connection(proxy.address) as sock:
            for i, message in enumerate(messages):
                sock.sendall(message)
                if i % 50 == 0:
                    time.sleep(0.003)  # chunks that arrive while earlier ones still wait
            expected = b"".join(messages)
            assert receive(sock, len(expected)) == expected
        stats = proxy.stats()
    assert stats.bytes == len(expected)
    assert stats.chunks >= 1


def test_delay_is_added_one_way_and_measured(echo):
    delay = 0.02
    with DelayProxy(echo.address, delay_to_client_s=delay) as proxy:
        with socket.create_connection(proxy.address) as sock:
            rtts = []
            for _ in range(5):
                t0 = time.perf_counter()
                sock.sendall(b"ping")
                receive(sock, 4)
                rtts.append(time.perf_counter() - t0)
        stats = proxy.stats()
    assert min(rtts) >= delay  # one direction delayed, never early
    assert stats.chunks == 5
    assert stats.target_s == delay
    assert delay <= stats.mean_s <= stats.max_s
    # Each chunk's added delay lies within its own round trip.
    assert all(added <= rtt for added, rtt in zip(stats.samples, rtts, strict=True))
    assert len(stats.samples) == 5


def test_only_the_server_to_client_direction_is_held(echo):
    """With a long delay towards the client, the client's bytes still reach the server at
    once (a replica's PSYNC and ACKs are not delayed), while the reply is held back."""
    with DelayProxy(echo.address, delay_to_client_s=30.0) as proxy:
        with socket.create_connection(proxy.address) as sock:
            sock.sendall(b"psync")
            assert echo.received.wait(timeout=10)  # not after 30 s
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recv(5)  # the echo waits in the proxy


def test_other_direction_can_be_delayed_too(echo):
    with DelayProxy(echo.address, delay_to_client_s=0.0, delay_to_server_s=0.015) as proxy:
        with socket.create_connection(proxy.address) as sock:
            t0 = time.perf_counter()
            sock.sendall(b"abc")
            receive(sock, 3)
            assert time.perf_counter() - t0 >= 0.015


def test_reset_forgets_earlier_delays(echo):
    with DelayProxy(echo.address, delay_to_client_s=0.001) as proxy:
        with socket.create_connection(proxy.address) as sock:
            sock.sendall(b"a")
            receive(sock, 1)
            assert proxy.stats().chunks == 1
            proxy.reset_stats()
            assert proxy.stats().chunks == 0 and proxy.stats().mean_s is None


def test_unreachable_target_closes_the_client():
    with DelayProxy(("127.0.0.1", free_port()), delay_to_client_s=0.001) as proxy:
        with socket.create_connection(proxy.address) as sock:
            sock.settimeout(5)
            assert sock.recv(1) == b""  # closed, not hung


def test_negative_delay_is_refused():
    with pytest.raises(ValueError, match="delay_to_client_s"):
        DelayProxy(("127.0.0.1", 1), delay_to_client_s=-0.001)


def test_stop_ends_the_thread(echo):
    proxy = DelayProxy(echo.address, delay_to_client_s=0.001)
    proxy.start()
    sock = socket.create_connection(proxy.address)
    sock.sendall(b"a")
    assert receive(sock, 1) == b"a"  # the connection is up on both sides
    proxy.stop()
    assert not proxy._thread.is_alive()
    sock.settimeout(5)
    assert sock.recv(1) == b""
    sock.close()
