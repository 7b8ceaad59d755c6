"""The measurement engine: warm-up, calibration, sampling and the stopping rule.

Why it measures this way:

* **Batches, not single calls.** A sample times a batch of `inner_loops` calls between
  two clock reads (with a device sync before each read), and stores seconds per call.
  The batch is calibrated so one sample lasts about `sample_time` — thousands of times
  the clock's resolution (~60 ns for a perf_counter_ns pair) and the per-call harness
  cost — as torch.utils.benchmark's `blocked_autorange` and pytest-benchmark do.
* **Warm-up by time, at least one call.** The first call pays for lazy library
  initialisation, page faults of fresh buffers and (on GPUs) handle creation and
  autotuning; its latency is kept separately and never mixed into the samples.
* **Median with a distribution-free interval, and a noise-based stop.** Sampling goes
  on until at least `min_samples` samples and `min_time` seconds of sampling exist
  *and* the 95% interval of the median is narrower than `target_ci` of the median,
  or until `max_time` / `max_samples` is reached (torch's `adaptive_autorange` and
  nvbench's `stdrel` criterion follow the same idea with other statistics).
* **Blocks for interleaving.** The runner asks each backend's worker for blocks of
  samples in turn (A B A B …); each block starts with a discarded warm-up so that
  the previous worker's spinning BLAS threads have gone idle before timing starts.
  `measure()` below is the same engine in one process, one block after another.

The clock and the sync function are injected: tests drive all of this with fake
clocks and assert exact numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from typing import Protocol

from dlbench import stats
from dlbench.clock import Clock, perf_clock

# Calibration never times fewer than this many seconds' worth when growing the batch
# from a single call: below it, the clock and the loop dominate the estimate.
CALIBRATION_FLOOR_S = 1e-4
# A batch grows by at most this factor per calibration step, so one slow outlier in
# the estimate cannot make a sample last minutes.
CALIBRATION_MAX_GROWTH = 100


def _no_sync() -> None:
    return None


@dataclass(frozen=True)
class MeasureConfig:
    """How long and how precisely to measure one case on one backend."""

    min_time: float = 0.5
    max_time: float = 5.0
    min_samples: int = 10
    max_samples: int = 10_000
    target_ci: float = 0.02
    warmup_time: float = 0.1
    sample_time: float = 0.01
    block_time: float = 0.4
    # Long enough for the previous worker's threads to go idle (DESIGN.md): OpenBLAS's
    # idle threads spin for 2^28 TSC cycles (THREAD_TIMEOUT), about 0.1 s at 2.6 GHz.
    # Measured: after a NumPy block, torch's first samples ran 2-3.6x slow with a
    # 0.05 s warm-up and within 3% of the median with 0.15 s.
    block_warmup_time: float = 0.15

    def __post_init__(self) -> None:
        if not (self.min_time >= 0 and self.max_time > 0):
            raise ValueError("min_time must be >= 0 and max_time > 0")
        if self.min_time > self.max_time:
            raise ValueError(f"min_time ({self.min_time}) exceeds max_time ({self.max_time})")
        if self.min_samples < 1 or self.max_samples < self.min_samples:
            raise ValueError("need 1 <= min_samples <= max_samples")
        if not (self.target_ci > 0):
            raise ValueError("target_ci must be positive")
        if self.sample_time <= 0 or self.block_time <= 0:
            raise ValueError("sample_time and block_time must be positive")


class Timer(Protocol):
    """What the engine needs of a timer: HostTimer here, EventTimer in timers.py."""

    clock: Clock
    last_host_s: float

    def time_batch(self, fn: Callable[[], object], loops: int) -> float: ...


class HostTimer:
    """Times a batch of calls with a host clock, synchronising the device before each read."""

    name = "host"

    def __init__(self, clock: Clock = perf_clock, sync: Callable[[], None] = _no_sync) -> None:
        self.clock = clock
        self.sync = sync
        # The host time of the last batch: the sample itself here; an EventTimer
        # (timers.py) returns device time and keeps this beside it.
        self.last_host_s = 0.0

    def time_batch(self, fn: Callable[[], object], loops: int) -> float:
        """Seconds for `loops` back-to-back calls of fn."""
        sync, clock = self.sync, self.clock
        sync()
        start = clock()
        for _ in repeat(None, loops):
            fn()
        sync()
        self.last_host_s = elapsed = clock() - start
        return elapsed


@dataclass(frozen=True)
class Warmup:
    first_call_s: float
    calls: int
    elapsed_s: float


def warmup(fn: Callable[[], object], timer: Timer, duration: float) -> Warmup:
    """Call fn once (recording its latency), then keep calling until `duration` has passed."""
    clock = timer.clock
    start = clock()
    first = timer.time_batch(fn, 1)
    calls = 1
    while clock() - start < duration:
        timer.time_batch(fn, 1)
        calls += 1
    return Warmup(first_call_s=first, calls=calls, elapsed_s=clock() - start)


def calibrate(fn: Callable[[], object], timer: Timer, sample_time: float,
              max_loops: int = 10**9) -> int:
    """Calls per sample so that one sample lasts about `sample_time` seconds.

    Starts from one call and grows the batch (at most ×100 a step) until a batch
    takes at least half the target, then sizes the batch from that estimate.
    """
    loops = 1
    while True:
        elapsed = timer.time_batch(fn, loops)
        if elapsed >= sample_time / 2 or loops >= max_loops:
            break
        per_call = max(elapsed, 0.0) / loops
        wanted = sample_time / per_call if per_call > 0 else math.inf
        floor_loops = CALIBRATION_FLOOR_S / per_call if per_call > 0 else math.inf
        grown = min(max(wanted, floor_loops, 2 * loops), loops * CALIBRATION_MAX_GROWTH)
        loops = min(int(math.ceil(grown)), max_loops)
    per_call = elapsed / loops
    if per_call <= 0:
        return min(loops, max_loops)
    return max(1, min(max_loops, int(round(sample_time / per_call))))


def sample_block(fn: Callable[[], object], timer: Timer, inner_loops: int,
                 block_time: float, warmup_time: float = 0.0,
                 max_samples: int | None = None,
                 host_samples: list[float] | None = None) -> list[float]:
    """One block: a discarded warm-up, then samples (seconds per call) for `block_time`.

    At least one sample is always taken, so a kernel longer than the block still
    yields data. With `host_samples`, the host time of each sample's batch (seconds
    per call) is appended there, paired with the returned samples.
    """
    clock = timer.clock
    if warmup_time > 0:
        start = clock()
        while clock() - start < warmup_time:
            timer.time_batch(fn, 1)
    samples: list[float] = []
    start = clock()
    while True:
        samples.append(timer.time_batch(fn, inner_loops) / inner_loops)
        if host_samples is not None:
            host_samples.append(timer.last_host_s / inner_loops)
        if clock() - start >= block_time:
            break
        if max_samples is not None and len(samples) >= max_samples:
            break
    return samples


@dataclass
class StopState:
    """What the stopping rule has seen of one case on one backend so far."""

    samples: list[float] = field(default_factory=list)
    sampling_time: float = 0.0


def stop_reason(state: StopState, config: MeasureConfig) -> str | None:
    """Why sampling should stop now, or None to go on.

    "converged": enough samples and time, and the median's 95% interval is narrower
    than `target_ci` of the median. "max_time" / "max_samples": a budget ran out.
    """
    n = len(state.samples)
    if n >= config.max_samples:
        return "max_samples"
    if state.sampling_time >= config.max_time and n >= 1:
        return "max_time"
    if n >= config.min_samples and state.sampling_time >= config.min_time:
        summary = stats.summarize(state.samples)
        if summary.ci_coverage >= stats.CONFIDENCE and summary.ci_rel_width <= config.target_ci:
            return "converged"
    return None


@dataclass(frozen=True)
class Measurement:
    samples_s: list[float]
    inner_loops: int
    first_call_s: float
    stop: str

    @property
    def summary(self) -> stats.Summary:
        return stats.summarize(self.samples_s)


def measure(fn: Callable[[], object], config: MeasureConfig = MeasureConfig(),
            clock: Clock = perf_clock, sync: Callable[[], None] = _no_sync,
            timer: Timer | None = None) -> Measurement:
    """Measure fn alone, in this process: warm-up, calibrate, sample blocks until stop."""
    timer = timer or HostTimer(clock, sync)
    warm = warmup(fn, timer, config.warmup_time)
    loops = calibrate(fn, timer, config.sample_time)
    state = StopState()
    while (reason := stop_reason(state, config)) is None:
        start = timer.clock()
        remaining = config.max_samples - len(state.samples)
        state.samples += sample_block(fn, timer, loops, config.block_time,
                                      max_samples=remaining)
        state.sampling_time += timer.clock() - start
    return Measurement(samples_s=state.samples, inner_loops=loops,
                       first_call_s=warm.first_call_s, stop=reason)


def quality_warnings(summary: stats.Summary, stop: str) -> list[str]:
    """The summary's warnings plus the stopping rule's own."""
    codes = stats.quality_warnings(summary)
    if stop in ("max_time", "max_samples"):
        codes.append(stats.QualityWarning.CI_TARGET_MISSED.value)
    return codes
