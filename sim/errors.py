"""Exceptions that carry meaning for the user.

Only the command line turns them into a one-line message; library code raises them and
lets the caller decide.
"""

from __future__ import annotations

from typing import Any

#: Longest echo of a value in a message (characters of its repr); a pasted 100,000-character
#: value would otherwise bury the one line that says what is wrong.
ECHO_LIMIT = 80


def echo(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length said when longer."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


class ConfigError(ValueError):
    """Bad configuration input: which key, which value, and what would have been allowed.

    ``str(error)`` is ``"<key> = <value!r>: <allowed>"`` (a long value cut, see :func:`echo`),
    or just ``allowed`` when the error is not about one key.
    """

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(key, value, allowed)

    def __str__(self) -> str:
        if not self.key:
            return self.allowed
        return f"{self.key} = {echo(self.value)}: {self.allowed}"


class OverloadError(RuntimeError):
    """A node's queue outgrew ``run.max_queue``: the offered load exceeds what it can serve,
    and simulating on would only eat memory. ``queue`` is the commands waiting (estimated
    from the backlog of work and the mean cost of a command), ``time_s`` when it happened."""

    def __init__(self, node: str, queue: float, backlog_s: float, time_s: float,
                 limit: int) -> None:
        self.node, self.queue, self.backlog_s, self.time_s, self.limit = (
            node, queue, backlog_s, time_s, limit)
        super().__init__(node, queue, backlog_s, time_s, limit)

    def __str__(self) -> str:
        return (f"{self.node} is overloaded: about {self.queue:,.0f} commands "
                f"({self.backlog_s:.3g} s of work) were waiting at t = {self.time_s:.6g} s, "
                f"more than run.max_queue = {self.limit:,}; lower the offered load (rates, "
                f"clients, service times) or raise run.max_queue")


class StalledError(RuntimeError):
    """A run whose simulated time barely advances: ``events`` events took only ``span_s``
    simulated seconds, ending at ``time_s``, more than ``limit_per_s`` events per simulated
    second, so it would not reach its horizon in any useful time. ``cause`` says which
    settings make it so."""

    def __init__(self, events: int, span_s: float, time_s: float, limit_per_s: float,
                 cause: str) -> None:
        self.events, self.span_s, self.time_s, self.limit_per_s, self.cause = (
            events, span_s, time_s, limit_per_s, cause)
        super().__init__(events, span_s, time_s, limit_per_s, cause)

    def __str__(self) -> str:
        return (f"the run cannot progress in simulated time: {self.events:,} events took "
                f"{self.span_s:.3g} simulated seconds up to t = {self.time_s:.3g} s (more than "
                f"{self.limit_per_s:.0e} events per simulated second); {self.cause}")
