"""The measurement engine: one `Sampler` owns warm-up, calibration, blocks of samples
and the stopping rule, for one case on one backend.

Why it measures this way:

* **Batches, not single calls.** A sample times a batch of `inner_loops` calls between
  two clock reads (with a device sync before each read), and stores seconds per call.
  The batch is calibrated so one sample lasts about `sample_time` — thousands of times
  the clock's resolution (~60 ns for a perf_counter_ns pair) and the per-call harness
  cost — as torch.utils.benchmark's `blocked_autorange` and pytest-benchmark do.
* **First call apart, then warm-up by time.** The first call pays for lazy library
  initialisation, page faults of fresh buffers and (on GPUs) handle creation and
  autotuning; its latency is kept separately (and its output is what verification
  checks), never mixed into the samples. Warm-up calls follow for `warmup_time`.
* **Median with a distribution-free interval, and a noise-based stop.** Sampling goes
  on until at least `min_samples` samples and `min_time` seconds of samples exist
  *and* the 95% interval of the median is narrower than `target_ci` of the median,
  or until `max_time` / `max_samples` is reached (torch's `adaptive_autorange` and
  nvbench's `stdrel` criterion follow the same idea with other statistics). Time
  counts as the timed batches' own duration, so the rule sees the same seconds
  whether blocks run back to back in this process or interleaved across workers.
* **Blocks for interleaving.** Samples come in blocks of about `block_time`; the
  runner asks each backend's worker for one block in turn (A B A B …). Each block
  starts with a discarded warm-up so that the previous worker's spinning BLAS threads
  have gone idle before timing starts.

The worker drives a Sampler block by block over a pipe; `measure()` drives the same
Sampler in this process. The timer (and through it the clock and the device sync) is
injected: tests drive all of this with fake clocks and assert exact numbers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dlbench import intervals, stats
from dlbench.timers import HostTimer, Timer

# Calibration never times fewer than this many seconds' worth when growing the batch
# from a single call: below it, the clock and the loop dominate the estimate.
CALIBRATION_FLOOR_S = 1e-4
# A batch grows by at most this factor per calibration step, so one slow outlier in
# the estimate cannot make a sample last minutes.
CALIBRATION_MAX_GROWTH = 100
MAX_INNER_LOOPS = 10**9
# Rounds a case gets even when its time budget ran out first (a kernel longer than the
# budget): two rounds show whether the machine held still between them.
MIN_ROUNDS_AT_MAX_TIME = 2
# The stopping rule asks for an interval after every round: fewer replicates than a
# reported interval's suffice to tell "narrow enough" from "not yet".
STOP_RESAMPLES = 1000
# Below three rounds the spread between rounds says little (intervals.instability).
MIN_ROUNDS_FOR_DRIFT = 3
# A GPU batch whose queueing took at least this share of its device window kept the GPU
# waiting on the host: the kernels ran as fast as Python and the library could queue them
# (a kernel-bound batch is queued in a small part of its window).
LAUNCH_BOUND_FRACTION = 0.8


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
    # Long enough for the previous worker's threads to go idle (docs/methodology.md): OpenBLAS's
    # idle threads spin for 2^28 TSC cycles (THREAD_TIMEOUT), about 0.1 s at 2.6 GHz.
    # Measured: after a NumPy block, torch's first samples ran 2-3.6x slow with a
    # 0.05 s warm-up and within 3% of the median with 0.15 s.
    block_warmup_time: float = 0.15
    # A block that follows another block in the same worker has no other worker's
    # threads to wait out, only its own caches to fill: a few calls. Measured
    # (benchmarks/variance_levels.py): such blocks ran within 0.2% of the first block
    # after a switch, which had the full warm-up.
    followup_warmup_time: float = 0.02
    # Rounds per case: each is one block, and intervals stand on the spread between
    # them (intervals.py), so a case needs several before its interval means anything.
    min_rounds: int = 5

    def __post_init__(self) -> None:
        if not (self.min_time >= 0 and self.max_time > 0):
            raise ValueError("min_time must be >= 0 and max_time > 0")
        if self.min_time > self.max_time:
            raise ValueError(f"min_time ({self.min_time}) exceeds max_time ({self.max_time})")
        if self.min_samples < 1 or self.max_samples < self.min_samples:
            raise ValueError("need 1 <= min_samples <= max_samples")
        if not (self.target_ci > 0):
            raise ValueError("target_ci must be positive")
        if self.min_rounds < 1:
            raise ValueError("min_rounds must be at least 1")
        if self.sample_time <= 0 or self.block_time <= 0:
            raise ValueError("sample_time and block_time must be positive")


def calibrate(fn: Callable[[], object], timer: Timer, sample_time: float,
              max_loops: int = MAX_INNER_LOOPS) -> int:
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


def stop_reason(samples: list[float], sizes: Sequence[int], sampling_time: float,
                config: MeasureConfig) -> str | None:
    """Why sampling should stop now, or None to go on; `sizes` are the rounds' sample counts.

    "converged": enough rounds, samples and time, and the interval a repeat's median
    would fall in (intervals.median_interval, from the rounds) is narrower than
    `target_ci` of the median. "max_time" / "max_samples": a budget ran out — after two
    rounds at least, so that every case shows how much its rounds disagree.
    """
    n = len(samples)
    if n >= config.max_samples:
        return "max_samples"
    rounds = len(sizes)
    if sampling_time >= config.max_time and rounds >= min(MIN_ROUNDS_AT_MAX_TIME,
                                                          config.min_rounds):
        return "max_time"
    if (rounds >= config.min_rounds and n >= config.min_samples
            and sampling_time >= config.min_time):
        estimate = intervals.median_interval(intervals.round_medians(samples, sizes),
                                             resamples=STOP_RESAMPLES)
        if estimate.rel_width <= config.target_ci:
            return "converged"
    return None


@dataclass(frozen=True)
class Block:
    """One block's samples (seconds per call). When the timer measured device time,
    `host_samples` and `enqueue_samples` pair each sample with the host's time of the
    same batch (to the end of the wait; to the end of queueing). `stop` is the stopping
    rule's answer after this block (None: sample on)."""

    samples: tuple[float, ...]
    host_samples: tuple[float, ...]
    enqueue_samples: tuple[float, ...]
    stop: str | None


@dataclass(frozen=True)
class Measurement:
    samples_s: tuple[float, ...]
    host_samples_s: tuple[float, ...]
    enqueue_samples_s: tuple[float, ...]
    inner_loops: int
    first_call_s: float
    stop: str
    round_sizes: tuple[int, ...] = ()  # samples per round (block), in order

    @property
    def summary(self) -> stats.Summary:
        return stats.summarize(self.samples_s)


def launch_bound(enqueue_samples: Sequence[float], samples: Sequence[float]) -> bool:
    """Whether queueing the batches took most of their device time (medians compared)."""
    if not enqueue_samples or not samples:
        return False
    device = statistics.median(samples)
    return device > 0 and statistics.median(enqueue_samples) >= LAUNCH_BOUND_FRACTION * device


class Sampler:
    """Measures one kernel: first call, warm-up, calibration, then blocks until stop."""

    def __init__(self, fn: Callable[[], object], timer: Timer, config: MeasureConfig) -> None:
        self.fn = fn
        self.timer = timer
        self.config = config
        self.first_call_s: float | None = None
        self.inner_loops = 0
        self.samples: list[float] = []
        self.host_samples: list[float] = []
        self.enqueue_samples: list[float] = []
        self.round_sizes: list[int] = []  # samples per block: a block is a round
        self.sampling_time = 0.0
        self.stop: str | None = None

    def first_call(self) -> object:
        """Call fn once and keep its latency; its output is returned for verification."""
        timer, clock = self.timer, self.timer.clock
        timer.sync()
        start = clock()
        output = self.fn()
        timer.sync()
        self.first_call_s = clock() - start
        return output

    def prepare(self) -> int:
        """Warm up for `warmup_time` (after the first call) and calibrate the batch;
        returns the calls per sample."""
        if self.first_call_s is None:
            self.first_call()
        self._spin(self.config.warmup_time)
        self.inner_loops = (1 if self.timer.one_call_per_sample
                            else calibrate(self.fn, self.timer, self.config.sample_time))
        return self.inner_loops

    def block(self, warmup: float | None = None) -> Block:
        """A discarded warm-up of `warmup` seconds (`block_warmup_time` by default), then
        samples for `block_time` (at least one, so a kernel longer than the block still
        yields data)."""
        if not self.inner_loops:
            raise RuntimeError("prepare() must run before block()")
        config, timer, loops = self.config, self.timer, self.inner_loops
        self._spin(config.block_warmup_time if warmup is None else warmup)
        samples: list[float] = []
        host: list[float] = []
        enqueue: list[float] = []
        room = config.max_samples - len(self.samples)
        timed = 0.0
        start = timer.clock()
        while True:
            elapsed = timer.time_batch(self.fn, loops)
            timed += elapsed
            samples.append(elapsed / loops)
            if timer.reports_host_times:
                host.append(timer.last_host_s / loops)
                enqueue.append(timer.last_enqueue_s / loops)
            # The block's length is wall time (it sets the interleaving's pace); the
            # stopping rule counts only the timed batches.
            if timer.clock() - start >= config.block_time or len(samples) >= room:
                break
        self.samples += samples
        self.host_samples += host
        self.enqueue_samples += enqueue
        self.round_sizes.append(len(samples))
        self.sampling_time += timed
        self.stop = stop_reason(self.samples, self.round_sizes, self.sampling_time, config)
        return Block(tuple(samples), tuple(host), tuple(enqueue), self.stop)

    def run(self) -> Measurement:
        """Everything in this process, block after block, until the stopping rule says."""
        if not self.inner_loops:
            self.prepare()
        while self.stop is None:
            self.block()
        return self.measurement()

    def measurement(self) -> Measurement:
        assert self.first_call_s is not None and self.stop is not None
        return Measurement(tuple(self.samples), tuple(self.host_samples),
                           tuple(self.enqueue_samples), self.inner_loops, self.first_call_s,
                           self.stop, tuple(self.round_sizes))

    def _spin(self, duration: float) -> None:
        """Single timed calls, discarded, until `duration` of the clock has passed."""
        if duration <= 0:
            return
        clock = self.timer.clock
        start = clock()
        while clock() - start < duration:
            self.timer.time_batch(self.fn, 1)


def measure(fn: Callable[[], object], config: MeasureConfig = MeasureConfig(),
            timer: Timer | None = None) -> Measurement:
    """Measure fn alone, in this process, through the same Sampler the workers use."""
    return Sampler(fn, timer or HostTimer(), config).run()


def quality_warnings(samples: Sequence[float], sizes: Sequence[int],
                     launch_bound: bool = False) -> list[str]:
    """What a reader should act on: rounds too few to see drift, rounds that disagree
    (intervals.instability), a GPU waiting on the host. A budget that ran out is no
    warning (the suite chose it; the interval says how precise the figure is), nor is
    noise inside rounds (the median of each round absorbs it)."""
    codes = []
    if len(sizes) < MIN_ROUNDS_FOR_DRIFT:
        codes.append(stats.QualityWarning.FEW_ROUNDS.value)
    elif intervals.instability(samples, sizes) is not None:
        codes.append(stats.QualityWarning.UNSTABLE.value)
    if launch_bound:
        codes.append(stats.QualityWarning.LAUNCH_BOUND.value)
    return codes
