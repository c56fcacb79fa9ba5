"""The records that cross the hot path, as ``__slots__`` classes (one allocation each)."""

from __future__ import annotations


class Version:
    """One committed (or about to be committed) version of a key.

    ``number`` counts writes to the key (0 = never written). ``commit_s`` is the simulated time
    its master commits it; ``superseded_s`` the commit time of the next version (None while it
    is the newest), which is what staleness age needs. Holders (replica stores, cache entries,
    messages in flight) keep a reference, so a version lives exactly as long as something can
    still return it: memory is bounded by what is in flight, not by the number of writes.
    ``offset`` is the master's replication offset (writes committed before it, plus one).
    ``acks`` counts replicas that applied it and ``wait`` is the :class:`WaitGroup` of a WAIT
    blocked on it (``replication.wait_replicas``); ``acked`` is set when its writer received
    the reply, so that a failover counts the acknowledged writes it discards.
    ``expire_at`` is the absolute expiry (s, by the master's clock: Redis 7's PXAT) of a SET
    that carries a TTL, None for one without; only a run whose store has TTLs
    (``workload.key_ttl``) sets it, so that a run without them pays nothing per write.
    """

    __slots__ = ("key", "number", "commit_s", "superseded_s", "offset", "acks", "wait",
                 "acked", "expire_at")

    def __init__(self, key: int, number: int, commit_s: float, offset: int) -> None:
        self.key = key
        self.number = number
        self.commit_s = commit_s
        self.superseded_s: float | None = None
        self.offset = offset
        self.acks = 0
        self.wait: WaitGroup | None = None
        self.acked = False


class Keyspace(dict):
    """A node's data: key -> its Version, holding only the keys that were ever written.

    A key never written reads as its version 0, one object per key shared by every node's
    keyspace (``initial``, made on first use), so that superseding it at the master is seen
    wherever it is held. A million keys cost what the keys touched cost.
    """

    __slots__ = ("initial",)

    def __init__(self, initial: dict[int, Version], *args) -> None:
        super().__init__(*args)
        self.initial = initial

    def __missing__(self, key: int) -> Version:
        version = self.initial.get(key)
        if version is None:
            version = self.initial[key] = Version(key, 0, 0.0, 0)
        return version

    def copy(self) -> Keyspace:
        return Keyspace(self.initial, self)

    def replace(self, other: Keyspace) -> None:
        """Become a copy of ``other`` (a full resync)."""
        self.clear()
        self.update(other)


class Failure:
    """An error reply in place of a result: ``kind`` is ``"unavailable"`` (the node is down,
    cut off, or a replica without data refusing reads) or ``"refused"`` (the master refused a
    write under ``min_replicas_to_write``, Redis's NOREPLICAS)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


UNAVAILABLE = Failure("unavailable")
REFUSED = Failure("refused")

# How a read reached its answer (Op.path).
DIRECT = 0  # sent straight to the store
HIT = 1  # answered by the cache
MISS = 2  # asked the cache, missed, then read from the store (and fills the cache)
WAITED = 3  # missed, then waited for another reader's recompute (single flight, lease)
LOCAL = 4  # answered by the client's own cache (client_cache), at its issue


class Op:
    """One client command from issue to reply.

    Captured at issue (simulated seconds and versions): ``issue_s``; ``newest``, the version
    committed at the client's master at issue time (V(k, i)); ``ryw_floor``, the highest
    version of the key this client had written and been acknowledged; ``mono_floor``, the
    highest version of the key this client had received from an earlier read. ``result`` is
    the Version the command read or wrote (a :class:`Failure` for an error reply, None for a
    cache miss); ``node`` the node that served it; ``done_s`` when its reply reached the
    client (set by the recorder). With the store's TTL on, the node that serves a read also
    sets ``served_s`` (when it was served) and ``missing`` (it answered "no such key").
    ``caching`` is set only with a client-side cache: the read asks its server to track the
    key (always, but in optin mode only for the reads sent with ``CLIENT CACHING yes``).
    """

    __slots__ = ("client", "key", "write", "issue_s", "newest", "ryw_floor", "mono_floor",
                 "result", "path", "node", "done_s", "served_s", "missing",
                 "caching")

    def __init__(self, client, key: int, write: bool, issue_s: float, newest: Version,
                 ryw_floor: int, mono_floor: int, path: int = DIRECT) -> None:
        self.client = client
        self.key = key
        self.write = write
        self.issue_s = issue_s
        self.newest = newest
        self.ryw_floor = ryw_floor
        self.mono_floor = mono_floor
        self.path = path
        self.result: Version | Failure | None = None
        self.node = None


class HeldReply:
    """A reply the master has computed but holds under WAIT: replies leave a connection in
    request order, so ``ready`` says whether this one may leave once those before it have."""

    __slots__ = ("ready", "ops")

    def __init__(self, ready: bool, ops: list[Op]) -> None:
        self.ready = ready
        self.ops = ops


class WaitGroup:
    """A WAIT in progress: ``pending`` writes of ``reply`` still short of acknowledgements
    (-1 once released by the timeout, so late acknowledgements do nothing)."""

    __slots__ = ("pending", "client", "reply")

    def __init__(self, client, reply: HeldReply) -> None:
        self.pending = 0
        self.client = client
        self.reply = reply


class Host:
    """What a machine keeps across role changes (docs/design.md section 1, Faults): its id
    and name ("master", "replica0", ...), its links down to the clients by client index, its
    cost samplers (s: ``overhead`` per message, ``service`` per command, ``apply_time`` per
    replicated write) and its :class:`~sim.model.kernel.Thread`. A promoted replica's host
    serves as master with all of them."""

    __slots__ = ("node_id", "name", "down", "overhead", "service", "apply_time", "thread")

    def __init__(self, node_id: int, name: str, down: list, overhead, service, apply_time,
                 thread) -> None:
        self.node_id = node_id
        self.name = name
        self.down = down
        self.overhead = overhead
        self.service = service
        self.apply_time = apply_time
        self.thread = thread


class OnHost:
    """A server node on a :class:`Host`: the run's clock ``env`` and scheduler ``at``, and
    the host's identity, thread, client links and cost samplers, copied to attributes because
    the hot path reads them on every message."""

    def __init__(self, env, at, host: Host) -> None:
        self.env = env
        self.at = at
        self.host = host
        self.node_id = host.node_id
        self.name = host.name
        self.thread = host.thread
        self.down = host.down  # node -> client links, by client index
        self.overhead = host.overhead
        self.service = host.service


class Resync:
    """A resynchronisation on its way to a replica: the master's ``snapshot`` (committed
    versions by key) up to ``offset``; ``cost_s`` of the replica's thread to load it; ``kind``
    ``"partial"`` or ``"full"``; ``started_s`` when it began; writes with offsets in
    (``acked_upto``, ``offset``] count as acknowledged by it for WAIT once it is loaded."""

    __slots__ = ("epoch", "snapshot", "offset", "cost_s", "kind", "started_s", "acked_upto")

    def __init__(self, epoch: int, snapshot: Keyspace, offset: int, cost_s: float,
                 kind: str, started_s: float, acked_upto: int) -> None:
        self.epoch = epoch
        self.snapshot = snapshot
        self.offset = offset
        self.cost_s = cost_s
        self.kind = kind
        self.started_s = started_s
        self.acked_upto = acked_upto
