"""The one place that owns rich Consoles: data to stdout, progress and messages to stderr."""

from __future__ import annotations

import functools
import inspect
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from dlbench.errors import DlbenchError
from dlbench.i18n import _

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


def note(text: str) -> None:
    message(_("note: {text}").format(text=text), style="yellow")


def fail(text: str, code: int = EXIT_USAGE) -> typer.Exit:
    """One line on stderr and the exit to raise: line breaks inside `text` (a file name
    may hold them) are shown escaped."""
    err.print(_("error: {message}").format(message=one_line(text)), style="red",
              soft_wrap=True, markup=False)
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
            message(_("interrupted"), style="yellow")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper



def help_text(doc: str | None) -> str:
    """A command's docstring as its --help shows it: each prose paragraph on one line
    (rich wraps it to the terminal), indented example lines kept as they are. Typer's
    rich mode keeps a docstring's line breaks, which then show mid-sentence."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(p if p.startswith("  ") else " ".join(line.strip() for line in p.split("\n"))
                       for p in paragraphs)


class _PlainFlags:
    """Flags (--help, --quiet, completion's) shown as the flags they are, without a
    `<bool>` type beside them."""

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_PlainFlags, TyperCommand):
    """Every dlbench command."""


class OneLineErrors(_PlainFlags, TyperGroup):
    """The app's command group: Click's own usage errors (an unknown option, a value
    that is not among an option's choices, a missing argument) end in one line and exit
    2, as dlbench's do, with the command's --help named instead of the usage panel."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as exc:
            # `dlbench` alone prints the help (as it builds the error) and exits 2.
            if type(exc).__name__ != "NoArgsIsHelpError":
                context = getattr(exc, "ctx", None)
                hint = f" ({context.command_path} --help)" if context is not None else ""
                # Typer words a bad choice "Invalid value for '--x': Value error, ...".
                fail(exc.format_message().replace(": Value error, ", ": ") + hint)
            sys.exit(exc.exit_code)
        except typer.Abort:
            message(_("interrupted"), style="yellow")
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)
