"""Judging: pair two runs' benchmarks, measure each change, give verdicts.

A change is the ratio of medians NEW/BASE with a bootstrap interval at confidence
1 - alpha, plus a two-sided Mann–Whitney U test on the raw samples. asv's rule (ratio
beyond the threshold *and* a significant difference) calls a regression; "unchanged"
needs the whole interval within the threshold, and what is neither is "inconclusive"
(nvbench's AMBG), a state of its own that `--fail-on-inconclusive` can gate on. Rows
are computed once here; every output format is a view of the same `Comparison`.

The median of all benchmarks' ratios is the change the whole suite shares (a machine
that runs a few percent slower today, or a change that slows everything). It is always
reported; with `relative=True` each benchmark is judged against it, and the shift is
judged as a row of its own, so drift of a shared machine below the threshold no longer
pushes single benchmarks over it while a suite-wide slowdown still fails the gate.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from dlbench import intervals, stats
from dlbench.compare.environments import EnvDifference, differences
from dlbench.compare.reading import Source, Timing
from dlbench.compare.thresholds import DEFAULT_THRESHOLD, threshold_for, unmatched
from dlbench.errors import UsageError

# Each benchmark is tested on its own, with no multiple-comparison correction: at 0.05 a
# 20-benchmark suite would see a "significant" row in most A/A runs (1 - 0.95^20 = 64%);
# 0.01 keeps that near 18% before the threshold filters it further. asv's 0.002 would
# need more samples than a short CI run collects for the same power.
DEFAULT_ALPHA = 0.01
# Google Benchmark's UTEST_OPTIMAL_REPETITIONS: "Lowest reasonable number, More is
# better." Below it the U test's normal approximation is not trusted here.
UTEST_MIN_SAMPLES = 9
# Below 6 samples not even [min, max] covers a median at 95% (stats.MIN_SAMPLES_FOR_CI95),
# so no interval at all is attempted.
MIN_SAMPLES = stats.MIN_SAMPLES_FOR_CI95
# Rounds per side for a comparison at the round level: two show a spread at all; with
# fewer the file's samples are all there is (intervals.change_interval widens the
# interval for few rounds, so two are not overconfident).
MIN_ROUNDS = 2
# IQR of a normal distribution in standard deviations (2 × 0.6745), to read a spread
# from the quartiles pytest-benchmark saves when it saves no raw data.
IQR_PER_SIGMA = 1.349
# The suite-wide shift needs enough benchmarks that a few real changes cannot move their
# median: with 5, two may change on their own.
MIN_ROWS_FOR_SHIFT = 5
SHIFT_ID = "(whole suite)"


class Verdict(StrEnum):
    SLOWER = "slower"
    INCONCLUSIVE = "inconclusive"
    INVALID = "invalid"
    MISSING = "missing"
    NEW = "new"
    FASTER = "faster"
    UNCHANGED = "unchanged"


# Rows are listed most urgent first: a CI reader sees a regression on the first line.
SEVERITY = {verdict: i for i, verdict in enumerate(Verdict)}


@dataclass(frozen=True)
class Row:
    id: str
    verdict: Verdict
    threshold: float
    base_median: float | None = None
    new_median: float | None = None
    n_base: int = 0
    n_new: int = 0
    ratio: float | None = None  # median(NEW) / median(BASE): above 1 is slower
    lo: float | None = None
    hi: float | None = None
    p: float | None = None  # None: the U test could not be run
    reason: str = ""

    @property
    def regression(self) -> bool:
        return self.verdict is Verdict.SLOWER

    @property
    def may_regress(self) -> bool:
        """Inconclusive in a way that does not rule out a slowdown beyond the threshold."""
        return self.verdict is Verdict.INCONCLUSIVE and (
            self.hi is None or self.hi > 1.0 + self.threshold)


@dataclass(frozen=True)
class Shift:
    """The change the whole suite shares: the median over benchmarks of NEW/BASE."""

    ratio: float
    lo: float
    hi: float
    rows: int


@dataclass(frozen=True)
class Comparison:
    base: str
    new: str
    threshold: float
    alpha: float
    rows: tuple[Row, ...]
    differences: tuple[EnvDifference, ...]
    same_machine: bool
    machines: tuple[str, str]  # one line each describing BASE's and NEW's machine
    notes: tuple[str, ...] = ()
    shift: Shift | None = None  # None: too few benchmarks with raw samples to tell
    relative: bool = False  # rows judged against the shift, which has a row of its own

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.regression]

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for row in self.rows:
            out[row.verdict.value] += 1
        return out

    def failed(self, fail_on_inconclusive: bool = False) -> bool:
        """Whether the gate fails: a regression, or (when asked) a possible one."""
        return bool(self.regressions) or (
            fail_on_inconclusive and any(r.may_regress for r in self.rows))


# -- one benchmark ---------------------------------------------------------------------------

def judge(ident: str, base: Timing | None, new: Timing | None, threshold: float = DEFAULT_THRESHOLD,
          alpha: float = DEFAULT_ALPHA, resamples: int = stats.BOOTSTRAP_RESAMPLES,
          shift: float = 1.0) -> Row:
    """The verdict on one benchmark. With r = median(NEW)/median(BASE) (divided by the
    suite-wide `shift` in relative mode: NEW's times are scaled by 1/shift first), its interval
    [lo, hi] at 1 - alpha, up = 1 + threshold and down = 1 / up:

    * slower: the change is significant and r > up — asv's rule (factor and
      significance); faster: significant and r < down;
    * unchanged: the whole interval lies within [down, up], so no change that matters
      is plausible, even if a smaller one is significant;
    * inconclusive: anything else — r beyond a threshold without significance, or r
      within but the interval reaching past a threshold (nvbench's "ambiguous": the
      data cannot rule a regression in or out) — and too few samples for an interval.
    Files measured in rounds are judged on them, with the interval as the test (see
    _from_rounds). Without the U test (fewer than UTEST_MIN_SAMPLES samples, or no raw
    samples) an interval excluding 1 stands in for significance, and the row says so.
    """
    if base is None or new is None:
        return Row(ident, Verdict.NEW if base is None else Verdict.MISSING, threshold,
                   base_median=base.median if base else None,
                   new_median=new.median if new else None,
                   n_base=base.n if base else 0, n_new=new.n if new else 0,
                   reason="only in NEW" if base is None else "only in BASE")
    row = dict(id=ident, threshold=threshold, base_median=base.median,
               new_median=new.median, n_base=base.n, n_new=new.n)
    bad = [why for side, t in (("BASE", base), ("NEW", new)) if (why := _unusable(side, t))]
    if bad:
        return Row(**row, verdict=Verdict.INVALID, reason="; ".join(bad))
    assert base.median and new.median
    if shift != 1.0:
        new = replace(new, samples=tuple(x / shift for x in new.samples),
                      rounds=tuple(x / shift for x in new.rounds),
                      median=new.median / shift,
                      iqr=None if new.iqr is None else new.iqr / shift)
    ratio = new.median / base.median
    confidence = 1.0 - alpha
    if len(base.rounds) >= MIN_ROUNDS and len(new.rounds) >= MIN_ROUNDS:
        ratio, lo, hi, p, note = _from_rounds(base, new, confidence, resamples)
    elif min(base.n, new.n) < MIN_SAMPLES:
        return Row(**row, verdict=Verdict.INCONCLUSIVE, ratio=ratio,
                   reason=f"too few samples ({base.n} in BASE, {new.n} in NEW): need at "
                          f"least {MIN_SAMPLES} per side")
    elif base.samples and new.samples:
        ratio, lo, hi, p, note = _from_samples(base, new, confidence, resamples)
    elif base.iqr is None or new.iqr is None:
        return Row(**row, verdict=Verdict.INCONCLUSIVE, ratio=ratio,
                   reason="neither raw samples nor a recorded spread: no interval")
    else:
        lo, hi = _summary_interval(base, new, confidence)
        p, note = None, "no raw samples: U test unavailable, interval estimated from quartiles"
    verdict, why = verdict_of(ratio, lo, hi, p, threshold, alpha)
    return Row(**row, verdict=verdict, ratio=ratio, lo=lo, hi=hi, p=p,
               reason="; ".join(x for x in (why, note) if x))


def _from_rounds(base: Timing, new: Timing, confidence: float, resamples: int
                 ) -> tuple[float, float, float, float | None, str]:
    """The change judged at the level where runs vary: each side's rounds (their medians)
    are the observations, so a change must stand out from both runs' drift between
    rounds, not merely from the noise between samples. The interval is the test: a rank
    test on rounds would take two runs whose levels differ by the machine's drift between
    runs as proof of a change (ten A/A runs of the `ci` suite: 10% of the comparisons
    flagged with it, docs/measurements.md), where the bootstrap interval of the median's
    ratio, from few rounds, stays honest about how little two runs can tell."""
    estimate = intervals.change_interval(new.rounds, base.rounds, new.round_groups or None,
                                         base.round_groups or None, confidence, resamples,
                                         new_between=new.between,
                                         base_between=base.between)
    return estimate.value, estimate.lo, estimate.hi, None, ""


def _from_samples(base: Timing, new: Timing, confidence: float, resamples: int
                  ) -> tuple[float, float, float, float | None, str]:
    """Files without rounds (older dlbench, pytest-benchmark): the samples are all there
    is, and their interval sees only the noise inside one stretch of time."""
    ratio, lo, hi = stats.ratio_ci(new.samples, base.samples, confidence, resamples)
    if min(base.n, new.n) >= UTEST_MIN_SAMPLES:
        _, p = stats.mann_whitney_u(new.samples, base.samples)
        return ratio, lo, hi, p, ""
    return (ratio, lo, hi, None, f"U test skipped: it needs {UTEST_MIN_SAMPLES} samples per "
            "side; verdict from the interval only")


def _unusable(side: str, t: Timing) -> str | None:
    """Why one side's timing cannot be judged: a case that failed, or times no clock gives
    (zero, negative, NaN or infinite: a corrupted or hand-made file; a gate must not call
    them "faster")."""
    if t.status != "ok":
        return f"{side} {t.status}" + (f": {t.error}" if t.error else "")
    if t.median is None:
        return f"{side} has no median to compare"
    if not all(math.isfinite(x) and x > 0 for x in (t.median, *t.samples)):
        return f"{side} has impossible times (each must be positive and finite)"
    return None


def verdict_of(ratio: float, lo: float, hi: float, p: float | None, threshold: float,
             alpha: float) -> tuple[Verdict, str]:
    up, down = 1.0 + threshold, 1.0 / (1.0 + threshold)
    # Without the U test, an interval at 1 - alpha that excludes 1 is the test.
    significant = p < alpha if p is not None else (lo > 1.0 or hi < 1.0)
    change = f"{ratio - 1.0:+.1%}"
    if significant and ratio > up:
        return Verdict.SLOWER, ""
    if significant and ratio < down:
        return Verdict.FASTER, ""
    if down <= lo and hi <= up:
        return Verdict.UNCHANGED, ""
    if ratio > up or ratio < down:
        shown = f"p = {p:.2g}" if p is not None else "its interval includes no change"
        return Verdict.INCONCLUSIVE, f"{change} but not significant ({shown})"
    side = "slowdown" if hi > up else "speedup"
    return Verdict.INCONCLUSIVE, (f"{change}, but a {side} beyond the threshold is not ruled "
                                  "out: more samples or a quieter machine needed")


def _summary_interval(base: Timing, new: Timing, confidence: float) -> tuple[float, float]:
    """An interval for the ratio of medians from summaries alone: the median's standard
    error sqrt(pi/2)·sigma/sqrt(n) for normal data (Kendall & Stuart, *The Advanced Theory
    of Statistics*, vol. 1, §10.10) with sigma read from the IQR, combined on a log scale."""
    def rel_se(t: Timing) -> float:
        sigma = (t.iqr or 0.0) / IQR_PER_SIGMA
        return math.sqrt(math.pi / 2.0) * sigma / math.sqrt(t.n) / t.median

    assert base.median and new.median
    ratio = new.median / base.median
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2.0)
    spread = z * math.hypot(rel_se(base), rel_se(new))
    return ratio * math.exp(-spread), ratio * math.exp(spread)


# -- the whole comparison --------------------------------------------------------------------

def compare(base: Source, new: Source, threshold: float = DEFAULT_THRESHOLD,
            alpha: float = DEFAULT_ALPHA, overrides: Sequence[tuple[str, float]] = (),
            resamples: int = stats.BOOTSTRAP_RESAMPLES, relative: bool = False,
            progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Every benchmark of either file, judged (against the suite-wide shift when
    `relative`); the environments' differences listed. `progress(done, total)` follows
    the judging, the slow part (bootstrap intervals: milliseconds per benchmark)."""
    tick = progress or (lambda done, total: None)
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    base_map, notes = _by_id(base)
    new_map, more = _by_id(new)
    notes += more
    common = [i for i in base_map if i in new_map]
    if not common:
        raise UsageError(f"{base.path} and {new.path} have no benchmark in common "
                         f"({len(base_map)} and {len(new_map)} benchmarks): nothing to compare")
    both_skipped = [i for i in common
                    if base_map[i].status == "skipped" and new_map[i].status == "skipped"]
    ids = [i for i in base_map if i not in both_skipped] + [i for i in new_map
                                                            if i not in base_map]
    shift = suite_shift([(base_map[i], new_map[i]) for i in common], alpha, resamples)
    if relative and shift is None:
        raise UsageError(f"--relative needs at least {MIN_ROWS_FOR_SHIFT} benchmarks with "
                         "valid raw samples on both sides to estimate the suite-wide shift")
    rows = []
    for i in ids:
        rows.append(judge(i, base_map.get(i), new_map.get(i),
                          threshold_for(i, threshold, overrides), alpha, resamples,
                          shift.ratio if relative and shift else 1.0))
        tick(len(rows), len(ids))
    if not any(r.verdict not in (Verdict.INVALID, Verdict.NEW, Verdict.MISSING) for r in rows):
        raise UsageError(f"{base.path} and {new.path}: no benchmark has a valid timing on both "
                         "sides (every common one failed or was skipped)")
    if relative and shift:
        rows.append(shift_row(shift, threshold, alpha))
    elif shift and (shift.lo > 1.0 or shift.hi < 1.0) and abs(shift.ratio - 1.0) >= threshold / 2:
        notes.append(f"the whole suite moved {shift.ratio - 1.0:+.1%} [{shift.lo - 1.0:+.1%}, "
                     f"{shift.hi - 1.0:+.1%}] (median over {shift.rows} benchmarks): the "
                     "machine's speed may have differed between the runs; --relative judges "
                     "each benchmark against that shift")
    rows.sort(key=lambda r: (SEVERITY[r.verdict], not r.may_regress))
    if both_skipped:
        notes.append(f"{len(both_skipped)} benchmark(s) skipped in both files are left out")
    notes += [f"threshold pattern {pattern!r} matches no benchmark"
              for pattern in unmatched(overrides, ids)]
    return Comparison(
        base=base.path, new=new.path, threshold=threshold, alpha=alpha, rows=tuple(rows),
        differences=tuple(differences(base.facts, new.facts)),
        same_machine=base.machine == new.machine,
        machines=(base.machine.line(), new.machine.line()),
        notes=tuple([*base.notes, *new.notes, *notes]), shift=shift, relative=relative)


def suite_shift(pairs: Sequence[tuple[Timing, Timing]], alpha: float = DEFAULT_ALPHA,
                resamples: int = stats.BOOTSTRAP_RESAMPLES) -> Shift | None:
    """The median over benchmarks of NEW/BASE with its interval at 1 - alpha, from the
    (BASE, NEW) pairs valid on both sides with raw samples; None with too few of them."""
    usable = [(n.samples, b.samples) for b, n in pairs
              if b.status == n.status == "ok" and len(b.samples) >= MIN_SAMPLES
              and len(n.samples) >= MIN_SAMPLES]
    if len(usable) < MIN_ROWS_FOR_SHIFT:
        return None
    ratio, lo, hi = stats.median_ratio_ci(usable, 1.0 - alpha, resamples)
    return Shift(ratio, lo, hi, len(usable))


def shift_row(shift: Shift, threshold: float, alpha: float) -> Row:
    """The suite-wide shift judged as a benchmark: a suite-wide slowdown is a regression."""
    verdict, why = verdict_of(shift.ratio, shift.lo, shift.hi, None, threshold, alpha)
    reason = (f"median over {shift.rows} benchmarks of NEW/BASE, the change they all share "
              "(machine speed, or a change that slows everything); the other rows are "
              "judged against it")
    return Row(SHIFT_ID, verdict, threshold, n_base=shift.rows, n_new=shift.rows,
               ratio=shift.ratio, lo=shift.lo, hi=shift.hi,
               reason="; ".join(x for x in (reason, why) if x))


def _by_id(source: Source) -> tuple[dict[str, Timing], list[str]]:
    out: dict[str, Timing] = {}
    duplicates = 0
    for t in source.timings:
        if t.id in out:
            duplicates += 1
            continue
        out[t.id] = t
    notes = [f"{source.path}: {duplicates} duplicate benchmark id(s); the first of each is "
             "used"] if duplicates else []
    return out, notes
