"""The `dlbench` command-line application (Typer): one module per command, each
registered below by name."""

from __future__ import annotations

from typing import Annotated

import typer

from dlbench import __version__
from dlbench.cli import compare, env, listing, report, run

app = typer.Typer(
    name="dlbench",
    help="Honest deep-learning compute benchmarks: the same workloads on NumPy, CuPy and "
    "PyTorch, CPU and GPU, verified and statistically summarised.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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

app.command("run")(run.run)
app.command("list")(listing.list_command)
app.command("env")(env.env)
app.command("report")(report.report)
app.command("compare")(compare.compare)


def main() -> None:
    app()
