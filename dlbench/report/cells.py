"""Cells and rows of the speedup table, and how their numbers are written.

The report package's bottom layer: sweeps, crossovers, the table itself (`rows`) and the
views all build on these types and formats, and this module imports none of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dlbench.breakeven import BreakEven
from dlbench.i18n import _
from dlbench.results import Result


@dataclass(frozen=True)
class Cell:
    result: Result
    speedup: tuple[float, float, float] | None = None  # (point, lo, hi)
    break_even: BreakEven | None = None  # a compiled kernel's, against its eager column

    @property
    def significant(self) -> bool:
        return self.speedup is not None and not (self.speedup[1] <= 1.0 <= self.speedup[2])


@dataclass(frozen=True)
class Row:
    workload: str
    params: str
    dtype: str
    cells: dict[str, Cell] = field(default_factory=dict)
    spec_params: tuple[tuple[str, Any], ...] = ()  # the raw params, for sweeps


def format_params(params: Sequence[tuple[str, object]]) -> str:
    """'n=1, c=64, pad=1': every parameter with its own value. Never 'n=pad=1': parameters
    that happen to be equal are not one parameter, and read as nonsense merged."""
    return ", ".join(f"{key}={value}" for key, value in params)


def format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_flops(flops_per_s: float) -> str:
    for unit, scale in (("TFLOP/s", 1e12), ("GFLOP/s", 1e9), ("MFLOP/s", 1e6)):
        if flops_per_s >= scale:
            return f"{flops_per_s / scale:.3g} {unit}"
    return f"{flops_per_s:.3g} FLOP/s"


def format_count(n: float) -> str:
    """A number of calls as a person reads it: 850, 12,400, 3.1M."""
    if n >= 1e6:
        return f"{n / 1e6:.3g}M"
    return f"{math.ceil(n):,}"


def format_break_even(b: BreakEven) -> str:
    """'pays off after 1,240 calls [880, 2,100]'; 'never pays off (0.83× of eager)';
    'no measurable gain (1.00× of eager): at best after 850 calls' where the speedup's
    interval holds 1 (the point estimate of the calls would be noise)."""
    ratio = f"{b.speedup[0]:.2f}×"
    if b.verdict == "never":
        return _("never pays off ({ratio} of eager)").format(ratio=ratio)
    if b.verdict == "unclear":
        if b.lo is None:
            return _("no measurable gain ({ratio} of eager)").format(ratio=ratio)
        return _("no measurable gain ({ratio} of eager): at best after {calls} calls").format(
            ratio=ratio, calls=format_count(b.lo))
    hi = _("never") if b.hi is None else format_count(b.hi)
    return _("pays off after {calls} calls [{lo}, {hi}]").format(
        calls=format_count(b.calls or 0), lo=format_count(b.lo or 0), hi=hi)


def format_speedup(speedup: tuple[float, float, float]) -> str:
    point, lo, hi = speedup
    return f"{point:.2f}× [{lo:.2f}, {hi:.2f}]"


def markdown_cell(text: str) -> str:
    """Text from a result file, made inert in a GFM table cell: GitHub renders some inline
    HTML, so angle brackets become entities; '|' would end the cell."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")
