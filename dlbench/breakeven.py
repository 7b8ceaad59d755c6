"""When compiling pays: the calls after which a compiled kernel has won back its compile
time from its library's eager kernel.

The compiled kernel's first call compiles; every later call saves the difference of the
two medians. Over N calls the compiled kernel costs first + (N − 1)·c against the eager
kernel's N·e, so it is ahead once N ≥ (first − c) / (e − c): the compile time beyond one
call, divided by what each call saves. With s = e / c (the compiled kernel's speedup over
the eager one, taken as the tables take every speedup: speedups.speedup, from the rounds
paired by pass, with its 95% interval), that is (first − c) / (c·(s − 1)), and the
interval of s gives the interval of N. Where s ≤ 1 compiling never pays; where the interval of s
reaches 1, the upper end is unbounded. The first call is one observation, taken as it
is: its own spread is not in the interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dlbench import speedups
from dlbench.results import Result


@dataclass(frozen=True)
class BreakEven:
    """A compiled kernel weighed against `against`, its library's eager column."""

    against: str
    compile_s: float  # the first call beyond one steady call: what compiling cost
    speedup: tuple[float, float, float]  # eager median / compiled median, 95% interval
    calls: float | None  # None: never (the compiled kernel is not faster)
    lo: float | None  # the interval of `calls`; None at the top: unbounded
    hi: float | None

    @property
    def verdict(self) -> str:
        """"pays" (the compiled kernel is significantly faster: its speedup's whole
        interval lies above 1), "never" (significantly slower) or "unclear" (the interval
        holds 1: no measurable difference, and a point estimate of the calls that noise
        alone can make as large as it likes)."""
        _, lo, hi = self.speedup
        return "pays" if lo > 1.0 else "never" if hi < 1.0 else "unclear"

    def to_dict(self) -> dict[str, Any]:
        """The result file's "break_even": whole calls (rounded up), null for never."""
        return {"against": self.against, "compile_s": self.compile_s,
                "speedup": list(self.speedup), "calls": _whole(self.calls),
                "ci95": [_whole(self.lo), _whole(self.hi)]}


def _whole(calls: float | None) -> int | None:
    return None if calls is None else math.ceil(calls)


def break_even(compile_s: float, compiled_median: float,
               speedup: tuple[float, float, float], against: str) -> BreakEven:
    """The calls that pay back `compile_s` at `speedup` (eager / compiled, with its 95%
    interval) over a compiled call of `compiled_median` seconds."""
    point, lo, hi = speedup

    def calls_at(ratio: float) -> float | None:
        saved = compiled_median * (ratio - 1.0)  # seconds one call saves
        return compile_s / saved if saved > 0 else None

    return BreakEven(against, compile_s, speedup, calls_at(point), calls_at(hi),
                     calls_at(lo))


def payoff(compiled: Result, eager: Result) -> BreakEven | None:
    """A measured compiled result against its measured eager sibling; None where either
    has no samples or the compiled one no first call."""
    usable = all(r.status == "ok" and r.samples_s for r in (compiled, eager))
    if not usable or compiled.first_call_s is None or not compiled.median:
        return None
    estimate = speedups.speedup(eager, compiled)
    return break_even(max(compiled.first_call_s - compiled.median, 0.0), compiled.median,
                      (estimate.value, estimate.lo, estimate.hi), eager.column)


def eager_for(compiled: Result, candidates: Iterable[Result]) -> Result | None:
    """The eager result a compiled one is weighed against: of the same row, backend,
    device and timing marks, the implementation its compiler record names, else the
    portable one (torch's matmul on a CPU has no native column of its own)."""
    record = compiled.compiler
    if record is None:
        return None
    spec = compiled.spec
    siblings = {r.spec.impl: r for r in candidates
                if r.compiler is None and r.spec.row_key == spec.row_key
                and r.spec.label == spec.label and r.spec.marks == spec.marks}
    return siblings.get(str(record.get("eager"))) or siblings.get("portable")


def annotate(results: Sequence[Result]) -> list[Result]:
    """`results` with each compiled one's break-even stored (where its eager sibling was
    measured too)."""
    out = []
    for r in results:
        eager = eager_for(r, results)
        found = payoff(r, eager) if eager is not None else None
        out.append(replace(r, break_even=found.to_dict()) if found is not None else r)
    return out


def from_record(record: Mapping[str, Any]) -> str:
    """A compiler record in words: "torch.compile (inductor, mode default)"."""
    mode = record.get("mode")
    inner = ", ".join(str(x) for x in (record.get("compiler"),
                                        f"mode {mode}" if mode else None) if x)
    return f"{record.get('frontend', 'a compiler')}" + (f" ({inner})" if inner else "")
