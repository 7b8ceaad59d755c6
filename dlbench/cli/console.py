"""The one place that owns rich Consoles: data to stdout, progress and messages to stderr."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

from dlbench.errors import DlbenchError

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_FAILED_CASES, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def print_data(renderable: object) -> None:
    out.print(renderable)


def write_text(text: str) -> None:
    """Plain text (JSON, CSV, Markdown) to stdout, untouched by rich's wrapping."""
    sys.stdout.write(text)
    sys.stdout.flush()


def message(text: str, style: str = "") -> None:
    # Plain text, never markup: a reason may hold brackets ("pip install 'jax[cuda12]'").
    err.print(text, style=style, soft_wrap=True, markup=False)


def fail(text: str, code: int = EXIT_USAGE) -> typer.Exit:
    """One line on stderr and the exit to raise: line breaks inside `text` (a file name
    may hold them) are shown escaped."""
    err.print(f"error: {one_line(text)}", style="red", soft_wrap=True, markup=False)
    return typer.Exit(code)


# Every character str.splitlines() breaks a line at, and how it is shown instead.
_LINE_BREAKS = {c: repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    return text.translate(str.maketrans(_LINE_BREAKS))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the core's DlbenchError into one line and exit code 2, never a traceback."""
    try:
        yield
    except DlbenchError as exc:
        raise fail(str(exc)) from None


def interruptible(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose Ctrl-C says so in one line and exits 130: Typer would turn it into
    a silent exit 130, which a user cannot tell from any other exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threading.main_thread():
            # From here on a Ctrl-C is a KeyboardInterrupt the command may handle (run
            # saves what finished); before, __main__'s handler ended the process.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            message("interrupted", style="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper

