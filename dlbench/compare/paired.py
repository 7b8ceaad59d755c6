"""Judging an A/B run (`dlbench ab`): side B against side A, case by case, in one file.

The runner measures a case's two sides in the same passes, in an order rotated every
pass (runner.py), so the rounds of one pass were taken seconds apart and the machine's
drift falls on both. The change of a case is the median over passes of B_r / A_r with
its confidence interval at 1 - alpha (intervals.paired_ratio_interval, resampled by
pass), judged by `compare`'s rule with the interval standing in for the significance
test (judging.verdict_of): slower when the interval excludes 1 and the change exceeds
the threshold. A case with fewer than two paired rounds is judged as two runs are
(judging.judge). The answer is a `Comparison`, so every view and exit code of `compare`
serves it, BASE being side A and NEW side B.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dlbench import intervals, speedups, stats
from dlbench.compare.environments import differences, flatten
from dlbench.compare.judging import DEFAULT_ALPHA, SEVERITY, Comparison, Row, judge, verdict_of
from dlbench.compare.reading import timing
from dlbench.compare.thresholds import DEFAULT_THRESHOLD, threshold_for, unmatched
from dlbench.errors import UsageError
from dlbench.i18n import _
from dlbench.machine import hardware
from dlbench.results import SIDE_MARK, SIDES, CaseSpec, Result, RunDocument
from dlbench.sides import Side

PAIRED_NOTE = ("B/A of each case from its rounds paired by pass within one run (the "
               "machine's drift cancels), with the {confidence:.0%} confidence interval")


def sides_of(doc: RunDocument) -> tuple[str, ...]:
    """The sides an A/B run's results carry, in order (none for any other run)."""
    found = {r.spec.side for r in doc.results if r.spec.side}
    return tuple(s for s in SIDES if s in found)


def judge_sides(doc: RunDocument, path: str, threshold: float = DEFAULT_THRESHOLD,
                alpha: float = DEFAULT_ALPHA, overrides: Sequence[tuple[str, float]] = (),
                resamples: int = stats.BOOTSTRAP_RESAMPLES) -> Comparison:
    """Every case of an A/B run's file judged B against A; UsageError for a file that
    holds no A/B run."""
    first, second = SIDES
    if sides_of(doc) != SIDES:
        raise UsageError(_("{path} holds no A/B run (results of sides A and B, from "
                           "`dlbench ab`): compare it with another file").format(path=path))
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    by_side: dict[str, dict[CaseSpec, Result]] = {first: {}, second: {}}
    for r in doc.results:
        if r.spec.side in by_side:
            by_side[r.spec.side].setdefault(r.spec.without_side(), r)
    cases = list(dict.fromkeys([*by_side[first], *by_side[second]]))
    skipped = [c for c in cases if all(by_side[s].get(c) is not None
                                       and by_side[s][c].status == "skipped" for s in SIDES)]
    ids = [c.id for c in cases if c not in skipped]
    rows = [_judge_case(c.id, by_side[first].get(c), by_side[second].get(c),
                        threshold_for(c.id, threshold, overrides), alpha, resamples)
            for c in cases if c not in skipped]
    rows.sort(key=lambda r: (SEVERITY[r.verdict], not r.may_regress))
    environment = doc.environment
    line = hardware(environment).line()
    notes = [PAIRED_NOTE.format(confidence=1.0 - alpha)]
    if skipped:
        notes.append(f"{len(skipped)} case(s) skipped on both sides are left out")
    notes += [f"threshold pattern {pattern!r} matches no benchmark"
              for pattern in unmatched(overrides, ids)]
    if doc.interrupted:
        notes.append(f"{path} is from an interrupted run: only its finished cases are compared")
    return Comparison(
        base=_name(environment, first), new=_name(environment, second), threshold=threshold,
        alpha=alpha, rows=tuple(rows),
        differences=tuple(differences(side_facts(environment, first),
                                      side_facts(environment, second))),
        same_machine=True, machines=(line, line), notes=tuple(notes))


def _judge_case(ident: str, a: Result | None, b: Result | None, threshold: float,
                alpha: float, resamples: int) -> Row:
    base, new = (timing(a, ident) if a else None), (timing(b, ident) if b else None)
    pair = speedups.sides(b, a) if a and b and a.status == b.status == "ok" else None
    if base is None or new is None or pair is None or not pair.paired:
        return judge(ident, base, new, threshold, alpha, resamples)
    estimate = intervals.paired_ratio_interval(pair.numerator, pair.denominator,
                                               pair.numerator_groups, 1.0 - alpha, resamples,
                                               predict=False)
    verdict, why = verdict_of(estimate.value, estimate.lo, estimate.hi, None, threshold, alpha)
    return Row(ident, verdict, threshold, base_median=base.median, new_median=new.median,
               n_base=base.n, n_new=new.n, ratio=estimate.value, lo=estimate.lo,
               hi=estimate.hi, p=None, reason=why)


def side_facts(environment: Mapping[str, Any], side: str) -> list[tuple[str, str]]:
    """One side's record as (dotted key, text) pairs: its interpreter, variables and
    libraries, and what its workers said about their backends."""
    mark = f"{SIDE_MARK}{side}"
    own = (environment.get("sides") or {}).get(side) or {}
    described = {label.removesuffix(mark): d
                 for label, d in (environment.get("backends") or {}).items()
                 if label.endswith(mark)}
    return flatten("", own) + flatten("backends", described)


def _name(environment: Mapping[str, Any], side: str) -> str:
    """How the views name a side: "A", with its interpreter and variables where known."""
    own = (environment.get("sides") or {}).get(side) or {}
    python = own.get("python")
    return Side(side, str(python), dict(own.get("env") or {})).shown if python else side
