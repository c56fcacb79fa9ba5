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
