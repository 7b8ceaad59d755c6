"""The event timer driven by a simulated device and fake clocks: exact numbers, one wait."""

import pytest

from dlbench import measure
from dlbench.clock import FakeClock, WorkClock
from dlbench.measure import MeasureConfig, Sampler
from dlbench.timers import CaptureError, EventTimer, GraphTimer, HostEvent, HostTimer

LAUNCH = 2.0**-14  # host seconds to queue one kernel
KERNEL = 2.0**-10  # device seconds one kernel runs


class FakeDevice:
    """A stream: launches cost host time, kernels run later on the device, in order;
    an event's timestamp is when the stream reaches it."""

    def __init__(self, kernel=KERNEL, launch=LAUNCH):
        self.host = FakeClock()
        self.kernel, self.launch = kernel, launch
        self.busy_until = 0.0
        self.log = []

    def call(self):
        self.log.append("call")
        self.host.advance(self.launch)
        self.busy_until = max(self.busy_until, self.host.now) + self.kernel

    def sync(self):
        self.log.append("sync")
        self.host.now = max(self.host.now, self.busy_until)

    def flush(self):
        self.log.append("flush")
        self.busy_until = max(self.busy_until, self.host.now) + 2.0**-8

    def new_event(self):
        return FakeDeviceEvent(self)

    def capture(self, fn, calls):
        """A graph of `calls` kernels: one launch replays them all back to back."""
        self.log.append(f"capture {calls}")

        def replay():
            self.log.append("replay")
            self.host.advance(self.launch)
            self.busy_until = max(self.busy_until, self.host.now) + calls * self.kernel

        return replay


class FakeDeviceEvent:
    def __init__(self, device):
        self.device = device
        self.time = None
        self.waits = 0

    def record(self):
        self.device.log.append("record")
        self.time = max(self.device.busy_until, self.device.host.now)

    def synchronize(self):
        self.device.log.append("wait")
        self.waits += 1
        self.device.host.now = max(self.device.host.now, self.time)

    def elapsed_s(self, end):
        return end.time - self.time


def timer_for(device, flush=None):
    return EventTimer(device.new_event, clock=device.host, sync=device.sync, flush=flush)


def test_device_time_is_between_the_events_and_host_times_are_kept():
    device = FakeDevice()
    timer = timer_for(device)
    # The first kernel starts one launch after the start event, then 4 run back to back.
    assert timer.time_batch(device.call, 4) == LAUNCH + 4 * KERNEL
    # The host waited for the end event: its time covers the same span...
    assert timer.last_host_s == LAUNCH + 4 * KERNEL
    # ...but queueing the batch took only the launches: the GPU was the limit.
    assert timer.last_enqueue_s == 4 * LAUNCH
    assert timer.name == "cuda-event" and timer.reports_host_times


def test_launch_bound_batch_shows_as_enqueue_time_filling_the_window():
    device = FakeDevice(kernel=2.0**-16, launch=2.0**-12)
    timer = timer_for(device)
    elapsed = timer.time_batch(device.call, 8)
    # The stream idles between launches: the events bracket launches, not kernels, and
    # the synchronised host time cannot tell (it covers the same span).
    assert elapsed == 8 * 2.0**-12 + 2.0**-16
    assert timer.last_host_s == elapsed
    # The enqueue time can: the host queued for all but the last kernel of the window.
    assert timer.last_enqueue_s == 8 * 2.0**-12
    assert measure.launch_bound([timer.last_enqueue_s], [elapsed])


def test_a_kernel_bound_batch_is_not_launch_bound():
    device = FakeDevice(kernel=2.0**-10, launch=2.0**-14)
    timer = timer_for(device)
    elapsed = timer.time_batch(device.call, 8)
    assert not measure.launch_bound([timer.last_enqueue_s], [elapsed])
    assert timer.last_enqueue_s / elapsed < 0.1


def test_one_wait_per_sample_on_the_end_event_and_events_reused():
    device = FakeDevice()
    timer = timer_for(device)
    for _ in range(3):
        timer.time_batch(device.call, 5)
    assert timer._end.waits == 3 and timer._start.waits == 0
    assert device.log[:9] == ["sync", "record", "call", "call", "call", "call", "call",
                              "record", "wait"]
    assert device.log.count("wait") == 3


def test_cold_window_starts_behind_the_flush_without_the_hosts_dispatch():
    """A dispatch four times longer than the kernel: the flush (2^-8 s of device work)
    hides it, because the start event is queued right behind the flush with no wait in
    between (triton's do_bench); the window holds the kernel alone."""
    device = FakeDevice(kernel=2.0**-16, launch=2.0**-14)
    timer = timer_for(device, flush=device.flush)
    assert timer.time_batch(device.call, 1) == 2.0**-16
    assert device.log == ["sync", "flush", "record", "call", "record", "wait"]
    assert timer.one_call_per_sample and not timer.reports_host_times


def test_cold_window_with_a_wait_after_the_flush_would_hold_the_dispatch():
    """What the old order (flush, wait, start event) measured on the same fake device:
    the start event on an idle stream, the dispatch inside the window."""
    device = FakeDevice(kernel=2.0**-16, launch=2.0**-14)
    timer = timer_for(device)
    device.flush()
    device.sync()
    assert timer.time_batch(device.call, 1) == 2.0**-14 + 2.0**-16


def test_sampler_blocks_pair_host_times_with_event_samples():
    device = FakeDevice()
    config = MeasureConfig(warmup_time=0.0, block_warmup_time=0.0, sample_time=2.0**-8,
                           block_time=2.0**-6)
    sampler = Sampler(device.call, timer_for(device), config)
    loops = sampler.prepare()
    block = sampler.block()
    assert len(block.samples) == len(block.host_samples) >= 1
    assert block.samples[0] == (LAUNCH + loops * KERNEL) / loops == block.host_samples[0]


def test_host_events_read_the_injected_clock():
    clock = WorkClock([2.0**-10])
    timer = EventTimer(lambda: HostEvent(clock), clock=clock, name="host-event")
    assert timer.time_batch(clock.work, 3) == 3 * 2.0**-10
    assert timer.last_host_s == 3 * 2.0**-10


def test_host_timer_keeps_its_own_time_as_host_time():
    clock = WorkClock([2.0**-10])
    timer = HostTimer(clock)
    assert timer.time_batch(clock.work, 2) == timer.last_host_s == pytest.approx(2.0**-9)


def test_graph_replays_time_the_kernels_without_the_launches():
    """Launch-bound eagerly (a launch 16 times the kernel); one replay of a captured batch
    pays one launch for all of it, so its time per call is the kernel's."""
    device = FakeDevice(kernel=2.0**-16, launch=2.0**-12)
    eager = timer_for(device).time_batch(device.call, 64) / 64
    timer = GraphTimer(device.new_event, device.capture, clock=device.host, sync=device.sync)
    per_call = timer.time_batch(device.call, 64) / 64
    assert eager == pytest.approx(2.0**-12, rel=0.02)
    assert per_call == 2.0**-16 + 2.0**-12 / 64  # one launch, shared by the whole batch
    assert timer.name == "cuda-graph" and timer.last_enqueue_s == 2.0**-12


def test_each_batch_size_is_captured_once():
    device = FakeDevice()
    timer = GraphTimer(device.new_event, device.capture, clock=device.host, sync=device.sync)
    for loops in (1, 8, 8, 1, 8):
        timer.time_batch(device.call, loops)
    assert [e for e in device.log if e.startswith("capture")] == ["capture 1", "capture 8"]
    assert device.log.count("replay") == 5 and "call" not in device.log


def test_a_capture_that_fails_says_so_as_a_capture_error():
    device = FakeDevice()

    def refuse(fn, calls):
        raise RuntimeError("operation not permitted when stream is capturing")

    timer = GraphTimer(device.new_event, refuse, clock=device.host, sync=device.sync)
    with pytest.raises(CaptureError, match="RuntimeError: operation not permitted"):
        timer.time_batch(device.call, 4)
