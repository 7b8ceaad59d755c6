"""Speedups between two results, and summaries of them over rows, from rounds.

Two results of one run share its passes (runner.py): the rounds of a row's cases that
have the same index were measured seconds apart, so a speedup is taken round by round
(intervals.paired_ratio_interval) and the drift both columns saw cancels. Results of
different runs (a report merging files) share no passes: their rounds are compared as
two independent groups (intervals.change_interval). Files written before rounds were
recorded have one round each; their speedups fall back to the samples' own bootstrap
(stats.ratio_ci), which sees only the noise inside that one stretch of time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dlbench import intervals, stats
from dlbench.i18n import N_
from dlbench.intervals import Estimate
from dlbench.results import Result

# Fewer rounds than this on either side: no interval from rounds (intervals.py needs a
# spread to read), the samples' bootstrap instead.
MIN_ROUNDS = 2


@dataclass(frozen=True)
class Sides:
    """One row's two columns as rounds: `numerator` and `denominator` round medians,
    `paired` when they are aligned by pass (the same run)."""

    numerator: tuple[float, ...]
    denominator: tuple[float, ...]
    paired: bool
    numerator_groups: tuple[int, ...]  # each round's execution (--repeat)
    denominator_groups: tuple[int, ...]

    numerator_between: intervals.Between | None = None  # each side's, stored by its run
    denominator_between: intervals.Between | None = None

    def row(self, between: intervals.Between | None = None) -> intervals.RowRounds:
        return intervals.RowRounds(self.numerator, self.denominator, self.paired,
                                   self.numerator_groups, self.denominator_groups, between,
                                   self.numerator_between, self.denominator_between)

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(n / d for n, d in zip(self.numerator, self.denominator, strict=True))


def sides(numerator: Result, denominator: Result) -> Sides | None:
    """The two results' rounds, paired by pass where they come from one run; None where
    either has fewer than MIN_ROUNDS rounds."""
    num, den = numerator.round_medians(), denominator.round_medians()
    if len(num) < MIN_ROUNDS or len(den) < MIN_ROUNDS:
        return None
    num_groups, den_groups = numerator.round_executions(), denominator.round_executions()
    if numerator.run is not None and numerator.run == denominator.run:
        common = [k for k in num if k in den]
        if len(common) >= MIN_ROUNDS:
            groups = tuple(num_groups[k] for k in common)
            return Sides(tuple(num[k] for k in common), tuple(den[k] for k in common), True,
                         groups, groups)
    return Sides(tuple(num.values()), tuple(den.values()), False,
                 tuple(num_groups.values()), tuple(den_groups.values()),
                 _stored_between(numerator), _stored_between(denominator))


def _stored_between(r: Result) -> intervals.Between | None:
    return intervals.Between.from_dict((r.stats or {}).get("executions"))


def between(pairs: Sequence[tuple[Result, Result]]) -> intervals.Between | None:
    """The between-execution component of one column's paired speedups, pooled over its
    rows (baseline, column) — None where no row has two executions (--repeat). A speedup
    of a row moves between executions less than either time does (drift both columns
    share cancels), so it has a component of its own, not the sum of the sides'."""
    cells = []
    for b, c in pairs:
        pair = sides(b, c)
        if pair is not None and pair.paired and len(set(pair.numerator_groups)) >= 2:
            cells.append((pair.ratios, pair.numerator_groups))
    return intervals.between_executions(cells) if cells else None


# How a speedup was taken, as the notes under a table say it.
HOW = {"paired": N_("round by round in one run, with the 95% interval a repeat of the run "
                    "would fall in"),
       "runs": N_("from the rounds of two runs, with its 95% interval"),
       "samples": N_("from the samples (files without rounds), with a 95% bootstrap interval "
                     "that sees only the noise within one stretch of time")}


def how(baseline: Result, column: Result) -> str:
    """Which way `speedup` takes this pair: "paired", "runs" or "samples" (keys of HOW)."""
    pair = sides(baseline, column)
    return "samples" if pair is None else "paired" if pair.paired else "runs"


def speedup(baseline: Result, column: Result,
            pooled: intervals.Between | None = None) -> Estimate:
    """baseline time / column time: above 1, the column is faster. `pooled`: the
    column's between-execution component (`between`), where the run had executions."""
    pair = sides(baseline, column)
    if pair is None:
        point, lo, hi = stats.ratio_ci(baseline.samples_s, column.samples_s)
        return Estimate(point, lo, hi, 1)
    if pair.paired:
        return intervals.paired_ratio_interval(pair.numerator, pair.denominator,
                                               pair.numerator_groups, between=pooled)
    return intervals.change_interval(pair.numerator, pair.denominator,
                                     pair.numerator_groups, pair.denominator_groups,
                                     new_between=pair.numerator_between,
                                     base_between=pair.denominator_between)


def across_rows(pairs: Sequence[tuple[Result, Result]], combine: str = "mean",
                pooled: intervals.Between | None = None) -> Estimate:
    """The geometric mean ("mean") or median of baseline/column over rows, each row a
    (baseline, column) pair of results, with the interval a repeat's would fall in."""
    rows = [sides(b, c) for b, c in pairs]
    if any(row is None for row in rows):
        samples = [(b.samples_s, c.samples_s) for b, c in pairs]
        how = stats.geomean_ratio_ci if combine == "mean" else stats.median_ratio_ci
        return Estimate(*how(samples), rounds=1)
    return intervals.across_rows_interval(
        [row.row(pooled) for row in rows if row is not None], combine)
