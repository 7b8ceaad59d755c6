"""`dlbench ab A B [run options]`: one selection measured in two environments in one run,
and B judged against A case by case; exit 1 when B regressed.

It is `dlbench run` with two sides: every option of `run` that selects and measures
means here what it means there (it is parsed by `run`'s own parser, and `run` does the
measuring; cli/gate.py's AbRun is the difference), so the two commands cannot drift
apart.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from dlbench.cli import console, options
from dlbench.cli import run as run_command
from dlbench.cli.gate import AB_KEY, AbRun
from dlbench.errors import UsageError
from dlbench.i18n import _
from dlbench.results import SIDES
from dlbench.sides import Side, interpreter, parse_env

EXAMPLES = """
[bold]Examples[/bold]

  dlbench ab ../venv-old ../venv-new --backend torch --suite ci  [dim]# two torch versions[/dim]
  dlbench ab --env-b TF_ENABLE_ONEDNN_OPTS=0 --backend tensorflow
  dlbench ab --env-a OMP_NUM_THREADS=2 --env-b OMP_NUM_THREADS=1 --workload matmul
  dlbench ab /usr/bin/python3 .venv/bin/python --summary comment.md -o ab.json
  dlbench compare ab.json                   [dim]# judge a saved A/B run again[/dim]
"""

# The run's parser, with `run` alone on it: the options after A and B are its options.
_RUN = typer.Typer(add_completion=False)
_RUN.command()(run_command.run)


def ab(
    ctx: typer.Context,
    env_a: Annotated[list[str] | None, typer.Option(
        "--env-a", metavar="KEY=VALUE", help="A variable set for side A's workers; may be "
        "given more than once.")] = None,
    env_b: Annotated[list[str] | None, typer.Option(
        "--env-b", metavar="KEY=VALUE", help="A variable set for side B's workers; may be "
        "given more than once.")] = None,
    fail_on_inconclusive: Annotated[bool, typer.Option(
        "--fail-on-inconclusive", help="Also exit 1 when an inconclusive case cannot rule "
        "out a slowdown beyond its threshold.")] = False,
    lang: options.LangOption = None,
) -> None:
    """Measure a selection in two environments in one run, and judge B against A.

    A and B are Python interpreters (or virtual environments' folders): two library
    versions, say. Without them both sides run this interpreter, and --env-a/--env-b set
    what differs. Each side runs its own worker processes with the dlbench of this
    checkout and its own libraries; rounds of A and B alternate in one run, so the
    machine's drift cancels, and each case gets B/A from rounds paired in time, with its
    interval and a verdict. Both environments are recorded in the one result file, which
    `report` and `compare` read.

    RUN OPTIONS: every option of `dlbench run` that selects and measures (--suite,
    --backend, --workload, --size, --threads, --rounds, --repeat, -o, --no-save,
    --format, ...), and its gate's --threshold, --thresholds and --summary.

    Exit codes: 0 no regression · 1 B regressed beyond the threshold · 2 bad usage, or a
    side that cannot run dlbench's worker or a requested backend (one line, before any
    measuring) · 3 a case was wrong or errored · 130 interrupted (what finished is saved).
    """
    with console.user_errors():
        command = typer.main.get_command(_RUN)
        run_ctx = command.make_context(ctx.info_name, list(ctx.args), parent=ctx.parent,
                                       allow_extra_args=True)
        request = AbRun(_sides(run_ctx.args, parse_env(env_a, "--env-a"),
                               parse_env(env_b, "--env-b")), fail_on_inconclusive)
    run_ctx.meta[AB_KEY] = request
    with run_ctx:
        assert command.callback is not None
        run_ctx.invoke(command.callback, **run_ctx.params)


def _sides(pythons: list[str], env_a: dict[str, str], env_b: dict[str, str]
           ) -> tuple[Side, Side]:
    """A and B from the interpreters given (two, or none: this one twice) and the
    variables of each; identical sides are an A/A run, which is allowed (a calibration)."""
    if len(pythons) not in (0, 2):
        raise UsageError(_("give two interpreters A and B, or none (both sides then run "
                           "this one, differing by --env-a/--env-b); got {args}").format(
                               args=" ".join(pythons)))
    given = pythons or [None, None]
    first, second = SIDES
    return (Side(first, interpreter(given[0], first), env_a),
            Side(second, interpreter(given[1], second), env_b))


ab.__doc__ = inspect.cleandoc(ab.__doc__ or "") + "\n" + EXAMPLES
# The options after A and B are `run`'s, parsed by it: this command keeps what it does
# not know.
SETTINGS = {"context_settings": {"allow_extra_args": True, "ignore_unknown_options": True},
            "options_metavar": "[A B] [OPTIONS] [RUN OPTIONS]"}
