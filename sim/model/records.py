"""Per-version and per-command state, as ``__slots__`` objects (one allocation each)."""

from __future__ import annotations


class Version:
    """One committed (or about to be committed) version of a key.

    ``number`` counts writes to the key (0 = never written). ``commit_s`` is the simulated time
    the master commits it; ``superseded_s`` the commit time of the next version (None while it is
    the newest), which is what staleness age needs. Holders (replica stores, cache entries,
    messages in flight) keep a reference, so a version lives exactly as long as something can
    still return it: memory is bounded by what is in flight, not by the number of writes.
    ``offset`` is the master's replication offset (writes committed before it, plus one).
    ``acks`` and ``waiter`` serve ``replication.wait_replicas``.
    """

    __slots__ = ("key", "number", "commit_s", "superseded_s", "offset", "acks", "waiter")

    def __init__(self, key: int, number: int, commit_s: float, offset: int) -> None:
        self.key = key
        self.number = number
        self.commit_s = commit_s
        self.superseded_s: float | None = None
        self.offset = offset
        self.acks = 0
        self.waiter = None


# How a read reached its answer (Op.path).
DIRECT = 0  # sent straight to the store
HIT = 1  # answered by the cache
MISS = 2  # asked the cache, missed, then read from the store (and fills the cache)


class Op:
    """One client command from issue to reply.

    Captured at issue (simulated seconds and versions): ``issue_s``; ``newest``, the version
    committed at the master at issue time (V(k, i)); ``ryw_floor``, the highest version of the key
    this client had written and been acknowledged; ``mono_floor``, the highest version of the key
    this client had received from an earlier read. ``result`` is the Version the command read or
    wrote; ``node`` the node that served it.
    """

    __slots__ = ("client", "key", "write", "issue_s", "newest", "ryw_floor", "mono_floor",
                 "result", "path", "node")

    def __init__(self, client, key: int, write: bool, issue_s: float, newest: Version,
                 ryw_floor: int, mono_floor: int) -> None:
        self.client = client
        self.key = key
        self.write = write
        self.issue_s = issue_s
        self.newest = newest
        self.ryw_floor = ryw_floor
        self.mono_floor = mono_floor
        self.result: Version | None = None
        self.path = DIRECT
        self.node = None  # the node that answered (set by the server, for traces)
