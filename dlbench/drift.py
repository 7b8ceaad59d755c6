"""Drift between runs: does this run's interval hold the previous run's medians?

A run's intervals stand on its rounds, spread over the run, so they see what the machine
does during the run (intervals.py). A shared or cloud machine also drifts on longer time
scales — a neighbour's job for ten minutes, a host that migrates the VM — which no single
run can see from inside. The one witness of it is an earlier run of the same cases on the
same machine: with calibrated 95% intervals, about one cell in twenty of the earlier run
lies outside this run's intervals by chance; many more say that the machine moved between
the runs by more than the intervals allow, and that they promise less than they claim.

The check is cheap (one earlier file from the output's folder) and only speaks when the
evidence is clear: at least MIN_OUTSIDE cells and a quarter of those compared, where
chance alone would put one in twenty (for 26 cells, P(≥ 7 of 26 | p = 0.05) ≈ 0.001).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dlbench import between_runs, machine, results
from dlbench.errors import ResultFileError

# Cells in common before the comparison means anything.
MIN_CELLS = 5
# How much of the earlier run must lie outside this run's intervals to say so.
MIN_OUTSIDE = 3
MIN_OUTSIDE_FRACTION = 0.25
# Earlier files looked at, newest first: the output folder may hold a long history.
MAX_CANDIDATES = 20
# Earlier runs whose medians widen this run's intervals (between_runs.py): the recent
# past of the machine, not its whole history.
EARLIER_RUNS = 5
SAME_SETTINGS = ("threads", "cache", "tf32")


@dataclass(frozen=True)
class BetweenRuns:
    """How an earlier run's medians sit against this run's intervals."""

    earlier: str  # the earlier file's path
    minutes: float | None  # between the two runs' starts; None when a file has no time
    compared: int
    outside: int  # earlier medians outside this run's own 95% intervals
    typical_change: float  # median |this / earlier − 1| over the cells compared
    largest_id: str
    largest_change: float  # this / earlier − 1 of the cell that moved most

    @property
    def drifted(self) -> bool:
        return (self.outside >= MIN_OUTSIDE
                and self.outside >= MIN_OUTSIDE_FRACTION * self.compared)


def compare_runs(now: Iterable[results.Result], earlier: Iterable[results.Result],
                 earlier_path: str, minutes: float | None = None) -> BetweenRuns | None:
    """The earlier run's medians against this run's own intervals (before any widening
    by earlier runs, between_runs.py), over the cells both ran
    and this one measured in rounds; None with fewer than MIN_CELLS such cells."""
    before = {r.spec.id: r.median for r in earlier if r.status == "ok" and r.median}
    outside = 0
    changes: list[tuple[float, str]] = []
    for r in now:
        stats = r.stats or {}
        if r.status != "ok" or stats.get("interval") != "repeat" or r.spec.id not in before:
            continue
        lo, hi = between_runs.own_interval(r) or stats["ci95"]
        then = before[r.spec.id]
        outside += not lo <= then <= hi
        changes.append((r.median / then - 1.0, r.spec.id))
    if len(changes) < MIN_CELLS:
        return None
    change, ident = max(changes, key=lambda c: abs(math.log1p(c[0])))
    return BetweenRuns(earlier_path, minutes, len(changes), outside,
                       statistics.median(abs(c) for c, _ in changes), ident, change)


def earlier_runs(folder: Path, this: Path, created: str, environment: dict,
                 settings: Mapping[str, Any] | None = None, limit: int = EARLIER_RUNS
                 ) -> list[tuple[Path, results.RunDocument]]:
    """Up to `limit` result files in `folder` made before `created` on this machine with
    the same key libraries (and, given `settings`, the same threads, cache and TF32:
    they change what a case measures; and only the results of workloads whose code is
    this run's, `same_code`), other than `this`, newest first (unreadable files are
    passed over: they are not this run's business)."""
    try:
        candidates = sorted((p for p in folder.glob("*.json") if p.resolve() != this.resolve()),
                            key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    found = []
    for path in candidates[:MAX_CANDIDATES]:
        try:
            doc = results.load(path)
        except (ResultFileError, OSError, ValueError):
            continue
        gap = minutes_between(doc.created, created)
        if (gap is not None and gap > 0 and same_setup(doc.environment, environment)
                and (settings is None or all(doc.settings.get(k) == settings.get(k)
                                             for k in SAME_SETTINGS))):
            found.append((path, doc if settings is None else same_code(doc, settings)))
            if len(found) == limit:
                break
    return found


def same_code(doc: results.RunDocument, settings: Mapping[str, Any]) -> results.RunDocument:
    """The earlier run without the results of workloads whose code differs from this run's
    (a user's workload file edited between the runs, a plugin upgraded): their change is
    the user's, not the machine's drift."""
    mine = settings.get("workload_code") or {}
    theirs = doc.settings.get("workload_code") or {}
    kept = tuple(r for r in doc.results if mine.get(r.spec.workload) == theirs.get(r.spec.workload))
    return doc if len(kept) == len(doc.results) else doc.with_results(kept)


def same_setup(a: dict, b: dict) -> bool:
    """One machine with the same key libraries (machine.fingerprint): a run after a
    library upgrade may differ for a reason, and the difference is not the machine's."""
    return machine.fingerprint(a) == machine.fingerprint(b)


def against_newest(now: Iterable[results.Result],
                   earlier: Sequence[tuple[Path, results.RunDocument]], created: str
                   ) -> BetweenRuns | None:
    """This run (made at `created`) against the newest of `earlier_runs`; None when there
    is none."""
    if not earlier:
        return None
    path, newest = earlier[0]
    return compare_runs(now, newest.results, str(path),
                        minutes_between(newest.created, created))


def minutes_between(earlier: str, later: str) -> float | None:
    try:
        return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
                ).total_seconds() / 60.0
    except ValueError:
        return None
