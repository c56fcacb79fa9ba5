"""The few pieces every component uses to talk through SimPy: callback events and FIFO links.

The hot path never starts a SimPy process per command. A component reacts to a message by a
plain callback run from a :class:`Call` event, and a link turns a send time into a delivery
time by arithmetic, so that one message costs one SimPy event at its receiver.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

from simpy import Environment
from simpy.events import NORMAL, Event


class Call(Event):
    """An event that runs ``fn(event)`` when processed; the payload is ``event._value``.

    It is an ordinary SimPy event (already triggered, so it can be scheduled directly), made
    without the bookkeeping of :class:`simpy.Timeout`.
    """

    def __init__(self, env: Environment, fn: Callable[[Event], None], payload: Any) -> None:
        self.env = env
        self.callbacks = [fn]
        self._ok = True
        self._value = payload


def scheduler(env: Environment) -> Callable[[float, Callable[[Event], None], Any], None]:
    """Return ``at(time_s, fn, payload)``: run ``fn`` with ``payload`` at absolute time ``time_s``.

    It pushes onto the environment's queue exactly as :meth:`simpy.Environment.schedule` does
    (same tuple, same event-id counter, NORMAL priority) without the relative-delay round trip,
    because components compute absolute delivery and completion times.
    """
    queue = env._queue
    eid = env._eid

    def at(time_s: float, fn: Callable[[Event], None], payload: Any) -> None:
        heappush(queue, (time_s, NORMAL, next(eid), Call(env, fn, payload)))

    return at


class Link:
    """One direction of a FIFO connection (like a TCP stream).

    ``arrival(send_s)`` samples the one-way delay and returns the delivery time in seconds,
    never earlier than the previous delivery on this link: a message does not overtake an
    earlier one. Callers must send in non-decreasing ``send_s`` order.
    """

    __slots__ = ("delay", "last")

    def __init__(self, delay: Callable[[], float]) -> None:
        self.delay = delay
        self.last = 0.0

    def arrival(self, send_s: float) -> float:
        t = send_s + self.delay()
        if t < self.last:
            t = self.last
        self.last = t
        return t


class Payload:
    """Stands in for an event when a callback is called directly: it only carries ``_value``."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value
