"""The `dlbench` command-line application (Typer): one module per command, each
registered below by name."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from dlbench import __version__
from dlbench.cli import ab, compare, console, env, history, listing, report, run

app = typer.Typer(
    name="dlbench",
    cls=console.OneLineErrors,
    help="Honest deep-learning compute benchmarks: the same workloads on NumPy, PyTorch, "
    "TensorFlow, JAX and CuPy, CPU and GPU, verified and statistically summarised. "
    "NO_COLOR=1 turns colour off; --lang ko (or DLBENCH_LANG=ko) speaks Korean.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """dlbench: why GPUs made deep learning practical, measured on your own machine."""


# Every command ends a DlbenchError in one line wherever it arises (a result file that
# cannot be written any more in the middle of a run, too), and a Ctrl-C in one line.
for name, command in (("run", run.run), ("list", listing.list_command), ("env", env.env),
                      ("report", report.report), ("compare", compare.compare),
                      ("history", history.history_command), ("ab", ab.ab)):
    command.__doc__ = console.help_text(command.__doc__)
    app.command(name, cls=console.Command, **(ab.SETTINGS if command is ab.ab else {}))(
        console.interruptible(console.user_errors()(command)))


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        if exc.code != console.EXIT_INTERRUPTED:
            raise
        # CPython marks a KeyboardInterrupt that passed through exec() (dataclass and
        # pydantic imports run exec) as unhandled, and at exit kills the process with
        # SIGINT even though it was handled: leave with 130 before that can happen.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(console.EXIT_INTERRUPTED)
