"""A benchmark's verdicts and the exit status they give.

Each benchmark prints one line per target, starting with PASS or FAIL; its exit status is 0
only when none failed, so ``make bench`` (and a CI job) fails when a target is missed instead
of printing FAIL above a success.
"""

from __future__ import annotations

from collections.abc import Iterable

PASS, FAIL = "PASS", "FAIL"


def verdict(ok: bool) -> str:
    return PASS if ok else FAIL


def exit_status(lines: Iterable[str]) -> int:
    """1 when any line is a FAIL verdict, else 0."""
    return 1 if any(line.lstrip().startswith(FAIL) for line in lines) else 0
