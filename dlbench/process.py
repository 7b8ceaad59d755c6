"""A spawned child process that runs module-level functions on request, over a pipe.

Each backend's worker lives in one of these (DESIGN.md: one process per backend,
spawned, never forked after CUDA initialisation). The parent sends a function and its
arguments, the child answers with the return value, or with the message of what it
raised. A child that dies (segfault, OOM killer, SIGKILL) closes its end of the pipe:
the parent's read fails at once, and because this object owns the process, it reads
the exit status itself instead of racing a pool's housekeeping thread for it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Callable
from typing import Any

# How long to wait for a dead or stopping child's exit status.
EXIT_STATUS_WAIT_S = 5.0


class WorkerCrashed(Exception):
    """The child process died; the message says how."""


class WorkerError(Exception):
    """The called function raised in the child; the message is the exception's."""


def serve(conn: Any) -> None:
    """The child's loop: call what arrives, send back ("returned", value) or ("raised",
    message), until the parent sends None or goes away."""
    # Ctrl-C is the parent's to handle; it stops the children itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, args = message
        try:
            reply = ("returned", fn(*args))
        except Exception as exc:
            reply = ("raised", str(exc) or type(exc).__name__)
        try:
            conn.send(reply)
        except Exception as exc:  # a return value that cannot be pickled
            conn.send(("raised", f"{type(exc).__name__}: {exc}"))


class WorkerProcess:
    """One spawned child serving calls; `label` names it in messages."""

    def __init__(self, label: str) -> None:
        self.label = label
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=serve, args=(child,), name=f"dlbench-{label}",
                                    daemon=True)
        self._process.start()
        child.close()  # the child's end lives in the child only: its death closes the pipe

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def send(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start a call without waiting (so that several children work at once)."""
        try:
            self._conn.send((fn, args))
        except (BrokenPipeError, EOFError, ConnectionResetError):
            raise WorkerCrashed(self._death()) from None

    def receive(self) -> Any:
        """The answer to the call sent last: its value, or WorkerError / WorkerCrashed."""
        try:
            kind, value = self._conn.recv()
        except (EOFError, ConnectionResetError):
            raise WorkerCrashed(self._death()) from None
        if kind == "raised":
            raise WorkerError(value)
        return value

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.send(fn, *args)
        return self.receive()

    def stop(self, kill: bool = False) -> None:
        """Ask the child to finish (or kill it), and wait for it to be gone."""
        if not kill and self._process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._process.join(EXIT_STATUS_WAIT_S)
        if self._process.is_alive():
            self._process.kill()
        self._process.join(EXIT_STATUS_WAIT_S)
        self._conn.close()

    def _death(self) -> str:
        self._process.join(EXIT_STATUS_WAIT_S)
        code = self._process.exitcode
        if code is None:
            how = "exit status unknown"
        elif code >= 0:
            how = f"exit code {code}"
        else:
            how = f"killed by signal {-code}"
        return f"the {self.label} worker process (pid {self.pid}) died ({how})"
