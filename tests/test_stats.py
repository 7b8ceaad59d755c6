"""Statistics on known samples: exact values."""

import math

import pytest

from dlbench import stats


def test_median_ci_order_statistics_n10():
    # Binomial(10, 1/2): 2·P(B <= 1) = 22/1024 <= 0.05 < 2·P(B <= 2) = 112/1024,
    # so the interval is [x(2), x(9)] with coverage 1 - 22/1024.
    lo, hi, coverage = stats.median_ci(list(range(10, 0, -1)))
    assert (lo, hi) == (2, 9)
    assert coverage == pytest.approx(1 - 22 / 1024)


def test_median_ci_too_few_samples_reports_true_coverage():
    lo, hi, coverage = stats.median_ci([5.0, 1.0, 3.0, 4.0, 2.0])
    assert (lo, hi) == (1.0, 5.0)
    assert coverage == pytest.approx(1 - 2 / 32)  # below 95%: callers flag it


def test_median_ci_large_n_matches_normal_approximation():
    n = 400
    lo, hi, coverage = stats.median_ci(list(range(n)))
    # Normal approximation: k ≈ n/2 - 1.96·sqrt(n)/2 ≈ 180.4.
    assert 178 <= lo <= 182 and n - 1 - hi == lo
    assert 0.95 <= coverage < 0.96


def test_summarize_exact_values_and_tukey_outlier():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s.q1, s.median, s.q3, s.iqr) == (2.0, 3.0, 4.0, 2.0)
    assert s.mean == 22.0 and s.min == 1.0 and s.max == 100.0
    assert s.stdev == pytest.approx(math.sqrt(sum((x - 22) ** 2 for x in [1, 2, 3, 4, 100]) / 4))
    assert s.outliers == 1  # 100 is beyond q3 + 1.5·IQR = 7
    assert s.far_outliers == 1  # and far more than 5% from the median
    assert s.n == 5


def test_quality_warnings():
    tight = stats.summarize([1.0 + i * 1e-4 for i in range(20)])
    assert stats.quality_warnings(tight) == []
    noisy = stats.summarize([1.0, 1.5, 2.0, 2.5, 3.0, 1.2, 1.7, 2.2])
    assert stats.QualityWarning.HIGH_VARIANCE in stats.quality_warnings(noisy)
    few = stats.summarize([1.0, 1.0, 1.0])
    assert stats.quality_warnings(few) == [stats.QualityWarning.FEW_SAMPLES]
    spiky = stats.summarize([1.0] * 16 + [5.0, 6.0, 7.0, 9.0])
    assert stats.QualityWarning.OUTLIERS in stats.quality_warnings(spiky)
    # A tight distribution whose tail sits just past the fences (3% out) is not
    # disturbed: counted as Tukey outliers, not warned about.
    wobbly = stats.summarize([1.0 + 0.001 * (i % 10) for i in range(40)] + [1.03] * 6)
    assert wobbly.outliers == 6 and wobbly.far_outliers == 0
    assert stats.quality_warnings(wobbly) == []
    assert "Tukey" in stats.explain("outliers")


def test_ratio_ci_recovers_known_ratio_and_is_reproducible():
    import numpy as np

    rng = np.random.default_rng(1)
    base = 2.0 * np.exp(rng.normal(0, 0.02, 200))
    new = 1.0 * np.exp(rng.normal(0, 0.02, 200))
    point, lo, hi = stats.ratio_ci(base, new)
    assert lo < 2.0 < hi and lo < point < hi
    assert hi - lo < 0.05
    assert stats.ratio_ci(base, new) == (point, lo, hi)


def test_empty_samples_rejected():
    with pytest.raises(ValueError):
        stats.summarize([])
    with pytest.raises(ValueError):
        stats.median_ci([])
