"""A child process that runs module-level functions on request, over a pair of pipes.

Each backend's worker lives in one of these (docs/methodology.md: one process per
backend, started fresh, never forked after CUDA initialisation). The parent sends a function and
its arguments, the child answers with the return value, or with the message of what it
raised. Why a plain `python -m dlbench.process` child rather than multiprocessing's
spawn:

* **It starts clean.** spawn re-imports the parent's main module (the CLI: typer, rich)
  before the child can ignore Ctrl-C, so a Ctrl-C during start-up printed a worker's
  traceback; and it starts a resource-tracker process that outlives a killed parent.
  This child imports this module alone, ignores SIGINT first, and runs in a process
  group of its own, so a terminal's Ctrl-C reaches only the parent, which stops the
  children itself.
* **It dies with its parent.** On Linux the child asks the kernel for SIGKILL when its
  parent dies (PR_SET_PDEATHSIG), and checks the parent is still the one that started
  it; so a parent killed by SIGKILL, a CI timeout or the OOM killer leaves no worker
  holding the run's output open (`dlbench run | tee log` then ends).
* **Its death is read reliably.** A dead child closes its pipe: the parent's read fails
  at once, and as the child's only parent it reads the exit status itself.
* **Its stdout is the parent's stderr**, so a library that prints cannot corrupt
  `dlbench run --format json` on stdout.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

# How long to wait for a stopping child's exit status.
EXIT_STATUS_WAIT_S = 5.0
# Linux's prctl option: the signal the kernel sends a process when its parent dies.
PR_SET_PDEATHSIG = 1
# The package's parent folder: the child imports this very dlbench, whatever its cwd.
PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class WorkerCrashed(Exception):
    """The child process died; the message says how."""


class WorkerError(Exception):
    """The called function raised in the child; the message is the exception's."""


def write_message(stream: IO[bytes], message: Any) -> None:
    """One pickled message, length first, so the reader knows where it ends."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def read_message(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other side is gone."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the pipe closed")
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the pipe closed mid-message")
    return pickle.loads(data)


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child's environment: this one with `extra` on top, and this dlbench first on
    its path, so that another interpreter (a second virtual environment) runs the same
    dlbench code with its own libraries."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


class WorkerProcess:
    """One child serving calls; `label` names it in messages. It runs `python` (this
    interpreter by default) with `env` on top of this process's environment."""

    def __init__(self, label: str, python: str | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.label = label
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self._process = subprocess.Popen(
            [python or sys.executable, "-m", "dlbench.process", str(to_child_r),
             str(from_child_w), str(os.getpid())],
            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else None,
            env=child_environment(env), start_new_session=True)
        # The child's ends live in the child only: its death then closes the pipes.
        os.close(to_child_r)
        os.close(from_child_w)
        self._to_child = os.fdopen(to_child_w, "wb")
        self._from_child = os.fdopen(from_child_r, "rb")

    @property
    def pid(self) -> int:
        return self._process.pid

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start a call without waiting (so that several children work at once)."""
        try:
            write_message(self._to_child, (fn, args))
        except (BrokenPipeError, ValueError):  # ValueError: the pipe was closed here
            raise WorkerCrashed(self._death()) from None

    def receive(self) -> Any:
        """The answer to the call sent last: its value, or WorkerError / WorkerCrashed."""
        try:
            kind, value = read_message(self._from_child)
        except (EOFError, ValueError, OSError):
            raise WorkerCrashed(self._death()) from None
        if kind == "raised":
            raise WorkerError(value)
        return value

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.send(fn, *args)
        return self.receive()

    def stop(self, kill: bool = False) -> None:
        """Ask the child to finish (or kill it), and wait for it to be gone."""
        if not kill and self._process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                write_message(self._to_child, None)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(EXIT_STATUS_WAIT_S)
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                stream.close()

    def _death(self) -> str:
        try:
            code = self._process.wait(EXIT_STATUS_WAIT_S)
            how = (f"exit code {code}" if code >= 0 else f"killed by signal {-code}")
        except subprocess.TimeoutExpired:
            how = "exit status unknown"
        return f"the {self.label} worker process (pid {self.pid}) died ({how})"


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):  # pytest's capture, a StringIO
        return False


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL from the kernel when the parent dies (Linux); and if it already has, now."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # died before the request took effect
        os._exit(1)


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The child's loop: call what arrives, answer ("returned", value) or ("raised",
    message), until the parent sends None or goes away."""
    while True:
        try:
            message = read_message(requests)
        except EOFError:
            return
        if message is None:
            return
        fn, args = message
        try:
            reply = ("returned", fn(*args))
        except Exception as exc:
            reply = ("raised", str(exc) or type(exc).__name__)
        try:
            write_message(replies, reply)
        except (BrokenPipeError, OSError):
            return  # the parent is gone
        except Exception as exc:  # a return value that cannot be pickled
            write_message(replies, ("raised", f"{type(exc).__name__}: {exc}"))


def main(argv: list[str]) -> None:
    # Ctrl-C is the parent's to handle; it stops the children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests_fd, replies_fd, parent_pid = (int(a) for a in argv)
    die_with_parent(parent_pid)
    with os.fdopen(requests_fd, "rb") as requests, os.fdopen(replies_fd, "wb") as replies:
        serve(requests, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
