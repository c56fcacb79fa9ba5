"""A shard's failover as Redis Cluster runs it: no Sentinel, the masters vote.

One :class:`ShardFaults` per shard (built when ``[faults]`` schedules something) is the fault
controller of :mod:`sim.model.faults` with two of its jobs swapped: the crash, partitions,
rejoining as a replica, restarts and what a failover loses are the controller's own, and
:class:`ClusterFailover` and :class:`ShardPartitions` replace Sentinel's part by the
cluster's:

* **Detection.** A node flags a peer PFAIL once a ping to it has gone unanswered for
  ``cluster.node_timeout`` T; it pings a peer whose last answer is T/2 old, so the ping that
  goes unanswered left up to T/2 after the failure: PFAIL comes T + U·T/2 after it. FAIL
  needs the reports of a majority of masters, which reach a node in the gossip of their own
  pings, again up to T/2 apart: FAIL is ``T · (1 + PING_SPREAD · U + GOSSIP_SPREAD · U')``
  after the failure (T to 2T; a real 7.0 cluster on loopback measured 1.3 T to 1.8 T, see
  the README). That is the delay the controller's detection waits in place of
  ``faults.failover_timeout``.
* **Election.** Each replica of the failed master that may fail over (its data no older than
  ``node_timeout · replica_validity_factor`` plus the 10-s replica ping period, counted
  beyond the node timeout; any replica when the factor is 0) asks for votes
  ``500 ms + random(0, 500) ms + rank · 1000 ms`` after it saw FAIL, rank 0 being the
  replica with the largest replication offset (a replica's rank counts the replicas ahead
  of it). The first to ask wins the vote of the majority of masters (their answers take a
  cron tick, ``TICK_S · U``) and is promoted.
* **Coverage.** With ``cluster.require_full_coverage`` every node of every shard refuses
  commands (CLUSTERDOWN) while a slot's master is flagged FAIL with no successor.
* **Minority.** A node cut off from the majority of masters stops serving once
  ``node_timeout`` has passed (it counts them failed and the cluster down): a master on the
  minority side accepts writes until then, and loses them when it rejoins as a replica.
* **Clients** keep their slot map: after the promotion, a command sent to a crashed
  master's address is answered MOVED (:class:`Moved`, one round trip on the old host's
  links), the client updates its map and sends the command again, and ``moved_redirects``
  counts it.

All times are simulated seconds.
"""

from __future__ import annotations

from sim.model.faults.cluster import Cluster
from sim.model.faults.failover import Failover
from sim.model.faults.partitions import Partitions
from sim.model.kernel import Payload

PING_SPREAD = 0.5  # share of the node timeout: how late after a failure the unanswered ping left
GOSSIP_SPREAD = 0.5  # share of the node timeout: how late the other masters' reports arrive
TICK_S = 0.1  # the cluster cron runs ten times a second
ELECTION_BASE_S = 0.5  # fixed part of a replica's wait before it asks for votes
ELECTION_SPREAD_S = 0.5  # its random part, uniform
RANK_STEP_S = 1.0  # per replica with a larger replication offset
REPLICA_PING_PERIOD_S = 10.0  # repl-ping-replica-period, part of the validity bound


class Coverage:
    """The cluster state every node shares: with ``require_full_coverage``, nodes refuse
    commands while some shard's slots have a failed master and no successor yet."""

    __slots__ = ("require_full", "uncovered")

    def __init__(self, require_full: bool) -> None:
        self.require_full = require_full
        self.uncovered: set[int] = set()  # shards whose master is flagged FAIL

    def fail(self, shard: int) -> None:
        if self.require_full:
            self.uncovered.add(shard)

    def covered(self, shard: int) -> None:
        self.uncovered.discard(shard)


class Redirects:
    """Commands answered MOVED in the run (all of them: a redirect is a fault's cost)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class Moved:
    """The old master's address in a client's slot map after a failover moved its slots.

    Stands where the client's master was (``follow``): commands it sends there reach the
    old host over the old links and come back MOVED; the client then follows ``new`` and
    sends them again, writes to ``new`` and reads where its routing puts them. V(k, t) for
    commands issued meanwhile is ``new``'s (``committed``)."""

    def __init__(self, env, old, new, redirects: Redirects) -> None:
        self.env = env
        self.node_id = old.node_id
        self.name = old.name
        self.down = old.down
        self.new = new
        self.committed = new.committed
        self.redirects = redirects

    def on_message(self, ev) -> None:
        ops = ev._value
        self.redirects.count += len(ops)
        self.down[ops[0].client.index].send(self.env._now, self._on_moved, ops)

    def _on_moved(self, ev) -> None:
        ops = ev._value
        client = ops[0].client
        now = self.env._now
        if client.master is self:
            client.follow(self.new)
        again: dict = {}
        for op in ops:
            node = self.new if op.write else client.route(client, op.key, now)
            again.setdefault(node, []).append(op)
        for node, batch in again.items():
            client.send(node, batch)


class ClusterFailover(Failover):
    """The failover of a shard's master: :meth:`on_failover` comes at FAIL (the
    controller's detection schedules it after :meth:`ShardFaults.fail_delay`) and starts the
    election; :meth:`on_elected` promotes its winner through the controller's promotion."""

    def __init__(self, cluster, sentinel) -> None:
        super().__init__(cluster, sentinel)
        self.elected = None  # the replica whose election is under way
        self.replaced = None  # the master the promotion under way replaces

    def on_failover(self, ev) -> None:
        """The other masters flag ``old`` FAIL: the shard's slots lose their master, and
        its replicas start the election."""
        old, partition, _ = ev._value
        cluster = self.cluster
        if cluster.office is not old or (partition is not None
                                         and cluster.partition is not partition):
            return  # healed before the other masters counted it failed
        now = cluster.env._now
        cluster.detections.append(now - cluster.outage_start)
        cluster.coverage.fail(cluster.shard)
        winner, wait = self._election(old, now)
        if winner is None:
            cluster.event("failover-impossible", now, old.name)
            return  # the shard's slots stay without a master
        self.elected = winner
        cluster.at(now + wait, self.on_elected, ev._value)

    def on_elected(self, ev) -> None:
        """The winner has the majority's votes: it is promoted in ``old``'s place."""
        cluster = self.cluster
        cluster.coverage.covered(cluster.shard)
        self.replaced = ev._value[0]
        super().on_failover(Payload(ev._value))
        self.elected = self.replaced = None

    def _election(self, old, now: float):
        """The replica that wins and the seconds from FAIL to its promotion (None, 0.0 when
        no replica may fail over)."""
        cluster = self.cluster
        replicas = [r for r in cluster.replicas if r.master is old and not r.force_full
                    and cluster.majority(r.node_id)]
        offsets = {r: r.received_offset(now) for r in replicas}
        uniform = cluster.uniform
        best, best_wait = None, 0.0
        for replica in replicas:
            if not self._valid(old, replica, now):
                continue
            rank = sum(1 for r in replicas if offsets[r] > offsets[replica])
            wait = (ELECTION_BASE_S + ELECTION_SPREAD_S * uniform() + RANK_STEP_S * rank
                    + TICK_S * uniform())
            if best is None or wait < best_wait:
                best, best_wait = replica, wait
        return best, best_wait

    def _valid(self, old, replica, now: float) -> bool:
        """Redis's data-age rule: the time since the replica last heard from its master,
        less the node timeout, within the validity bound."""
        cluster = self.cluster
        if cluster.validity_s is None:
            return True
        since = old.silent_since(replica)
        age = 0.0 if since is None else now - since
        if age > cluster.node_timeout_s:
            age -= cluster.node_timeout_s
        return age <= cluster.validity_s

    def best_candidate(self, old, now: float):
        """The election's winner while one is under way; otherwise (the end of the run) the
        replica the controller would promote."""
        if self.elected is not None:
            return self.elected
        return super().best_candidate(old, now)

    def _repoint_at_once(self, new, replicas: list, clients: list, now: float) -> None:
        """The replicas follow ``new`` now. The clients' slot maps still name a crashed
        master: each learns of ``new`` from the MOVED reply to its next command there. A
        master a partition cut off is still up and would never answer MOVED to the
        majority's clients, so they take the new map at once (the minority's at the heal)."""
        cluster = self.cluster
        old = self.replaced
        moved = not old.alive
        for replica in replicas:
            replica.follow(new, now)
        for client in clients:
            if moved and client.master is old:
                client.follow(Moved(cluster.env, old, new, cluster.redirects))
            else:
                client.follow(new)
        cluster.stats.failover(now - cluster.outage_start, None)


class ShardPartitions(Partitions):
    """Partitions and disconnects of one shard: ``faults.replica_disconnects`` name
    replicas by their index in the shard, and a partition's start is kept for the minority's
    node timeout (:meth:`ShardFaults.reachable`)."""

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.since = 0.0  # when the partition in force began (s)

    def on_partition(self, ev) -> None:
        self.since = self.cluster.env._now
        super().on_partition(ev)

    def on_disconnect(self, ev) -> None:
        super().on_disconnect(Payload(self.cluster.base_id + ev._value))

    def on_reconnect(self, ev) -> None:
        super().on_reconnect(Payload(self.cluster.base_id + ev._value))


class ShardFaults(Cluster):
    """The fault controller of shard ``shard`` with Redis Cluster's failover (see the
    module).

    Its hosts' ids start at ``base_id``. ``cluster`` is the ``[cluster]`` settings,
    ``coverage`` the state all shards share, ``uniform()`` draws from [0, 1) (the shard's
    ``faults.cluster`` stream), ``redirects`` counts MOVED replies."""

    failover_job = ClusterFailover
    partitions_job = ShardPartitions

    def __init__(self, env, at, faults, settings, stats, builder, horizon_s: float, trace,
                 shard: int, base_id: int, cluster, coverage: Coverage, uniform,
                 redirects: Redirects) -> None:
        self.shard = shard
        self.base_id = base_id
        self.node_timeout_s = cluster.node_timeout
        self.validity_s = (cluster.node_timeout * cluster.replica_validity_factor
                           + REPLICA_PING_PERIOD_S) if cluster.replica_validity_factor else None
        self.coverage = coverage
        self.uniform = uniform
        self.redirects = redirects
        self.detections: list[float] = []  # failure -> FAIL (s), one per failure detected
        super().__init__(env, at, faults, settings, self.fail_delay, stats, builder,
                         horizon_s, trace)

    def fail_delay(self) -> float:
        """Failure to FAIL (s): what the controller's detection waits before the failover
        job's :meth:`ClusterFailover.on_failover`."""
        return self.node_timeout_s * (1.0 + PING_SPREAD * self.uniform()
                                      + GOSSIP_SPREAD * self.uniform())

    def reachable(self, client_index: int, node_id: int) -> bool:
        """Can this client be served by this host now: the cluster is up, and both are on the
        same side, and that side is not a minority past the node timeout?"""
        if self.coverage.uncovered:
            return False
        if self.partition is None:
            return True
        minority = not self.majority(node_id)
        if self.majority_client(client_index) == minority:
            return False
        return not (minority
                    and self.env._now - self.partitions.since >= self.node_timeout_s)
