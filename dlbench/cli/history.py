"""`dlbench history DIR | FILES...`: results over time, change points, trend charts; exit 1
when the newest change is a regression (a nightly job's gate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlbench import compare, history
from dlbench.cli import console
from dlbench.cli import output as destinations
from dlbench.cli.steps import Steps
from dlbench.errors import UsageError
from dlbench.report import history as views
from dlbench.report import history_charts as charts
from dlbench.report import plots

FORMATS = ("table", "md", "json", "html", "png")
SUFFIXES = {".md": "md", ".markdown": "md", ".json": "json", ".html": "html", ".htm": "html",
            ".png": "png"}
BUNDLE = ("index.html", "history.md", "history.json")

EXAMPLES = """
[bold]Examples[/bold]

  dlbench history results/                     [dim]# every result file below results/[/dim]
  dlbench history nightly/*.json --order commit
  dlbench history results/ --format md >> "$GITHUB_STEP_SUMMARY"
  dlbench history results/ -o trends.html      [dim]# changes and a chart per benchmark[/dim]
  dlbench history results/ -o history/         [dim]# HTML, Markdown, JSON, one PNG each[/dim]
  dlbench history artifacts/ --ignore-host     [dim]# hosted runners: a new host every job[/dim]
"""


def history_command(
    paths: Annotated[list[Path], typer.Argument(
        help="Result files, or folders searched for them (every *.json below that is a "
        "dlbench result file).", show_default=False)],
    order: Annotated[str, typer.Option(
        help="time (when each run started) or commit (the committer time of the git commit "
        "each run measured).")] = "time",
    threshold: Annotated[str, typer.Option(
        help="Smallest change that counts as a regression or an improvement: 5% or 0.05; "
        "smaller change points are listed as small.")] = "5%",
    alpha: Annotated[float, typer.Option(
        help="Significance level of each change point (its t-test between the runs on "
        "either side).")] = history.DEFAULT_MAX_P,
    min_runs: Annotated[int, typer.Option(
        help="Runs on each side of a change point: a new level is reported once this many "
        "runs show it.")] = history.DEFAULT_MIN_SIZE,
    test: Annotated[str, typer.Option(
        help="Significance test of a change point: t (Student's t-test of the log medians, "
        "as Apache Otava; a new level shows after --min-runs runs) or u (Mann-Whitney U: "
        "fewer false alarms when single runs are slowed by a busy machine, but a new level "
        "needs 5 runs on each side at the default alpha).")] = "t",
    ignore_host: Annotated[bool, typer.Option(
        "--ignore-host", help="One series per CPU and GPU model, whatever the host name "
        "(CI runners that get a new name for every job).")] = False,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="table (terminal), md, json, html or png. Default: from the -o "
        "suffix, else table.")] = None,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="File to write, or '-' for stdout (md, json, html). FILE.png is "
        "one sheet of every chart; a folder (DIR/) gets index.html, history.md, "
        "history.json and one PNG per benchmark.")] = None,
    force: destinations.Force = False,
) -> None:
    """Follow results over time: one series per benchmark and machine, change points with
    their size and interval, and a trend chart per benchmark.

    Exit codes: 0 the newest change point is no regression (or there is none) · 1 it is a
    regression · 2 bad input (fewer than 2 result files, an unreadable file, files from
    different machines only).
    """
    with console.user_errors():
        limit = compare.parse_threshold(threshold, "--threshold")
        folder = destinations.folder(output)
        if folder is not None:
            if fmt is not None:
                raise UsageError(f"-o {output} is a folder and gets the whole bundle; leave "
                                 "out --format, or give a file name")
            plots.require("png")
            destinations.check_targets([folder / name for name in BUNDLE], force)
        else:
            fmt = destinations.choose_format(fmt, output, FORMATS, SUFFIXES)
            if fmt == "png" and destinations.destination(output) is None:
                raise UsageError("--format png writes an image file, not stdout: give -o "
                                 "PATH.png")
            if fmt in ("png", "html"):
                plots.require(fmt)
            destinations.check_targets([output], force)
        with Steps() as steps:
            runs, notes = history.load(paths, order, steps.step("reading result files"))
            found = history.build(runs, history.Settings(limit, alpha, min_runs, test),
                                  ignore_host, order, notes, steps.step("finding change points"))
        if folder is not None:
            _write_bundle(found, folder, force)
        else:
            _show(found, fmt, output)
    if found.failed:
        raise typer.Exit(console.EXIT_REGRESSION)


def _show(found: history.History, fmt: str, output: str | None) -> None:
    if fmt == "table":
        console.print_data(views.render_table(found))
        return
    target = destinations.destination(output)
    data: str | bytes
    if fmt == "md":
        data = views.render_markdown(found)
    elif fmt == "json":
        data = views.render_json(found)
    elif fmt == "html":
        data = charts.render_html(found, charts.render(found, "svg"))
    else:
        data = charts.sheet(found)
    destinations.write(target, data)
    # The data went to a file or a pipe: the verdict still shows in the CI log.
    console.message(f"history: {views.headline(found)}"
                    + (f" (wrote {output})" if target else ""))


def _write_bundle(found: history.History, folder: Path, force: bool) -> None:
    pngs = charts.render(found, "png")
    files: dict[str, str | bytes] = {
        "index.html": charts.render_html(found, charts.render(found, "svg")),
        "history.md": views.render_markdown(found), "history.json": views.render_json(found),
        **{f"{name}.png": png for name, png in pngs.items()}}
    destinations.check_targets([folder / name for name in files], force)
    for name, data in files.items():
        destinations.write(folder / name, data)
    console.message(f"history: {views.headline(found)}")
    console.message(f"wrote {len(files)} files to {folder}; open {folder / 'index.html'}")


history_command.__doc__ = (history_command.__doc__ or "") + EXAMPLES
