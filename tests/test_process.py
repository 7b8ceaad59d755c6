"""The worker process wrapper: calls over the pipe, errors as messages, deaths with their
exit status (a child of its own, so the status is never lost to a pool's thread)."""

import math
import os
import signal
import threading

import pytest

from dlbench.process import WorkerCrashed, WorkerError, WorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def child():
    process = WorkerProcess("test-cpu")
    yield process
    process.stop(kill=True)


def test_calls_run_in_the_child_and_return_their_value(child):
    assert child.call(os.getpid) == child.pid != os.getpid()
    assert child.call(math.fsum, [0.1] * 10) == 1.0


def test_sends_can_overlap_and_answers_come_in_order(child):
    other = WorkerProcess("other-cpu")
    try:
        child.send(os.getpid)
        other.send(os.getpid)
        assert (child.receive(), other.receive()) == (child.pid, other.pid)
    finally:
        other.stop()


def test_an_exception_in_the_child_is_its_message_and_the_child_lives_on(child):
    with pytest.raises(WorkerError, match="invalid literal for int"):
        child.call(int, "not a number")
    with pytest.raises(WorkerError, match="cannot pickle"):
        child.call(threading.Lock)  # a value that cannot travel back
    assert child.call(os.getpid) == child.pid


def test_a_killed_child_is_a_crash_with_its_signal(child):
    pid = child.pid
    with pytest.raises(WorkerCrashed) as crash:
        child.call(os.kill, pid, signal.SIGKILL)
    assert str(crash.value) == (f"the test-cpu worker process (pid {pid}) died "
                                f"(killed by signal {signal.SIGKILL.value})")
    with pytest.raises(WorkerCrashed):
        child.call(os.getpid)


def test_an_exiting_child_reports_its_exit_code(child):
    with pytest.raises(WorkerCrashed, match=r"died \(exit code 7\)"):
        child.call(os._exit, 7)


def test_stop_ends_the_child_and_reaps_it(child):
    pid = child.pid
    child.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and no zombie left behind
