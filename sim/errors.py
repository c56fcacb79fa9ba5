"""Exceptions that carry meaning for the user.

Only the command line turns them into a one-line message; library code raises them and
lets the caller decide.
"""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """Bad configuration input: which key, which value, and what would have been allowed.

    ``str(error)`` is ``"<key> = <value!r>: <allowed>"``, or just ``allowed`` when the
    error is not about one key.
    """

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(key, value, allowed)

    def __str__(self) -> str:
        if not self.key:
            return self.allowed
        return f"{self.key} = {self.value!r}: {self.allowed}"
