"""Visibility probes: reads started at fixed offsets after a commit, to measure t-visibility.

After a sampled share of the commits made after the warm-up, a probe read of the committed
key is started at every offset t of a grid (seconds after the commit), from a client chosen
at random, and follows the path an ordinary read of that client would take: the cache first
when there is one (a miss goes back to the client and on to the store by
``cache.fill_from``), the read routing of leader mode (the probe's own router, drawing from
its own stream) or the quorum read of quorum mode; every delay is drawn from the same
distribution as the ordinary read's, and a message never overtakes an earlier one on the
same link (its arrival is at least the link's ``last`` delivery when it is sent).

Probes do not occupy anything. Every server in the model fixes a command's result when its
message is enqueued (a FIFO thread that alone changes its data), and the cache answers on
arrival. So the answer a real read would get is the node's state at the instant the read
arrives: the master's end-of-queue state (``latest``), a replica's or a peer's ``store``, the
cache entry unexpired at that instant, each asked through the node's own ``answer(key,
now)`` (a replica first takes in what has reached it by then, as it would before serving the
read). A probe reads exactly that at its arrival event and changes nothing: ordinary reads and writes see the same run with probes as without (the
probes draw only from their own random streams). What a probe neglects is the load it would
have added: it does not delay the commands queued behind it, does not refresh the cache's
LRU order, does not fill the cache on a miss, and is sent as a message of its own (no
pipelining wait). In quorum mode the order of the R responses takes each peer's queue into
account (the probe would start service at the peer's ``busy_until``), but a response's FIFO
check uses the response link's deliveries known when the probe reaches the peer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Probe:
    """One probe read: of version ``rec`` committed at ``commit_s``, started at grid offset
    ``index``; ``answers`` collects (response arrival, version) in quorum mode."""

    __slots__ = ("rec", "index", "commit_s", "client", "answers")

    def __init__(self, rec, index: int, commit_s: float) -> None:
        self.rec = rec
        self.index = index
        self.commit_s = commit_s
        self.client = None
        self.answers: list | None = None


class Prober:
    """Starts probes after sampled commits (``on_commit`` is the commit hook of the master or
    the quorum coordinator) and reports ``record(commit_s, index, consistent)``: consistent
    when the probe returned the committed version or a newer one."""

    def __init__(self, env, at, offsets_s: list[float], share: float,
                 uniform: Callable[[], float], pick_client: Callable[[], int], warmup_s: float,
                 horizon_s: float, record: Callable[[float, int, bool], None]) -> None:
        self.env = env
        self.at = at
        self.offsets_s = offsets_s
        self.share = share
        self.uniform = uniform
        self.pick_client = pick_client
        self.warmup_s = warmup_s
        self.horizon_s = horizon_s
        self.record = record
        self.clients: list = []
        self.cache = None
        self.cache_delay = None
        self.path = None

    def wire(self, clients: list, cache, cache_delay: Callable[[], float], path) -> None:
        """The read path, known once the nodes exist (the prober is made first, since the
        node that commits calls :meth:`on_commit`)."""
        self.clients = clients
        self.cache = cache
        self.cache_delay = cache_delay
        self.path = path
        path.done = self.done

    def on_commit(self, rec, now: float) -> None:
        if now < self.warmup_s or self.uniform() >= self.share:
            return
        at, start = self.at, self._start
        for i, offset in enumerate(self.offsets_s):
            if now + offset >= self.horizon_s:
                break
            at(now + offset, start, Probe(rec, i, now))

    def _start(self, ev) -> None:
        probe = ev._value
        now = self.env._now
        client = probe.client = self.clients[self.pick_client()]
        cache = self.cache
        if cache is None:
            self.path.send(probe, now, False)
            return
        self.at(client.up[cache.node_id].not_before(now + self.cache_delay()), self._at_cache,
                probe)

    def _at_cache(self, ev) -> None:
        probe = ev._value
        now = self.env._now
        cache = self.cache
        got = cache.answer(probe.rec.key, now)
        if got is not None:
            self.done(probe, got)
            return
        self.at(cache.down[probe.client.index].not_before(now + self.cache_delay()),
                self._after_miss, probe)

    def _after_miss(self, ev) -> None:
        self.path.send(ev._value, self.env._now, True)

    def done(self, probe: Probe, got) -> None:
        self.record(probe.commit_s, probe.index, got.number >= probe.rec.number)


class LeaderPath:
    """The store part of a leader-mode read: routed by ``route`` (or ``fill_route`` after a
    cache miss), sent over the client's link to the node, answered from the node's state at
    arrival."""

    def __init__(self, env, at, route, fill_route, network_delay: Callable[[], float]) -> None:
        self.env = env
        self.at = at
        self.route = route
        self.fill_route = fill_route
        self.network_delay = network_delay
        self.done = None

    def send(self, probe: Probe, now: float, fill: bool) -> None:
        client = probe.client
        node = (self.fill_route if fill else self.route)(client, probe.rec.key, now)
        self.at(client.up[node.node_id].not_before(now + self.network_delay()), self._at_node,
                (probe, node))

    def _at_node(self, ev) -> None:
        probe, node = ev._value
        self.done(probe, node.answer(probe.rec.key, self.env._now))


class QuorumPath:
    """The store part of a quorum-mode read: to all N peers, the highest version among the
    first R responses (by response arrival at the coordinator)."""

    def __init__(self, env, at, coordinator, read_delay: Callable[[], float],
                 response_delay: Callable[[], float], remote_delay_s: float,
                 overhead: Callable[[], float], service: Callable[[], float]) -> None:
        self.env = env
        self.at = at
        self.coordinator = coordinator
        self.read_delay = read_delay
        self.response_delay = response_delay
        self.remote_delay_s = remote_delay_s  # added between a client and a remote peer
        self.overhead = overhead
        self.service = service
        self.done = None

    def send(self, probe: Probe, now: float, fill: bool) -> None:
        # The coordinator runs in the client: the probe leaves for the peers at once.
        probe.answers = []
        coordinator = self.coordinator
        home = probe.client.index % len(coordinator.peers)
        for peer, link in zip(coordinator.peers, coordinator.read_links[probe.client.index],
                              strict=True):
            arrival = now + self.read_delay()
            if peer.index != home:
                arrival += self.remote_delay_s
            self.at(link.not_before(arrival), self._at_peer, (probe, peer))

    def _at_peer(self, ev) -> None:
        probe, peer = ev._value
        now = self.env._now
        got = peer.answer(probe.rec.key, now)
        back = peer.thread.start(now) + self.overhead() + self.service() + self.response_delay()
        if peer.index != probe.client.index % len(self.coordinator.peers):
            back += self.remote_delay_s
        answers = probe.answers
        answers.append((peer.response_links[probe.client.index].not_before(back), got))
        coordinator = self.coordinator
        if len(answers) == len(coordinator.peers):
            answers.sort(key=lambda answer: answer[0])
            first = answers[:coordinator.read_quorum]
            self.done(probe, max((rec for _, rec in first), key=lambda rec: rec.number))


HORIZON_QUANTILE = 0.9999  # of the write path's delay, times HORIZON_MARGIN (auto horizon)
HORIZON_MARGIN = 1.5
HORIZON_DRAWS = 100_000


def probe_offsets(config, rng) -> list[float]:
    """The probe grid (seconds after a commit): ``metrics.visibility_points`` offsets evenly
    spaced from 0 to ``metrics.visibility_horizon``.

    ``"auto"``: 1.5 times the 99.99th percentile of the write path's delay (a replica's
    stream delay plus apply time; a peer's write delay), estimated from draws of ``rng``;
    plus the cache's TTL when cached entries are left to expire (``cache.on_write = none``)
    or its invalidation delay's percentile otherwise, since a probe may hit the cache.
    """
    metrics, rep, cache = config.metrics, config.replication, config.cache

    def quantile(*dists) -> float:
        total = np.zeros(HORIZON_DRAWS)
        for dist in dists:
            total += dist.draw(rng, HORIZON_DRAWS)
        return float(np.quantile(total, HORIZON_QUANTILE))

    horizon = metrics.visibility_horizon
    if horizon == "auto":
        if rep.mode == "quorum":
            horizon = quantile(config.quorum.delay("write", config.network.client_latency))
            horizon += config.quorum.remote_delay
        else:
            horizon = quantile(rep.delay, config.server.replica_apply_time)
        horizon *= HORIZON_MARGIN
        if cache.enabled:
            horizon += cache.ttl if cache.on_write == "none" else quantile(
                cache.invalidation_delay)
        if horizon <= 0:  # every delay is zero: everything is visible at once
            horizon = 1e-3
    return [float(t) for t in np.linspace(0.0, horizon, metrics.visibility_points)]
