"""Parsing of list-valued and numeric options shared by the commands.

Click checks an option's type and range; what it lets through and dlbench cannot use is
refused here, before anything runs: an empty list (`--backend ''`, `--size ,`) that would
otherwise mean "everything", times that are not finite, thread counts no machine has.
"""

from __future__ import annotations

import math

from dlbench.errors import UsageError
from dlbench.planning import MAX_SECONDS, MAX_THREADS


def split(values: list[str] | None, option: str = "the option") -> tuple[str, ...] | None:
    """`--backend numpy,torch` and `--backend numpy --backend torch` alike; None when the
    option is not given. Given with nothing in it (`--backend ''`) is refused: it would
    otherwise mean "everything"."""
    if not values:
        return None
    items = tuple(v.strip() for value in values for v in value.split(",") if v.strip())
    if not items:
        raise UsageError(f"{option}: no value given (got {', '.join(map(repr, values))})")
    return items


def positive_ints(values: list[str] | None, option: str) -> tuple[int, ...] | None:
    items = split(values, option)
    if items is None:
        return None
    out = []
    for item in items:
        try:
            number = int(item)
        except ValueError:
            raise UsageError(f"{option}: {item!r} is not a positive integer") from None
        if number < 1:
            raise UsageError(f"{option}: {item!r} is not a positive integer")
        out.append(number)
    return tuple(out)


def seconds(value: float | None, option: str) -> float | None:
    """A time option's value, if finite and at most MAX_SECONDS (Click lets inf and nan
    through its range checks)."""
    if value is not None and not (math.isfinite(value) and value <= MAX_SECONDS):
        raise UsageError(f"{option}: {value!r} is not a usable number of seconds (at most "
                         f"{MAX_SECONDS:,.0f})")
    return value


def threads(value: int | None, option: str = "--threads") -> int | None:
    if value is not None and value > MAX_THREADS:
        raise UsageError(f"{option}: {value} threads is more than any machine has (at most "
                         f"{MAX_THREADS})")
    return value
