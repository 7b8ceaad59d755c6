"""The time of a collective: the slowest rank's, sample by sample.

A collective is done when its last rank is done, so every sample is the maximum over
ranks of that rank's time for the batch (nccl-tests and the OSU benchmarks report the
same). Each sample starts with a barrier so the ranks enter the batch together, then
times the calibrated batch with the rank's own timer (host clock on a CPU, CUDA events
on a GPU), then all-reduces the time with MAX.

Everything in measure.Sampler that decides "how many" — warm-up and block lengths,
calibration, the stopping rule — must come out the same on every rank, or one rank
waits forever in a collective the others never call. So this timer's clock is not the
wall clock but the sum of the reduced batch times so far: identical on every rank,
and advancing with the timed work as the real clock would. The Sampler itself is
unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlbench.timers import Timer


class CollectiveTimer:
    """Wraps a rank's own timer: barrier, the batch, MAX over ranks."""

    reports_host_times = False
    one_call_per_sample = False

    def __init__(self, inner: Timer, barrier: Callable[[], None],
                 reduce_max: Callable[[float], float]) -> None:
        self.inner = inner
        self.name = f"{inner.name}, max over ranks"
        self.barrier = barrier
        self.reduce_max = reduce_max
        self.sync = inner.sync
        self.elapsed = 0.0
        self.last_host_s = self.last_enqueue_s = 0.0

    def clock(self) -> float:
        """Seconds of reduced batch time so far: the same on every rank."""
        return self.elapsed

    def time_batch(self, fn: Callable[[], object], loops: int) -> float:
        self.barrier()
        seconds = self.reduce_max(self.inner.time_batch(fn, loops))
        self.elapsed += seconds
        return seconds

    def first_call(self, fn: Callable[[], Any]) -> tuple[Any, float]:
        """One call, its output kept for verification, and its slowest rank's latency."""
        inner = self.inner
        inner.sync()
        self.barrier()
        start = inner.clock()
        output = fn()
        inner.sync()
        seconds = self.reduce_max(inner.clock() - start)
        self.elapsed += seconds
        return output, seconds
