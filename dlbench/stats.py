"""Statistics on timing samples: pure functions, no I/O, no clocks.

Sources:
- Distribution-free confidence interval of the median from order statistics:
  Conover, *Practical Nonparametric Statistics* (3rd ed.), §3.2; the same
  construction asv uses for its 99% interval of the median.
- Tukey fences (1.5 × IQR beyond the quartiles) for outliers: Tukey, *Exploratory
  Data Analysis* (1977); pytest-benchmark counts outliers the same way.
- Percentile bootstrap for the ratio of two medians: Efron & Tibshirani, *An
  Introduction to the Bootstrap* (1993), ch. 13.
- Mann–Whitney U test: Mann & Whitney, "On a test of whether one of two random
  variables is stochastically larger than the other", Ann. Math. Statist. 18 (1947);
  normal approximation with tie and continuity corrections as in Conover (above),
  §5.1, and SciPy's `mannwhitneyu(method="asymptotic")`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from dlbench.i18n import N_, _

CONFIDENCE = 0.95
TUKEY_FENCE = 1.5
# torch.utils.benchmark warns when IQR/median exceeds 10%; so do we.
HIGH_VARIANCE_IQR_OVER_MEDIAN = 0.10
# Below 6 samples even [min, max] covers the median with less than 95% probability.
MIN_SAMPLES_FOR_CI95 = 6
# More than 1 in 10 samples far out means the machine was disturbed, not that the
# kernel has a long tail. "Far out" is beyond the Tukey fences AND more than 5% from the
# median: on a tight distribution (IQR 1% of the median) the fences sit 1.5% out, and
# samples just past them move neither the median nor its interval.
OUTLIER_FRACTION_WARN = 0.10
OUTLIER_MIN_DEVIATION = 0.05
BOOTSTRAP_RESAMPLES = 2000


class QualityWarning(StrEnum):
    """Quality warnings stored as codes in results; `explain()` gives the text."""

    HIGH_VARIANCE = "high_variance"
    FEW_SAMPLES = "few_samples"
    OUTLIERS = "outliers"
    CI_TARGET_MISSED = "ci_target_missed"
    LAUNCH_BOUND = "launch_bound"
    ABOVE_PEAK = "above_peak"
    UNSTABLE = "unstable"
    FEW_ROUNDS = "few_rounds"
    UNVERIFIED = "unverified"
    RECOMPILED = "recompiled"


EXPLANATIONS = {
    QualityWarning.HIGH_VARIANCE: N_("IQR is more than 10% of the median: the machine was busy "
    "or the clock is throttling; close other programs or raise --min-time."),
    QualityWarning.FEW_SAMPLES: N_("fewer than 6 samples: the 95% interval of the median is not "
    "reliable; raise --max-time."),
    QualityWarning.OUTLIERS: N_("more than 10% of samples lie beyond the Tukey fences and more "
    "than 5% from the median: something disturbed the run."),
    QualityWarning.CI_TARGET_MISSED: N_("--max-time ran out before the median's 95% interval got "
    "as narrow as requested."),
    QualityWarning.LAUNCH_BOUND: N_("queueing the calls took most of the GPU time: the GPU waited "
    "on the host (Python, wrappers, dispatch), so this is the launch rate, not the kernel's; "
    "compare the native column, or --graph for the kernel alone."),
    QualityWarning.UNSTABLE: N_("its rounds disagreed: the machine ran this case at different "
    "speeds during the run (other programs, clock changes, a busy neighbour on a shared VM), "
    "and its interval is widened to cover that. For a tighter figure close other programs, "
    "or run with --repeat 3 to average over more of the machine's states."),
    QualityWarning.FEW_ROUNDS: N_("measured in fewer than 3 rounds (one call outlasts the time "
    "budget), too few to see how much the machine drifts: raise --max-time or --rounds."),
    QualityWarning.ABOVE_PEAK: N_("more FLOP/s than the hardware's peak: the library did fewer "
    "operations than the direct algorithm dlbench counts (e.g. a Winograd or FFT "
    "convolution); the % of peak is shown as >100%."),
    QualityWarning.UNVERIFIED: N_("not verified: the workload has no float64 reference, so "
    "its output was never checked; a wrong kernel would look as fast."),
    QualityWarning.RECOMPILED: N_("the compiler compiled again while samples were taken (a "
    "guard on shapes, dtypes or Python values failed between calls), so compile time is in "
    "the samples; the result's compiler record says how often: make the kernel's inputs "
    "stable from call to call."),
}


def explain(code: str) -> str:
    """What a warning code means, in the language in force (dlbench.i18n)."""
    try:
        return _(EXPLANATIONS[QualityWarning(code)])
    except ValueError:
        return code


@dataclass(frozen=True)
class Summary:
    median: float
    mean: float
    stdev: float
    min: float
    max: float
    q1: float
    q3: float
    iqr: float
    ci95: tuple[float, float]
    ci_coverage: float
    outliers: int  # beyond the Tukey fences
    far_outliers: int  # of those, the ones more than OUTLIER_MIN_DEVIATION from the median
    n: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d

    @property
    def ci_rel_width(self) -> float:
        """Width of the median's interval relative to the median (0.02 = ±1%)."""
        return (self.ci95[1] - self.ci95[0]) / self.median if self.median > 0 else math.inf


def median_ci(samples: Sequence[float], confidence: float = CONFIDENCE
              ) -> tuple[float, float, float]:
    """Distribution-free interval of the median: (lo, hi, coverage).

    With n sorted samples x(1..n), [x(k), x(n-k+1)] covers the median with probability
    1 - 2·P(Binomial(n, 1/2) <= k-1). We take the largest k whose coverage is still at
    least `confidence`. When even [min, max] falls short (n < 6 at 95%), that interval
    is returned with its true, lower coverage so callers can flag it.
    """
    xs = sorted(samples)
    n = len(xs)
    if n == 0:
        raise ValueError("median_ci needs at least one sample")
    alpha = 1.0 - confidence
    tail = 0.0  # P(B <= k-1), accumulated as k grows
    best_k = 1
    coverage = 1.0 - 2.0 * 0.5**n
    for k in range(1, n // 2 + 1):
        # In logs: 0.5**n underflows to 0 and comb(n, k) overflows a float past ~1000 samples.
        tail += math.exp(math.lgamma(n + 1) - math.lgamma(k) - math.lgamma(n - k + 2)
                         - n * math.log(2.0))
        if 2.0 * tail > alpha:
            break
        best_k = k
        coverage = 1.0 - 2.0 * tail
    return xs[best_k - 1], xs[n - best_k], coverage


def summarize(samples: Sequence[float]) -> Summary:
    """Headline statistics of timing samples (seconds per call)."""
    if len(samples) == 0:
        raise ValueError("summarize needs at least one sample")
    a = np.asarray(samples, dtype=np.float64)
    q1, median, q3 = (float(v) for v in np.percentile(a, [25, 50, 75]))
    iqr = q3 - q1
    lo_fence, hi_fence = q1 - TUKEY_FENCE * iqr, q3 + TUKEY_FENCE * iqr
    lo, hi, coverage = median_ci(a.tolist())
    beyond = (a < lo_fence) | (a > hi_fence)
    far = np.abs(a - median) > OUTLIER_MIN_DEVIATION * median
    return Summary(
        median=median,
        mean=float(a.mean()),
        stdev=float(a.std(ddof=1)) if a.size > 1 else 0.0,
        min=float(a.min()),
        max=float(a.max()),
        q1=q1,
        q3=q3,
        iqr=iqr,
        ci95=(lo, hi),
        ci_coverage=coverage,
        outliers=int(np.count_nonzero(beyond)),
        far_outliers=int(np.count_nonzero(beyond & far)),
        n=int(a.size),
    )


def quality_warnings(summary: Summary) -> list[str]:
    """Codes for what a reader should distrust in this summary (see EXPLANATIONS)."""
    codes = []
    if summary.n < MIN_SAMPLES_FOR_CI95:
        codes.append(QualityWarning.FEW_SAMPLES.value)
    if summary.median > 0 and summary.iqr / summary.median > HIGH_VARIANCE_IQR_OVER_MEDIAN:
        codes.append(QualityWarning.HIGH_VARIANCE.value)
    if summary.n and summary.far_outliers / summary.n > OUTLIER_FRACTION_WARN:
        codes.append(QualityWarning.OUTLIERS.value)
    return codes


def _bootstrap_medians(samples: np.ndarray, rng: np.random.Generator, resamples: int
                       ) -> np.ndarray:
    """Medians of `resamples` resamples (with replacement) of `samples`."""
    return np.median(samples[rng.integers(0, samples.size, (resamples, samples.size))], axis=1)


def ratio_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Ratio of medians median(numerator)/median(denominator) with a bootstrap interval.

    Used for speedups (baseline time / backend time). Percentile bootstrap, each side
    resampled independently; the seed is fixed so a report is reproducible.
    Returns (ratio, lo, hi).
    """
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    if num.size == 0 or den.size == 0:
        raise ValueError("ratio_ci needs samples on both sides")
    point = float(np.median(num) / np.median(den))
    rng = np.random.default_rng(seed)
    ratios = _bootstrap_medians(num, rng, resamples) / _bootstrap_medians(den, rng, resamples)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return point, float(lo), float(hi)


# Rows of (numerator samples, denominator samples): one benchmark's two sides each.
RowPairs = Sequence[tuple[Sequence[float], Sequence[float]]]


def geomean_ratio_ci(pairs: RowPairs, confidence: float = CONFIDENCE,
                     resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
                     ) -> tuple[float, float, float]:
    """Geometric mean over rows of median(numerator)/median(denominator), with an interval.

    Each pair is one row's (numerator, denominator) samples; every row weighs the same.
    The interval is a percentile bootstrap that resamples each side of each row
    independently (as ratio_ci does) and takes the geometric mean across rows per
    resample. Returns (geomean, lo, hi).
    """
    return _across_rows_ci(pairs, np.mean, confidence, resamples, seed)


def median_ratio_ci(pairs: RowPairs, confidence: float = CONFIDENCE,
                    resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
                    ) -> tuple[float, float, float]:
    """Median over rows of median(numerator)/median(denominator), with an interval: the
    change most rows share, which a few rows that changed on their own do not move (the
    geometric mean would follow them). Bootstrap as geomean_ratio_ci."""
    return _across_rows_ci(pairs, np.median, confidence, resamples, seed)


def _across_rows_ci(pairs: RowPairs, combine: Callable[..., Any], confidence: float,
                    resamples: int, seed: int) -> tuple[float, float, float]:
    """`combine` (mean or median, over axis 0) of the rows' log ratios of medians, and its
    percentile-bootstrap interval."""
    if not pairs:
        raise ValueError("a ratio across rows needs at least one pair")
    rng = np.random.default_rng(seed)
    points = np.empty(len(pairs))
    log_ratios = np.empty((len(pairs), resamples))
    for i, (numerator, denominator) in enumerate(pairs):
        num = np.asarray(numerator, dtype=np.float64)
        den = np.asarray(denominator, dtype=np.float64)
        if num.size == 0 or den.size == 0:
            raise ValueError("a ratio across rows needs samples on both sides of every pair")
        points[i] = np.log(np.median(num) / np.median(den))
        log_ratios[i] = np.log(_bootstrap_medians(num, rng, resamples)
                               / _bootstrap_medians(den, rng, resamples))
    alpha = 1.0 - confidence
    lo, hi = np.quantile(np.exp(combine(log_ratios, axis=0)), [alpha / 2, 1 - alpha / 2])
    return float(np.exp(combine(points))), float(lo), float(hi)


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test of `a` against `b`: (U of a, p-value).

    U counts the pairs (x in a, y in b) with x > y, ties counting one half. The p-value
    is the normal approximation with the variance corrected for ties and a continuity
    correction of 1/2; it is close to exact from about 9 samples per side (Google
    Benchmark's UTEST_OPTIMAL_REPETITIONS), which is why callers should not trust it on
    fewer. Distribution-free, so skewed timing data with outliers suits it better than a
    t-test. All values equal on both sides gives p = 1.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u needs samples on both sides")
    values, inverse, counts = np.unique(np.concatenate([x, y]), return_inverse=True,
                                        return_counts=True)
    # Average rank of each distinct value: ties share the mean of the ranks they span.
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    n = n1 + n2
    tie_term = float((counts.astype(np.float64) ** 3 - counts).sum()) / (n * (n - 1)) \
        if n > 1 else 0.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if variance <= 0.0:
        return u, 1.0
    z = (abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(variance)
    return u, min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0)))
