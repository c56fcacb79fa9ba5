"""The few pieces every component uses to talk through SimPy: callback events, FIFO links,
a node's inbox and a node's thread.

The hot path never starts a SimPy process per command. A component reacts to a message by a
plain callback run from a :class:`Call` event, and a link turns a send time into a delivery
time by arithmetic, so that one message costs at most one SimPy event at its receiver.

**The delivery rule** (docs/design.md section 1, "Simultaneous events"): a message that has
reached a node by time t has been taken in by the node before it serves anything at t. A
message that needs nothing done at its arrival waits in the node's :class:`Inbox`, which the
node drains whenever it acts or is looked at; one that does (a WAIT acknowledgement, a resync
that schedules its completion) also wakes the same drain at its arrival. Either way the node
takes its messages in arrival order and before the commands of the same instant, so the run
does not depend on which events exist, how many there are, or in which order SimPy pops
events that share a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from itertools import repeat
from typing import Any

from simpy import Environment
from simpy.events import NORMAL

from sim.errors import OverloadError


class Call:
    """An event that runs ``fn(event)`` when processed; the payload is ``event._value``.

    It has exactly what SimPy's queue and :meth:`simpy.Environment.step` use of an event
    (``callbacks``, ``_ok``), in two slots, so that ``env.step()`` and ``env.run()`` process it
    like any SimPy event, without the bookkeeping of :class:`simpy.events.Event` that a
    message between nodes never needs (it is created already triggered and never fails).
    """

    __slots__ = ("callbacks", "_value")
    _ok = True

    def __init__(self, fn: Callable[[Call], None], payload: Any) -> None:
        self.callbacks = (fn,)
        self._value = payload


def scheduler(env: Environment) -> Callable[[float, Callable[[Call], None], Any], None]:
    """Return ``at(time_s, fn, payload)``: run ``fn`` with ``payload`` at absolute time ``time_s``.

    It pushes onto the environment's queue exactly as :meth:`simpy.Environment.schedule` does
    (same tuple, same event-id counter, NORMAL priority) without the relative-delay round trip,
    because components compute absolute delivery and completion times.
    """
    queue = env._queue
    eid = env._eid

    def at(time_s: float, fn: Callable[[Call], None], payload: Any) -> None:
        heappush(queue, (time_s, NORMAL, next(eid), Call(fn, payload)))

    return at


class Link:
    """One direction of a FIFO connection (like a TCP stream).

    ``arrival(send_s)`` samples the one-way delay and returns the delivery time in seconds,
    never earlier than the previous delivery on this link: a message does not overtake an
    earlier one. Callers must send in non-decreasing ``send_s`` order. ``send(send_s, fn,
    payload)`` does the same and schedules ``fn`` with ``payload`` at the delivery, in one
    call (a link built with its ``env``): the way every message of the hot path travels.
    """

    __slots__ = ("delay", "last", "queue", "eid")

    def __init__(self, delay: Callable[[], float], env: Environment | None = None) -> None:
        self.delay = delay
        self.last = 0.0
        if env is not None:
            self.queue, self.eid = env._queue, env._eid

    def arrival(self, send_s: float) -> float:
        t = send_s + self.delay()
        if t < self.last:
            t = self.last
        self.last = t
        return t

    def send(self, send_s: float, fn: Callable[[Call], None], payload: Any) -> None:
        t = send_s + self.delay()
        if t < self.last:
            t = self.last
        self.last = t
        heappush(self.queue, (t, NORMAL, next(self.eid), Call(fn, payload)))


class IndependentLink(Link):
    """A link on which each message takes its own delay, so a later message may overtake
    an earlier one (no head-of-line blocking): the WARS model's assumption, chosen by
    ``quorum.link_order = "independent"``. A subclass, so the FIFO link pays no flag."""

    __slots__ = ()

    def arrival(self, send_s: float) -> float:
        return send_s + self.delay()

    def send(self, send_s: float, fn: Callable[[Call], None], payload: Any) -> None:
        heappush(self.queue, (send_s + self.delay(), NORMAL, next(self.eid), Call(fn, payload)))


class Inbox:
    """What has reached a node and not yet been taken in: ``(arrival_s, take, payload)`` in
    arrival order (one FIFO link feeds it, so arrivals never decrease).

    :meth:`take_in` ``(now)`` runs ``take(payload, arrival_s)`` for every entry that has
    arrived by ``now``, oldest first; the owner calls it before it acts at ``now`` and
    whenever it is looked at, so an entry is taken in at the same simulated instant whether
    or not an event marked its arrival. :meth:`put_waking` also schedules such an event, for
    entries whose taking-in schedules something of its own (it must happen on time).
    """

    __slots__ = ("entries", "at")

    def __init__(self, at: Callable[[float, Callable[[Call], None], Any], None]) -> None:
        self.entries: deque[tuple[float, Callable[[Any, float], None], Any]] = deque()
        self.at = at

    def put(self, arrival_s: float, take: Callable[[Any, float], None], payload: Any) -> None:
        self.entries.append((arrival_s, take, payload))

    def put_waking(self, arrival_s: float, take: Callable[[Any, float], None],
                   payload: Any) -> None:
        self.entries.append((arrival_s, take, payload))
        self.at(arrival_s, self._on_arrival, arrival_s)

    def _on_arrival(self, ev) -> None:
        self.take_in(ev._value)

    def take_in(self, now: float) -> None:
        """Take in, oldest first, every entry that has arrived by ``now`` (s)."""
        entries = self.entries
        while entries and entries[0][0] <= now:
            arrival, take, payload = entries.popleft()
            take(payload, arrival)

    def drop(self) -> None:
        """Forget everything still on its way (the connection it travelled on broke)."""
        self.entries.clear()


class Thread:
    """A node's single thread: a FIFO server is one float, ``busy_until`` (s), the time it
    finishes what it has been given. A command's start is ``start(now)``; ``busy(done_s,
    now)`` books the thread until ``done_s`` and enforces ``limit`` (``run.max_queue``) on
    the backlog that leaves. A host's thread outlives its role: a promoted replica's host
    serves as master on the same thread."""

    __slots__ = ("name", "busy_until", "limit", "backlog_limit_s")

    def __init__(self, name: str, limit: QueueLimit, busy_until: float = 0.0) -> None:
        self.name = name
        self.busy_until = busy_until
        self.limit = limit
        self.backlog_limit_s = limit.backlog_s

    def start(self, now: float) -> float:
        """When a command arriving ``now`` (s) starts: after everything queued before it."""
        return self.busy_until if self.busy_until > now else now

    def busy(self, done_s: float, now: float) -> None:
        self.busy_until = done_s
        if done_s - now > self.backlog_limit_s:
            self.limit.exceeded(self.name, done_s - now, now)


class LazyLinks(dict):
    """A node's links by far-end index (a client's, or a node id), each made on first use by
    ``make(index)``: a run with 10,000 clients builds the links its messages use, not every
    pair. Each link draws from a stream named after its two ends, so when it is made changes
    none of its samples."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[int], Link]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, index: int) -> Link:
        link = self[index] = self.make(index)
        return link


class Payload:
    """Stands in for an event when a callback is called directly: it only carries ``_value``."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value


def run_until(env: Environment, horizon_s: float, max_events: int | None = None) -> bool:
    """Process every event scheduled before ``horizon_s`` (s), then set the clock to it and
    return True; with ``max_events``, stop after that many events if the horizon is not
    reached first and return False, the clock at the last event processed.

    The same as ``env.run(until=horizon_s)`` (events at the horizon itself are left, as
    SimPy's URGENT stop event would leave them) for any SimPy event, ours or not, with the
    loop of :meth:`simpy.Environment.step` inlined: the loop runs once per event of the run.
    """
    queue = env._queue
    pop = heappop
    # The budget costs one C-level step of repeat() per event, nothing in Python.
    for _ in repeat(None) if max_events is None else repeat(None, max_events):
        if not queue or queue[0][0] >= horizon_s:
            break
        env._now, _, _, event = pop(queue)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    else:
        return False
    env._now = horizon_s
    return True


class QueueLimit:
    """The bound on a server's queue: ``commands`` at most, ``per_command_s`` the mean cost
    of one (s). A FIFO server here is one ``busy_until`` float, so its queue is read as its
    backlog of work: more than ``backlog_s`` = commands x per_command_s means the queue is
    over the bound, and the run stops with :class:`~sim.errors.OverloadError`."""

    __slots__ = ("commands", "per_command_s", "backlog_s")

    def __init__(self, commands: int, per_command_s: float) -> None:
        self.commands = commands
        self.per_command_s = per_command_s
        self.backlog_s = commands * per_command_s if per_command_s > 0 else float("inf")

    @classmethod
    def none(cls) -> QueueLimit:
        return cls(0, 0.0)

    def exceeded(self, node: str, backlog_s: float, now_s: float) -> None:
        raise OverloadError(node, backlog_s / self.per_command_s, backlog_s, now_s,
                            self.commands)
