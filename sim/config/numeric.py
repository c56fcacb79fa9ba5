"""The one reader of numbers in a configuration: every numeric key, every duration, every
distribution parameter, every size and every sample of an ``empirical:`` file goes through
:func:`read_number`, so that they all follow one set of rules.

A number is a TOML number (an int or a float, not a boolean) or a string holding a decimal
number written with ASCII digits: an optional sign, digits with an optional point, an
optional exponent (``5``, ``-2.5``, ``.5``, ``1e-3``). Everything else is refused: ``nan``,
``inf``, a value that overflows a float (``1e309``), hex, octal or binary, underscores,
digits of other scripts (``١``) and full-width signs (``－``). Negative zero is zero.

A string is read as an exact decimal, so that ``"1.5ms"`` becomes the float nearest to
0.0015 rather than 1.5 * 0.001 with its extra rounding.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["NUMBER_PATTERN", "NUMBER_RULES", "is_decimal_text", "read_number", "to_float"]

#: A decimal number in ASCII: the only form a string may give a number in.
NUMBER_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER_RE = re.compile(NUMBER_PATTERN, re.ASCII)
#: What a refused number's message adds, so that the user knows the form as well as the range.
NUMBER_RULES = ("written in decimal with ASCII digits (e.g. 5, 0.25, 1e-3; not nan, inf, hex, "
                "underscores or other scripts' digits)")


def is_decimal_text(text: str) -> bool:
    """True when ``text`` (surrounding blanks ignored) is a decimal number in ASCII."""
    return _NUMBER_RE.fullmatch(text.strip()) is not None


def read_number(value: Any) -> Decimal | None:
    """``value`` as an exact finite ``Decimal`` (negative zero made zero), or None when it is
    not a number by the rules of this module."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER_RE.fullmatch(text) is None:
            return None
        try:
            number = Decimal(text)
        except (ArithmeticError, InvalidOperation):
            return None
    elif isinstance(value, numbers.Integral):
        number = Decimal(int(value))
    elif isinstance(value, numbers.Real):
        try:
            real = float(value)
        except (OverflowError, ValueError):
            return None
        if not math.isfinite(real):
            return None
        number = Decimal(real)
    else:
        return None
    # A float must hold it: "1e309" is as infinite as the float it would become.
    if to_float(number) is None:
        return None
    return number.copy_abs() if number.is_zero() else number


def to_float(number: Decimal) -> float | None:
    """The float nearest to ``number``, or None when it overflows to infinity; never -0.0."""
    try:
        real = float(number)
    except (ArithmeticError, InvalidOperation, ValueError):
        return None
    if not math.isfinite(real):
        return None
    return real + 0.0
