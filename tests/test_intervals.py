"""Intervals from rounds (intervals.py): exact quantiles, and what drift does to intervals."""

import math

import numpy as np
import pytest

from dlbench import intervals


@pytest.mark.parametrize("df, expected", [(1, 12.7062), (2, 4.3027), (3, 3.1824),
                                          (5, 2.5706), (10, 2.2281), (30, 2.0423)])
def test_t_quantile_matches_tables(df, expected):
    assert intervals.t_quantile(0.975, df) == pytest.approx(expected, rel=2e-3)


def test_expanded_tail_narrows_towards_the_normal_with_more_units():
    tails = [intervals.expanded_tail(0.95, n) for n in (2, 3, 5, 10, 100, 10_000)]
    assert tails == sorted(tails)  # fewer units, further out in the tails
    assert tails[-1] == pytest.approx(0.025, rel=0.01)
    assert intervals.expanded_tail(0.95, 1) == 0.0


def test_round_medians_split_the_flat_samples():
    medians = intervals.round_medians([1, 2, 3, 10, 20, 30, 40, 5], [3, 4, 1])
    assert medians.tolist() == [2.0, 25.0, 5.0]
    with pytest.raises(ValueError, match="add up"):
        intervals.round_medians([1, 2, 3], [2, 2])


def steady(n_rounds, noise, rng, level=1e-3):
    return level * np.exp(rng.normal(0, noise, n_rounds))


def test_steady_rounds_give_a_narrow_interval_around_the_median():
    rng = np.random.default_rng(1)
    est = intervals.median_interval(steady(8, 0.005, rng))
    assert est.rounds == 8
    assert est.lo < est.value < est.hi
    assert est.rel_width < 0.05
    assert est.lo < 1e-3 < est.hi


def test_a_regime_switch_widens_the_interval_to_cover_both_regimes():
    rng = np.random.default_rng(2)
    calm = steady(8, 0.005, rng)
    switched = np.concatenate([steady(4, 0.005, rng, 7e-3), steady(4, 0.005, rng, 10e-3)])
    narrow = intervals.median_interval(calm)
    wide = intervals.median_interval(switched)
    assert wide.rel_width > 5 * narrow.rel_width
    assert wide.lo < 7.5e-3 and wide.hi > 9.5e-3  # a repeat may land in either regime


def test_the_interval_is_a_prediction_wider_than_the_samples_alone_suggest():
    # A repeat's median varies as much as this one's: for normal rounds the interval's
    # half-width is about t * sqrt(2) * SE(median), not t * SE.
    rng = np.random.default_rng(3)
    widths = [intervals.median_interval(steady(30, 0.02, rng)).rel_width for _ in range(20)]
    se_median = math.sqrt(math.pi / 2) * 0.02 / math.sqrt(30)
    assert np.median(widths) == pytest.approx(2 * 1.96 * math.sqrt(2) * se_median, rel=0.35)


def test_paired_ratios_cancel_drift_common_to_both_columns():
    drift = np.array([1.0, 1.4, 0.8, 1.9, 1.1, 0.7])  # the machine's speed, round by round
    baseline, column = 10e-3 * drift, 4e-3 * drift
    est = intervals.paired_ratio_interval(baseline, column)
    assert est.value == pytest.approx(2.5)
    assert est.hi - est.lo == pytest.approx(0.0, abs=1e-12)
    # Unpaired, the same rounds give a wide interval: the drift no longer cancels.
    unpaired = intervals.change_interval(baseline, column)
    assert unpaired.hi / unpaired.lo > 1.5


def test_drift_one_column_alone_saw_widens_the_paired_interval():
    rng = np.random.default_rng(4)
    baseline = steady(8, 0.005, rng, 10e-3)
    column = steady(8, 0.005, rng, 4e-3) * np.array([1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5])
    shared = intervals.paired_ratio_interval(baseline, steady(8, 0.005, rng, 4e-3))
    alone = intervals.paired_ratio_interval(baseline, column)
    assert alone.rel_width > 5 * shared.rel_width


def test_across_rows_geometric_mean_and_its_interval():
    rng = np.random.default_rng(5)
    rows = [(steady(6, 0.01, rng, 2e-3 * k), steady(6, 0.01, rng, 1e-3 * k)) for k in (1, 2, 3)]
    est = intervals.across_rows_interval([intervals.RowRounds(*r) for r in rows])
    assert est.value == pytest.approx(2.0, rel=0.03)
    assert est.lo < 2.0 < est.hi and est.rel_width < 0.1
    ci = intervals.across_rows_interval([intervals.RowRounds(*r) for r in rows], predict=False)
    assert ci.rel_width < est.rel_width  # a confidence interval needs no second run's error
    unpaired = intervals.across_rows_interval([intervals.RowRounds(*r, paired=False)
                                               for r in rows])
    assert unpaired.value == pytest.approx(est.value, rel=0.03)


def test_change_interval_holds_no_change_between_two_runs_of_one_machine():
    rng = np.random.default_rng(6)
    est = intervals.change_interval(steady(10, 0.03, rng), steady(10, 0.03, rng))
    assert est.lo < 1.0 < est.hi
    slower = intervals.change_interval(steady(10, 0.03, rng) * 1.15, steady(10, 0.03, rng))
    assert slower.lo > 1.05


def test_instability_flags_regimes_not_one_disturbed_round():
    rng = np.random.default_rng(7)

    def rounds(levels):
        samples = np.concatenate([lv * np.exp(rng.normal(0, 0.01, 20)) for lv in levels])
        return samples, [20] * len(levels)

    assert intervals.instability(*rounds([1.0] * 8)) is None
    assert intervals.instability(*rounds([1.0] * 7 + [3.0])) is None  # one stall
    found = intervals.instability(*rounds([7.0, 7.0, 10.0, 14.0, 7.0, 10.0, 14.0, 10.0]))
    assert found is not None
    assert found.between_sd > 0.1 and found.within_sd < 0.01
    assert (found.fastest, found.slowest) == pytest.approx((7.0, 14.0), rel=0.02)
    assert intervals.instability(*rounds([1.0, 2.0])) is None  # two rounds cannot tell


def test_summary_takes_median_and_interval_from_rounds():
    samples = [1.0, 1.0, 1.1, 2.0, 2.0, 2.1, 1.0, 1.05, 1.1]
    d = intervals.summary(samples, [3, 3, 3])
    assert d["median"] == pytest.approx(1.05)  # the median of 1.0, 2.0, 1.05
    assert d["rounds"] == 3 and d["interval"] == "repeat"
    assert d["ci95"][0] <= 1.0 and d["ci95"][1] >= 2.0 * 0.99
    one = intervals.summary(samples, [9])
    assert one["interval"] == "samples" and one["median"] == pytest.approx(1.1)  # all samples


def test_executions_are_resampled_first_so_their_differences_widen():
    rng = np.random.default_rng(8)
    # Four executions whose processes settled a few percent apart; rounds inside each
    # agree, so 24 rounds are not 24 independent views of the machine.
    levels = (1.0e-3, 1.05e-3, 0.97e-3, 1.1e-3)
    rounds = np.concatenate([steady(6, 0.003, rng, lv) for lv in levels])
    groups = [g for g in range(4) for _ in range(6)]
    as_rounds = intervals.median_interval(rounds)
    as_executions = intervals.median_interval(rounds, groups)
    assert as_executions.rel_width > 2 * as_rounds.rel_width
    assert as_executions.lo < 0.98e-3 and as_executions.hi > 1.09e-3
    # Executions that agree keep it narrow.
    same = np.concatenate([steady(6, 0.003, rng) for _ in levels])
    assert intervals.median_interval(same, groups).rel_width < 0.05


def executions(rng, count, rounds, between_sd, within_sd, level=1e-3):
    """One cell's round medians and their executions: each execution settles at a level
    of its own (between_sd), its rounds scatter around it (within_sd)."""
    values, groups = [], []
    for e in range(count):
        shift = rng.normal(0, between_sd)
        values += list(level * np.exp(shift + rng.normal(0, within_sd, rounds)))
        groups += [e] * rounds
    return np.array(values), groups


def test_the_between_execution_component_pooled_over_cells_finds_the_machines_spread():
    rng = np.random.default_rng(3)
    cells = [executions(rng, 3, 4, 0.05, 0.01) for _ in range(30)]
    found = intervals.between_executions(cells)
    assert found.df == 60  # two per cell of three executions
    assert 0.035 < math.sqrt(found.variance) < 0.065
    # Executions that agree (all the spread is the rounds'): the component is about nil.
    quiet = intervals.between_executions(executions(rng, 3, 4, 0.0, 0.02) for _ in range(30))
    assert math.sqrt(quiet.variance) < 0.01
    # One execution per cell tells nothing of it.
    assert intervals.between_executions([executions(rng, 1, 4, 0.05, 0.01)]) is None


def test_within_executions_rounds_are_resampled_in_place():
    values = np.log(np.array([1.0, 1.0, 1.0, 2.0]))
    reps, _ = intervals.resample(values, [0, 0, 0, 1], np.random.default_rng(0), 1000,
                                 intervals.Between(0.0, 10.0))
    # Each execution keeps its own rounds: three 1.0s and one 2.0, whose median is 1.0.
    assert np.allclose(np.exp(reps), 1.0)


def test_a_pooled_component_makes_two_executions_hold_on_the_next_run():
    """Calibration in miniature: a run of two executions predicts where the next run's
    median falls. Each cell's own component (one degree of freedom) is a guess: its
    intervals are now far too narrow, now far too wide, and miss often; pooled over the
    run's cells they hold at a steady width."""
    rng = np.random.default_rng(11)
    trials = 120
    hits = {"own": 0, "pooled": 0}
    widths: dict[str, list[float]] = {"own": [], "pooled": []}
    for _ in range(trials):
        run = [executions(rng, 2, 5, 0.06, 0.01) for _ in range(12)]
        values, groups = run[0]
        following = np.median(executions(rng, 2, 5, 0.06, 0.01)[0])
        for name, between in (("own", None), ("pooled", intervals.between_executions(run))):
            estimate = intervals.median_interval(values, groups, resamples=2000,
                                                 between=between)
            hits[name] += estimate.lo <= following <= estimate.hi
            widths[name].append(estimate.rel_width)
    assert hits["pooled"] / trials >= 0.9
    assert hits["own"] < hits["pooled"]
    # The width a perfectly known SD gives: 2 * 1.96 * sqrt(2) * 0.06 / sqrt(2) ~ 0.24.
    assert 0.2 < np.median(widths["pooled"]) < 0.35

    def scatter(w):
        return np.percentile(w, 90) / np.percentile(w, 10)

    assert scatter(widths["own"]) > 3 * scatter(widths["pooled"])
