"""The measurement engine (one Sampler, as the workers drive it) with fake clocks:
exact calibration, warm-up, blocks and stopping."""

import numpy as np
import pytest

from dlbench import intervals, measure
from dlbench.clock import FakeClock, WorkClock
from dlbench.measure import MeasureConfig, Sampler
from dlbench.timers import EventTimer, HostEvent, HostTimer

# No warm-ups unless a test asks, and two rounds at least: the exact counts below are
# then easy to follow.
BARE = dict(warmup_time=0.0, block_warmup_time=0.0, min_rounds=2)


class RecordingTimer(HostTimer):
    def __init__(self, clock):
        super().__init__(clock)
        self.batches = []

    def time_batch(self, fn, loops):
        self.batches.append(loops)
        return super().time_batch(fn, loops)


def test_calibration_sizes_batch_to_sample_time():
    clock = WorkClock([1e-3])
    assert measure.calibrate(clock.work, HostTimer(clock), sample_time=0.01) == 10


def test_calibration_grows_at_most_100x_per_step():
    clock = WorkClock([2.0**-20])  # about 1 µs per call, binary-exact
    timer = RecordingTimer(clock)
    assert measure.calibrate(clock.work, timer, sample_time=2.0**-7) == 8192
    assert timer.batches == [1, 100, 8192]


def test_calibration_of_a_slow_kernel_is_one_call():
    clock = WorkClock([0.5])
    assert measure.calibrate(clock.work, HostTimer(clock), sample_time=0.01) == 1


def test_sync_runs_around_every_batch():
    clock = WorkClock([1e-3])
    syncs = []
    timer = HostTimer(clock, sync=lambda: syncs.append(clock.now))
    assert timer.time_batch(clock.work, 4) == pytest.approx(4e-3)
    assert syncs == [0.0, pytest.approx(4e-3)]  # before the first call, after the last


def test_first_call_is_timed_by_the_injected_clock_and_its_output_kept():
    clock = WorkClock([0.25, 2.0**-10])  # a slow first call (lazy init), then fast

    def kernel():
        clock.work()
        return "output"

    syncs = []
    timer = HostTimer(clock, sync=lambda: syncs.append(clock.now))
    sampler = Sampler(kernel, timer, MeasureConfig(**BARE))
    assert sampler.first_call() == "output"
    assert sampler.first_call_s == 0.25 and syncs == [0.0, 0.25]


def test_warm_up_runs_for_its_time_after_the_first_call_then_calibrates():
    clock = WorkClock([0.25, 2.0**-10])
    timer = RecordingTimer(clock)
    config = MeasureConfig(warmup_time=0.5, sample_time=2.0**-7, block_warmup_time=0.0)
    sampler = Sampler(clock.work, timer, config)
    assert sampler.prepare() == 8
    assert sampler.first_call_s == 0.25
    # 0.5 s of 2^-10 s calls after the first; then calibration batches of 1 and 8.
    assert timer.batches == [1] * 512 + [1, 8]
    assert clock.calls == 1 + 512 + 1 + 8
    assert sampler.samples == [] and sampler.sampling_time == 0.0  # none of it is a sample


def test_block_before_prepare_is_refused():
    with pytest.raises(RuntimeError, match="prepare"):
        Sampler(lambda: None, HostTimer(), MeasureConfig()).block()


def test_block_has_discarded_warmup_and_at_least_one_sample():
    clock = WorkClock([0.5])
    config = MeasureConfig(warmup_time=0.0, block_time=0.1, block_warmup_time=0.2,
                           sample_time=0.01)
    sampler = Sampler(clock.work, HostTimer(clock), config)
    sampler.prepare()  # first call, then a one-call calibration batch (0.5 s > the target)
    assert (sampler.inner_loops, clock.calls) == (1, 2)
    block = sampler.block()
    assert block.samples == (0.5,) and block.host_samples == ()
    assert clock.calls == 4  # one warm-up call (discarded) + one sample
    assert sampler.sampling_time == 0.5  # the discarded warm-up does not count


def test_sampler_stops_when_converged_with_exact_counts():
    # Binary-exact durations: 2^-10 s per call -> 8 calls per 2^-7 s sample -> 16 samples
    # per 2^-3 s block; min_time 2^-2 needs two blocks.
    clock = WorkClock([2.0**-10])
    config = MeasureConfig(min_time=0.25, max_time=10, min_samples=10, sample_time=2.0**-7,
                           block_time=2.0**-3, **BARE)
    sampler = Sampler(clock.work, HostTimer(clock), config)
    sampler.prepare()
    first = sampler.block()
    assert (len(first.samples), first.stop) == (16, None)
    second = sampler.block()
    assert (len(second.samples), second.stop) == (16, "converged")
    m = sampler.measurement()
    assert (m.inner_loops, len(m.samples_s), m.stop) == (8, 32, "converged")
    assert set(m.samples_s) == {2.0**-10}
    assert sampler.sampling_time == 0.25


def test_measure_is_the_same_sampler_in_one_process():
    config = MeasureConfig(min_time=0.25, max_time=10, min_samples=10, sample_time=2.0**-7,
                           block_time=2.0**-3, **BARE)
    clock = WorkClock([2.0**-10])
    m = measure.measure(clock.work, config, timer=HostTimer(clock))
    clock = WorkClock([2.0**-10])
    sampler = Sampler(clock.work, HostTimer(clock), config)
    sampler.prepare()
    while sampler.block().stop is None:
        pass
    assert m == sampler.measurement()


def test_measure_waits_for_min_samples():
    clock = WorkClock([2.0**-10])
    config = MeasureConfig(min_time=0.0, max_time=10, min_samples=40, sample_time=2.0**-7,
                           block_time=2.0**-3, **BARE)
    m = measure.measure(clock.work, config, timer=HostTimer(clock))
    assert (len(m.samples_s), m.stop) == (48, "converged")  # three blocks of 16


def test_noisy_kernel_hits_max_time_without_a_warning():
    # Noise between calls is no drift: every round's median sees the same distribution,
    # and a budget that ran out is the suite's choice. The interval says how precise.
    rng = np.random.default_rng(7)
    clock = WorkClock(lambda: 1e-3 * float(np.exp(rng.normal(0, 0.5))))
    config = MeasureConfig(min_time=0.1, max_time=1.0, target_ci=0.001, warmup_time=0.0)
    m = measure.measure(clock.work, config, timer=HostTimer(clock))
    assert m.stop == "max_time"
    sampled = sum(m.samples_s) * m.inner_loops
    assert 1.0 <= sampled < 1.0 + config.block_time + 0.05
    assert measure.quality_warnings(m.samples_s, m.round_sizes) == []


def _regimes(levels_by_block, noise=0.01, seed=11):
    """A kernel whose speed is set per block (the machine's regime), with a little noise
    between calls; returns the measurement of one block per level."""
    rng = np.random.default_rng(seed)
    level = [levels_by_block[0]]
    clock = WorkClock(lambda: level[0] * float(np.exp(rng.normal(0, noise))))
    config = MeasureConfig(min_time=0.0, max_time=100.0, min_rounds=len(levels_by_block),
                           target_ci=1e-9, sample_time=0.01, block_time=0.1, **{
                               k: v for k, v in BARE.items() if k != "min_rounds"})
    sampler = Sampler(clock.work, HostTimer(clock), config)
    sampler.prepare()
    for lv in levels_by_block:
        level[0] = lv
        sampler.block()
    return sampler


def test_a_regime_switch_widens_the_interval_and_warns_steady_data_stays_narrow():
    steady = _regimes([1e-3] * 8)
    switching = _regimes([7e-3, 7e-3, 10e-3, 14e-3, 7e-3, 10e-3, 14e-3, 10e-3])
    calm, drift = (intervals.summary(s.samples, s.round_sizes) for s in (steady, switching))
    width = lambda d: (d["ci95"][1] - d["ci95"][0]) / d["median"]  # noqa: E731
    assert width(calm) < 0.02
    assert width(drift) > 0.3
    assert drift["ci95"][0] <= 7.5e-3 and drift["ci95"][1] >= 13e-3
    assert measure.quality_warnings(steady.samples, steady.round_sizes) == []
    assert measure.quality_warnings(switching.samples, switching.round_sizes) == ["unstable"]


def test_too_few_rounds_to_see_drift_is_said():
    sampler = _regimes([1e-3, 1e-3])
    assert measure.quality_warnings(sampler.samples, sampler.round_sizes) == ["few_rounds"]


def test_moderate_noise_converges_to_the_true_median():
    rng = np.random.default_rng(3)
    clock = WorkClock(lambda: 2e-3 * float(np.exp(rng.normal(0, 0.05))))
    config = MeasureConfig(min_time=0.5, max_time=20.0, target_ci=0.02, warmup_time=0.0)
    m = measure.measure(clock.work, config, timer=HostTimer(clock))
    assert m.stop == "converged"
    s = m.summary
    assert s.ci_rel_width <= 0.02
    assert s.ci95[0] <= 2e-3 * 1.01 and s.ci95[1] >= 2e-3 * 0.99  # batch means of 5 calls


def test_max_samples_budget_cuts_a_block_short():
    clock = WorkClock([1e-3])
    config = MeasureConfig(min_time=5.0, max_time=10.0, min_samples=1, max_samples=7,
                           sample_time=1e-3, **BARE)
    m = measure.measure(clock.work, config, timer=HostTimer(clock))
    assert (len(m.samples_s), m.stop) == (7, "max_samples")


def test_event_timer_samples_come_with_paired_host_times():
    clock = WorkClock([0.25, 2.0**-10])  # a slow first call (kernel compile), then fast
    timer = EventTimer(lambda: HostEvent(clock), clock=clock)
    config = MeasureConfig(warmup_time=0.5, sample_time=2.0**-7, block_time=2.0**-5,
                           block_warmup_time=0.0)
    sampler = Sampler(clock.work, timer, config)
    assert sampler.prepare() == 8 and sampler.first_call_s == 0.25
    block = sampler.block()
    assert len(block.samples) == len(block.host_samples) == 4
    assert block.samples == block.host_samples == (2.0**-10,) * 4


def test_a_cold_cache_timer_samples_one_call_at_a_time():
    clock = WorkClock([2.0**-10])
    flushes = []
    timer = EventTimer(lambda: HostEvent(clock), clock=clock, flush=lambda: flushes.append(1))
    config = MeasureConfig(sample_time=2.0**-7, block_time=2.0**-7, **BARE)
    sampler = Sampler(clock.work, timer, config)
    assert sampler.prepare() == 1
    assert len(sampler.block().samples) == 8
    assert len(flushes) == 8  # one flush per sample (the first call is not flushed)


def test_stop_rule_needs_all_conditions():
    config = MeasureConfig(min_time=1.0, max_time=5.0, min_samples=10, target_ci=0.02,
                           min_rounds=4)
    assert measure.stop_reason([1.0] * 9, [3] * 3, 2.0, config) is None  # too few samples
    assert measure.stop_reason([1.0] * 20, [5] * 4, 0.5, config) is None  # too short
    assert measure.stop_reason([1.0] * 20, [10] * 2, 2.0, config) is None  # too few rounds
    assert measure.stop_reason([1.0] * 20, [5] * 4, 1.0, config) == "converged"
    # Rounds that disagree: the interval of the median is too wide to stop.
    assert measure.stop_reason([1.0] * 10 + [2.0] * 10, [5] * 4, 2.0, config) is None
    assert measure.stop_reason([1.0] * 10 + [2.0] * 10, [5] * 4, 5.0, config) == "max_time"
    # Out of time after one round: a second one still runs, to show the drift.
    assert measure.stop_reason([3.0], [1], 6.0, config) is None
    assert measure.stop_reason([3.0, 3.0], [1, 1], 6.0, config) == "max_time"


def test_config_validation():
    with pytest.raises(ValueError, match="exceeds"):
        MeasureConfig(min_time=2.0, max_time=1.0)
    with pytest.raises(ValueError):
        MeasureConfig(min_samples=0)


def test_fake_clock_steps():
    clock = FakeClock(start=1.0, step=0.5)
    assert [clock(), clock(), clock()] == [1.0, 1.5, 2.0]
