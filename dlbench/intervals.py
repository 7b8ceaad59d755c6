"""Intervals from rounds: where a repeat of the run will find a median, a speedup or a change.

Why rounds, and why a prediction. On a shared machine most of a timing's error is not
the noise between samples but the drift between moments: a kernel runs in one regime
for seconds, in another for the next ones, and a run that samples one second sees one
regime (Kalibera & Jones, "Rigorous Benchmarking in Reasonable Time", ISMM 2013: repeat
at every level where variance arises). dlbench measures every case in *rounds* spread
over the run (runner.py); each round's median is one observation of the machine's state,
and every interval here stands on rounds, not samples: a steady machine gives rounds that
agree and a narrow interval, a drifting one rounds that disagree and a wide one.

A reader takes an interval as a promise about the next run ("±2%": run it again and it
lands within 2%). A confidence interval of this run's median does not keep that promise:
the next run's median has an error of its own, so it falls inside only ~83% of the time
even when the machine does not change between runs. So the intervals of medians and
speedups here are prediction intervals for a repeat's estimate: they are as wide as the
difference of two runs' estimates varies. A change between two runs (`compare`) already
holds both runs' errors, and gets a confidence interval.

Sources:
- Resampling two-level data: Davison & Hinkley, *Bootstrap Methods and their
  Application* (1997), §3.8 — resampling clusters (rounds) alone estimates the variance
  of a cluster-level statistic nearly without bias, the within-cluster noise riding along
  in each cluster's own value; resampling both levels overstates it. Executions are too
  few to resample (two or three), so their level is drawn from a variance component
  pooled over a run's cases instead: Searle, Casella & McCulloch, *Variance Components*
  (1992), §3.5 (one-way random effects, method of moments).
- The difference of two independent bootstrap replicates as the distribution of a
  repeat's estimate minus this one (twice the variance): the bootstrap prediction
  interval of Efron & Tibshirani, *An Introduction to the Bootstrap* (1993), §25.6.
- Percentile intervals are too narrow for few units; the expanded percentile interval
  takes the percentiles at α' with Φ⁻¹(α'/2) = −√(n/(n−1))·t(α/2, n−1): Hesterberg,
  "What Teachers Should Know About the Bootstrap", *The American Statistician* 69(4),
  2015, §5.
- Student's t quantiles: Abramowitz & Stegun, *Handbook of Mathematical Functions*,
  26.7.5 (Cornish–Fisher expansion), exact forms for 1 and 2 degrees of freedom.
- Degrees of freedom of a sum of variances: Satterthwaite, *Biometrics Bulletin* 2 (1946).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from dlbench import stats

CONFIDENCE = 0.95
# Replicates per interval: the expanded percentiles sit near the 0.5% tails for 8 rounds,
# where 4000 replicates leave about 20 values beyond each end.
RESAMPLES = 4000
# A case's rounds "disagree" when their spread (a robust SD of log round medians) is
# more than this many times what the noise inside the rounds explains...
UNSTABLE_EXCESS = 2.0
# ...and large enough to matter: a 5% SD between rounds moves a speedup's second digit.
UNSTABLE_MIN_SD = 0.05
# MAD to SD for normal data (1 / Φ⁻¹(3/4)).
MAD_TO_SD = 1.4826
# A median's standard error is √(π/2)·σ/√m for normal data (Kendall & Stuart, vol. 1,
# §10.10); σ from the IQR (1.349 σ).
MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2.0)
IQR_PER_SIGMA = 1.349


@dataclass(frozen=True)
class Estimate:
    """A point value with its interval, and how many rounds (or pairs of rounds) it
    stands on."""

    value: float
    lo: float
    hi: float
    rounds: int

    @property
    def rel_width(self) -> float:
        return (self.hi - self.lo) / self.value if self.value > 0 else math.inf


@dataclass(frozen=True)
class Instability:
    """Rounds that disagree beyond their own noise: the spread between rounds (robust SD,
    as a fraction), what the noise inside rounds explains, and the range of round medians."""

    between_sd: float
    within_sd: float
    fastest: float
    slowest: float


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile: exact for 1 and 2 degrees of freedom, Cornish–Fisher
    (Abramowitz & Stegun 26.7.5, within 0.2% from 3 df) above."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError("t_quantile needs 0 < p < 1 and df > 0")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def expanded_tail(confidence: float, units: float) -> float:
    """The tail probability α'/2 at which an expanded percentile interval over `units`
    independent units is read (Hesterberg 2015); `units` may be fractional (Satterthwaite)."""
    alpha = 1.0 - confidence
    if units <= 1:
        return 0.0  # the extremes of the replicates
    z = math.sqrt(units / (units - 1)) * t_quantile(1 - alpha / 2, units - 1)
    return NormalDist().cdf(-z)


def round_medians(samples: Sequence[float], sizes: Sequence[int]) -> np.ndarray:
    """The median of each round, from the flat samples and each round's sample count."""
    if sum(sizes) != len(samples) or any(n < 1 for n in sizes):
        raise ValueError("round sizes must be positive and add up to the samples")
    a = np.asarray(samples, dtype=np.float64)
    bounds = np.cumsum([0, *sizes])
    return np.array([np.median(a[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:],
                                                          strict=True)])


Groups = Sequence[int] | None  # each round's execution (--repeat); None: one execution


@dataclass(frozen=True)
class Between:
    """The variance between executions (of log values) beyond what their rounds explain,
    with its degrees of freedom: a random-effects component pooled over the cells that
    share a worker (one-way ANOVA by method of moments, Searle, Casella & McCulloch,
    *Variance Components*, 1992, §3.5). Two or three executions of one cell tell almost
    nothing of it (1–2 degrees of freedom), a run's cells together tell it well."""

    variance: float
    df: float

    def to_dict(self, executions: int) -> dict:
        return {"count": executions, "between_sd": math.sqrt(self.variance), "df": self.df}

    @classmethod
    def from_dict(cls, d: object) -> Between | None:
        """The component a result file stored (stats["executions"]), None where absent."""
        if not isinstance(d, dict):
            return None
        try:
            sd, df = float(d["between_sd"]), float(d["df"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(sd * sd, df) if math.isfinite(sd) and sd >= 0 and df > 0 else None


def _split(values: np.ndarray, groups: Groups) -> list[np.ndarray]:
    keys = np.asarray(groups if groups is not None else np.zeros(values.size, dtype=int))
    if keys.size != values.size:
        raise ValueError("each round needs its execution")
    return [values[keys == k] for k in np.unique(keys)]


def _cell_component(members: Sequence[np.ndarray]) -> tuple[float, int] | None:
    """One cell's estimate of the between-execution variance (of its executions' means of
    log values, less what the rounds' own spread gives those means) and its degrees of
    freedom; None with fewer than two executions."""
    if len(members) < 2:
        return None
    means = np.array([m.mean() for m in members])
    observed = float(means.var(ddof=1))
    rounds = sum(m.size for m in members)
    if rounds > len(members):
        within = sum(float(((m - m.mean()) ** 2).sum()) for m in members) / (rounds - len(members))
        observed -= within * float(np.mean([1.0 / m.size for m in members]))
    return observed, len(members) - 1


def between_executions(cells: Iterable[tuple[Sequence[float], Groups]]) -> Between | None:
    """The between-execution component pooled over cells, each (positive round values,
    their executions); None where no cell has two executions. The cells' estimates are
    averaged by their degrees of freedom and the sum clipped at zero only once, so cells
    whose executions happened to agree do not bias it upwards."""
    parts = [_cell_component(_split(_logs(values, "between_executions"), groups))
             for values, groups in cells]
    found = [p for p in parts if p is not None]
    if not found:
        return None
    df = sum(d for _, d in found)
    return Between(max(0.0, sum(v * d for v, d in found) / df), float(df))


def resample(values: np.ndarray, groups: Groups, rng: np.random.Generator, resamples: int,
             between: Between | None = None) -> tuple[np.ndarray, float]:
    """Bootstrap replicates of the median of `values` (logs, one per round), and the
    number of independent units they stand on (for the t quantile of the tails).

    One execution: the rounds are resampled, and are the units. Two or more: rounds are
    resampled within each execution (what the rounds tell), and each replicate is moved
    by a normal draw with the between-execution variance over the executions' count —
    `between`, pooled over a run's cells, or this cell's own estimate where none is given
    (a random-effects bootstrap, Davison & Hinkley §3.8 with a parametric top level); the
    units are the Satterthwaite degrees of freedom of the two parts, plus one."""
    members = _split(values, groups)
    if len(members) < 2:
        picks = rng.integers(0, values.size, (resamples, values.size))
        return np.median(values[picks], axis=1), values.size
    drawn = np.concatenate([m[rng.integers(0, m.size, (resamples, m.size))] for m in members],
                           axis=1)
    replicates = np.median(drawn, axis=1)
    if between is None:
        own = _cell_component(members)
        assert own is not None
        between = Between(max(0.0, own[0]), float(own[1]))
    executions = len(members)
    shift = between.variance / executions
    within = float(replicates.var())
    replicates = replicates + rng.normal(0.0, math.sqrt(shift), resamples)
    df = satterthwaite([within, shift], [values.size - executions, between.df])
    return replicates, 1.0 + df


def _prediction(point: float, replicates: np.ndarray, rng: np.random.Generator,
                confidence: float, units: float) -> tuple[float, float]:
    """Interval (in logs) for a repeat's estimate: the point plus the spread of the
    difference of two independent replicates, read at the expanded tails."""
    differences = replicates - replicates[rng.permutation(replicates.size)]
    tail = expanded_tail(confidence, units)
    lo, hi = np.quantile(differences, [tail, 1 - tail])
    return point + float(lo), point + float(hi)


def _logs(values: Sequence[float], what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        raise ValueError(f"{what} needs at least one round")
    if not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError(f"{what} needs positive, finite round values")
    return np.log(a)


def median_interval(rounds: Sequence[float], groups: Groups = None,
                    confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                    seed: int = 0, between: Between | None = None) -> Estimate:
    """The median of the round medians, and the interval a repeat's would fall in."""
    logs = _logs(rounds, "median_interval")
    rng = np.random.default_rng(seed)
    point = float(np.median(logs))
    replicates, units = resample(logs, groups, rng, resamples, between)
    lo, hi = _prediction(point, replicates, rng, confidence, units)
    return Estimate(math.exp(point), math.exp(lo), math.exp(hi), logs.size)


def paired_ratio_interval(numerator: Sequence[float], denominator: Sequence[float],
                          groups: Groups = None, confidence: float = CONFIDENCE,
                          resamples: int = RESAMPLES, seed: int = 0, predict: bool = True,
                          between: Between | None = None) -> Estimate:
    """A speedup from rounds paired in time: the median over rounds of
    numerator_r / denominator_r (two columns measured in the same round, so drift they
    share cancels), and the interval a repeat's would fall in (drift they do not share
    widens it); `between` is the ratios' between-execution component pooled over a
    column's rows (between_executions). With `predict` False, the confidence interval
    of this run's ratio (a change between two environments judged within one run,
    `dlbench ab`)."""
    if len(numerator) != len(denominator):
        raise ValueError("paired rounds must come in pairs")
    logs = _logs(numerator, "paired_ratio_interval") - _logs(denominator,
                                                            "paired_ratio_interval")
    rng = np.random.default_rng(seed)
    point = float(np.median(logs))
    replicates, units = resample(logs, groups, rng, resamples, between)
    if predict:
        lo, hi = _prediction(point, replicates, rng, confidence, units)
    else:
        # The replicates' spread around the point, read at the expanded tails, as
        # change_interval does.
        tail = expanded_tail(confidence, units)
        lo, hi = point + np.quantile(replicates - np.median(replicates), [tail, 1 - tail])
    return Estimate(math.exp(point), math.exp(lo), math.exp(hi), logs.size)


@dataclass(frozen=True)
class RowRounds:
    """One row of a summary across rows: its two sides' round values, their executions,
    and whether they are paired by round (one run) or two independent groups."""

    numerator: Sequence[float]
    denominator: Sequence[float]
    paired: bool = True
    numerator_groups: Groups = None
    denominator_groups: Groups = None
    # Between-execution components: the paired ratios' (`between`), or each side's.
    between: Between | None = None
    numerator_between: Between | None = None
    denominator_between: Between | None = None


def across_rows_interval(rows: Sequence[RowRounds], combine: str = "mean",
                         predict: bool = True, confidence: float = CONFIDENCE,
                         resamples: int = RESAMPLES, seed: int = 0) -> Estimate:
    """A summary over rows of numerator/denominator — the geometric mean (`combine`
    "mean") or median ("median") of the rows' ratios — and the interval a repeat's would
    fall in (`predict`), or its confidence interval. A paired row's ratio is the median
    of its per-round ratios, resampled by round; an unpaired row's (two runs) the ratio
    of its sides' medians, each side resampled on its own. Every row weighs the same; the
    tails are read at the Satterthwaite degrees of freedom of the rows' variances."""
    if not rows:
        raise ValueError("a summary across rows needs at least one row")
    reduce = {"mean": np.mean, "median": np.median}[combine]
    rng = np.random.default_rng(seed)
    points, replicates, variances, dfs = [], [], [], []
    for row in rows:
        num = _logs(row.numerator, "across_rows_interval")
        den = _logs(row.denominator, "across_rows_interval")
        if row.paired:
            if num.size != den.size:
                raise ValueError("paired rounds must come in pairs")
            points.append(np.median(num - den))
            reps, units = resample(num - den, row.numerator_groups, rng, resamples,
                                   row.between)
        else:
            points.append(np.median(num) - np.median(den))
            num_reps, num_units = resample(num, row.numerator_groups, rng, resamples,
                                           row.numerator_between)
            den_reps, den_units = resample(den, row.denominator_groups, rng, resamples,
                                           row.denominator_between)
            reps, units = num_reps - den_reps, min(num_units, den_units)
        replicates.append(reps)
        variances.append(float(reps.var()))
        dfs.append(units - 1)
    point = float(reduce(np.asarray(points)))
    combined = reduce(np.vstack(replicates), axis=0)
    units = 1 + satterthwaite(variances, dfs)
    if predict:
        lo, hi = _prediction(point, combined, rng, confidence, units)
    else:
        tail = expanded_tail(confidence, units)
        lo, hi = point + np.quantile(combined - np.median(combined), [tail, 1 - tail])
    return Estimate(math.exp(point), math.exp(lo), math.exp(hi),
                    min(round(d + 1) for d in dfs))


def change_interval(new: Sequence[float], base: Sequence[float],
                    new_groups: Groups = None, base_groups: Groups = None,
                    confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                    seed: int = 0, new_between: Between | None = None,
                    base_between: Between | None = None) -> Estimate:
    """The change between two runs: median(new rounds) / median(base rounds), with a
    confidence interval from both runs' rounds resampled on their own (each run's error
    is in it once: no prediction), each side's executions weighed by its own
    between-execution component where given. `rounds` is the smaller side's count."""
    new_logs, base_logs = _logs(new, "change_interval"), _logs(base, "change_interval")
    rng = np.random.default_rng(seed)
    point = float(np.median(new_logs) - np.median(base_logs))
    new_reps, new_units = resample(new_logs, new_groups, rng, resamples, new_between)
    base_reps, base_units = resample(base_logs, base_groups, rng, resamples, base_between)
    units = 1 + satterthwaite([float(new_reps.var()), float(base_reps.var())],
                              [new_units - 1, base_units - 1])
    tail = expanded_tail(confidence, units)
    # The replicates' spread around the point, not their percentiles: a median of few
    # values has a lumpy, off-centre bootstrap distribution.
    spread = (new_reps - np.median(new_reps)) - (base_reps - np.median(base_reps))
    lo, hi = np.quantile(spread, [tail, 1 - tail])
    return Estimate(math.exp(point), math.exp(point + lo), math.exp(point + hi),
                    min(new_logs.size, base_logs.size))


def satterthwaite(variances: Sequence[float], dfs: Sequence[float]) -> float:
    """Degrees of freedom of a sum of independent variance estimates; 0 when none has any."""
    total = sum(variances)
    parts = sum(v * v / d for v, d in zip(variances, dfs, strict=True) if d > 0)
    if total <= 0 or parts <= 0:
        return float(max(0, min(dfs, default=0)))
    return total * total / parts


def instability(samples: Sequence[float], sizes: Sequence[int]) -> Instability | None:
    """Whether a case's rounds disagree beyond the noise inside them, by enough to matter.

    Between rounds: a robust SD (MAD) of the log round medians, so one disturbed round
    is not a drift. Within: the standard error of a round's median that its own samples'
    spread implies. Both relative to the time; None when the rounds agree or are too few
    (3) to tell."""
    if len(sizes) < 3:
        return None
    medians = round_medians(samples, sizes)
    logs = np.log(medians)
    between = MAD_TO_SD * float(np.median(np.abs(logs - np.median(logs))))
    a = np.asarray(samples, dtype=np.float64)
    bounds = np.cumsum([0, *sizes])
    within_se = []
    for lo, hi, median in zip(bounds[:-1], bounds[1:], medians, strict=True):
        q1, q3 = np.percentile(a[lo:hi], [25, 75])
        within_se.append(MEDIAN_SE_FACTOR * (q3 - q1) / IQR_PER_SIGMA
                         / math.sqrt(hi - lo) / median)
    within = float(np.sqrt(np.mean(np.square(within_se))))
    if between < UNSTABLE_MIN_SD or between <= UNSTABLE_EXCESS * within:
        return None
    return Instability(between, within, float(medians.min()), float(medians.max()))


def summary(samples: Sequence[float], sizes: Sequence[int], groups: Groups = None,
            between: Between | None = None) -> dict:
    """A result's "stats": the samples' own statistics (stats.summarize), with the median
    and its interval taken from the rounds where there are two or more: the median of
    the round medians, and the interval a repeat's would fall in. With one round the
    samples' distribution-free interval stays, and "interval" says which it is. Rounds of
    two executions or more add "executions": their count and the between-execution
    component the interval used (`between`, pooled over the run's cells, or the case's
    own)."""
    d = stats.summarize(samples).to_dict()
    d["rounds"] = len(sizes)
    if len(sizes) < 2:
        d["interval"] = "samples"
        return d
    medians = round_medians(samples, sizes)
    estimate = median_interval(medians, groups, between=between)
    d.update(median=estimate.value, ci95=[estimate.lo, estimate.hi], ci_coverage=CONFIDENCE,
             interval="repeat")
    if groups is not None and len(set(groups)) >= 2:
        used = between or between_executions([(medians, groups)])
        assert used is not None
        d["executions"] = used.to_dict(len(set(groups)))
    return d
