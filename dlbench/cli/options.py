"""Parsing of list-valued options shared by the commands."""

from __future__ import annotations

from dlbench.errors import UsageError


def split(values: list[str] | None) -> tuple[str, ...] | None:
    """`--backend numpy,torch` and `--backend numpy --backend torch` alike."""
    if not values:
        return None
    items = tuple(v.strip() for value in values for v in value.split(",") if v.strip())
    return items or None


def positive_ints(values: list[str] | None, option: str) -> tuple[int, ...] | None:
    items = split(values)
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
