"""Clocks: the protocol measure() depends on, the real one, and fakes for tests.

The engine never calls time functions directly; it is handed a Clock. That lets the
tests drive calibration and the stopping rule with exactly known durations
(pyperf and pytest-benchmark test their engines the same way).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol


class Clock(Protocol):
    """Monotonic time in seconds."""

    def __call__(self) -> float: ...


def perf_clock() -> float:
    """The host clock: perf_counter_ns, converted once to float seconds."""
    return time.perf_counter_ns() * 1e-9


class FakeClock:
    """Advances by `step` seconds on every read, or by what `advance()` adds.

    A callable under test can call `advance(seconds)` to simulate work of a known
    duration, so the engine sees exactly that time pass.
    """

    def __init__(self, start: float = 0.0, step: float = 0.0) -> None:
        self.now = start
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        value = self.now
        self.now += self.step
        return value

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WorkClock(FakeClock):
    """A fake clock plus a fake kernel: each `work()` call costs the next scripted duration.

    `durations` is consumed one per call (a list repeats its last value); it may be an
    iterator to model noise (e.g. a seeded generator).
    """

    def __init__(self, durations: Iterable[float] | Callable[[], float]) -> None:
        super().__init__()
        if callable(durations):
            self._next: Callable[[], float] = durations
        else:
            self._next = _repeat_last(iter(durations)).__next__
        self.calls = 0

    def work(self) -> None:
        self.calls += 1
        self.advance(self._next())


def _repeat_last(values: Iterator[float]) -> Iterator[float]:
    last = None
    for last in values:
        yield last
    if last is None:
        raise ValueError("WorkClock needs at least one duration")
    while True:
        yield last
