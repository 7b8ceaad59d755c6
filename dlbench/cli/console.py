"""The one place that owns rich Consoles: data to stdout, progress and messages to stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
    err.print(text, style=style, soft_wrap=True)


def fail(text: str, code: int = EXIT_USAGE) -> typer.Exit:
    """One line on stderr and the exit to raise."""
    err.print(f"error: {text}", style="red", soft_wrap=True, markup=False)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the core's DlbenchError into one line and exit code 2, never a traceback."""
    try:
        yield
    except DlbenchError as exc:
        raise fail(str(exc)) from None
