"""Where commands come from: open-loop Poisson arrivals or closed-loop batches."""

from __future__ import annotations

from collections.abc import Callable

from sim.model.streams import Taker


class OpenLoop:
    """Poisson GETs at ``read_rate`` and SETs at ``write_rate`` (ops/s, all clients together).

    Reads and writes are two independent Poisson streams, each with its own arrival, client
    and key streams, so changing the write rate leaves the reads' arrivals untouched. Each
    arrival picks a client uniformly, which spreads both rates evenly over the clients.
    """

    def __init__(self, at, env, clients: list, read_gap: Callable[[], float] | None,
                 write_gap: Callable[[], float] | None, read_client, write_client,
                 read_key, write_key) -> None:
        self.env = env
        self.at = at
        self.clients = clients
        self.read_gap, self.write_gap = read_gap, write_gap
        self.read_client, self.write_client = read_client, write_client
        self.read_key, self.write_key = read_key, write_key
        if read_gap is not None:
            at(env.now + read_gap(), self._on_read, None)
        if write_gap is not None:
            at(env.now + write_gap(), self._on_write, None)

    def _on_read(self, ev) -> None:
        now = self.env._now
        self.clients[self.read_client()].read(self.read_key(), now)
        self.at(now + self.read_gap(), self._on_read, None)

    def _on_write(self, ev) -> None:
        now = self.env._now
        self.clients[self.write_client()].write(self.write_key(), now)
        self.at(now + self.write_gap(), self._on_write, None)


class ClosedLoop:
    """Each client sends a batch, waits for every reply, thinks, and sends the next.

    This is how redis-benchmark drives a server (``-c clients -P batch``). Each command of a
    batch is a GET with probability ``read_fraction``, else a SET. ``kinds``, ``read_keys``
    and ``write_keys`` hand out their draws a batch at a time (:class:`Taker`).
    """

    def __init__(self, at, env, clients: list, batch_size: int, read_fraction: float,
                 kinds: Taker, think: Callable[[], float], think_is_zero: bool,
                 read_keys: Taker, write_keys: Taker) -> None:
        self.at = at
        self.env = env
        self.batch_size = batch_size
        self.read_fraction = read_fraction
        self.kinds = kinds
        self.think = think
        self.think_is_zero = think_is_zero
        self.read_keys, self.write_keys = read_keys, write_keys
        for client in clients:
            client.set_batch_listener(self._on_batch_done)
            at(0.0, self._on_start, client)

    def _on_start(self, ev) -> None:
        self.send_batch(ev._value)

    def send_batch(self, client) -> None:
        n = self.batch_size
        fraction = self.read_fraction
        reads = [u < fraction for u in self.kinds.take(n)]
        count = sum(reads)
        client.outstanding = n
        client.issue_batch(reads, self.read_keys.take(count), self.write_keys.take(n - count),
                           self.env._now)

    def _on_batch_done(self, client) -> None:
        if self.think_is_zero:
            self.send_batch(client)
        else:
            self.at(self.env._now + self.think(), self._on_start, client)
