"""`dlbench compare BASE NEW`: the regression gate; exit 1 on a real slowdown."""

from __future__ import annotations

import inspect
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dlbench import compare as core
from dlbench.cli import console, options
from dlbench.cli import output as destinations
from dlbench.cli.steps import Steps
from dlbench.report import compare as views


class Format(StrEnum):
    table = "table"
    md = "md"
    json = "json"


FORMATS = tuple(Format)

SUFFIXES = {".md": "md", ".markdown": "md", ".json": "json"}

EXAMPLES = """
[bold]Examples[/bold]

  dlbench compare base.json new.json        [dim]# table; exit 1 on a regression[/dim]
  dlbench compare base.json new.json --format md >> "$GITHUB_STEP_SUMMARY"
  dlbench compare base.json new.json --threshold 10% --thresholds limits.toml
  dlbench compare old-benchmarks.json new-benchmarks.json  [dim]# pytest-benchmark[/dim]
  dlbench compare base.json new.json -o compare.json --fail-on-inconclusive
  dlbench compare base.json new.json --relative     [dim]# a shared CI runner[/dim]

A thresholds file maps benchmark id patterns to thresholds; the last match wins:

  "*" = "5%"
  "matmul/*/float64/*" = "10%"
"""


def compare(
    base: Annotated[Path, typer.Argument(
        help="Baseline: a dlbench result file or pytest-benchmark JSON.",
        show_default=False)],
    new: Annotated[Path, typer.Argument(help="The run to judge, same kinds.",
                                        show_default=False)],
    threshold: Annotated[str, typer.Option(
        metavar="FRACTION", help="Smallest slowdown that counts as a regression: 5% or "
        "0.05.")] = "5%",
    thresholds: Annotated[Path | None, typer.Option(
        metavar="FILE",
        help="TOML or JSON file of per-benchmark thresholds: id glob pattern = threshold.")]
    = None,
    alpha: Annotated[float, typer.Option(
        metavar="P",
        help="Significance level of the Mann–Whitney U test; intervals are at 1 - alpha.")]
    = core.DEFAULT_ALPHA,
    fail_on_inconclusive: Annotated[bool, typer.Option(
        "--fail-on-inconclusive", help="Also exit 1 when an inconclusive benchmark cannot rule "
        "out a slowdown beyond its threshold (too few samples, too much noise).")] = False,
    relative: Annotated[bool, typer.Option(
        "--relative", help="Judge each benchmark against the change the whole suite shares "
        "(median of all ratios: a shared machine's drift); that shift is judged as a row of "
        "its own. Needs at least 5 benchmarks.")] = False,
    fmt: Annotated[Format | None, typer.Option(
        "--format", show_default=False, help="table (terminal), md or json. Default: from "
        "the -o suffix, else table.")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", metavar="PATH",
        help="File to write (md or json), or '-' for stdout.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file.")]
    = False,
    lang: options.LangOption = None,
) -> None:
    """Compare two runs benchmark by benchmark; exit 1 on a regression.

    Each benchmark's change comes with its interval, a significance test and a verdict.
    A regression is a slowdown beyond the threshold that is also statistically
    significant.

    Exit codes: 0 no regression · 1 regression · 2 bad input (missing or unreadable file,
    unknown schema, no benchmark in common).
    """
    with console.user_errors():
        fmt = destinations.choose_format(fmt, output, FORMATS, SUFFIXES)
        target = destinations.destination(output)
        destinations.check_targets([output], force)
        default = core.parse_threshold(threshold, "--threshold")
        overrides = core.load_thresholds(thresholds) if thresholds else ()
        with Steps() as steps:
            sources = [core.read(p, steps.reading(p)) for p in (base, new)]
            comparison = core.compare(*sources, threshold=default, alpha=alpha,
                                      overrides=overrides, relative=relative,
                                      progress=steps.step("comparing"))
        if fmt == "table":
            console.print_data(views.render_table(comparison))
        else:
            destinations.write(target, views.render_markdown(comparison) if fmt == "md"
                               else views.render_json(comparison))
            # The data went to a file or a pipe: the verdict still shows in the CI log.
            console.message(f"compare: {views.headline(comparison)}"
                            + (f" (wrote {output})" if target else ""))
    if comparison.failed(fail_on_inconclusive):
        raise typer.Exit(console.EXIT_REGRESSION)


compare.__doc__ = inspect.cleandoc(compare.__doc__ or "") + "\n" + EXAMPLES
