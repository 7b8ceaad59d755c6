"""The options the commands share, and parsing of list-valued and numeric options.

Click checks an option's type and range; what it lets through and dlbench cannot use is
refused here, before anything runs: an empty list (`--backend ''`, `--size ,`) that would
otherwise mean "everything", times that are not finite, thread counts no machine has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated

import typer

from dlbench import i18n
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


# Binary suffixes of a size: 64K, 16M, 1G (as nccl-tests' -b/-e read them).
SUFFIXES = {"K": 2**10, "M": 2**20, "G": 2**30}
# A range `LOW..HIGH[:xF]` past this many sizes is a typo, not a sweep.
MAX_RANGE_SIZES = 1000


def positive_ints(values: list[str] | None, option: str) -> tuple[int, ...] | None:
    """Integers, each also as K/M/G (binary) or as a geometric range `LOW..HIGH:xF`
    (nccl-tests' -b LOW -e HIGH -f F; F defaults to 2): `8..64M:x4` is 8, 32, ... 32M."""
    items = split(values, option)
    if items is None:
        return None
    out: list[int] = []
    for item in items:
        if ".." in item:
            out += _geometric(item, option)
        else:
            out.append(_positive(item, item, option))
    return tuple(out)


def _positive(text: str, item: str, option: str) -> int:
    scale = SUFFIXES.get(text[-1:].upper(), 1) if text[:-1].isdigit() else 1
    try:
        number = int(text[:-1] if scale > 1 else text) * scale
    except ValueError:
        raise UsageError(f"{option}: {item!r} is not a positive integer") from None
    if number < 1:
        raise UsageError(f"{option}: {item!r} is not a positive integer")
    return number


def _geometric(item: str, option: str) -> list[int]:
    bounds, _, factor_text = item.partition(":")
    low_text, _, high_text = bounds.partition("..")
    low, high = _positive(low_text, item, option), _positive(high_text, item, option)
    factor = _positive(factor_text.removeprefix("x") or "2", item, option)
    if factor < 2 or high < low:
        raise UsageError(f"{option}: {item!r} is not a range LOW..HIGH[:xF] with LOW <= HIGH "
                         "and a factor F >= 2")
    sizes = [low]
    while sizes[-1] * factor <= high:
        sizes.append(sizes[-1] * factor)
        if len(sizes) > MAX_RANGE_SIZES:
            raise UsageError(f"{option}: {item!r} holds more than {MAX_RANGE_SIZES} sizes")
    return sizes


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


# -- the options every command shares, and what the shell completes ----------------------

def completer(names: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """Shell completion of a comma-separated list of `names()`: the last item is
    completed, the ones before it kept (`numpy,to<TAB>` gives `numpy,torch`)."""

    def complete(incomplete: str) -> list[str]:
        done, comma, last = incomplete.rpartition(",")
        return [f"{done}{comma}{name}" for name in names() if name.startswith(last)]

    return complete


def listing(names: Iterable[str]) -> str:
    return ", ".join(names)


Language = StrEnum("Language", {code: code for code in i18n.languages()})  # type: ignore[misc]


def _use_language(value: Language | None) -> Language | None:
    i18n.use(value.value if value is not None else None)
    return value


LangOption = Annotated[Language | None, typer.Option(
    "--lang", callback=_use_language, is_eager=True, show_default=False,
    help=f"Language of tables, headline and messages (default: ${i18n.ENV_VAR}, else the "
         "locale; English where no translation exists). Numbers, names and files stay as "
         "they are.")]
