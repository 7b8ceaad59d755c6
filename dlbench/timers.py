"""Timers: how one batch of calls is timed, on the host clock or by device events.

The engine (measure.py) asks a timer for one thing: the seconds a batch of `loops`
back-to-back calls took. `HostTimer` reads the host clock, synchronising the device
before each read. `EventTimer` records events in stream order around the batch and
keeps the host time of the same batch beside the device time. Why this shape
(the usual pitfalls of timing a GPU, and how the reference tools avoid them):

* **Events, one wait per sample.** A sample records a start event on the current
  stream, queues the calibrated batch of `inner_loops` calls, records an end event
  and waits once, on the end event (P1: timing an async launch measures only the
  launch). The device time between the two events is the sample — the practice of
  cupyx.profiler.benchmark (records then synchronizes end events) and
  triton.testing.do_bench (events around the work, one sync), amortised over a
  batch as torch's blocked_autorange does (P2: no per-call sync inflating small
  kernels).
* **What the host did, kept beside it.** Two host figures come with each device
  sample: the *enqueue* time (from just before the start event to just after the end
  event is recorded: what queueing the batch cost the host) and the synchronised host
  time (to the end of the wait: what a user feels). When the enqueue time is most of
  the device window, the GPU was waiting on the host — Python, wrappers, dispatch —
  and the case is launch-bound (P3, P13); the device time of such a case is the
  launch rate, not the kernel's. A kernel-bound batch is queued long before it ends.
* **Cold L2 without the host in the window.** For a "cold" measurement a flush (a
  write of about twice the L2 size) is queued and the start event right behind it,
  with no wait in between: the GPU runs the flush while the host dispatches the
  kernel, so the window opens when the flush ends and holds the kernel, not the
  dispatch (triton.testing.do_bench does this; nvbench blocks the stream with a spin
  kernel for the same reason). Waiting after the flush instead would start the window
  on an idle GPU and put the host's dispatch into every sample (measured on an H200:
  31 µs for a 12 µs kernel). The host figures of a cold sample hold the flush's tail,
  so none are kept (P4).

Only events differ between devices: `HostEvent` reads a clock (tests drive it with
FakeClock and assert exact numbers); each GPU backend wraps its own library's event
in `LibraryEvent`, beside the backend. Everything here runs on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any, Protocol

from dlbench.clock import Clock, perf_clock


def no_sync() -> None:
    """A CPU has no queued work to wait for."""


class Timer(Protocol):
    """What the engine needs of a timer."""

    name: str
    clock: Clock
    sync: Callable[[], None]
    # True when `time_batch` returns device time and `last_host_s` / `last_enqueue_s` are
    # host figures of the same batch worth keeping beside it.
    reports_host_times: bool
    # True when every sample must be one call (a cold cache is cold for one call only).
    one_call_per_sample: bool
    last_host_s: float
    last_enqueue_s: float

    def time_batch(self, fn: Callable[[], object], loops: int) -> float: ...


class HostTimer:
    """Times a batch of calls with a host clock, synchronising the device before each read."""

    name = "host"
    reports_host_times = False
    one_call_per_sample = False

    def __init__(self, clock: Clock = perf_clock, sync: Callable[[], None] = no_sync) -> None:
        self.clock = clock
        self.sync = sync
        # The host time of the last batch: the sample itself here (a CPU queues nothing).
        self.last_host_s = self.last_enqueue_s = 0.0

    def time_batch(self, fn: Callable[[], object], loops: int) -> float:
        """Seconds for `loops` back-to-back calls of fn."""
        sync, clock = self.sync, self.clock
        sync()
        start = clock()
        for _ in repeat(None, loops):
            fn()
        sync()
        self.last_host_s = self.last_enqueue_s = elapsed = clock() - start
        return elapsed


class Event(Protocol):
    """A timestamp recorded in stream order."""

    def record(self) -> None: ...

    def synchronize(self) -> None: ...

    def elapsed_s(self, end: Any) -> float: ...


class HostEvent:
    """An event whose timestamp is a host clock read: the CPU stand-in for a CUDA event."""

    def __init__(self, clock: Clock = perf_clock) -> None:
        self.clock = clock
        self.time: float | None = None

    def record(self) -> None:
        self.time = self.clock()

    def synchronize(self) -> None:
        """Host work is done when the call returns: nothing to wait for."""

    def elapsed_s(self, end: HostEvent) -> float:
        assert self.time is not None and end.time is not None
        return end.time - self.time


class LibraryEvent:
    """A GPU library's timing event (torch.cuda.Event, cupy.cuda.Event) behind `Event`:
    both record on the current stream and wait alike; only reading the elapsed
    milliseconds differs, so the backend passes that function in."""

    def __init__(self, event: Any, elapsed_ms: Callable[[Any, Any], float]) -> None:
        self.event = event
        self.elapsed_ms = elapsed_ms

    def record(self) -> None:
        self.event.record()  # on the current stream

    def synchronize(self) -> None:
        self.event.synchronize()

    def elapsed_s(self, end: LibraryEvent) -> float:
        return self.elapsed_ms(self.event, end.event) * 1e-3


class EventTimer:
    """Times a batch by events on the current stream; keeps the host's enqueue time and
    synchronised time of the same batch beside it (hot cache only)."""

    def __init__(self, new_event: Callable[[], Event], clock: Clock = perf_clock,
                 sync: Callable[[], None] = no_sync, flush: Callable[[], None] | None = None,
                 name: str = "cuda-event") -> None:
        self.clock = clock
        self.sync = sync
        self.flush = flush
        self.name = name
        self.last_host_s = self.last_enqueue_s = 0.0
        # Cold: every sample is one call after its own L2 flush, as nvbench's cold
        # measurement; a batch would leave all calls but the first hot.
        self.one_call_per_sample = flush is not None
        self.reports_host_times = flush is None
        # Two events reused for every sample: creating events per sample costs host time
        # (cupyx creates them once per benchmark call too).
        self._start = new_event()
        self._end = new_event()

    def time_batch(self, fn: Callable[[], object], loops: int) -> float:
        """Device seconds for `loops` back-to-back calls; the host's in `last_enqueue_s`
        (queueing the batch) and `last_host_s` (up to the end of the wait)."""
        # Drain queued work (a previous case, the last sample) so the window starts on a
        # stream with nothing of ours ahead of it; not counted, like triton's sync.
        self.sync()
        if self.flush is not None:
            self.flush()  # the start event goes right behind it: see the module docstring
        clock, start, end = self.clock, self._start, self._end
        host_start = clock()
        start.record()
        for _ in repeat(None, loops):
            fn()
        end.record()
        self.last_enqueue_s = clock() - host_start
        end.synchronize()  # the one wait per sample (cupyx: synchronize end events)
        self.last_host_s = clock() - host_start
        return start.elapsed_s(end)


class CaptureError(Exception):
    """The kernel could not be recorded into a CUDA graph (a host sync, a pageable copy,
    an allocation the capture forbids); the message is the library's."""


class GraphTimer(EventTimer):
    """Times replays of a CUDA graph that holds the whole batch: the kernels without the
    host's launches in between (triton.testing.do_bench_cudagraph's method).

    A batch of `loops` calls is captured once, on first use, and each sample is one
    replay between the events: one host launch for all of them. Calibration and warm-up
    ask for a few batch sizes; each is captured once and kept.
    """

    def __init__(self, new_event: Callable[[], Event],
                 capture: Callable[[Callable[[], object], int], Callable[[], object]],
                 clock: Clock = perf_clock, sync: Callable[[], None] = no_sync,
                 flush: Callable[[], None] | None = None, name: str = "cuda-graph") -> None:
        super().__init__(new_event, clock, sync, flush, name)
        self.capture = capture
        self._replays: dict[int, Callable[[], object]] = {}

    def time_batch(self, fn: Callable[[], object], loops: int) -> float:
        replay = self._replays.get(loops)
        if replay is None:
            try:
                replay = self.capture(fn, loops)
            except Exception as exc:
                raise CaptureError(f"{type(exc).__name__}: {exc}") from exc
            self._replays[loops] = replay
        return super().time_batch(replay, 1)
