"""`dlbench compare BASE NEW [NEW...]`: the regression gate; exit 1 on a real slowdown."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dlbench import compare as core
from dlbench import results
from dlbench.cli import console, options
from dlbench.cli import output as destinations
from dlbench.cli.steps import Steps
from dlbench.compare import paired
from dlbench.errors import UsageError
from dlbench.report import compare as views


class Format(StrEnum):
    table = "table"
    md = "md"
    summary = "summary"
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
  dlbench compare base.json new.json --format summary > comment.md  [dim]# for the PR[/dim]
  dlbench compare base.json new.json --only-changed
  dlbench compare base.json torch-2.12.json torch-2.13.json  [dim]# each against BASE[/dim]
  dlbench compare ab.json                   [dim]# an A/B run: B against A[/dim]

A thresholds file maps benchmark id patterns to thresholds; the last match wins:

  "*" = "5%"
  "matmul/*/float64/*" = "10%"
"""


def compare(
    base: Annotated[Path, typer.Argument(
        help="Baseline: a dlbench result file or pytest-benchmark JSON.",
        show_default=False)],
    new: Annotated[list[Path] | None, typer.Argument(
        help="The run to judge, same kinds; several are each judged against BASE. Left "
        "out, BASE is an A/B run's file (`dlbench ab`), and its side B is judged against "
        "its side A.", show_default=False)] = None,
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
    only_changed: Annotated[bool, typer.Option(
        "--only-changed", help="Leave out the benchmarks judged unchanged.")] = False,
    fmt: Annotated[Format | None, typer.Option(
        "--format", show_default=False, help="table (terminal), md, summary (Markdown for a "
        "pull-request comment: the verdict, the changed rows, the rest folded away) or json. "
        "Default: from "
        "the -o suffix, else table.")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", metavar="PATH",
        help="File to write (md or json), or '-' for stdout.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file.")]
    = False,
    lang: options.LangOption = None,
) -> None:
    """Compare runs benchmark by benchmark; exit 1 on a regression.

    Each benchmark's change comes with its interval, a significance test and a verdict.
    A regression is a slowdown beyond the threshold that is also statistically
    significant. Several NEW files are each compared with BASE (as pyperf's compare_to),
    side by side. BASE alone is an A/B run's file (`dlbench ab`): its side B is judged
    against its side A, round by round.

    Exit codes: 0 no regression · 1 regression (in any NEW) · 2 bad input (missing or
    unreadable file, unknown schema, no benchmark in common).
    """
    with console.user_errors():
        fmt = destinations.choose_format(fmt, output, FORMATS, SUFFIXES)
        target = destinations.destination(output)
        destinations.check_targets([output], force)
        judge = Judge(core.parse_threshold(threshold, "--threshold"),
                      core.load_thresholds(thresholds) if thresholds else (), alpha, relative)
        with Steps() as steps:
            if not new:
                comparisons = [judge.sides(results.load(base, steps.reading(base)), str(base))]
            else:
                baseline = core.read(base, steps.reading(base))
                comparisons = [judge(baseline, core.read(p, steps.reading(p)), steps.step(
                    "comparing" if len(new) == 1 else f"comparing {p}")) for p in new]
        shown = [views.only_changed(c) if only_changed else c for c in comparisons]
        if fmt == "table":
            console.print_data(views.render_table(shown[0]) if len(shown) == 1
                               else views.render_many_table(shown))
        else:
            destinations.write(target, render(fmt, comparisons, shown, fail_on_inconclusive))
            # The data went to a file or a pipe: the verdict still shows in the CI log.
            for c in comparisons:
                which = f"{c.new}: " if len(comparisons) > 1 else ""
                console.message(f"compare: {which}{views.headline(c)}"
                                + (f" (wrote {output})" if target else ""))
    if any(c.failed(fail_on_inconclusive) for c in comparisons):
        raise typer.Exit(console.EXIT_REGRESSION)


@dataclass(frozen=True)
class Judge:
    """How each NEW is judged against BASE: the options of `compare` (and of `run
    --compare`), applied alike to every file."""

    threshold: float = core.DEFAULT_THRESHOLD
    overrides: tuple[tuple[str, float], ...] = ()
    alpha: float = core.DEFAULT_ALPHA
    relative: bool = False

    def __call__(self, base: core.Source, new: core.Source,
                 progress: Callable[[int, int], None] | None = None) -> core.Comparison:
        return core.compare(base, new, threshold=self.threshold, alpha=self.alpha,
                            overrides=self.overrides, relative=self.relative,
                            progress=progress)

    def sides(self, doc: results.RunDocument, path: str) -> core.Comparison:
        """An A/B run's side B judged against its side A (`dlbench ab`), paired by pass."""
        if self.relative:
            raise UsageError("--relative needs BASE and NEW files; an A/B run's sides are "
                             "paired round by round, so the machine's drift cancels already")
        return paired.judge_sides(doc, path, self.threshold, self.alpha, self.overrides)


def render(fmt: str, comparisons: list[core.Comparison], shown: list[core.Comparison],
           fail_on_inconclusive: bool) -> str:
    """The text of md, summary or json: one comparison's own, or each NEW's side by side.
    The summary folds unchanged rows away itself, so it takes them all."""
    one = len(comparisons) == 1
    if fmt == "summary":
        return views.render_summary(comparisons[0], fail_on_inconclusive) if one \
            else views.render_many_summary(comparisons, fail_on_inconclusive)
    if fmt == "md":
        return views.render_markdown(shown[0]) if one else views.render_many_markdown(shown)
    return views.render_json(shown[0]) if one else views.render_many_json(shown)


compare.__doc__ = inspect.cleandoc(compare.__doc__ or "") + "\n" + EXAMPLES
