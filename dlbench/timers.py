"""Device-side timing: events recorded around a batch on the current stream, plus host time.

Why this shape (FIELD.md §2):

* **Events, one wait per sample.** A sample records a start event on the current
  stream, queues the calibrated batch of `inner_loops` calls, records an end event
  and waits once, on the end event (P1: timing an async launch measures only the
  launch). The device time between the two events is the sample — the practice of
  cupyx.profiler.benchmark (records then synchronizes end events) and
  triton.testing.do_bench (events around the work, one sync), amortised over a
  batch as torch's blocked_autorange does (P2: no per-call sync inflating small
  kernels).
* **Host time of the same batch, kept beside it.** The wall time from before the
  start event to after the wait is what a user feels; it is stored with the event
  time (cupyx reports both) so a launch-bound case, where the two disagree, can be
  seen (P3, P13).
* **Cold L2 outside the window.** For a "cold" measurement a flush (a write of
  about twice the L2 size) runs before the start event and is waited for, so it is
  never inside the timed window nor in the host time (P4; nvbench flushes per cold
  sample, triton zeroes a buffer before each call).

Only `Event` implementations differ between devices: `HostEvent` reads a clock
(tests drive it with FakeClock and assert exact numbers), `CudaEvents` binds
torch.cuda.Event / cupy.cuda.Event in a few lines. Everything else here runs on CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any, Protocol

from dlbench.clock import Clock, perf_clock


class Event(Protocol):
    """A timestamp recorded in stream order."""

    def record(self) -> None: ...

    def synchronize(self) -> None: ...

    def elapsed_s(self, end: Event) -> float: ...


class HostEvent:
    """An event whose timestamp is a host clock read: the CPU stand-in for a CUDA event."""

    def __init__(self, clock: Clock = perf_clock) -> None:
        self.clock = clock
        self.time: float | None = None

    def record(self) -> None:
        self.time = self.clock()

    def synchronize(self) -> None:
        """Host work is done when the call returns: nothing to wait for."""

    def elapsed_s(self, end: Event) -> float:
        assert isinstance(end, HostEvent) and self.time is not None and end.time is not None
        return end.time - self.time


class CudaEvents:
    """torch.cuda.Event or cupy.cuda.Event behind the Event protocol (GPU only, thin)."""

    def __init__(self, library: str) -> None:
        self.library = library

    def __call__(self) -> Event:
        if self.library == "torch":
            import torch

            return _TorchEvent(torch.cuda.Event(enable_timing=True))
        import cupy

        return _CupyEvent(cupy.cuda.Event())


class _TorchEvent:
    def __init__(self, event: Any) -> None:
        self.event = event

    def record(self) -> None:
        self.event.record()  # on the current stream

    def synchronize(self) -> None:
        self.event.synchronize()

    def elapsed_s(self, end: Event) -> float:
        return self.event.elapsed_time(end.event) * 1e-3  # type: ignore[attr-defined]


class _CupyEvent:
    def __init__(self, event: Any) -> None:
        self.event = event

    def record(self) -> None:
        self.event.record()  # on the current stream

    def synchronize(self) -> None:
        self.event.synchronize()

    def elapsed_s(self, end: Event) -> float:
        import cupy

        return cupy.cuda.get_elapsed_time(self.event, end.event) * 1e-3  # type: ignore


def _no_sync() -> None:
    return None


class EventTimer:
    """Times a batch by events on the current stream; keeps the host time of the same batch.

    Same interface as measure.HostTimer (`clock`, `time_batch`, `last_host_s`), so the
    engine's warm-up, calibration and sampling use it unchanged.
    """

    def __init__(self, new_event: Callable[[], Event], clock: Clock = perf_clock,
                 sync: Callable[[], None] = _no_sync, flush: Callable[[], None] | None = None,
                 name: str = "cuda-event") -> None:
        self.new_event = new_event
        self.clock = clock
        self.sync = sync
        self.flush = flush
        self.name = name
        self.last_host_s = 0.0
        # Two events reused for every sample: creating events per sample costs host time
        # (cupyx creates them once per benchmark call too).
        self._start = new_event()
        self._end = new_event()

    def time_batch(self, fn: Callable[[], object], loops: int) -> float:
        """Device seconds for `loops` back-to-back calls; host seconds in `last_host_s`."""
        if self.flush is not None:
            self.flush()  # queued before the start event: outside the window (P4)
        # Drain queued work (a flush, a previous case) so that neither the host time nor
        # the start event waits behind it; not counted, like triton's sync before timing.
        self.sync()
        clock, start, end = self.clock, self._start, self._end
        host_start = clock()
        start.record()
        for _ in repeat(None, loops):
            fn()
        end.record()
        end.synchronize()  # the one wait per sample (cupyx: synchronize end events)
        self.last_host_s = clock() - host_start
        return start.elapsed_s(end)
