"""The change-point detector: its arithmetic checked by hand and against SciPy where
installed, and the issue's two criteria on seeded synthetic series of per-run medians:
a 10% step after stationary noise found at its place in at least 95% of series, and no
change reported in at least 95% of purely stationary ones."""

import math

import numpy as np
import pytest

from dlbench.history import detect

# The criteria's series: 40 runs, log-normal noise of 2% on each run's median, a 10% step
# at a random run at least 9 runs from either end (benchmarks/compare_detectors.py's
# "quiet" scenario; its "short" one: 20 runs, 3% noise).
TRIALS = 300
STEP = 1.10


def series(rng, length, sigma, step_at=None):
    values = rng.lognormal(0.0, sigma, length)
    if step_at is not None:
        values[step_at:] *= STEP
    return np.log(values)


def found_at(values):
    return [c.index for c in detect.detect(values)]


def test_a_10_percent_step_is_found_at_its_place_in_95_percent_of_series():
    rng = np.random.default_rng(1)
    exact = 0
    for _ in range(TRIALS):
        at = int(rng.integers(9, 32))
        exact += at in found_at(series(rng, 40, 0.02, at))
    assert exact / TRIALS >= 0.95


def test_stationary_series_show_no_change_in_95_percent_of_them():
    rng = np.random.default_rng(2)
    alarms = sum(bool(found_at(series(rng, 40, 0.02))) for _ in range(TRIALS))
    assert alarms / TRIALS <= 0.05


def test_in_short_series_the_step_is_found_within_one_run_in_95_percent():
    rng = np.random.default_rng(3)
    near = alarms = 0
    for _ in range(TRIALS):
        at = int(rng.integers(9, 12))
        near += any(abs(i - at) <= 1 for i in found_at(series(rng, 20, 0.03, at)))
        alarms += bool(found_at(series(rng, 20, 0.03)))
    assert near / TRIALS >= 0.95 and alarms / TRIALS <= 0.05


def test_two_steps_are_both_found_and_a_step_back_too():
    rng = np.random.default_rng(4)
    values = np.log(np.r_[rng.lognormal(0, 0.01, 15), 1.2 * rng.lognormal(0, 0.01, 15),
                          rng.lognormal(0, 0.01, 15)])
    assert found_at(values) == [15, 30]


def test_a_change_needs_min_size_runs_on_each_side():
    values = [0.0] * 10 + [1.0] * 2
    assert detect.detect(values, min_size=3) == []
    assert [c.index for c in detect.detect(values, min_size=2)] == [10]


@pytest.mark.parametrize(("t", "df", "p"), [
    (1.0, 1, 1.0 - 2.0 / math.pi * math.atan(1.0)),
    (2.5, 1, 1.0 - 2.0 / math.pi * math.atan(2.5)),
    (1.5, 2, 1.0 - 1.5 / math.sqrt(2.0 + 1.5 ** 2)),
    (2.228, 10, 0.05),  # the familiar table value of a two-sided 5% test at 10 df
    (0.0, 7, 1.0), (math.inf, 3, 0.0), (math.nan, 3, 1.0)])
def test_student_t_p_values_match_their_closed_forms(t, df, p):
    assert detect.student_t_p(t, df) == pytest.approx(p, abs=2e-4)


def test_t_test_and_its_p_values_agree_with_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(5)
    for df in (1, 2, 3, 4, 9, 30, 101, 1000):
        for t in (0.3, 1.7, 4.0, 11.0):
            assert detect.student_t_p(t, df) == pytest.approx(
                2.0 * scipy_stats.t.sf(t, df), rel=1e-9, abs=1e-15)
    for _ in range(20):
        left, right = rng.normal(size=int(rng.integers(2, 15))), rng.normal(0.7, size=6)
        assert detect.t_test(left, right) == pytest.approx(
            scipy_stats.ttest_ind(left, right).pvalue, rel=1e-9)


def test_constant_sides_are_a_certain_change_or_certainly_none():
    assert detect.t_test(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == 0.0
    assert detect.t_test(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == 1.0


def brute_force_q(x, y):
    """Matteson & James's energy statistic, term by term."""
    n, m = len(x), len(y)
    cross = sum(abs(a - b) for a in x for b in y)
    within_x = sum(abs(x[i] - x[k]) for i in range(n) for k in range(i + 1, n))
    within_y = sum(abs(y[j] - y[k]) for j in range(m) for k in range(j + 1, m))
    return (2.0 / (n + m) * cross
            - (2.0 * m / ((n + m) * (n - 1)) * within_x if n > 1 else 0.0)
            - (2.0 * n / ((n + m) * (m - 1)) * within_y if m > 1 else 0.0))


@pytest.mark.parametrize("seed", range(6))
def test_the_best_split_is_the_brute_force_maximum_over_every_split_and_end(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=int(rng.integers(6, 16)))
    min_size = int(rng.integers(1, 3))
    best_q, best_tau = max((brute_force_q(z[:t], z[t:k]), t)
                           for t in range(min_size, len(z) - min_size + 1)
                           for k in range(t + min_size, len(z) + 1))
    tau, q = detect.best_split(z, min_size)
    assert tau == best_tau and q == pytest.approx(best_q)


def test_too_short_and_impossible_input():
    assert detect.best_split(np.zeros(5), 3) is None
    assert detect.detect([1.0, 2.0]) == []
    with pytest.raises(ValueError, match="finite"):
        detect.detect([1.0, math.nan, 2.0])
    with pytest.raises(ValueError, match="min_size"):
        detect.detect([1.0, 2.0], min_size=0)


def test_the_u_test_variant_finds_a_step_with_five_runs_after_it():
    rng = np.random.default_rng(6)
    values = series(rng, 30, 0.02, 25)
    assert [c.index for c in detect.detect(values, test=detect.u_test)] == [25]
    assert detect.detect(series(rng, 30, 0.02, 27), test=detect.u_test) == []
