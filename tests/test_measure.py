"""The measurement engine driven by fake clocks: exact calibration and stopping."""

import numpy as np
import pytest

from dlbench import measure
from dlbench.clock import FakeClock, WorkClock
from dlbench.measure import HostTimer, MeasureConfig, StopState


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


def test_warmup_runs_at_least_once_and_records_first_call():
    clock = WorkClock([0.3, 0.001])  # a slow first call (lazy init), then fast
    w = measure.warmup(clock.work, HostTimer(clock), duration=0.0)
    assert (w.calls, w.first_call_s) == (1, pytest.approx(0.3))
    clock = WorkClock([0.3, 0.001])
    w = measure.warmup(clock.work, HostTimer(clock), duration=0.35)
    assert w.calls == 51 and w.first_call_s == pytest.approx(0.3)


def test_measure_stops_when_converged_with_exact_counts():
    # Binary-exact durations: 2^-10 s per call -> 8 calls per 2^-7 s sample -> 16 samples
    # per 2^-3 s block; min_time 2^-2 needs two blocks.
    clock = WorkClock([2.0**-10])
    config = MeasureConfig(min_time=0.25, max_time=10, min_samples=10, sample_time=2.0**-7,
                           block_time=2.0**-3, warmup_time=0.0)
    m = measure.measure(clock.work, config, clock=clock)
    assert (m.inner_loops, len(m.samples_s), m.stop) == (8, 32, "converged")
    assert set(m.samples_s) == {2.0**-10}


def test_measure_waits_for_min_samples():
    clock = WorkClock([2.0**-10])
    config = MeasureConfig(min_time=0.0, max_time=10, min_samples=40, sample_time=2.0**-7,
                           block_time=2.0**-3, warmup_time=0.0)
    m = measure.measure(clock.work, config, clock=clock)
    assert (len(m.samples_s), m.stop) == (48, "converged")  # three blocks of 16


def test_noisy_kernel_hits_max_time_and_says_so():
    rng = np.random.default_rng(7)
    clock = WorkClock(lambda: 1e-3 * float(np.exp(rng.normal(0, 0.5))))
    config = MeasureConfig(min_time=0.1, max_time=1.0, target_ci=0.001, warmup_time=0.0)
    m = measure.measure(clock.work, config, clock=clock)
    assert m.stop == "max_time"
    sampled = sum(m.samples_s) * m.inner_loops
    assert 1.0 <= sampled < 1.0 + config.block_time + 0.05
    codes = measure.quality_warnings(m.summary, m.stop)
    assert "ci_target_missed" in codes and "high_variance" in codes


def test_moderate_noise_converges_to_the_true_median():
    rng = np.random.default_rng(3)
    clock = WorkClock(lambda: 2e-3 * float(np.exp(rng.normal(0, 0.05))))
    config = MeasureConfig(min_time=0.5, max_time=20.0, target_ci=0.02, warmup_time=0.0)
    m = measure.measure(clock.work, config, clock=clock)
    assert m.stop == "converged"
    s = m.summary
    assert s.ci_rel_width <= 0.02
    assert s.ci95[0] <= 2e-3 * 1.01 and s.ci95[1] >= 2e-3 * 0.99  # batch means of 5 calls


def test_max_samples_budget():
    clock = WorkClock([1e-3])
    config = MeasureConfig(min_time=5.0, max_time=10.0, min_samples=1, max_samples=7,
                           sample_time=1e-3, warmup_time=0.0)
    m = measure.measure(clock.work, config, clock=clock)
    assert (len(m.samples_s), m.stop) == (7, "max_samples")


def test_block_has_discarded_warmup_and_at_least_one_sample():
    clock = WorkClock([0.5])
    samples = measure.sample_block(clock.work, HostTimer(clock), inner_loops=1, block_time=0.1,
                                   warmup_time=0.2)
    assert samples == [0.5]
    assert clock.calls == 2  # one warm-up call (discarded) + one sample


def test_stop_rule_needs_all_conditions():
    config = MeasureConfig(min_time=1.0, max_time=5.0, min_samples=10, target_ci=0.02)
    few = StopState([1.0] * 9, sampling_time=2.0)
    assert measure.stop_reason(few, config) is None
    short = StopState([1.0] * 20, sampling_time=0.5)
    assert measure.stop_reason(short, config) is None
    assert measure.stop_reason(StopState([1.0] * 20, 1.0), config) == "converged"
    wide = StopState([1.0, 2.0] * 10, sampling_time=2.0)
    assert measure.stop_reason(wide, config) is None
    assert measure.stop_reason(StopState([1.0, 2.0] * 10, 5.0), config) == "max_time"


def test_config_validation():
    with pytest.raises(ValueError, match="exceeds"):
        MeasureConfig(min_time=2.0, max_time=1.0)
    with pytest.raises(ValueError):
        MeasureConfig(min_samples=0)


def test_fake_clock_steps():
    clock = FakeClock(start=1.0, step=0.5)
    assert [clock(), clock(), clock()] == [1.0, 1.5, 2.0]
